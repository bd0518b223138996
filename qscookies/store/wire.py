"""The lean lane: one command on one pooled connection, packed by us.

redis-py's ``execute_command`` spends most of a command's cost around the
socket: its retry wrapper, event dispatch and observability hooks, and a
generic packer. A guard's single command (the middleware's cart reads and
writes) takes this lane instead: a connection from the client's own pool,
the command packed here (the head of every command and of each script's
``EVALSHA`` or ``FCALL`` built once), ``send_packed_command`` and
``read_response`` on it, and redis-py's own reply callback. What stays
redis-py's is everything that decides behaviour: the pool (its size, its
wait, its checks of a connection handed out), the connection (connect and
reply timeouts, health checks, ``AUTH``/``SELECT`` on reconnect), the reply
parser and its error replies.
As in redis-py, a connection whose command failed other than by an error reply
is disconnected before it goes back to the pool (which drops one a server's
maintenance notice asks to reconnect), and nothing is retried.

The allow-list is the guard's, checked before a command comes here
(:meth:`~qscookies.store.client._GuardBase.check`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError


@functools.cache
def _head(name: str) -> bytes:
    """The bulk string of a command's name, packed once per name."""
    data = name.encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


#: The commands whose first argument names a script (its SHA1 or function).
_NAMED = frozenset({"EVALSHA", "FCALL", "FCALL_RO"})


@functools.cache
def _script_head(name: str, script: str) -> bytes:
    """``EVALSHA <sha>`` or ``FCALL <function>`` packed, once per script."""
    return _head(name) + _head(script)


def pack(encoder: Any, command: Sequence[Any]) -> bytes:
    """*command* in RESP, as redis-py's packer sends it.

    :param encoder: the connection's ``redis.connection.Encoder``: its
        encoding for text, and its rules (and errors) for any other argument.
    """
    name = command[0]
    if name in _NAMED:
        parts = [b"*%d\r\n" % len(command), _script_head(name, command[1])]
        rest = command[2:]
    else:
        parts = [b"*%d\r\n" % len(command), _head(name)]
        rest = command[1:]
    encoding, errors = encoder.encoding, encoder.encoding_errors
    for arg in rest:
        kind = type(arg)
        if kind is str:
            data = arg.encode(encoding, errors)
        elif kind is int:
            data = b"%d" % arg
        else:
            data = encoder.encode(arg)
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


def lean(client: Any) -> bool:
    """The lane can carry the commands of *client*: not a single-connection
    client, whose connection and lock are redis-py's."""
    return client.connection is None and not getattr(
        client, "single_connection_client", False
    )  # the second: asyncio


def call(client: Any, command: Sequence[Any]) -> Any:
    """Send *command* on a connection of *client*'s pool and return its reply.

    :raises redis.RedisError: as ``client.execute_command`` would (an error
        reply, a timeout, a lost connection, a full pool).
    """
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([pack(connection.encoder, command)])
        reply = connection.read_response()
    except ResponseError:
        raise
    except BaseException:  # its reply may still come: never reuse it
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    callback = client.response_callbacks.get(command[0])
    return reply if callback is None else callback(reply)


async def acall(client: Any, command: Sequence[Any]) -> Any:
    """:func:`call` for a ``redis.asyncio`` client."""
    pool = client.connection_pool
    connection = await pool.get_connection()
    try:
        await connection.send_packed_command([pack(connection.encoder, command)])
        reply = await connection.read_response()
    except ResponseError:
        raise
    except BaseException:
        await connection.disconnect(nowait=True)
        raise
    finally:
        await pool.release(connection)
    callback = client.response_callbacks.get(command[0])
    return reply if callback is None else callback(reply)
