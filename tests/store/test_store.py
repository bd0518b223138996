"""The store on real servers: key schema, TTLs, faults, Cluster and Sentinel."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import key_slot
from werkzeug.test import Client

from qscookies import QSCookies
from qscookies import StoreUnavailable
from qscookies import context
from qscookies.codec import new_id
from qscookies.embedded import RedisServer
from qscookies.ops.cli import main
from qscookies.store.app import Breaker

from launchers import RedisClusterServers
from launchers import SentinelServers
from shop import SECRET
from shop import get_json
from shop import shop
from shop import wrap


def drive(client: Client) -> None:
    """Visit, land, fill a cart and buy, so every kind of key exists."""
    client.get("/?promo=SUMMER")
    get_json(client, "/add?sku=A&q=2")
    get_json(client, "/buy?order=o-1&total=500")
    get_json(client, "/add?sku=B")


# -- key schema -----------------------------------------------------------------------


def test_every_key_is_under_the_prefix_with_a_ttl(redis_client: redis.Redis) -> None:
    drive(Client(wrap(redis_client, key_prefix="shop:")))
    keys = [k.decode() for k in redis_client.keys("*")]
    assert keys and all(k.startswith("shop:") for k in keys)
    for key in keys:
        assert redis_client.ttl(key) > 0, key


def test_cart_keys_expire_with_their_cookies(redis_client: redis.Redis) -> None:
    drive(Client(wrap(redis_client, visitor_max_age=7200, cart_max_age=3600)))
    (cart,) = redis_client.keys("qs:c:*")
    assert 3590 < redis_client.ttl(cart) <= 3600


def test_keys_of_one_visitor_cart_and_promotion_share_a_hash_tag(
    redis_client: redis.Redis,
) -> None:
    drive(Client(wrap(redis_client)))
    keys = [k.decode() for k in redis_client.keys("*")]
    by_tag: dict[str, set[int]] = {}
    for key in keys:
        if "{" in key:
            tag = key[key.index("{") + 1 : key.index("}")]
            by_tag.setdefault(tag, set()).add(key_slot(key.encode()))
    assert "SUMMER" in by_tag
    assert all(len(slots) == 1 for slots in by_tag.values())
    promotion_keys = [k for k in keys if "{SUMMER}" in k]
    assert len(promotion_keys) >= 3  # counters, sketch, order marker


# -- faults ---------------------------------------------------------------------------


@pytest.fixture
def fragile(fresh_redis_server: RedisServer) -> Iterator[tuple[QSCookies, RedisServer]]:
    app = QSCookies(
        shop,
        secret_key=SECRET,
        redis_url=fresh_redis_server.url,
        retry_interval=0.2,
        socket_timeout=0.2,
    )
    yield app, fresh_redis_server
    app.close()


def test_redis_stopped_then_back(
    fragile: tuple[QSCookies, RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    app, server = fragile
    client = Client(app)
    assert get_json(client, "/add?sku=A") == 1
    server.stop()
    caplog.set_level(logging.WARNING, "qscookies")
    for _ in range(20):  # page views still render, new visitors too
        assert client.get("/").status_code == 200
        assert Client(app).get("/?promo=SUMMER").status_code == 303
    response = client.get("/add?sku=A")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert client.get("/cart").status_code == 503
    paused = [r for r in caplog.records if "tracking" in r.getMessage()]
    assert len(paused) <= 2  # logged once per interval, not per request
    failed = [r for r in caplog.records if "cart write" in r.getMessage()]
    assert len(failed) == 2  # one line per failed cart call, naming the cause
    assert all("ConnectionError" in r.getMessage() for r in failed)
    server.restart()
    # no app restart needed (the test server keeps nothing on disk: cart empty)
    assert get_json(client, "/add?sku=A") == 1
    assert get_json(client, "/add?sku=A") == 2
    app.clock = lambda: time.time() + 60  # past retry_interval: tracking resumes
    fresh = Client(app)
    assert get_json(fresh, "/") == {"returning": False, "visits": 1, "promotion": None}
    with server.client() as admin:
        assert admin.keys("qs:a:{_site}:*")


def test_a_hung_redis_cannot_hang_the_shop(
    fragile: tuple[QSCookies, RedisServer],
) -> None:
    app, server = fragile
    client = Client(app)
    get_json(client, "/add?sku=A")
    assert server.pid
    os.kill(server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert Client(app).get("/").status_code == 200
        assert client.get("/add?sku=A").status_code == 503
        assert time.monotonic() - started < 2
    finally:
        os.kill(server.pid, signal.SIGCONT)


def test_an_uncaught_store_error_in_a_framework_500_becomes_503(
    fragile: tuple[QSCookies, RedisServer],
) -> None:
    """Frameworks turn exceptions into 500 pages; after a failed store call the
    middleware answers 503 with Retry-After instead."""

    def framework(environ: Any, start_response: Any) -> list[bytes]:
        try:
            context(environ).cart.add("A")
        except StoreUnavailable:
            start_response("500 Internal Server Error", [("Content-Type", "text/html")])
            return [b"<h1>Server Error</h1>"]
        start_response("200 OK", [])
        return [b"ok"]

    app, server = fragile
    app.app = framework
    server.stop()
    response = Client(app).get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert b"Server Error" not in response.data


def test_a_500_without_store_failure_is_left_alone(redis_client: redis.Redis) -> None:
    def broken(environ: Any, start_response: Any) -> list[bytes]:
        start_response("500 Internal Server Error", [])
        return [b"bug"]

    response = Client(wrap(redis_client, app=broken)).get("/")
    assert response.status_code == 500
    assert response.data == b"bug"


def test_forget_fails_loudly_when_redis_is_down(
    fragile: tuple[QSCookies, RedisServer],
) -> None:
    app, server = fragile
    client = Client(app)
    get_json(client, "/add?sku=A")
    server.stop()
    assert client.get("/forget").status_code == 503


# -- scale: Cluster and Sentinel -------------------------------------------------------


def test_the_same_code_runs_on_redis_cluster(
    redis_cluster: RedisClusterServers,
) -> None:
    cluster = redis_cluster.client()
    try:
        app = QSCookies(shop, secret_key=SECRET, redis=cluster)
        client = Client(app)
        drive(client)
        assert get_json(client, "/cart") == {"B": 1}
        assert get_json(client, "/add?sku=B&q=2") == 3
        get_json(client, "/forget")
        assert get_json(client, "/cart") == {}
        summer = cluster.hgetall(
            f"qs:a:{{SUMMER}}:d:{time.strftime('%Y%m%d', time.gmtime())}"
        )
        assert summer[b"purchases"] == b"1"
    finally:
        for key in cluster.keys("qs:*", target_nodes=cluster.ALL_NODES):
            cluster.delete(key)
        cluster.close()


def test_the_same_code_runs_with_sentinel(redis_sentinel: SentinelServers) -> None:
    master = redis_sentinel.master_client()
    try:
        client = Client(QSCookies(shop, secret_key=SECRET, redis=master))
        drive(client)
        assert get_json(client, "/cart") == {"B": 1}
    finally:
        master.flushall()
        master.close()


def test_wrong_credentials_are_named(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://nobody:wrong@{redis_server.host}:{redis_server.port}/0"
    app = QSCookies(shop, secret_key=SECRET, redis_url=url)
    try:
        cart = app.codec.dump_cart(new_id(), int(time.time()))
        browser = Client(app)
        browser.set_cookie("qs_cart", cart)
        response = browser.get("/cart")
        assert response.status_code == 503
        assert "user name or password" in caplog.text
    finally:
        app.close()
    assert main(["check", "--redis-url", url]) == 2


def test_the_tracking_pause_is_per_node_and_forgets_a_node_gone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After a failover the failed master's name is never written to again:
    its pause runs out on its own, and "resumed" is still said."""
    now = [1000.0]
    breaker = Breaker(5, lambda: now[0], "qs:")
    old, promoted, other = "10.0.0.1:7000", "10.0.0.4:7003", "10.0.0.2:7001"
    caplog.set_level(logging.WARNING, "qscookies")
    lost = StoreUnavailable("Redis unavailable: TimeoutError", nodes=frozenset({old}))
    breaker.failed(lost, {old, other})  # the error names the node that failed
    assert breaker.paused({old, other}) == {old}  # another shard goes on
    breaker.succeeded({other})
    now[0] += 6  # retry_interval later; the slots moved to the promoted replica
    assert not breaker.paused({old})
    breaker.succeeded({promoted})
    assert [r.getMessage() for r in caplog.records] == [
        "qscookies: tracking paused on 10.0.0.1:7000 (cart reads with a default"
        " answer it): Redis unavailable: TimeoutError",
        "qscookies: Redis back, tracking resumed; 1 page views not tracked",
    ]
    breaker.failed(StoreUnavailable("Redis unavailable: ConnectionError"), {other})
    assert breaker.paused({other, old}) == {other}  # unnamed: the nodes it needed
    assert "tracking paused on 10.0.0.2:7001" in caplog.records[-1].getMessage()
