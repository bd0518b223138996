"""The lean lane: one command on a pooled connection, packed by us.

redis-py's ``execute_command`` spends most of a command's cost around the
socket: its retry wrapper, event dispatch and observability hooks, a generic
packer, and a pool whose every hand-out and return records metrics under a
lock (about 60k instructions a command, ``bench/instructions.py``). A guard's
single command (the middleware's cart reads and writes) takes this lane
instead:

- **checked once per shape.** A command's *shape* is its name, and for a
  script call (``EVALSHA <sha> <numkeys>``, ``FCALL <name> <numkeys>``) the
  two arguments after it. The first command of a shape is checked against
  the allow-list; a shape outside it raises
  :class:`~qscookies.errors.CommandRefused` every time and never reaches the
  wire. A shape that passed is kept with its packed prefix, so later
  commands of that shape pay neither the check nor the packing of their
  constant head (at most :data:`MAX_SHAPES`: the shapes are our own code's).
- **one connection, held.** The sync lane takes a connection from the pool
  of a client the store owns and, after a clean reply, keeps it for the next
  command (at most :data:`MAX_IDLE` idle at once; more go back to the pool),
  instead of a pool round of lock and metrics per command. A held connection
  is checked when it is taken again: a poll that does not wait finds it
  connected with nothing on its socket, else the pool's own checks run
  (connected, no stray data waiting, else reconnected); none crosses a fork.
  Only a plain pool of
  RESP2 connections lends them this way; a pool shared with the shop (a
  client passed in, used as it is), a Sentinel pool (which follows the master
  on each hand-out) and the asyncio lane take and return one each time.
- **redis-py's behaviour.** The connection (connect and reply timeouts,
  ``AUTH``/``SELECT`` on reconnect), the reply parser and its error replies,
  the reply callbacks: all redis-py's. As there, a connection whose command
  failed other than by an error reply is disconnected (its reply may still
  come), and nothing is retried.
"""

from __future__ import annotations

import os
import select
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import ResponseError

from ..errors import CommandRefused

#: Commands whose two arguments after the name are constant for a script
#: (its SHA1 or function name, and the number of keys): part of the shape.
SCRIPT_CALLS = frozenset({"EVALSHA", "FCALL", "FCALL_RO"})
#: Most shapes a lane keeps (past that it starts over: never unbounded).
MAX_SHAPES = 256
#: Most idle connections the sync lane holds between commands.
MAX_IDLE = 4

#: ``select.poll`` where the system has it (not on Windows).
_POLL = getattr(select, "poll", None)

#: The pools whose connections the lanes may hold (not Sentinel's).
_PLAIN_POOLS = (redis.ConnectionPool, redis.BlockingConnectionPool)
_PLAIN_ASYNC_POOLS = (
    redis.asyncio.ConnectionPool,
    redis.asyncio.BlockingConnectionPool,
)


#: Every ASCII character, to tell an encoding that writes them as themselves.
_ASCII = bytes(range(128))


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _plain(pool: Any, kinds: tuple[type, ...]) -> bool:
    """*pool* lends connections a lane may hold: a plain pool of *kinds* (not
    a Sentinel pool, which follows the master on each hand-out) of RESP2."""
    protocol = pool.connection_kwargs.get("protocol")
    return (
        isinstance(pool, kinds)
        and not hasattr(pool, "service_name")
        and protocol in (None, 2, "2")
    )


def lean(client: Any) -> bool:
    """The lane can carry the commands of *client*: not a single-connection
    client, whose connection and lock are redis-py's."""
    return client.connection is None and not getattr(
        client, "single_connection_client", False
    )  # the second: asyncio


