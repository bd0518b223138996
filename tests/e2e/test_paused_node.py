"""A paused Redis node (``SIGSTOP``) on Cluster and Sentinel: issue 15's case.

No request waits past the documented bound (``socket_timeout`` per round trip,
plus one reading of the slot map from a healthy node on a Cluster), no
acknowledged add is applied twice, and on a Cluster only the paused node's
carts and tracking stop: the other shards go on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio
from werkzeug.test import Client
from werkzeug.test import TestResponse

from qscookies import QSCookies
from qscookies import StoreUnavailable
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.command import Command
from qscookies.embedded import HOST
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.errors import NotSent
from qscookies.store.aio import AsyncAppStore
from qscookies.store.aio import AsyncGuard
from qscookies.store.app import AppStore
from qscookies.store.client import Guard
from qscookies.store.client import client_options

from asgi_server import ASGIServer
from asgi_shop import Events
from asgi_shop import make_app
from launchers import RedisClusterServers
from launchers import SentinelServers
from launchers import frozen
from shop import SECRET
from shop import get_json
from shop import shop

pytestmark = pytest.mark.slow  # starts processes of its own

TIMEOUT = 0.25

#: The documented bound of a request that needs one round trip: the reply's
#: timeout, then on a Cluster the slot map read again from a healthy node.
#: redis-py's own cluster pipeline took 3 x TIMEOUT for a durable cart write.
BOUND = 2 * TIMEOUT


@pytest.fixture(scope="module")
def cluster(redis_server_binary: str) -> Iterator[RedisClusterServers]:
    """A cluster of its own, 3 masters with a replica each (the tests pause
    masters; never for long enough to start a failover)."""
    args = ["--cluster-require-full-coverage", "no"]
    with RedisClusterServers(redis_server_binary, replicas=1, args=args) as servers:
        yield servers


def _server_of(cluster: RedisClusterServers, client: Any, key: str) -> RedisServer:
    """The node serving *key*."""
    port = client.get_node_from_key(key).port
    [server] = [node for node in cluster.masters if node.port == port]
    return server


def _timed(request: Callable[[], TestResponse]) -> tuple[TestResponse, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def test_a_cluster_pipeline_to_a_paused_node_is_sent_once(
    cluster: RedisClusterServers,
) -> None:
    """redis-py re-sends the commands of a node that timed out, one by one;
    the guard does not: one timeout, and each write runs once on waking."""
    client = cluster.client(**client_options(TIMEOUT))
    guard = Guard(client, frozenset({"HINCRBY"}))
    key = "paused:{pipeline}"
    server = _server_of(cluster, client, key)
    writes = [
        Command("HINCRBY", (key,), ("a", 1)),
        Command("HINCRBY", (key,), ("b", 1)),
    ]
    with frozen(server):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as failed:
            guard.send(writes)
        took = time.monotonic() - started
    assert took < BOUND
    assert failed.value.nodes == {f"{HOST}:{server.port}"}
    with server.client() as admin:
        wait_until(lambda: admin.hlen(key) == 2, "the paused node to run them", 5)
        time.sleep(3 * TIMEOUT)  # a re-sent copy would have landed by now
        assert admin.hgetall(key) == {b"a": b"1", b"b": b"1"}
        admin.delete(key)
    assert guard.send(writes) == [1, 1]  # the same client, the slot map read again
    client.delete(key)
    client.close()


class _Carts:
    """Which node each new cart lands on, found by its key's appearance."""

    def __init__(self, cluster: RedisClusterServers) -> None:
        self._cluster = cluster
        self._seen: set[bytes] = set()
        self._new()  # the carts of earlier tests

    def _new(self) -> dict[int, set[bytes]]:
        found = {}
        for node in self._cluster.masters:
            with node.client() as admin:
                found[node.port or 0] = set(admin.keys("qs:c:*")) - self._seen
            self._seen |= found[node.port or 0]
        return found

    def port_of_new(self) -> int:
        """The port of the node holding the one cart made since the last call."""
        [port] = [port for port, new in self._new().items() if new]
        return port


