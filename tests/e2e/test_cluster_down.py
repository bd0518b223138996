"""The whole Redis Cluster down: pages render, cart writes answer 503, nothing escapes.

A cluster client raises its own exceptions (``SlotNotCoveredError`` and the
other ``RedisClusterException``, which are not ``RedisError``) besides the
connection errors; each must map like any other store failure, on both doors,
for a new visitor (tracking), a landing and a cart write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio

from qscookies import QSCookies as WSGIQSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.store.client import client_options

from asgi_server import ASGIServer
from asgi_server import WSGIServer
from asgi_shop import Events
from asgi_shop import make_app
from launchers import RedisClusterServers
from shop import SECRET
from shop import shop

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture
def downed_cluster(redis_server_binary: str) -> Iterator[RedisClusterServers]:
    """A cluster of its own, which the test stops."""
    with RedisClusterServers(redis_server_binary) as cluster:
        yield cluster


def _journey(url: str, stop: Any) -> dict[str, int]:
    """Status codes with the cluster up (an add), then down."""
    with (
        httpx.Client(base_url=url, timeout=10) as browser,
        httpx.Client(base_url=url, timeout=10) as newcomer,
    ):
        seen = {"add, cluster up": browser.get("/add?sku=A").status_code}
        stop()
        seen["new visitor's page"] = newcomer.get("/").status_code
        seen["landing"] = newcomer.get("/?promo=DOWN").status_code
        seen["known visitor's page"] = browser.get("/").status_code
        seen["badge"] = browser.get("/badge").status_code
        added = browser.get("/add?sku=B")
        seen["add, cluster down"] = added.status_code
        assert added.headers["retry-after"] == "5"
        seen["first add of a newcomer"] = newcomer.get("/add?sku=A").status_code
    return seen


EXPECTED = {
    "add, cluster up": 200,
    "new visitor's page": 200,
    "landing": 303,
    "known visitor's page": 200,
    "badge": 200,
    "add, cluster down": 503,
    "first add of a newcomer": 503,
}


def test_wsgi_door(downed_cluster: RedisClusterServers) -> None:
    client = downed_cluster.client(**client_options(0.5))
    app = WSGIQSCookies(shop, secret_key=SECRET, redis=client, retry_interval=0.2)
    try:
        with WSGIServer(app) as server:
            assert _journey(server.url, downed_cluster.stop) == EXPECTED
    finally:
        client.close()


def test_asgi_door(downed_cluster: RedisClusterServers) -> None:
    client = redis.asyncio.RedisCluster.from_url(
        downed_cluster.url, **client_options(0.5, asynchronous=True)
    )
    app = ASGIQSCookies(
        make_app("bare", Events()), secret_key=SECRET, redis=client, retry_interval=0.2
    )
    with ASGIServer(app, cleanup=[client.aclose]) as server:
        assert _journey(server.url, downed_cluster.stop) == EXPECTED
