"""One Redis command as planned: what the rules plan and the store sends.

A leaf, below both: the request core (:mod:`qscookies.core`) plans commands
without knowing Redis, and the store (:mod:`qscookies.store`) sends them
without knowing the rules; each imports this, neither imports the other.
"""

from __future__ import annotations

from typing import Any
from typing import NamedTuple


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