def test_an_asyncio_cluster_pipeline_names_the_paused_node(
    cluster: RedisClusterServers,
) -> None:
    """Tracking pauses only the node that failed: the error must name it."""
    sync = cluster.client(**client_options(TIMEOUT))
    paused = "paused:{a}"
    server = _server_of(cluster, sync, paused)
    healthy = next(
        key
        for key in (f"healthy:{{{n}}}" for n in range(100))
        if _server_of(cluster, sync, key) is not server
    )

    async def send() -> frozenset[str]:
        client = redis.asyncio.RedisCluster.from_url(
            cluster.url, **client_options(TIMEOUT, asynchronous=True)
        )
        guard = AsyncGuard(client, frozenset({"HINCRBY"}))
        await client.initialize()
        with frozen(server):
            with pytest.raises(StoreUnavailable) as failed:
                await guard.send(
                    [
                        Command("HINCRBY", (healthy,), ("a", 1)),
                        Command("HINCRBY", (paused,), ("a", 1)),
                    ]
                )
        await client.aclose()
        return failed.value.nodes

    assert asyncio.run(send()) == {f"{HOST}:{server.port}"}
    with server.client() as admin:
        wait_until(lambda: admin.hget(paused, "a") == b"1", "the paused node", 5)
    assert sync.hget(healthy, "a") == "1"
    sync.delete(paused, healthy)
    sync.close()


def _keys_on(client: Any, server: RedisServer) -> tuple[str, str]:
    """A key on *server*, and one on another master."""
    keys = [f"qs:track:{{{n}}}" for n in range(100)]
    on = next(key for key in keys if _server_of_port(client, key) == server.port)
    off = next(key for key in keys if _server_of_port(client, key) != server.port)
    return on, off


def _server_of_port(client: Any, key: str) -> int:
    return int(client.get_node_from_key(key).port)


def test_tracking_skips_only_the_commands_of_a_paused_node(
    cluster: RedisClusterServers,
) -> None:
    """After a failure only the failed node's tracking pauses: a later send
    still carries the commands for the other nodes (sync and asyncio)."""
    sync = cluster.client(**client_options(TIMEOUT))
    server = cluster.masters[0]
    paused, healthy = _keys_on(sync, server)
    writes = [
        Command("HINCRBY", (paused,), ("n", 1)),
        Command("HINCRBY", (healthy,), ("n", 1)),
    ]
    now = [FIRST_DAY]
    options = dict(prefix="qs:", retry_interval=5, clock=lambda: now[0])

    def check(first: Any, second: Any, alone: Any) -> None:
        assert first is None  # the failure: the paused node now known
        assert isinstance(second[0], NotSent) and second[1:] == [2]
        assert second[0].nodes == {f"{HOST}:{server.port}"}
        assert alone is None  # all its nodes paused: nothing sent

    store = AppStore(sync, **options)
    with frozen(server):
        check(store.track(writes), store.track(writes), store.track(writes[:1]))
    now[0] += 6  # retry_interval later
    assert store.track(writes) == [2, 3]  # the first send ran on waking, once
    sync.delete(paused, healthy)
    now[0] += 6

    async def asyncio_case() -> None:
        client = redis.asyncio.RedisCluster.from_url(
            cluster.url, **client_options(TIMEOUT, asynchronous=True)
        )
        await client.initialize()
        store = AsyncAppStore(client, **options)
        with frozen(server):
            first = await store.track(writes)
            second = await store.track(writes)
            check(first, second, await store.track(writes[:1]))
        now[0] += 6
        assert await store.track(writes) == [2, 3]
        await client.aclose()

    asyncio.run(asyncio_case())
    sync.delete(paused, healthy)
    sync.close()


#: What most shops pass: timeouts set, redis-py's retries left on.
DEFAULT_CLIENT = dict(socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)