class _Shapes:
    """The allow-list, checked once per shape, and each shape's packed prefix.

    :param allowed: the commands that may be sent.
    :param encoder: the pool's ``redis.connection.Encoder``: its encoding for
        text, and its rules (and errors) for any other argument.
    """

    __slots__ = ("_allowed", "_ascii", "_encoder", "_prefixes")

    def __init__(self, allowed: frozenset[str], encoder: Any) -> None:
        self._allowed = allowed
        self._encoder = encoder
        self._prefixes: dict[tuple[Any, ...], bytes] = {}
        #: The encoding writes ASCII text as its own bytes (utf-8 does).
        self._ascii = _ASCII.decode().encode(encoder.encoding) == _ASCII

    def pack(self, command: Sequence[Any]) -> bytes:
        """*command* in RESP, as redis-py's packer sends it.

        :raises CommandRefused: its name is not on the allow-list.
        :raises redis.DataError: an argument redis-py refuses too.
        """
        fixed = 3 if command[0] in SCRIPT_CALLS else 1
        shape = tuple(command[:fixed])
        prefix = self._prefixes.get(shape)
        if prefix is None:
            prefix = self._learn(shape)
        encoder = self._encoder
        # The common command, ASCII text and ints: its arguments in one
        # string, encoded once (a length in characters is one in bytes).
        parts = []
        for arg in command[fixed:] if self._ascii else ():
            kind = type(arg)
            if kind is int:
                arg = str(arg)
            elif kind is not str:
                break
            parts.append(f"${len(arg)}\r\n{arg}\r\n")
        else:
            text = "".join(parts)
            if self._ascii and text.isascii():
                return b"*%d\r\n%b%b" % (len(command), prefix, text.encode())
        encoding, errors = encoder.encoding, encoder.encoding_errors
        packed = [b"*%d\r\n" % len(command), prefix]
        for arg in command[fixed:]:
            kind = type(arg)
            if kind is str:
                data = arg.encode(encoding, errors)
            elif kind is int:
                data = b"%d" % arg
            else:
                data = encoder.encode(arg)
            packed.append(_bulk(data))
        return b"".join(packed)

    def _learn(self, shape: tuple[Any, ...]) -> bytes:
        """Check a new shape against the allow-list and pack its prefix."""
        name = str(shape[0]).upper()  # as the guard's check reads a name
        if name not in self._allowed:
            raise CommandRefused(name)
        prefix = b"".join(_bulk(self._encoder.encode(part)) for part in shape)
        if len(self._prefixes) >= MAX_SHAPES:
            self._prefixes.clear()
        self._prefixes[shape] = prefix
        return prefix


