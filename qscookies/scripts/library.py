"""The request rules' Lua scripts as one Redis Function library (Redis 7.0 on).

Redis 7 can keep scripts as *functions*, loaded once by an operator
(``FUNCTION LOAD``, see :mod:`~qscookies.store.functions`) and called by name
(``FCALL``): the app user then needs neither ``EVAL`` nor ``EVALSHA`` nor
``SCRIPT``, so it can submit no Lua of its own, which is what the 2025 Lua
flaws needed. :data:`LIBRARY` wraps each script of
:mod:`qscookies.scripts` unchanged (its ``KEYS`` and ``ARGV`` are the
function's arguments), so the keys still go as keys and Redis Cluster still
checks their slot. A function that only reads is flagged ``no-writes`` and
called with ``FCALL_RO``.

The library's name carries a hash of its source (:data:`VERSION`), and so do
its functions' names (a function name is unique across libraries): two
releases of qscookies with different scripts can share a Redis during a
rolling deploy, each calling its own library, and ``qscookies functions
--prune`` removes the libraries of releases gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from .. import scripts

#: Every library of qscookies is named ``qscookies_<version>``.
LIBRARY_PREFIX = "qscookies_"

#: The scripts of :mod:`~qscookies.scripts` that are functions, each
#: named by its constant in lower case (``cart_put``).
_SCRIPTS = (
    "CART_PUT", "CART_LINES", "CART_CLEAR", "PURCHASE", "PAID", "CART_PAY",
    "ORDER_MARK", "LANDING", "ADMIT", "LOGIN", "CART_TAKE", "CART_MERGE",
)  # fmt: skip

#: Those that only read: flagged ``no-writes``, called with ``FCALL_RO``.
_READ_ONLY = frozenset({"CART_LINES"})

#: The functions: name -> (the script, whether it only reads).
_FUNCTIONS: dict[str, tuple[str, bool]] = {
    name.lower(): (getattr(scripts, name), name in _READ_ONLY) for name in _SCRIPTS
}


def _body(prefix: str) -> str:
    """The shared helpers, defined once, then the library's functions, each
    registered as ``<prefix><name>`` without its copy of the helpers."""
    parts = list(scripts.HELPERS)
    for name, (source, read_only) in _FUNCTIONS.items():
        for helper in scripts.HELPERS:
            source = source.replace(helper, "")
        flags = ", flags = {'no-writes'}" if read_only else ""
        parts.append(
            f"redis.register_function{{function_name = '{prefix}{name}',"
            f" callback = function(KEYS, ARGV)\n{source.strip()}\nend{flags}}}\n"
        )
    return "".join(parts)


#: The library's version: a hash of its functions' source.
VERSION = hashlib.sha1(_body("").encode()).hexdigest()[:12]

#: The library's name, as ``FUNCTION LIST`` shows it.
NAME = f"{LIBRARY_PREFIX}{VERSION}"

#: The prefix of its functions' names.
_PREFIX = f"qs_{VERSION}_"

#: What ``FUNCTION LOAD`` takes: the library's source.
LIBRARY = f"#!lua name={NAME}\n" + _body(_PREFIX)

#: What a planned ``EVAL`` of a script becomes: script source -> (``FCALL``
#: or ``FCALL_RO``, the function's name).
CALLS: Mapping[str, tuple[str, str]] = {
    source: ("FCALL_RO" if read_only else "FCALL", f"{_PREFIX}{name}")
    for name, (source, read_only) in _FUNCTIONS.items()
}

#: The commands that call a function.
FUNCTION_CALLS = frozenset({"FCALL", "FCALL_RO"})