@pytest.mark.parametrize("topology", ["cluster", "single"])
def test_an_asyncio_client_with_its_retries_sends_each_write_once(
    cluster: RedisClusterServers, redis_server_binary: str, topology: str
) -> None:
    """redis-py's asyncio clients retry by default (the cluster pipeline
    closes the client, sleeps 0.25 s and sends again): the store does not
    let them. One timeout, and each write runs once when the node wakes."""
    sync = cluster.client(**client_options(TIMEOUT))
    key = "qs:retried:{asyncio}"
    with RedisServer(redis_server_binary) as single:
        server = _server_of(cluster, sync, key) if topology == "cluster" else single
        url = cluster.url if topology == "cluster" else single.url
        kind = (
            redis.asyncio.RedisCluster if topology == "cluster" else redis.asyncio.Redis
        )

        async def send() -> float:
            store = AsyncAppStore(
                kind.from_url(url, **DEFAULT_CLIENT), prefix="qs:", retry_interval=5
            )
            assert await store.send([Command("HINCRBY", (key,), ("warm", 1))])
            writes = [
                Command("HINCRBY", (key,), ("a", 1)),
                Command("HINCRBY", (key,), ("b", 1)),
            ]
            with frozen(server):
                started = time.monotonic()
                for sent in (writes[:1], writes[1:]):  # a command, a pipeline
                    with pytest.raises(StoreUnavailable):
                        await store.send(sent)
                took = (time.monotonic() - started) / 2
            await store.close()
            return took

        assert asyncio.run(send()) < BOUND  # each
        with server.client() as admin:
            wait_until(lambda: admin.hget(key, "a"), "the paused node to run it", 5)
            time.sleep(3 * TIMEOUT)  # a re-sent copy would have landed by now
            # b may never have left (its connection could not be reopened)
            assert set(admin.hvals(key)) == {b"1"}
            admin.delete(key)
    sync.close()


def test_a_cluster_pipeline_follows_a_moved_slot_once(
    cluster: RedisClusterServers,
) -> None:
    """``MOVED`` means "not run here": the guard re-sends those commands, once."""
    client = cluster.client(**client_options(TIMEOUT))
    guard = Guard(client, frozenset({"HINCRBY"}))
    key = "moved:{slot}"
    slot = client.keyslot(key)
    source = _server_of(cluster, client, key)
    [target] = [node for node in cluster.masters if node is not source][:1]
    with target.client() as admin:
        target_id = admin.execute_command("CLUSTER MYID")
    for node in cluster.masters:  # the slot is empty: ownership moves, no key to copy
        with node.client() as admin:
            admin.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
    writes = [
        Command("HINCRBY", (key,), ("a", 1)),
        Command("HINCRBY", (key,), ("b", 1)),
    ]
    assert guard.send(writes) == [1, 1]  # the client still had the old owner
    with target.client() as admin:
        assert admin.hgetall(key) == {b"a": b"1", b"b": b"1"}
        admin.delete(key)
    assert client.get_node_from_key(key).port == target.port
    client.close()


#: Noon UTC of the first day :func:`_day_on` tries: a fixed date, so where a
#: day-keyed key lands never depends on the day the suite runs.
FIRST_DAY = 1767268800.0  # 2026-01-01T12:00:00Z


def _day_on(client: Any, port: int, *, on: bool) -> float:
    """A fixed noon whose day index (``qs:a:i:<day>``, no hash tag: its slot
    moves with the date) lives on the node at *port* (*on*), or not."""
    return next(
        when
        for when in (FIRST_DAY + n * 86400 for n in range(100))
        if (_SiteVisits(client, when).index_port == port) is on
    )


class _SiteVisits:
    """One day's site-wide visit count of a cluster, and where that day's keys
    live: the site row (hash tag ``{_site}``) and the day index."""

    def __init__(self, client: Any, now: float) -> None:
        day = time.strftime("%Y%m%d", time.gmtime(now))
        self._client = client
        self._key = f"qs:a:{{_site}}:d:{day}"
        self.index = f"qs:a:i:{day}"
        self.port: int = client.get_node_from_key(self._key).port
        self.index_port: int = client.get_node_from_key(self.index).port

    def count(self) -> int:
        """Visits counted so far that day."""
        return int(self._client.hget(self._key, "visits") or 0)

    def landings(self, code: str) -> float:
        """The landings of *code* in that day's index (0: not named)."""
        return float(self._client.zscore(self.index, code) or 0)


def _promotion_on(client: Any, port: int) -> str:
    """A promotion code whose counters live on the node at *port*."""
    return next(
        f"P{n}"
        for n in range(1000)
        if client.get_node_from_key(f"qs:a:{{P{n}}}:d").port == port
    )


