"""The commands ``qscookies check`` asks Redis about, with harmless arguments.

None of them is ever run: each is only dry-run (``ACL DRYRUN``) or queued in
``MULTI`` and discarded (see :meth:`~qscookies.store.probe.Prober.probe`).
``<cart>``, ``<aggregate>``, ``<index>`` and ``<order>`` stand for keys of the
prefix checked (:func:`probe_commands`).
"""

from __future__ import annotations

from .keys import KeySchema
from .scripts import CART_LINES
from .scripts.library import CALLS

# Placeholders of the probes, for a cart key and an aggregate key of the prefix
# (see probe_commands: never existing, the id is not a valid one, the day is
# 00000000), and a key outside any prefix ("!" is not allowed in a prefix).
_CART = "<cart>"
_AGGREGATE = "<aggregate>"
_INDEX = "<index>"
_ORDER = "<order>"
_OUTSIDE = "!qscookies-check"
_CHECK_ID = "qscookies-check"

#: Commands that could take data out of Redis (or open Redis to someone who
#: would), each with harmless arguments of valid arity. They are only ever
#: dry-run or queued and discarded by :meth:`~qscookies.store.probe.Prober.probe`.
#: ``<cart>`` and ``<aggregate>`` stand for keys: see :func:`probe_commands`.
EXPORT_PROBES: tuple[tuple[str, ...], ...] = (
    ("DUMP", _CART),
    ("RESTORE", _CART, "0", "x"),
    ("MIGRATE", "127.0.0.1", "1", _CART, "0", "1"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("RANDOMKEY",),
    ("SORT", _CART, "BY", "nosort", "GET", "*"),
    ("MONITOR",),
    ("SYNC",),
    ("PSYNC", "?", "-1"),
    ("REPLICAOF", "127.0.0.1", "1"),
    ("SLAVEOF", "127.0.0.1", "1"),
    ("CONFIG", "GET", "*"),
    ("CONFIG", "SET", "dir", "/tmp"),
    ("DEBUG", "OBJECT", _AGGREGATE),
    ("OBJECT", "ENCODING", _AGGREGATE),
    ("MODULE", "LOAD", "/dev/null"),
    ("SAVE",),
    ("BGSAVE",),
    ("BGREWRITEAOF",),
    ("CLIENT", "LIST"),
    ("ACL", "LIST"),
    ("ACL", "SETUSER", "qscookies-check"),
    ("SHUTDOWN", "NOSAVE"),
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("SWAPDB", "0", "1"),
    ("MOVE", _CART, "1"),
    ("COPY", _AGGREGATE, _OUTSIDE),
    ("PSUBSCRIBE", "__key*__:*"),
    ("GET", _OUTSIDE),
    ("HGETALL", _OUTSIDE),
)

#: Reading a cart: the app user's own job, an export for a user who cannot write
#: (a reader such as the report user). Nothing is kept per visitor.
READER_PROBES: tuple[tuple[str, ...], ...] = (("HGETALL", _CART),)

#: Tells a writer (the app user) from a reader.
WRITER_PROBE: tuple[str, ...] = ("HSET", _CART, _CHECK_ID, "1")

#: Probes whose point is the key: refused for that key is refused. (For every
#: other probe, a refusal of the key alone means the command runs on others.)
KEY_PROBES: frozenset[tuple[str, ...]] = frozenset(
    {("GET", _OUTSIDE), ("HGETALL", _OUTSIDE), *READER_PROBES, WRITER_PROBE}
)


#: What the middleware sends, and what its scripts call, each on a key of the
#: kind it touches: the app user must be allowed every one (a refusal is the
#: configuration error the first cart write would otherwise report). How it
#: runs the scripts depends on the server: see :func:`need_probes`.
NEED_PROBES: tuple[tuple[str, ...], ...] = (
    ("DEL", _CART),
    ("EXPIRE", _CART, "1"),
    ("PEXPIRE", _CART, "1"),
    ("HDEL", _CART, "f"),
    ("HGET", _CART, "f"),
    ("HGETALL", _CART),
    ("HLEN", _CART),
    ("HSET", _CART, "f", "1"),
    ("HVALS", _CART),
    ("HINCRBY", _AGGREGATE, "f", "1"),
    ("PFADD", _AGGREGATE, "x"),
    ("SET", _ORDER, "1"),
    ("ZCARD", _INDEX),
    ("ZINCRBY", _INDEX, "1", "x"),
    ("ZSCORE", _INDEX, "x"),
    ("WAIT", "0", "0"),
)


_FUNCTION = CALLS[CART_LINES][1]

#: How the middleware runs its scripts, by Redis version: the library's
#: functions on 7 (see :mod:`~qscookies.scripts.library`), ``EVALSHA`` (and
#: ``EVAL`` on ``NOSCRIPT``) on 6.2.
SCRIPT_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "7": (("FCALL", _FUNCTION, "1", _CART), ("FCALL_RO", _FUNCTION, "1", _CART)),
    "6.2": (("EVAL", "return 1", "1", _CART), ("EVALSHA", "0" * 40, "1", _CART)),
}

#: Submitting a script of one's own: what the 2025 Lua flaws need. The app
#: user of Redis 7 is refused all three (it calls functions instead).
SUBMIT_PROBES: tuple[tuple[str, ...], ...] = (
    ("EVAL", "return 1", "0"),
    ("EVALSHA", "0" * 40, "0"),
    ("SCRIPT", "LOAD", "return 1"),
)


def need_probes(functions: bool) -> tuple[tuple[str, ...], ...]:
    """:data:`NEED_PROBES` and the scripts' way: functions (Redis 7.0 on) or not."""
    return NEED_PROBES + SCRIPT_NEEDS["7" if functions else "6.2"]


def probe_commands(
    prefix: str, probes: tuple[tuple[str, ...], ...] = EXPORT_PROBES
) -> list[tuple[str, ...]]:
    """The *probes* with the keys of *prefix* (see :class:`~qscookies.keys.KeySchema`).

    :raises ConfigurationError: a malformed prefix.
    """
    schema = KeySchema(prefix)
    keys = {
        _CART: schema.cart(_CHECK_ID),
        _AGGREGATE: schema.aggregate(_CHECK_ID, "d", "00000000"),
        _INDEX: schema.day_index("00000000"),
        _ORDER: schema.order(_CHECK_ID),
    }
    return [tuple(keys.get(arg, arg) for arg in probe) for probe in probes]
