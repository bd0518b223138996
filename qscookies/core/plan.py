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
from typing import TypeVar

from ..command import Command

T = TypeVar("T")
U = TypeVar("U")


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

    With ``durable_writes`` only one of them may write a cart key: the store
    waits for the replicas of one key's server (``WAIT``).

    :raises ValueError: both write a cart key, and not the same one.
    """
    if first.durable and second.durable and first.durable != second.durable:
        raise ValueError(
            f"one round trip waits for one cart key: {first.durable!r} and"
            f" {second.durable!r} both want it"
        )
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
    if reply and next(iter(reply)).__class__ is str:  # decoded: all in C
        return dict(zip(reply, map(int, reply.values()), strict=True))
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
