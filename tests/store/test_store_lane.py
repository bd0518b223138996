"""The store's lean lane (:mod:`qscookies.store.lane`) on a real Redis.

A guard's single command goes out packed by us on a connection of the client's
pool, not through ``execute_command``; what it sends is byte for byte what
redis-py's packer sends, the allow-list still comes first, a script the server
has not seen still goes again with its source, and a connection whose reply
timed out never goes back to the pool with that reply still to come.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from qscookies import CommandRefused
from qscookies import StoreUnavailable
from qscookies.command import Command
from qscookies.command import script
from qscookies.embedded import RedisServer
from qscookies.errors import StoreError
from qscookies.store import lane
from qscookies.store.aio import AsyncGuard
from qscookies.store.app import APP_COMMANDS
from qscookies.store.client import Guard
from qscookies.store.client import client_options
from qscookies.store.client import connect
from qscookies.store.scripting import sha1

from launchers import frozen

SCRIPT = "return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])"


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            ("EVALSHA", sha1(SCRIPT), 1, "qs:c:{x}", "SKU-1", 2), id="evalsha"
        ),
        pytest.param(("HGETALL", "qs:c:{x}"), id="hgetall"),
        pytest.param(("HINCRBY", "qs:a:{p}", "café", -3), id="utf8-negative"),
        pytest.param(("EXPIRE", "qs:c:{x}", 2.5), id="float"),
        pytest.param(("DEL", b"qs:\xff", "qs:w:{x}"), id="bytes"),
        pytest.param(("WAIT", 1, 0), id="wait"),
        pytest.param(("HINCRBY", "qs:a:{p}", "", -(10**30)), id="empty-huge-int"),
        pytest.param(("HGETALL", "qs:c:{x}\r\n$9"), id="resp-like-text"),
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_command_is_packed_as_redis_py_packs_it(
    command: tuple[Any, ...], encoding: str
) -> None:
    connection = redis.Connection(encoding=encoding)
    expected = b"".join(connection.pack_command(*command))
    shapes = lane._Shapes(APP_COMMANDS, connection.encoder)
    assert shapes.pack(command) == expected
    assert shapes.pack(command) == expected  # its shape's prefix, as kept


def test_an_encoding_unlike_ascii_packs_each_argument_in_it() -> None:
    connection = redis.Connection(encoding="utf-16")
    command = ("HINCRBY", "qs:a:{p}", "SKU-1", 3)
    expected = b"".join(connection.pack_command(*command)).split(b"HINCRBY\r\n")[1]
    packed = lane._Shapes(APP_COMMANDS, connection.encoder).pack(command)
    assert packed.endswith(expected)  # the name aside: redis-py sends it in utf-8


def test_an_argument_redis_py_refuses_is_refused() -> None:
    connection = redis.Connection()
    with pytest.raises(redis.DataError):
        lane._Shapes(APP_COMMANDS, connection.encoder).pack(("HINCRBY", "k", "f", True))


@pytest.fixture
def guarded(redis_server: RedisServer) -> Iterator[tuple[Guard, redis.Redis]]:
    client = connect(redis_server.url, socket_timeout=2.0)
    yield Guard(client, APP_COMMANDS, hold=True), client
    client.close()


def _no_execute_command(*_args: Any, **_options: Any) -> Any:
    raise AssertionError("a single command went through execute_command")


@pytest.fixture
def lane_only(
    guarded: tuple[Guard, redis.Redis], monkeypatch: pytest.MonkeyPatch
) -> tuple[Guard, redis.Redis]:
    """:func:`guarded`, its client's ``execute_command`` refusing any call."""
    monkeypatch.setattr(guarded[1], "execute_command", _no_execute_command)
    return guarded


