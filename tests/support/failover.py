"""A failover under load (issue 15): ``kill -9`` of a master while writers add to carts.

A real WSGI server (werkzeug's threaded server, in a thread) serves a tiny shop
wrapped by :class:`qscookies.QSCookies` with ``durable_writes=1`` over a real
Redis Cluster (3 masters, 2 replicas each) or a Sentinel set-up (a master, 2
replicas, 3 sentinels), started from the suite's ``redis-server``. Eight writer
threads, each a browser with its own cookie jar (its own cart), add unique skus
in a loop; a page-view thread loads ``/``. After about 1.5 s of load the master
holding the most writers' carts (Cluster) or the master (Sentinel) is killed
with ``SIGKILL``. The load goes on until every affected writer's adds are
acknowledged again, plus a second; then every writer's cart is read through the
app and each acknowledged add is looked for. Nothing is restarted: the same app
and the same client object recover on their own.

Two replicas per master: with ``durable_writes=1`` the promoted replica needs a
replica of its own to confirm cart writes.

With ``--lagging-replicas`` every replica of the master to be killed is frozen
(``SIGSTOP``) and its replication link closed for 0.5 s of load before the
kill, then woken (``SIGCONT``) right after it, before the election: the adds
made meanwhile are on the master alone. With ``--durable-writes 0`` those that
were acknowledged are lost; with ``1`` they answer ``503`` instead.

Run as a script, one figures line per run::

    PYTHONPATH=. python tests/support/failover.py --topology cluster --runs 3
    PYTHONPATH=. python tests/support/failover.py --topology sentinel \
        --lagging-replicas --durable-writes 0
"""

from __future__ import annotations

import argparse
import collections
import http.cookiejar
import json
import logging
import re
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

from browser import served
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel
from werkzeug.wrappers import Request

from qscookies import QSCookies
from qscookies import context
from qscookies.embedded import RedisServer

from launchers import RedisClusterServers
from launchers import SentinelServers
from launchers import frozen
from launchers import kill

Topology = Literal["cluster", "sentinel"]
SECRET = "failover-secret-key-0123456789abcdef"
WRITERS = 8
#: Load before the kill, and acknowledged adds on every affected cart after it.
LOAD_BEFORE = 1.5
HOLD_AFTER = 1.0
#: Lagging replicas: how long the writers go on while every replica of the
#: master to be killed is frozen (``SIGSTOP``), before the kill.
FREEZE = 0.5
#: No recovery within this long after the kill: the run fails.
DEADLINE = 30.0
#: A request answered later than this counts as hanging (socket_timeout is 0.25).
HTTP_TIMEOUT = 10.0

#: The client settings of README "Scale": no retries, 0.25 s per reply.
NO_RETRY: dict[str, Any] = dict(
    socket_timeout=0.25,
    socket_connect_timeout=0.25,
    retry=Retry(NoBackoff(), 0),
    decode_responses=True,
)


def shop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """``GET /`` a page view (reads the visitor), ``POST /add?sku=`` adds one
    (answers the new quantity), ``GET /cart`` answers the lines as JSON."""
    qs = context(environ)
    request = Request(environ)
    if request.path == "/add":
        result: Any = qs.cart.add(request.args["sku"])
    elif request.path == "/cart":
        result = qs.cart.items()
    else:
        result = {"returning": qs.visitor.is_returning}
    body = json.dumps(result).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class Escaped:
    """WSGI wrapper outside the middleware: keeps the traceback of anything that
    escapes it (which the server would turn into a ``500``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.tracebacks: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return list(self.app(environ, start_response))
        except BaseException:
            self.tracebacks.append(traceback.format_exc())
            raise


class LogLines(logging.Handler):
    """The ``qscookies`` log lines of a run, counted with digits blanked."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: collections.Counter[str] = collections.Counter()
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = re.sub(r"\d+", "N", record.getMessage())
        self.counts[f"{record.levelname} {message}"[:200]] += 1
        if record.exc_info and len(self.tracebacks) < 5:
            self.tracebacks.append(logging.Formatter().format(record))


@dataclass
class Answer:
    started: float
    ended: float
    status: int  # 0: no HTTP answer (an exception: see error)
    retry_after: str | None = None
    error: str | None = None


