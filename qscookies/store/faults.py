"""What a Redis failure means for qscookies: redis-py's exceptions mapped.

Unreachable, refused credentials, a full pool: :class:`StoreUnavailable`; an
error reply: :class:`StoreError` with the reply's first word. Every guard
(:mod:`~qscookies.store.client`, :mod:`~qscookies.store.aio`) maps through
:func:`translate`.
"""

from __future__ import annotations

import re
from typing import Any

import redis
from redis.exceptions import MaxConnectionsError

from ..errors import StoreError
from ..errors import StoreUnavailable

#: Faults that mean "Redis is not there right now" rather than "Redis said no".
#: What redis-py raises for a call that failed: its errors, a cluster client's
#: own (``SlotNotCoveredError`` and the other ``RedisClusterException``, which
#: are not ``RedisError``), and the socket's.
FAILURES = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)

_UNAVAILABLE = (
    redis.exceptions.RedisClusterException,
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    OSError,
)


def checked(replies: list[Any]) -> list[Any]:
    """*replies*, or the first error reply among them raised as a StoreError."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise translate(reply) from reply
    return replies


def lost_error(lost: dict[str, BaseException]) -> StoreError:
    """The error for replies lost with their cluster nodes (by node name)."""
    error = translate(next(iter(lost.values())))
    error.nodes = frozenset(lost)
    return error


def translate(error: BaseException) -> StoreError:
    """The qscookies error for a redis-py exception (or an error reply).

    Unreachable or refused credentials: :class:`StoreUnavailable` (a full
    connection pool too, its :attr:`~StoreError.reply` ``POOL``); an error
    reply: :class:`StoreError`, its :attr:`~StoreError.reply` the reply's
    first word (``OOM``, ``NOPERM``, ``READONLY``, ``LOADING``, ``WRONGTYPE``…).
    """
    if isinstance(error, redis.AuthenticationError):
        return StoreUnavailable(
            "Redis refused the user name or password",
            original_error=error,
            reply="AUTH",
        )
    if isinstance(error, MaxConnectionsError):  # the pool, not Redis
        return StoreUnavailable(
            f"connection pool full: {error}", original_error=error, reply="POOL"
        )
    if isinstance(error, _UNAVAILABLE):
        return StoreUnavailable(
            f"Redis unavailable: {type(error).__name__}", original_error=error
        )
    reply = error_reply(error)
    return StoreError(
        f"Redis refused a command: {error}", original_error=error, reply=reply
    )


_REPLY_WORD = re.compile(r"\b(OOM|NOPERM|READONLY|LOADING|WRONGTYPE|BUSY|MASTERDOWN)\b")


def error_reply(error: BaseException) -> str:
    """The kind of an error reply: ``OOM``, ``NOPERM``… (``ERR`` if unknown).

    redis-py strips the word from the message of the replies it knows (and
    keeps it as ``status_code``); from inside a script it stays in the text.
    """
    code = getattr(error, "status_code", None)
    if code and code != "ERR":
        return str(code)
    found = _REPLY_WORD.search(str(error))
    return found.group(1) if found else "ERR"