def test_a_single_command_takes_the_lean_lane_on_one_pooled_connection(
    lane_only: tuple[Guard, redis.Redis], redis_client: redis.Redis
) -> None:
    guard, client = lane_only
    redis_client.script_flush()
    # The script is unknown: EVALSHA answers NOSCRIPT, then EVAL runs it once.
    assert guard.call(script(SCRIPT, ("qs:c:{x}",), "SKU-1", 2)) == 2
    assert guard.call(script(SCRIPT, ("qs:c:{x}",), "SKU-1", 3)) == 5  # by SHA1
    assert guard.call(Command("HGETALL", ("qs:c:{x}",))) == {
        "SKU-1": "5"
    }  # redis-py's reply
    assert guard.call(Command("EXPIRE", ("qs:c:{x}",), (60,))) is True
    assert guard.call(Command("HGETALL", ("qs:c:{none}",))) == {}
    pool = client.connection_pool
    # One connection, taken from the pool once and held by the lane...
    assert len(pool._in_use_connections) == 1  # type: ignore[attr-defined]
    assert not pool._available_connections  # type: ignore[attr-defined]
    with pytest.raises(CommandRefused):
        guard.call(
            Command("HGET", ("qs:c:{x}",), ("SKU-1",))
        )  # never sent: not on the list
    guard.close()  # ...and handed back with the guard (a client it does not own)
    assert len(pool._available_connections) == 1  # type: ignore[attr-defined]
    assert not pool._in_use_connections  # type: ignore[attr-defined]


def test_a_pool_shared_with_the_shop_gets_its_connection_back_each_time(
    redis_server: RedisServer,
) -> None:
    """A store never closed must not keep the shop's connections."""
    client = connect(redis_server.url, socket_timeout=2.0)
    try:
        guard = Guard(client, APP_COMMANDS)  # a guard of no store: holds none
        for _ in range(3):
            guard.call(Command("HINCRBY", ("qs:a:{shared}",), ("n", 1)))
            assert not client.connection_pool._in_use_connections  # type: ignore[attr-defined]
        guard.send(
            [
                Command("HINCRBY", ("qs:a:{shared}",), ("n", 1)),
                Command("EXPIRE", ("qs:a:{shared}",), (9,)),
            ]
        )
        assert not client.connection_pool._in_use_connections  # type: ignore[attr-defined]
    finally:
        client.close()


class Sent(redis.Connection):
    """A connection that keeps what it sends."""

    sent: list[bytes] = []

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        Sent.sent.extend(command)
        super().send_packed_command(command, check_health)


def test_a_refused_shape_never_reaches_the_wire_however_often_sent(
    redis_server: RedisServer,
) -> None:
    client = redis.Redis(
        connection_pool=redis.ConnectionPool.from_url(
            redis_server.url, connection_class=Sent, **client_options(2.0)
        )
    )
    guard = Guard(client, APP_COMMANDS)
    Sent.sent = []
    try:
        for _ in range(3):  # the verdict is not kept as a pass
            with pytest.raises(CommandRefused):
                guard.call(Command("KEYS", args=("*",)))
            with pytest.raises(CommandRefused):
                guard.call(Command("keys", args=("*",)))  # any spelling of a name
        assert Sent.sent == []
        for quantity in (1, 2):  # a shape that passed: checked once, packed alike
            guard.call(Command("HINCRBY", ("qs:a:{s}",), ("n", quantity)))
        assert Sent.sent == [
            b"".join(redis.Connection().pack_command("HINCRBY", "qs:a:{s}", "n", n))
            for n in (1, 2)
        ]
    finally:
        client.close()


def test_a_held_connection_the_server_closed_is_reopened(
    guarded: tuple[Guard, redis.Redis], redis_client: redis.Redis
) -> None:
    """Held between commands, a connection gets the pool's check when taken."""
    guard, client = guarded
    assert guard.call(Command("HINCRBY", ("qs:a:{k}",), ("n", 1))) == 1
    name = f"held-{id(guard)}"
    held = client.connection_pool._in_use_connections.copy().pop()  # type: ignore[attr-defined]
    held.send_command("CLIENT", "SETNAME", name)
    assert held.read_response() in (b"OK", "OK", True)
    for entry in redis_client.client_list():
        if entry.get("name") == name:
            redis_client.client_kill_filter(_id=entry["id"])
    assert (
        guard.call(Command("HINCRBY", ("qs:a:{k}",), ("n", 1))) == 2
    )  # reconnected, no 503


