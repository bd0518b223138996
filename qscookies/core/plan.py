"""A plan: the Redis commands of one round trip, and how to read their replies.

The request rules (:mod:`qscookies.core`) say *what* to send as a :class:`Plan`;
a facade hands its commands to a store, sync or async, and its replies back to
:attr:`Plan.read`. A plan with no command costs no round trip; a plan whose
reader answers another plan costs one more (only Redis Cluster needs that, for
a landing whose keys live in two slots).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import NamedTuple
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Command(NamedTuple):
    """One Redis command as planned: its name, its keys, its other arguments.

    The store reads the keys by name (a cluster's routing, the key-prefix
    check) and lays the command out for the wire once. A Lua script is planned
    by :func:`script`: its name is ``EVAL`` and :attr:`script` its source, and
    the store sends it as ``FCALL``, ``EVALSHA`` or ``EVAL`` (see
    :mod:`qscookies.store.scripting`).

    >>> command = Command("HINCRBY", ("qs:a:SUMMER:d:20260101",), ("landings", 1))
    >>> command.keys
    ('qs:a:SUMMER:d:20260101',)
    """

    #: The command's name, upper case (``"HGETALL"``; ``"EVAL"`` for a script).
    name: str
    #: The keys it reads or writes, in the order the command takes them.
    keys: tuple[str, ...] = ()
    #: Its other arguments, after the keys (a script's ``ARGV``).
    args: tuple[Any, ...] = ()
    #: A script's Lua source; ``None``: not a script.
    script: str | None = None


def script(source: str, keys: tuple[str, ...], *args: Any) -> Command:
    """The command that runs the Lua *source* on *keys* (``KEYS``) with *args*
    (``ARGV``)."""
    return Command("EVAL", keys, args, source)


@dataclass(frozen=True, slots=True)
class Plan(Generic[T]):
    """Commands to send in one round trip, pipelined, and their reader."""

    #: The commands, in order; empty: nothing to send.
    commands: tuple[Command, ...]
    #: Turns the replies (one per command, in order) into the result, or into
    #: the next plan. A tracking send may skip the commands of a paused
    #: cluster node: their replies are a :class:`~qscookies.errors.NotSent`.
    read: Callable[[list[Any]], T | Plan[T]]
    #: The cart key this plan writes, or ``None``: with ``durable_writes``, the
    #: store has that key's replicas confirm the write (``WAIT``, in the same
    #: round trip). Tracking sends never wait.
    durable: str | None = None


def done(value: T) -> Plan[T]:
    """A plan that sends nothing and answers *value*."""
    return Plan((), lambda _replies: value)


def both(first: Plan[T], second: Plan[U]) -> Plan[tuple[T, U]]:
    """*first* and *second* in one round trip: their commands in order, each
    reader given its own replies (*first*'s first); it answers both results.
    Any plans they lead to follow together, again in one round trip each.

    With ``durable_writes`` only one of them may write a cart key.
    """
    at = len(first.commands)

    def read(replies: list[Any]) -> tuple[T, U] | Plan[tuple[T, U]]:
        left, right = first.read(replies[:at]), second.read(replies[at:])
        if isinstance(left, Plan) or isinstance(right, Plan):
            return both(_planned(left), _planned(right))
        return left, right

    return Plan(first.commands + second.commands, read, first.durable or second.durable)


def _planned(result: T | Plan[T]) -> Plan[T]:
    """*result* as a plan: itself, or one that sends nothing and answers it."""
    return result if isinstance(result, Plan) else done(result)


def then(plan: Plan[T], step: Callable[[T], U]) -> Plan[U]:
    """*plan*, its result passed through *step* (after any plan it leads to)."""

    def read(replies: list[Any]) -> U | Plan[U]:
        result = plan.read(replies)
        return then(result, step) if isinstance(result, Plan) else step(result)

    return Plan(plan.commands, read, plan.durable)


def text(reply: str | bytes) -> str:
    """A string reply as text, whether or not the client decodes replies."""
    return reply.decode() if isinstance(reply, bytes) else reply


def lines_of(reply: dict[Any, Any]) -> dict[str, int]:
    """A cart's ``HGETALL`` reply as ``{sku: quantity}``, whether or not the
    client decodes replies."""
    return {
        (sku if sku.__class__ is str else sku.decode()): int(n)
        for sku, n in reply.items()
    }


def pairs(reply: list[Any]) -> dict[str, str]:
    """A flat ``field, value, …`` reply (a script's ``HGETALL``) as a dict of
    text, whether or not the client decodes replies."""
    values = [text(item) for item in reply]
    return dict(zip(values[::2], values[1::2], strict=True))


def ignore(_replies: list[Any]) -> None:
    """A reader for writes whose replies say nothing the rules need."""
    return None


#: A plan that sends nothing and answers ``None`` (shared: plans are immutable).
NOTHING: Plan[None] = Plan((), ignore)
