"""What a connection opened by :func:`qscookies.store.connect` sends to Redis.

The middleware may open (or reopen) a connection while serving a request, so a
connection must send nothing but the request's own commands: no ``HELLO``, no
``CLIENT SETINFO`` (refused before Redis 7.2, after a round trip each), no
``CLIENT MAINT_NOTIFICATIONS``. Checked on every Redis version found, from the
server's ``INFO commandstats``.
"""

from __future__ import annotations

import redis

from qscookies.embedded import RedisServer
from qscookies.store.client import connect


class _Stats:
    """The commands a server runs from now on, read on an admin connection
    opened beforehand (so its own handshake is not counted)."""

    def __init__(self, server: RedisServer) -> None:
        self.admin = server.client()
        self.admin.config_resetstat()

    def commands(self) -> dict[str, int]:
        """Commands run (calls and refused calls) since, ``INFO`` and
        ``CONFIG RESETSTAT`` aside."""
        stats = self.admin.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(row["calls"])
            + int(row.get("failed_calls", 0))
            for name, row in stats.items()
            if name
            not in ("cmdstat_info", "cmdstat_config", "cmdstat_config|resetstat")
        }

    def close(self) -> None:
        self.admin.close()


def test_a_new_connection_sends_only_the_command(redis_binary: str) -> None:
    with RedisServer(redis_binary) as server:
        stats = _Stats(server)
        client = connect(server.url, socket_timeout=2.0)
        try:
            assert client.ping() is True
            assert stats.commands() == {"ping": 1}
        finally:
            client.close()
            stats.close()


def test_a_reopened_connection_sends_only_the_command(redis_binary: str) -> None:
    with RedisServer(redis_binary) as server:
        client = connect(server.url, socket_timeout=2.0)
        client.ping()
        client.connection_pool.disconnect()
        stats = _Stats(server)
        try:
            assert client.hset("qs:c:{x}", "sku", 1) == 1
            assert stats.commands() == {"hset": 1}
        finally:
            client.close()
            stats.close()


def test_a_user_in_the_url_costs_only_auth(redis_binary: str) -> None:
    with RedisServer(redis_binary) as server:
        with server.client() as admin:
            admin.acl_setuser(
                "shop", enabled=True, passwords=["+pw"], commands=["+ping"]
            )
        stats = _Stats(server)
        url = server.url.replace("redis://", "redis://shop:pw@", 1)
        client = connect(url, socket_timeout=2.0)
        try:
            assert client.ping() is True
            assert stats.commands() == {"auth": 1, "ping": 1}
        finally:
            client.close()
            stats.close()


def test_replies_are_decoded_text(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    client = connect(redis_server.url, socket_timeout=2.0)
    try:
        client.hset("qs:c:{y}", mapping={"A": 2})
        assert client.hgetall("qs:c:{y}") == {"A": "2"}
    finally:
        client.close()