def test_a_held_connection_with_a_reply_waiting_is_reopened(
    guarded: tuple[Guard, redis.Redis],
) -> None:
    """The poll that takes a held connection sees stray data: the pool's checks
    run, and the reply waiting never answers the next command."""
    guard, client = guarded
    assert guard.call(Command("HINCRBY", ("qs:a:{w}",), ("n", 1))) == 1
    held = next(iter(client.connection_pool._in_use_connections))  # type: ignore[attr-defined]
    held.send_command("PING")  # its PONG left unread
    assert select.select([held._sock], [], [], 5)[0]  # there
    assert guard.call(Command("HINCRBY", ("qs:a:{w}",), ("n", 1))) == 2
    assert guard.call(Command("HGETALL", ("qs:a:{w}",))) == {"n": "2"}


def test_a_forked_child_never_uses_its_parent_s_held_connection(
    guarded: tuple[Guard, redis.Redis], monkeypatch: pytest.MonkeyPatch
) -> None:
    guard, client = guarded
    assert guard.call(Command("HINCRBY", ("qs:a:{f}",), ("n", 1))) == 1
    pool = client.connection_pool
    held = next(iter(pool._in_use_connections))  # type: ignore[attr-defined]
    monkeypatch.setattr(lane.os, "getpid", lambda: -1)  # as in a child
    fresh = redis.Connection(**pool.connection_kwargs)  # type: ignore[attr-defined]
    monkeypatch.setattr(pool, "get_connection", lambda: fresh)
    assert guard.call(Command("HINCRBY", ("qs:a:{f}",), ("n", 1))) == 2
    assert fresh._sock is not None  # the pool's connection carried it
    assert held is not fresh
    fresh.disconnect()


def test_an_error_reply_on_the_lane_keeps_the_connection(
    lane_only: tuple[Guard, redis.Redis], redis_client: redis.Redis
) -> None:
    guard, client = lane_only
    redis_client.set("qs:s:{str}", "x")
    with pytest.raises(StoreError) as failed:
        guard.call(Command("HGETALL", ("qs:s:{str}",)))
    assert failed.value.reply == "WRONGTYPE"
    (connection,) = client.connection_pool._in_use_connections  # type: ignore[attr-defined]
    assert connection._sock is not None  # held by the lane, still connected
    assert guard.call(Command("DEL", ("qs:s:{str}",))) == 1


def test_a_timed_out_reply_never_reaches_the_next_command(
    fresh_redis_server: RedisServer,
) -> None:
    client = connect(fresh_redis_server.url, socket_timeout=0.3)
    guard = Guard(client, APP_COMMANDS)
    try:
        assert guard.call(Command("HINCRBY", ("qs:a:{t}",), ("n", 1))) == 1
        with frozen(fresh_redis_server), pytest.raises(StoreUnavailable):
            guard.call(Command("HINCRBY", ("qs:a:{t}",), ("n", 1)))
        # The late reply of that HINCRBY died with its connection.
        assert guard.call(Command("HGETALL", ("qs:a:{t}",))) in ({"n": "1"}, {"n": "2"})
    finally:
        client.close()


def _aclient(url: str, timeout: float) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        url, **client_options(timeout, asynchronous=True)
    )


