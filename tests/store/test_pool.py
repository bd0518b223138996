"""The connection pool of a client opened from ``redis_url`` (issue 22).

redis-py 8's pools fail at once when all their connections are in use: during
a 200 ms stall 150 concurrent ASGI requests got 50 ``503`` s and paused
tracking, though Redis answered in time. qscookies' pools wait up to
``socket_timeout`` for a free connection, and a pool that stays full is said
to be full (never "Redis unavailable") and pauses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio

from qscookies import QSCookies
from qscookies import StoreUnavailable
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.command import Command
from qscookies.embedded import RedisServer
from qscookies.embedded import redis_version
from qscookies.store.aio import AsyncAppStore
from qscookies.store.app import AppStore
from qscookies.store.client import aconnect
from qscookies.store.client import connect

from asgi_shop import Events
from asgi_shop import make_app
from shop import SECRET
from shop import shop

TIMEOUT = 0.5


@pytest.fixture
def private_server(redis_server_binary: str) -> Iterator[RedisServer]:
    """A server of this test's own: ``DEBUG SLEEP`` stalls it (Redis 7 needs
    ``enable-debug-command``, which 6.2 neither needs nor knows)."""
    new = redis_version(redis_server_binary) >= (7, 0, 0)
    args = ["--enable-debug-command", "yes"] if new else []
    with RedisServer(redis_server_binary, args=args) as server:
        yield server


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_full_pool_waits_for_a_connection_through_a_stall(
    private_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """150 new visitors add to their carts at once while Redis sleeps 200 ms:
    the default pool (100) is full, and the other requests wait for it."""
    caplog.set_level(logging.WARNING, "qscookies")
    app = ASGIQSCookies(
        make_app("bare", Events()),
        secret_key=SECRET,
        redis_url=private_server.url,
        socket_timeout=TIMEOUT,
    )
    transport = httpx.ASGITransport(app=app)

    async def add() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
            return (await c.get("/add?sku=A")).status_code

    async def run() -> tuple[list[int], float]:
        admin = redis.asyncio.Redis.from_url(private_server.url)
        await admin.ping()
        stall = asyncio.ensure_future(admin.execute_command("DEBUG", "SLEEP", "0.2"))
        await asyncio.sleep(0)  # the stall goes out first
        started = time.monotonic()
        statuses = await asyncio.gather(*(add() for _ in range(150)))
        took = time.monotonic() - started
        await stall
        await admin.aclose()
        await app.aclose()
        return list(statuses), took

    statuses, took = asyncio.run(run())
    assert statuses == [200] * 150
    assert took < 0.2 + 2 * TIMEOUT
    assert not [line for line in _said(caplog) if "paused" in line]


def test_a_pool_timeout_is_said_as_such_and_pauses_nothing(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A pool whose one connection is held: a cart write is a ``503`` logged
    as a full pool, a tracking write is dropped and logged so, tracking goes
    on as soon as the connection is back (the clock never moves)."""
    caplog.set_level(logging.WARNING, "qscookies")
    key = "qs:a:{pool}:d:20260101"
    writes = [Command("HINCRBY", (key,), ("n", 1))]
    options = dict(prefix="qs:", retry_interval=5, clock=lambda: 1000.0)
    client = connect(redis_server.url, socket_timeout=0.25, max_connections=1)
    store = AppStore(client, **options)
    held = client.connection_pool.get_connection()
    started = time.monotonic()
    assert store.track(writes) is None
    assert 0.25 <= time.monotonic() - started < 0.25 + TIMEOUT  # it waited
    with pytest.raises(StoreUnavailable) as failed:
        store.send(writes)
    assert failed.value.reply == "POOL"
    client.connection_pool.release(held)
    assert store.track(writes) == [1]  # not paused

    async def asyncio_case() -> None:
        client = aconnect(redis_server.url, socket_timeout=0.25, max_connections=1)
        store = AsyncAppStore(client, **options)
        held = await client.connection_pool.get_connection()
        assert await store.track(writes) is None
        with pytest.raises(StoreUnavailable):
            await store.send(writes)
        await client.connection_pool.release(held)
        assert await store.track(writes) == [2]
        await client.aclose()

    asyncio.run(asyncio_case())
    said = _said(caplog)
    assert said[0].startswith("qscookies: tracking write dropped (1 since the last")
    assert "all 1 connections of the pool (max_connections) stayed in use" in said[0]
    dropped = [line for line in said if "tracking write dropped" in line]
    assert len(dropped) == 2  # one line per store (each its own breaker)
    assert "a cart write or read failed: connection pool full" in said[1]
    assert not [line for line in said if "unavailable" in line or "paused" in line]
    store.close()  # the store's lane hands back the connection it holds
    with redis_server.client() as admin:
        admin.delete(key)


def test_max_connections_is_a_setting() -> None:
    """Validated with the other settings, and sized into the pool of a
    client opened from ``redis_url`` (no connection is opened here)."""
    with pytest.raises(Exception, match="max_connections"):
        QSCookies(shop, secret_key=SECRET, redis_url="redis://x", max_connections=0)
    client = aconnect("redis://127.0.0.1:1", socket_timeout=0.25, max_connections=7)
    assert client.connection_pool.max_connections == 7
    assert client.connection_pool.timeout == 0.25