class Browser:
    """One visitor: a cookie jar and urllib."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def request(self, path: str, method: str = "GET") -> tuple[Answer, bytes]:
        data = b"" if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        started = time.monotonic()
        try:
            with self.opener.open(req, timeout=HTTP_TIMEOUT) as response:
                body = response.read()
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as error:
            body, status, headers = error.read(), error.code, error.headers
        except Exception as error:  # a hang, a reset: reported, never retried
            ended = time.monotonic()
            return Answer(started, ended, 0, error=repr(error)), b""
        ended = time.monotonic()
        return Answer(started, ended, status, headers.get("Retry-After")), body


@dataclass
class Writer:
    index: int
    browser: Browser
    adds: list[tuple[str, Answer]] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            sku = f"w{self.index}-n{n}"
            answer, _ = self.browser.request(f"/add?sku={sku}", "POST")
            self.adds.append((sku, answer))
            n += 1

    def acknowledged(self) -> list[str]:
        return [sku for sku, answer in self.adds if answer.status == 200]


@dataclass
class Figures:
    """What one run measured."""

    topology: str
    redis: str
    durable_writes: int
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    unavailable: int = 0  # 503s, all with Retry-After unless listed in odd
    unavailable_affected: int = 0
    unavailable_after_recovery: int = 0
    acknowledged_before: int = 0
    acknowledged_after: int = 0  # on the affected carts, after recovery
    page_views: int = 0
    page_views_ok: int = 0
    affected: int = 0
    recovery: float | None = None  # seconds from the kill; None: none by DEADLINE
    slowest_add: float = 0.0
    slowest_view: float = 0.0
    #: Lagging replicas: seconds the victim's replicas were frozen before the
    #: kill (0: not frozen), and the adds on the affected carts made wholly
    #: inside that window, acknowledged / answered 503.
    frozen: float = 0.0
    acknowledged_frozen: int = 0
    unavailable_frozen: int = 0
    odd: list[str] = field(default_factory=list)  # anything not 200 or 503+Retry-After
    missing: list[str] = field(default_factory=list)  # per writer, what it lost
    tracebacks: list[str] = field(default_factory=list)
    log: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        recovery = "none" if self.recovery is None else f"{self.recovery:.2f}s"
        return (
            f"{self.topology} redis {self.redis} durable_writes={self.durable_writes}:"
            f" acknowledged {self.acknowledged}"
            f" ({self.acknowledged_before} before the kill,"
            f" {self.acknowledged_after} on the {self.affected} affected carts after"
            f" recovery), stored {self.stored}, lost {self.lost}; 503s"
            f" {self.unavailable} ({self.unavailable_affected} on affected carts,"
            f" {self.unavailable_after_recovery} after recovery); page views"
            f" {self.page_views_ok}/{self.page_views} 200; recovery {recovery};"
            f" slowest add {self.slowest_add:.2f}s, view {self.slowest_view:.2f}s;"
            f" other answers {len(self.odd)}, escaped exceptions {len(self.tracebacks)}"
            + (
                f"; replicas frozen {self.frozen:.2f}s before the kill: on the"
                f" affected carts {self.acknowledged_frozen} adds acknowledged,"
                f" {self.unavailable_frozen} 503s meanwhile"
                if self.frozen
                else ""
            )
        )


@contextmanager
def topology(
    kind: Topology, binary: str | None = None
) -> Iterator[tuple[Any, Callable[[], list[RedisServer]], list[RedisServer], str]]:
    """The servers and the app's client: ``(client, masters, servers, version)``,
    where ``masters()`` lists the servers that are masters now and ``servers``
    every data server (no sentinel)."""
    if kind == "cluster":
        args = ["--cluster-require-full-coverage", "no"]
        with RedisClusterServers(
            binary, replicas=2, node_timeout=1000, args=args
        ) as cluster:
            client = RedisCluster(startup_nodes=cluster.startup_nodes, **NO_RETRY)
            try:
                version = _version(cluster.nodes[0])
                yield client, lambda: cluster.masters, cluster.nodes, version
            finally:
                client.close()
    else:
        with SentinelServers(
            binary, replicas=2, sentinels=3, down_after=1000, failover_timeout=2000
        ) as servers:
            sentinel = Sentinel(
                servers.sentinel_addresses,
                socket_timeout=0.25,
                sentinel_kwargs={"socket_timeout": 0.25},
            )
            client = sentinel.master_for(servers.service_name, **NO_RETRY)
            try:
                version = _version(servers.master)
                yield client, lambda: [servers.master], servers.servers, version
            finally:
                client.close()


def _version(server: RedisServer) -> str:
    return ".".join(map(str, server.version))


def _writers_on(server: RedisServer) -> set[int]:
    """Writers whose cart is on *server* (the skus in it name the writer)."""
    found = set()
    with server.client(decode_responses=True) as raw:
        for key in raw.keys("qs:c:*"):
            for sku in raw.hkeys(key)[:1]:
                found.add(int(sku.split("-")[0][1:]))
    return found


def _replicas_of(master: RedisServer, servers: list[RedisServer]) -> list[RedisServer]:
    """The servers attached to *master* as its replicas now."""
    with master.client(decode_responses=True) as raw:
        info = raw.info("replication")
    ports = {
        int(value["port"])
        for name, value in info.items()
        if name.startswith("slave") and isinstance(value, dict)
    }
    return [server for server in servers if server._port in ports]


def _drop_replicas(master: RedisServer, expected: int) -> None:
    """Close *master*'s replication links (its replicas are frozen, so they
    cannot reconnect). A frozen replica's socket buffer would otherwise take
    in every write made meanwhile (a few kB, well under the buffer) and hand
    it over on ``SIGCONT``, after the kill: nothing would be lost even
    without ``WAIT``. A replica cut off from the stream is what a lagging
    one is at the moment the master dies."""
    with master.client() as raw:
        dropped = raw.client_kill_filter(_type="replica")
    if dropped != expected:
        raise RuntimeError(f"dropped {dropped} replication links, not {expected}")


def run(
    kind: Topology,
    binary: str | None = None,
    *,
    durable_writes: int = 1,
    lagging_replicas: bool = False,
) -> Figures:
    """One failover under load; the figures say what happened.

    With *lagging_replicas*, every replica of the master to be killed is frozen
    (``SIGSTOP``) and its replication link closed (``CLIENT KILL TYPE
    replica``) for :data:`FREEZE` seconds of load before the kill, and woken
    (``SIGCONT``) right after it: the adds acknowledged meanwhile are on the
    master alone unless ``durable_writes`` made them wait for a replica."""
    logger = logging.getLogger("qscookies")
    lines = LogLines()
    logger.addHandler(lines)
    try:
        with topology(kind, binary) as (client, masters, servers, version):
            figures = Figures(kind, version, durable_writes)
            middleware = QSCookies(
                shop,
                secret_key=SECRET,
                redis=client,
                durable_writes=durable_writes,
                max_cart_lines=100_000,
                max_cart_items=10**9,
            )
            app = Escaped(middleware)
            with served(app, quiet=True) as base:
                _load(base, masters, servers, figures, lagging_replicas)
            figures.tracebacks = app.tracebacks
    finally:
        logger.removeHandler(lines)
    figures.tracebacks += lines.tracebacks
    figures.log = dict(lines.counts)
    return figures


def _load(
    base: str,
    masters: Callable[[], list[RedisServer]],
    servers: list[RedisServer],
    f: Figures,
    lagging_replicas: bool = False,
) -> None:
    stop = threading.Event()
    writers = [Writer(i, Browser(base)) for i in range(WRITERS)]
    views: list[Answer] = []
    viewer = Browser(base)

    def view() -> None:
        while not stop.is_set():
            views.append(viewer.request("/")[0])
            time.sleep(0.005)

    threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
    threads.append(threading.Thread(target=view))
    for thread in threads:
        thread.start()
    try:
        started = time.monotonic()
        while time.monotonic() - started < LOAD_BEFORE or not all(
            w.acknowledged() for w in writers
        ):
            if time.monotonic() - started > DEADLINE:
                raise RuntimeError("writers got no acknowledged add before the kill")
            time.sleep(0.05)
        # The master with the most writers' carts (all of them with Sentinel).
        on = {server: _writers_on(server) for server in masters()}
        victim = max(on, key=lambda server: len(on[server]))
        affected = [writers[i] for i in sorted(on[victim])]
        frozen_at = None
        with ExitStack() as stack:
            if lagging_replicas:
                replicas = _replicas_of(victim, servers)
                if not replicas:
                    raise RuntimeError(f"{victim!r} has no replica to freeze")
                for replica in replicas:
                    stack.enter_context(frozen(replica))
                _drop_replicas(victim, len(replicas))
                frozen_at = time.monotonic()
                time.sleep(FREEZE)
            killed_at = time.monotonic()
            kill(victim)
        # Leaving the block woke the replicas (SIGCONT): before any election.
        recovered = _wait_for_recovery(affected, killed_at)
    finally:
        stop.set()
        for thread in threads:
            thread.join(HTTP_TIMEOUT + 5)
    _count(writers, affected, views, killed_at, recovered, f)
    if frozen_at is not None:
        _count_frozen(affected, frozen_at, killed_at, f)
    _compare(writers, f)


def _recovered_at(writer: Writer, killed_at: float) -> float | None:
    """When *writer*'s adds were acknowledged again: the end of its first
    acknowledged add after its first failure since the kill."""
    adds = list(writer.adds)
    failed = next(
        (a.ended for _, a in adds if a.ended >= killed_at and a.status != 200), None
    )
    after = killed_at if failed is None else failed
    return next(
        (a.ended for _, a in adds if a.started >= after and a.status == 200), None
    )


def _wait_for_recovery(affected: list[Writer], killed_at: float) -> float | None:
    """Keep the load on until every affected writer was acknowledged again for
    :data:`HOLD_AFTER`; return the moment the last one was, or ``None``."""
    while time.monotonic() - killed_at < DEADLINE:
        times = [_recovered_at(w, killed_at) for w in affected]
        if all(t is not None for t in times):
            last = max(t for t in times if t is not None)
            if time.monotonic() - last >= HOLD_AFTER:
                return last
        time.sleep(0.05)
    return None


def _count(
    writers: list[Writer],
    affected: list[Writer],
    views: list[Answer],
    killed_at: float,
    recovered: float | None,
    f: Figures,
) -> None:
    f.affected = len(affected)
    f.recovery = None if recovered is None else recovered - killed_at
    for writer in writers:
        for sku, a in writer.adds:
            f.slowest_add = max(f.slowest_add, a.ended - a.started)
            if a.status == 200:
                f.acknowledged += 1
                f.acknowledged_before += a.ended < killed_at
                if writer in affected and recovered is not None:
                    f.acknowledged_after += a.started > recovered
            elif a.status == 503 and a.retry_after:
                f.unavailable += 1
                f.unavailable_affected += writer in affected
                if recovered is not None:
                    f.unavailable_after_recovery += a.started > recovered
            else:
                f.odd.append(
                    f"add {sku}: {a.status or a.error} after"
                    f" {a.ended - a.started:.2f}s, Retry-After {a.retry_after!r},"
                    f" {a.started - killed_at:+.2f}s from the kill"
                )
    for a in views:
        f.page_views += 1
        f.page_views_ok += a.status == 200
        f.slowest_view = max(f.slowest_view, a.ended - a.started)
        if a.status != 200:
            f.odd.append(
                f"page view: {a.status or a.error}, {a.started - killed_at:+.2f}s"
                " from the kill"
            )


def _count_frozen(
    affected: list[Writer], frozen_at: float, killed_at: float, f: Figures
) -> None:
    f.frozen = killed_at - frozen_at
    for writer in affected:
        for _, a in writer.adds:
            if a.started >= frozen_at and a.ended <= killed_at:
                f.acknowledged_frozen += a.status == 200
                f.unavailable_frozen += a.status == 503


def _compare(writers: list[Writer], f: Figures) -> None:
    """Read every writer's cart through the app; count the acknowledged adds
    missing from it."""
    for writer in writers:
        deadline = time.monotonic() + DEADLINE
        while True:
            answer, body = writer.browser.request("/cart")
            if answer.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if answer.status != 200:
            f.odd.append(f"cart of writer {writer.index}: {answer.status}")
            continue
        lines: dict[str, int] = json.loads(body)
        f.stored += len(lines)
        acknowledged = writer.acknowledged()
        missing = [sku for sku in acknowledged if lines.get(sku) != 1]
        f.lost += len(missing)
        if missing:
            f.missing.append(f"writer {writer.index} lost {missing[:10]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topology", choices=["cluster", "sentinel"], required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--redis-server", metavar="PATH", default=None)
    parser.add_argument(
        "--durable-writes", type=int, default=1, help="0 shows what WAIT prevents"
    )
    parser.add_argument(
        "--lagging-replicas",
        action="store_true",
        help=f"freeze the victim's replicas for {FREEZE:g}s of load before the kill",
    )
    parser.add_argument("--log", action="store_true", help="print the log counts")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # counted by LogLines, not printed
    logging.getLogger("qscookies").setLevel(logging.INFO)
    logging.getLogger("qscookies").propagate = False
    failed = 0
    for i in range(options.runs):
        figures = run(
            options.topology,
            options.redis_server,
            durable_writes=options.durable_writes,
            lagging_replicas=options.lagging_replicas,
        )
        print(f"run {i + 1}: {figures.line()}", flush=True)
        for line in figures.missing[:20]:
            print(f"  lost: {line}")
        for line in figures.odd[:20]:
            print(f"  odd: {line}")
        for text in figures.tracebacks[:3]:
            print("  traceback:\n" + text)
        if options.log:
            for message, count in sorted(figures.log.items()):
                print(f"  log x{count}: {message}")
        failed += bool(problems(figures))
    return 1 if failed else 0


def problems(f: Figures) -> list[str]:
    """What the acceptance of issue 15 forbids, in words; empty when it passed."""
    found = []
    if f.lost:
        found.append(f"{f.lost} acknowledged adds lost")
    if f.odd:
        found.append(f"{len(f.odd)} answers not 200 nor 503 with Retry-After")
    if f.tracebacks:
        found.append(f"{len(f.tracebacks)} exceptions escaped or logged")
    if f.recovery is None:
        found.append(f"no recovery within {DEADLINE:g}s")
    if not f.acknowledged_before or not f.acknowledged_after:
        found.append("no acknowledged add before the kill or after recovery")
    if not f.unavailable_affected:
        found.append("no 503 on the affected carts")
    if f.page_views_ok != f.page_views:
        found.append("a page view was not 200")
    return found


if __name__ == "__main__":
    sys.exit(main())