def test_the_asyncio_guard_takes_the_lean_lane(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    async def main() -> list[Any]:
        client = _aclient(redis_server.url, 2.0)
        client.execute_command = _no_execute_command  # type: ignore[method-assign]
        guard = AsyncGuard(client, APP_COMMANDS)
        try:
            return [
                await guard.call(script(SCRIPT, ("qs:c:{y}",), "SKU-1", 2)),
                await guard.call(Command("HGETALL", ("qs:c:{y}",))),
                len(client.connection_pool._available_connections),
            ]
        finally:
            await client.aclose()

    redis_client.script_flush()
    assert asyncio.run(main()) == [2, {"SKU-1": "2"}, 1]


def _pool_counts(client: redis.asyncio.Redis) -> tuple[int, int]:
    """(connections in use, connections available) of *client*'s pool."""
    pool = client.connection_pool
    return len(pool._in_use_connections), len(pool._available_connections)  # type: ignore[attr-defined]


def test_the_asyncio_lane_of_the_store_s_own_pool_holds_its_connection(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """As the sync lane: one connection, held between commands, checked when
    taken again (one the server closed is reopened), handed back at close."""

    async def main() -> list[Any]:
        client = _aclient(redis_server.url, 2.0)
        guard = AsyncGuard(client, APP_COMMANDS, owned=False, hold=True)
        seen = []
        try:
            for n in (1, 2, 3):
                key = ("qs:a:{held}",)
                assert await guard.call(Command("HINCRBY", key, ("n", 1))) == n
                seen.append(_pool_counts(client))
            (held,) = client.connection_pool._in_use_connections  # type: ignore[attr-defined]
            name = f"aheld-{id(guard)}"
            await held.send_command("CLIENT", "SETNAME", name)
            await held.read_response()
            for entry in redis_client.client_list():
                if entry.get("name") == name:
                    redis_client.client_kill_filter(_id=entry["id"])
            # The loop runs between two requests: it reads the server's close
            # (as for a connection of redis-py's own pool, the check on taking
            # a connection sees what the loop has read).
            await asyncio.sleep(0.05)
            got = await guard.call(Command("HGETALL", ("qs:a:{held}",)))
            await guard.close()  # a client it does not own: connections back
            return [seen, got, _pool_counts(client)]
        finally:
            await client.aclose()

    seen, got, closed = asyncio.run(main())
    assert seen == [(1, 0)] * 3  # taken once, held
    assert got == {"n": "3"}  # reconnected, no 503
    assert closed == (0, 1)


def test_the_asyncio_lanes_of_two_loops_keep_their_connections(
    redis_server: RedisServer,
) -> None:
    """Two loops served in turn (two TestClients of one app) each keep their
    lane and what it holds: a switch never strands a held connection, so a
    small pool is never used up."""
    client = redis.asyncio.Redis.from_url(
        redis_server.url, max_connections=2, **client_options(2.0, asynchronous=True)
    )
    guard = AsyncGuard(client, APP_COMMANDS, owned=True, hold=True)
    loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]
    try:
        for _ in range(20):
            for loop in loops:
                command = Command("HINCRBY", ("qs:a:{loops}",), ("n", 1))
                loop.run_until_complete(guard.call(command))
        assert _pool_counts(client) == (1, 0)  # the first loop's: one, held
        for loop in loops:
            loop.run_until_complete(guard.close())
    finally:
        for loop in loops:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


@pytest.mark.parametrize("hold", [False, True])
def test_an_asyncio_timed_out_held_reply_never_reaches_the_next_command(
    fresh_redis_server: RedisServer, hold: bool
) -> None:
    async def main() -> Any:
        client = _aclient(fresh_redis_server.url, 0.3)
        guard = AsyncGuard(client, APP_COMMANDS, owned=False, hold=hold)
        try:
            await guard.call(Command("HINCRBY", ("qs:a:{t}",), ("n", 1)))
            with frozen(fresh_redis_server), pytest.raises(StoreUnavailable):
                await guard.call(Command("HINCRBY", ("qs:a:{t}",), ("n", 1)))
            return await guard.call(Command("HGETALL", ("qs:a:{t}",)))
        finally:
            await guard.close()
            await client.aclose()

    assert asyncio.run(main()) in ({"n": "1"}, {"n": "2"})


def test_a_single_connection_client_keeps_redis_py_s_path(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Its one connection is guarded by redis-py's own lock: not the lane's."""
    client = redis.Redis.from_url(
        redis_server.url, single_connection_client=True, **client_options(2.0)
    )
    try:
        assert not lane.lean(client)
        assert (
            Guard(client, APP_COMMANDS).call(
                Command("HINCRBY", ("qs:a:{one}",), ("n", 3))
            )
            == 3
        )
    finally:
        client.close()

    async def main() -> Any:
        aclient = redis.asyncio.Redis.from_url(
            redis_server.url,
            single_connection_client=True,
            **client_options(2.0, asynchronous=True),
        )
        try:
            assert not lane.lean(aclient)
            return await AsyncGuard(aclient, APP_COMMANDS).call(
                Command("HGETALL", ("qs:a:{one}",))
            )
        finally:
            await aclient.aclose()

    assert asyncio.run(main()) == {"n": "3"}