def _browsers_by_node(
    cluster: RedisClusterServers, app: QSCookies
) -> dict[int, Client]:
    """A browser with a cart on each master, by the port of its cart's node
    (cart ids are random: browsers are made until every master has one)."""
    carts, found = _Carts(cluster), {}
    for _ in range(200):
        browser = Client(app)
        assert get_json(browser, "/add?sku=A&id=first") == 1
        found.setdefault(carts.port_of_new(), browser)
        if len(found) == len(cluster.masters):
            return found
    raise AssertionError("no cart landed on some master")


def _paused_port(cluster: RedisClusterServers, client: Any) -> int:
    """The master the tests pause: the first that does not hold the site row,
    so a visit start is never on the paused node."""
    site = _SiteVisits(client, FIRST_DAY).port
    return next(node.port for node in cluster.masters if node.port != site)


@pytest.mark.parametrize(
    "index_on_paused",
    [pytest.param(True, id="index-on-paused"), pytest.param(False, id="index-healthy")],
)
@pytest.mark.parametrize("durable_writes", [0, 1])
def test_a_paused_cluster_master_stops_only_its_own_carts(
    cluster: RedisClusterServers, durable_writes: int, index_on_paused: bool
) -> None:
    """With ``durable_writes=1`` each add is a pipeline (the script, then
    ``WAIT``): the case where redis-py's own re-sends held it 3 timeouts.

    The paused master holds a cart and the landing's promotion; the day
    index (whose slot moves with the date: the clock is pinned to a day that
    puts it there) is on the paused master, or on a healthy one. Either way
    the landing's visit counts: the site row's node is healthy.
    """
    client = cluster.client(**client_options(TIMEOUT))
    app = QSCookies(
        shop,
        secret_key=SECRET,
        redis=client,
        socket_timeout=TIMEOUT,
        durable_writes=durable_writes,
    )
    paused_port = _paused_port(cluster, client)
    now = _day_on(client, paused_port, on=index_on_paused)
    app.clock = lambda: now
    visits = _SiteVisits(client, now)
    assert (visits.index_port == paused_port) is index_on_paused
    assert visits.port != paused_port
    by_node = _browsers_by_node(cluster, app)
    healthy_port = next(port for port in by_node if port != paused_port)
    [server] = [node for node in cluster.masters if node.port == paused_port]
    victim, healthy = by_node[paused_port], by_node[healthy_port]
    code = _promotion_on(client, paused_port)
    counted, landed = visits.count(), visits.landings(code)
    with frozen(server):
        add, took_add = _timed(lambda: victim.get("/add?sku=A&id=second"))
        badge, took_badge = _timed(lambda: victim.get("/badge"))
        landing, took_landing = _timed(lambda: Client(app).get(f"/?promo={code}"))
        newcomer = Client(app).get("/")  # its visit counts: that node is not paused
        other_add, took_other = _timed(lambda: healthy.get("/add?sku=A&id=second"))
        other_badge = healthy.get("/badge")
    assert add.status_code == 503 and add.headers["Retry-After"] == "5"
    assert badge.status_code == 200 and badge.json is None  # the default
    assert landing.status_code == 303  # counted or not, the visitor is redirected
    assert max(took_add, took_badge, took_landing) < BOUND
    assert (other_add.status_code, other_add.json, took_other < TIMEOUT) == (
        200,
        2,
        True,
    )
    assert other_badge.json == {"A": 2}  # its node is not paused: tracking goes on
    assert newcomer.status_code == 200
    assert visits.count() == counted + 2  # the landing's visit and the newcomer's
    # The index admits the code when its node is healthy; the code's own
    # counters are on the paused node: skipped. An admit sent to the paused
    # node may run once on waking (a function always can; a script only if
    # that node has it cached), never twice.
    assert visits.landings(code) - landed in ((0, 1) if index_on_paused else (1,))
    assert victim.get("/badge").json is None  # paused for retry_interval
    assert get_json(victim, "/add?sku=A&id=second") == 2  # ran once, on waking
    assert get_json(victim, "/add?sku=A&id=third") == 3
    app.clock = lambda: now + 6  # retry_interval (5 s) later
    assert victim.get("/badge").json == {"A": 3}
    app.close()
    client.close()


