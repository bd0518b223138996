"""A master frozen three times under cart-writer load, with redis-py's default clients.

Issue 22: with the client most shops pass, ``RedisCluster(host=...,
socket_timeout=0.25, socket_connect_timeout=0.25)`` (redis-py's own retries
left on), a master frozen three times under load gave adds applied twice and
requests held past ``socket_timeout`` + 1 s: redis-py re-sent commands whose
reply timed out. qscookies now sends through a client of its own without
retries (single server, Sentinel) or sends cluster commands itself.

Eight writers (each its own cart, unique skus: an add applied twice is a line
of quantity 2) and a page-view loop run against a real threaded WSGI server
(see ``tests/support/failover.py``); the master holding the most writers' carts is
frozen (``SIGSTOP``) three times, for 1 s, 1.5 s and 2 s, 0.5 s apart: shorter than
``cluster-node-timeout`` and ``down-after-milliseconds``, so nothing fails over.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from browser import served
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from qscookies import QSCookies
from qscookies.embedded import HOST
from qscookies.embedded import RedisServer

from failover import SECRET
from failover import Answer
from failover import Browser
from failover import Escaped
from failover import Writer
from failover import _writers_on
from failover import shop
from launchers import RedisClusterServers
from launchers import SentinelServers
from launchers import frozen

pytestmark = pytest.mark.slow  # starts processes of its own

TIMEOUT = 0.25
#: What most shops pass: timeouts set, redis-py's retries left on.
DEFAULT_CLIENT = dict(socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
#: The documented bound of a request: the reply's timeout, then on a Cluster
#: the slot map read again (from a healthy node, asked first).
BOUND = 2 * TIMEOUT
#: How long each of the three freezes lasts, and the pause between them.
FREEZES, BETWEEN = (1.0, 1.5, 2.0), 0.5


class _Held:
    """WSGI wrapper: how long the middleware held each request (the HTTP
    client's figures add the server's threads and the machine's load)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held: list[float] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.monotonic()
        try:
            return self.app(environ, start_response)
        finally:
            self.held.append(time.monotonic() - started)


@contextmanager
def _cluster(binary: str) -> Iterator[tuple[Any, list[RedisServer]]]:
    args = ["--cluster-require-full-coverage", "no"]
    with RedisClusterServers(binary, node_timeout=5000, args=args) as servers:
        client = RedisCluster(host=HOST, port=servers.masters[0].port, **DEFAULT_CLIENT)
        yield client, servers.masters
        client.close()


@contextmanager
def _sentinel(binary: str) -> Iterator[tuple[Any, list[RedisServer]]]:
    with SentinelServers(binary, down_after=5000) as servers:
        sentinel = Sentinel(servers.sentinel_addresses, socket_timeout=TIMEOUT)
        client = sentinel.master_for(servers.service_name, **DEFAULT_CLIENT)
        yield client, [servers.master]
        client.close()


def _load(
    base: str, masters: list[RedisServer], warmed: Callable[[], None]
) -> tuple[list[Writer], list[Answer]]:
    """The writers and page views, through the three freezes; *warmed* is
    called once every writer has an add acknowledged (the first requests open
    the connections and meet servers that have just started)."""
    stop = threading.Event()
    writers = [Writer(i, Browser(base)) for i in range(8)]
    views: list[Answer] = []
    viewer = Browser(base)

    def view() -> None:
        while not stop.is_set():
            views.append(viewer.request("/")[0])

    threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
    threads.append(threading.Thread(target=view))
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while not all(w.acknowledged() for w in writers):
            assert time.monotonic() < deadline, "no add acknowledged before the freezes"
        warmed()
        on = {server: _writers_on(server) for server in masters}
        victim = max(on, key=lambda server: len(on[server]))
        for seconds in FREEZES:
            with frozen(victim):
                stop.wait(seconds)
            stop.wait(BETWEEN)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    return writers, views


@pytest.mark.parametrize("topology", [_cluster, _sentinel], ids=["cluster", "sentinel"])
def test_a_frozen_master_under_load_applies_no_add_twice(
    redis_server_binary: str, topology: Any
) -> None:
    with topology(redis_server_binary) as (client, masters):
        middleware = QSCookies(
            shop,
            secret_key=SECRET,
            redis=client,
            max_cart_lines=100_000,
            max_cart_items=10**9,
        )
        held = _Held(middleware)
        app = Escaped(held)
        with served(app, quiet=True) as base:
            writers, views = _load(base, masters, warmed=held.held.clear)
            twice, lost = [], []
            for writer in writers:
                answer, body = writer.browser.request("/cart")
                assert answer.status == 200
                lines: dict[str, int] = json.loads(body)
                twice += [sku for sku, quantity in lines.items() if quantity != 1]
                lost += [sku for sku in writer.acknowledged() if sku not in lines]
    adds = [answer for writer in writers for _, answer in writer.adds]
    statuses = {answer.status for answer in adds + views}
    slowest = max(held.held)
    unavailable = sum(answer.status == 503 for answer in adds)
    figures = (
        f"{len(adds)} adds, {unavailable} 503s; held at most {slowest:.2f}s"
        f" (answered in {max(a.ended - a.started for a in adds + views):.2f}s)"
    )
    print(figures)
    assert not app.tracebacks
    assert statuses <= {200, 503}, figures
    assert unavailable > 0, figures  # the freezes were seen
    assert twice == [], figures
    assert lost == [], figures
    assert slowest < BOUND, figures