class Lane:
    """The lane of one sync ``redis.Redis`` client (see the module).

    :param client: a client for which :func:`lean` holds.
    :param allowed: the commands it may send.
    :param hold: the pool is the store's own (a client opened from
        ``redis_url``, or the store's twin of one passed in): its connections
        may be held between commands. A pool shared with the shop lends each
        command a connection and gets it back, so a store never closed can
        never keep the shop's connections.
    """

    __slots__ = ("_callbacks", "_holds", "_idle", "_pid", "_polls", "_pool", "_shapes")

    def __init__(
        self, client: Any, allowed: frozenset[str], *, hold: bool = False
    ) -> None:
        pool = client.connection_pool
        self._pool = pool
        self._shapes = _Shapes(allowed, pool.get_encoder())
        self._callbacks = client.response_callbacks
        self._holds = hold and _plain(pool, _PLAIN_POOLS)
        self._idle: list[Any] = []
        self._pid = os.getpid()
        #: A poll of each held connection's socket (at most 2 × MAX_IDLE).
        self._polls: dict[Any, Any] = {}

    def call(self, command: Sequence[Any]) -> Any:
        """Send *command* and return its reply, with redis-py's reply callback
        (a cart read or write: without :meth:`pipeline`'s lists).

        :raises CommandRefused: not on the allow-list (nothing sent).
        :raises redis.RedisError: as ``client.execute_command`` would (an error
            reply, a timeout, a lost connection, a full pool).
        """
        packed = self._shapes.pack(command)
        connection = self._take()
        try:
            connection.send_packed_command([packed])
            reply = connection.read_response()
        except ResponseError:
            self._give(connection)
            raise
        except BaseException:  # its reply may still come: never reuse it
            connection.disconnect()
            self._give(connection)
            raise
        self._give(connection)
        callback = self._callbacks.get(command[0])
        return reply if callback is None else callback(reply)

    def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send *commands* in one write and return their replies in order,
        each through redis-py's reply callback, an error reply in its place
        as the exception redis-py makes of it (as a pipeline's
        ``execute(raise_on_error=False)``): the connection a held lane keeps
        carries the tracking writes too, so a request uses one connection.

        :raises CommandRefused: one is not on the allow-list (nothing sent).
        :raises redis.RedisError: a timeout, a lost connection, a full pool.
        """
        packed = [self._shapes.pack(command) for command in commands]
        callbacks = self._callbacks
        replies: list[Any] = []
        connection = self._take()
        try:
            connection.send_packed_command(packed)
            for command in commands:
                try:
                    reply = connection.read_response()
                except ResponseError as error:
                    replies.append(error)
                    continue
                callback = callbacks.get(command[0])
                replies.append(reply if callback is None else callback(reply))
        except BaseException:  # its replies may still come: never reuse it
            connection.disconnect()
            self._give(connection)
            raise
        self._give(connection)
        return replies

    def _take(self) -> Any:
        """A held connection, checked as the pool checks one, else the pool's."""
        try:
            connection = self._idle.pop()
        except IndexError:
            return self._pool.get_connection()
        if self._pid != os.getpid():  # a forked child: not its connections
            self._idle.clear()
            self._pid = os.getpid()
            return self._pool.get_connection()
        if self._quiet(connection):
            return connection
        try:
            if not connection.is_connected:  # connect() is a call more when it is
                connection.connect()
            if connection.can_read():
                raise redis.ConnectionError("Connection has data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            connection.disconnect()
            try:
                connection.connect()
            except BaseException:
                self._pool.release(connection)
                raise
        return connection

    def _quiet(self, connection: Any) -> bool:
        """*connection* is connected and nothing waits on its socket: one poll
        that does not wait, instead of the pool's checks through the parser
        (a quarter of their cost). Anything there (a closed peer's EOF
        included) leaves it to those checks."""
        sock = getattr(connection, "_sock", None)
        poll = self._polls.get(sock)
        if poll is None:
            if sock is None or _POLL is None:
                return False
            if len(self._polls) >= 2 * MAX_IDLE:  # sockets of closed connections
                self._polls.clear()
            poll = self._polls[sock] = _POLL()
            poll.register(sock, select.POLLIN)
        return not poll.poll(0)

    def _give(self, connection: Any) -> None:
        """Keep *connection* for the next command, or hand it back to the pool."""
        if self._holds and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            self._pool.release(connection)

    def close(self) -> None:
        """Hand every held connection back to the pool."""
        while self._idle:
            self._pool.release(self._idle.pop())


class AsyncLane:
    """:class:`Lane` for a ``redis.asyncio`` client: the shapes, the packing
    and the connection handling.

    A client belongs to one event loop (each loop gets a client of its own,
    :mod:`~qscookies.store.loops`), and so do the lane and the connections it
    holds: with *hold* it keeps, as the sync lane does, at most
    :data:`MAX_IDLE` idle connections of a plain pool between commands,
    checked as the pool checks one when taken again; they close with the
    client. Without, each command takes one from the pool and gives it back.

    :param client: a client for which :func:`lean` holds.
    :param allowed: the commands it may send.
    :param hold: the client is the store's own (see :class:`Lane`).
    """

    __slots__ = ("_callbacks", "_holds", "_idle", "_pool", "_shapes")

    def __init__(
        self, client: Any, allowed: frozenset[str], *, hold: bool = False
    ) -> None:
        pool = client.connection_pool
        self._pool = pool
        self._shapes = _Shapes(allowed, pool.get_encoder())
        self._callbacks = client.response_callbacks
        self._holds = hold and _plain(pool, _PLAIN_ASYNC_POOLS)
        self._idle: list[Any] = []

    async def call(self, command: Sequence[Any]) -> Any:
        """Send *command* and return its reply (see :meth:`Lane.call`)."""
        packed = self._shapes.pack(command)
        connection = await self._take()
        try:
            await connection.send_packed_command([packed])
            reply = await connection.read_response()
        except ResponseError:
            if not self._kept(connection):
                await self._pool.release(connection)
            raise
        except BaseException:  # its reply may still come: never reuse it
            await connection.disconnect(nowait=True)
            await self._pool.release(connection)
            raise
        if not self._kept(connection):
            await self._pool.release(connection)
        callback = self._callbacks.get(command[0])
        return reply if callback is None else callback(reply)

    async def _take(self) -> Any:
        """A held connection, checked as the pool checks one, else the pool's."""
        try:
            connection = self._idle.pop()
        except IndexError:
            return await self._pool.get_connection()
        try:
            if not connection.is_connected:  # connect() goes through a retry
                await connection.connect()
            if await connection.can_read():
                raise redis.ConnectionError("Connection has data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            await connection.disconnect()
            try:
                await connection.connect()
            except BaseException:
                await self._pool.release(connection)
                raise
        return connection

    def _kept(self, connection: Any) -> bool:
        """Keep *connection* for the next command, if the lane holds one more
        (else the caller hands it back to the pool): no await to keep one."""
        if self._holds and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
            return True
        return False

    async def close(self) -> None:
        """Hand every held connection back to the pool."""
        while self._idle:
            await self._pool.release(self._idle.pop())
