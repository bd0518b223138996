"""``durable_writes``: a cart write waits for replicas, on a real master + replica.

The replica is a second private ``redis-server`` started with ``--replicaof``;
"stopped" is ``SIGSTOP`` (the master still counts it as connected, so only
``WAIT`` can tell that it confirms nothing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from werkzeug.test import Client

from qscookies import QSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.embedded import HOST
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.errors import ConfigurationError
from qscookies.settings import Settings
from qscookies.store.client import client_options
from qscookies.store.scripting import fewer

from asgi_server import ASGIServer
from asgi_shop import Events
from asgi_shop import make_app
from launchers import RedisClusterServers
from launchers import frozen
from shop import SECRET
from shop import RoundTrips
from shop import get_json
from shop import shop

pytestmark = pytest.mark.slow  # starts processes of its own

#: ``socket_timeout`` of these tests: a cart write waits 100 ms for replicas.
TIMEOUT = 0.2


@pytest.fixture(scope="module")
def replicated(redis_server_binary: str) -> Iterator[tuple[RedisServer, RedisServer]]:
    """A master and one replica of it, in sync."""
    with RedisServer(redis_server_binary) as master:
        args = ["--replicaof", HOST, str(master._port)]
        with RedisServer(redis_server_binary, args=args) as replica:
            wait_until(lambda: _in_sync(master, replica), "the replica to sync", 10)
            yield master, replica


def _in_sync(master: RedisServer, replica: RedisServer) -> bool:
    with master.client() as admin, replica.client() as copy:
        linked = copy.info("replication").get("master_link_status") == "up"
        return linked and admin.info("replication")["connected_slaves"] == 1


@pytest.fixture
def master(
    replicated: tuple[RedisServer, RedisServer],
) -> Iterator[RedisServer]:
    """The master, flushed after the test."""
    server, _ = replicated
    yield server
    with server.client() as admin:
        admin.flushall()


@pytest.fixture
def replica(replicated: tuple[RedisServer, RedisServer]) -> RedisServer:
    """The replica of :func:`master`."""
    return replicated[1]


def waits(server: RedisServer) -> int:
    """``WAIT`` commands *server* has run."""
    with server.client() as admin:
        return int(admin.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))


def wsgi(master: RedisServer, **options: Any) -> QSCookies:
    options.setdefault("durable_writes", 1)
    return QSCookies(
        shop,
        secret_key=SECRET,
        redis_url=master.url,
        socket_timeout=TIMEOUT,
        retry_interval=0.2,
        **options,
    )


def test_a_durable_add_is_on_the_replica_when_answered(
    master: RedisServer, replica: RedisServer
) -> None:
    app = wsgi(master)
    client = Client(app)
    assert get_json(client, "/add?sku=A&q=2") == 2
    with replica.client() as copy:  # no waiting: WAIT already confirmed it
        assert [copy.hgetall(key) for key in copy.keys("qs:c:*")] == [{b"A": b"2"}]
    before = waits(master)  # the server knows the script now (no NOSCRIPT)
    assert get_json(client, "/add?sku=A") == 3
    assert get_json(client, "/remove?sku=A") is None
    assert get_json(client, "/cart") == {}
    assert waits(master) - before == 2  # the add and the remove; not the read
    app.close()


def test_an_unconfirmed_add_is_a_503_within_the_timeout(
    master: RedisServer, replica: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = wsgi(master)
    client = Client(app)
    caplog.set_level(logging.ERROR, "qscookies")
    with frozen(replica):
        started = time.monotonic()
        response = client.get("/add?sku=A")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "qs_cart" not in response.headers.get("Set-Cookie", "")
    assert 0.1 <= elapsed < TIMEOUT + 0.3
    [line] = [r.getMessage() for r in caplog.records if "cart write" in r.getMessage()]
    assert "0 of 1 replicas confirmed a cart write within 100 ms" in line
    app.close()


def test_two_replicas_asked_of_one_is_a_503(master: RedisServer) -> None:
    app = wsgi(master, durable_writes=2)
    assert Client(app).get("/add?sku=A").status_code == 503
    app.close()


def test_tracking_never_waits(master: RedisServer, replica: RedisServer) -> None:
    app = wsgi(master)
    before = waits(master)
    with frozen(replica):  # a landing and a first visit: no WAIT, no 503
        assert Client(app).get("/?promo=SUMMER").status_code == 303
        assert Client(app).get("/").status_code == 200
    assert waits(master) == before
    app.close()


def test_a_durable_write_is_still_one_round_trip(master: RedisServer) -> None:
    wire = RoundTrips(master.url)
    app = QSCookies(shop, secret_key=SECRET, redis=wire.client, durable_writes=1)
    client = Client(app)
    client.get("/add?sku=A")  # the server learns the script (NOSCRIPT, once)
    wire.warm()
    for url in ("/add?sku=A", "/set?sku=A&q=5", "/remove?sku=A", "/clear"):
        with wire.count() as counted:
            assert client.get(url).status_code == 200
        assert counted == [1], url
    wire.close()


def test_the_asgi_door(master: RedisServer, replica: RedisServer) -> None:
    app = ASGIQSCookies(
        make_app("bare", Events()),
        secret_key=SECRET,
        redis_url=master.url,
        socket_timeout=TIMEOUT,
        durable_writes=1,
    )
    with (
        ASGIServer(app, cleanup=[app.aclose]) as server,
        httpx.Client(base_url=server.url) as browser,
    ):
        assert browser.get("/add?sku=A").json() == 1
        with replica.client() as copy:
            assert [copy.hgetall(key) for key in copy.keys("qs:c:*")] == [{b"A": b"1"}]
        before = waits(master)  # the server knows the script now (no NOSCRIPT)
        with frozen(replica):
            started = time.monotonic()
            response = browser.get("/add?sku=A")
            assert time.monotonic() - started < TIMEOUT + 0.3
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
    assert waits(master) - before == 1


def _node_of_cart(cluster: RedisClusterServers, prefix: str) -> list[bool]:
    """For each node: it holds a cart of *prefix*."""
    found = []
    for node in cluster.nodes:
        with node.client() as admin:
            found.append(bool(admin.keys(f"{prefix}c:*")))
    return found


def _waits_per_node(cluster: RedisClusterServers) -> list[int]:
    return [waits(node) for node in cluster.nodes]


def _ran(cluster: RedisClusterServers, before: list[int]) -> list[bool]:
    """For each node: it ran a ``WAIT`` since *before* (twice on ``NOSCRIPT``)."""
    now = _waits_per_node(cluster)
    return [a > b for a, b in zip(now, before, strict=True)]


def test_on_a_cluster_wait_goes_to_the_carts_node(
    redis_cluster: RedisClusterServers,
) -> None:
    """The session cluster has no replicas: ``WAIT`` confirms nothing (a 503),
    and it ran on the node of the cart's key, on both doors."""
    client = redis_cluster.client(**client_options(1.0))
    app = QSCookies(
        shop, secret_key=SECRET, redis=client, durable_writes=1, key_prefix="dw1:"
    )
    before = _waits_per_node(redis_cluster)
    assert Client(app).get("/add?sku=A").status_code == 503
    assert _ran(redis_cluster, before) == _node_of_cart(redis_cluster, "dw1:")
    client.close()

    aclient = redis.asyncio.RedisCluster.from_url(
        redis_cluster.url, **client_options(1.0, asynchronous=True)
    )
    aapp = ASGIQSCookies(
        make_app("bare", Events()),
        secret_key=SECRET,
        redis=aclient,
        durable_writes=1,
        key_prefix="dw2:",
    )
    before = _waits_per_node(redis_cluster)
    with (
        ASGIServer(aapp, cleanup=[aclient.aclose]) as server,
        httpx.Client(base_url=server.url) as browser,
    ):
        assert browser.get("/add?sku=A").status_code == 503
    assert _ran(redis_cluster, before) == _node_of_cart(redis_cluster, "dw2:")
    for node in redis_cluster.nodes:  # the session cluster: leave no key behind
        with node.client() as direct:
            for key in direct.keys("dw[12]:*"):
                direct.delete(key)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(3, id="three"),
        pytest.param(-1, id="negative"),
        pytest.param(True, id="bool"),
        pytest.param("1", id="text"),
    ],
)
def test_durable_writes_must_be_0_1_or_2(value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_options(durable_writes=value)
    assert raised.value.setting == "durable_writes"


def test_the_wait_is_half_the_socket_timeout() -> None:
    assert Settings().durable_writes == 0
    assert Settings.from_options(socket_timeout=0.25).durable_wait_ms == 125
    assert Settings.from_options(socket_timeout=0.0001).durable_wait_ms == 1


@pytest.mark.parametrize(
    ("first", "second", "counted"),
    [
        pytest.param(1, 0, 0, id="resent-unconfirmed"),
        pytest.param(0, 1, 0, id="first-unconfirmed"),
        pytest.param(2, 2, 2, id="both"),
    ],
)
def test_after_a_noscript_resend_the_fewer_confirmations_count(
    first: int, second: int, counted: int
) -> None:
    """The re-sent pipeline may use another connection: each WAIT vouches only
    for its own connection's writes."""
    assert fewer(first, second) == counted
    error = redis.ResponseError("NOPERM")
    assert fewer(first, error) is error
    assert fewer(error, second) is error