@pytest.mark.parametrize(
    "index_on_paused",
    [pytest.param(True, id="index-on-paused"), pytest.param(False, id="index-healthy")],
)
def test_the_asgi_door_on_a_paused_cluster_master(
    cluster: RedisClusterServers, index_on_paused: bool
) -> None:
    client = redis.asyncio.RedisCluster.from_url(
        cluster.url, **client_options(TIMEOUT, asynchronous=True)
    )
    sync = cluster.client(**client_options(TIMEOUT))  # to find the nodes of keys
    shop_app = make_app("bare", Events())
    app = ASGIQSCookies(shop_app, secret_key=SECRET, redis=client)
    paused = _paused_port(cluster, sync)
    now = _day_on(sync, paused, on=index_on_paused)
    app.clock = lambda: now
    visits = _SiteVisits(sync, now)
    with ASGIServer(app, cleanup=[client.aclose]) as server:
        browsers, ports, carts = [], [], _Carts(cluster)
        while paused not in ports or len(set(ports)) < 2:
            assert len(browsers) < 200, "no cart landed on some master"
            browsers.append(httpx.Client(base_url=server.url))
            assert browsers[-1].get("/add?sku=A&id=first").json() == 1
            ports.append(carts.port_of_new())
        server_of = {node.port: node for node in cluster.masters}
        victim = browsers[ports.index(paused)]
        healthy = browsers[next(i for i, p in enumerate(ports) if p != paused)]
        code, counted = _promotion_on(sync, paused), visits.count()
        landed = visits.landings(code)
        # A browser of its own, made before the clock starts: a new httpx client
        # builds an SSL context (17 ms on a quiet core, several times that on a
        # busy one), which is no part of the request's bound.
        lander = httpx.Client(base_url=server.url)
        with frozen(server_of[paused]):
            add, took_add = _timed(lambda: victim.get("/add?sku=A&id=second"))
            other = healthy.get("/add?sku=A&id=second")
            landing, took_landing = _timed(lambda: lander.get(f"/?promo={code}"))
            newcomer = httpx.get(server.url)  # its visit counts: not that node
        assert (landing.status_code, newcomer.status_code) == (303, 200)
        assert took_landing < BOUND
        assert visits.count() == counted + 2
        woken = (0, 1) if index_on_paused else (1,)  # as in the WSGI test
        assert visits.landings(code) - landed in woken
        assert (add.status_code, add.headers["Retry-After"], took_add < BOUND) == (
            503,
            "5",
            True,
        )
        assert other.json() == 2
        assert victim.get("/add?sku=A&id=second").json() == 2  # ran once, on waking
        for browser in [*browsers, lander]:
            browser.close()
    sync.close()


@pytest.fixture
def sentinel(redis_server_binary: str) -> Iterator[SentinelServers]:
    """A master and a sentinel of their own (the test pauses the master)."""
    with SentinelServers(redis_server_binary) as servers:
        yield servers


def test_a_paused_sentinel_master_holds_no_request_past_the_bound(
    sentinel: SentinelServers,
) -> None:
    master = sentinel.master_client(**client_options(TIMEOUT))
    app = QSCookies(shop, secret_key=SECRET, redis=master, socket_timeout=TIMEOUT)
    browser = Client(app)
    assert get_json(browser, "/add?sku=A&id=first") == 1
    with frozen(sentinel.master):  # shorter than down-after-milliseconds
        add, took_add = _timed(lambda: browser.get("/add?sku=A&id=second"))
        landing, took_landing = _timed(lambda: Client(app).get("/?promo=PAUSED"))
        page, took_page = _timed(lambda: browser.get("/"))
    assert add.status_code == 503 and add.headers["Retry-After"] == "5"
    assert (landing.status_code, page.status_code) == (303, 200)
    assert max(took_add, took_landing, took_page) < BOUND
    assert get_json(browser, "/add?sku=A&id=second") == 2  # ran once, on waking
    assert get_json(browser, "/cart") == {"A": 2}
    app.close()
    master.close()
