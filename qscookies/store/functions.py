"""Loading the function library into Redis: the operator's step.

The app user of ``qscookies acl`` may call the library's functions but not load
them (``FUNCTION`` is an admin's command), so an admin loads them once per
release: ``qscookies functions`` (``--cluster``: on every master), or the
middleware's start-up check when it is given an admin connection
(``admin_redis_url``). :func:`install` loads :data:`~qscookies.scripts.library.LIBRARY`
where it is missing and, with *prune*, deletes the libraries of other releases.

A replica gets its master's functions by replication (a full sync carries them,
and each ``FUNCTION LOAD`` or ``DELETE`` is replicated), so a replica promoted
in a failover already holds the library: nothing is loaded on replicas.
Redis 6.2 has no functions: there the scripts go by ``EVALSHA`` and
:func:`install` says so for that node.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..command import Command
from ..errors import ConfigurationError
from ..errors import StoreError
from ..scripts.library import LIBRARY
from ..scripts.library import LIBRARY_PREFIX
from ..scripts.library import NAME
from .client import Guard
from .client import connect
from .client import describe
from .client import is_cluster

log = logging.getLogger("qscookies")

#: The only command :func:`install` sends (``LIST``, ``LOAD``, ``DELETE``).
FUNCTION_COMMANDS = frozenset({"FUNCTION"})


@dataclass(frozen=True)
class NodeLibrary:
    """What :func:`install` found and did on one server (a master)."""

    #: The server: ``host:port`` (or how the client connects).
    node: str
    #: The server has functions (Redis 7.0 on).
    functions: bool
    #: The current library was loaded now.
    loaded: bool = False
    #: The libraries of other releases deleted now.
    pruned: tuple[str, ...] = ()
    #: The libraries of other releases left in place.
    others: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the operator."""
        if not self.functions:
            return (
                f"{self.node}: no functions on this server (Redis 6.2): the scripts"
                " go by EVALSHA, and script submission stays open"
            )
        parts = [f"{self.node}: {NAME} {'loaded' if self.loaded else 'present'}"]
        if self.pruned:
            parts.append(f"deleted {' '.join(self.pruned)}")
        if self.others:
            parts.append(f"kept {' '.join(self.others)} (--prune deletes them)")
        return "; ".join(parts)


def install(client: Any, *, prune: bool = False) -> list[NodeLibrary]:
    """Load the current library on the server of *client*, or on every master
    of a Redis Cluster client, where it is missing.

    :param client: a ``redis.Redis`` or ``redis.RedisCluster`` of a user
        allowed ``FUNCTION`` (an admin, not the app user).
    :param prune: delete the libraries of other qscookies releases (after a
        deploy, once no process of an older release runs).
    :raises StoreError: a server refused (``NOPERM``) or was unreachable.
    """
    return [_install(node, guard, prune) for node, guard in _masters(client)]


def load_library(url: str, *, cluster: bool, socket_timeout: float) -> None:
    """The start-up's step given an admin URL (``admin_redis_url``): connect,
    :func:`install`, close. What was done is logged; a failure is logged as an
    error naming ``qscookies functions``, never raised (the shop starts, and
    the store says what is missing when it calls a script)."""
    try:
        admin = connect(url, socket_timeout=socket_timeout, cluster=cluster)
    except ValueError as error:
        raise ConfigurationError(
            f"bad Redis URL: {error}", setting="admin_redis_url"
        ) from error
    try:
        for node in install(admin):
            log.info("qscookies: at start-up, %s", node.line())
    except StoreError as error:
        log.error(
            "qscookies: at start-up, the admin connection (admin_redis_url, as %s)"
            " could not load the function library %s: %s; load it with"
            " `qscookies functions`",
            describe(admin).split(" as ")[-1],
            NAME,
            error,
        )
    finally:
        admin.close()


def _install(node: str, guard: Guard, prune: bool) -> NodeLibrary:
    try:
        names = libraries(guard)
    except StoreError as error:
        if "unknown command" in str(error).lower():
            return NodeLibrary(node, functions=False)
        raise
    loaded = NAME not in names
    if loaded:  # REPLACE: a library of that name and other source would stay
        guard.call(Command("FUNCTION", args=("LOAD", "REPLACE", LIBRARY)))
    others = tuple(name for name in names if name != NAME)
    if prune:
        for name in others:
            guard.call(Command("FUNCTION", args=("DELETE", name)))
    return NodeLibrary(
        node,
        functions=True,
        loaded=loaded,
        pruned=others if prune else (),
        others=() if prune else others,
    )


def libraries(guard: Guard) -> list[str]:
    """The names of the qscookies libraries on a server, sorted."""
    reply = guard.call(
        Command("FUNCTION", args=("LIST", "LIBRARYNAME", f"{LIBRARY_PREFIX}*"))
    )
    names = (_text(_fields(entry).get("library_name", "")) for entry in reply)
    return sorted(name for name in names if name.startswith(LIBRARY_PREFIX))


def _masters(client: Any) -> Iterator[tuple[str, Guard]]:
    """Each master's name and a guard of a client of it alone."""
    if not is_cluster(client):
        yield (
            describe(client).split(" as ")[0],
            Guard(client, FUNCTION_COMMANDS, owned=False),
        )
        return
    for node in client.get_primaries():
        server = client.get_redis_connection(node)
        yield node.name, Guard(server, FUNCTION_COMMANDS, owned=False)


def _fields(entry: Any) -> dict[str, Any]:
    """One library of ``FUNCTION LIST`` (flat pairs over RESP2) as a dict."""
    if isinstance(entry, dict):
        return {_text(key): value for key, value in entry.items()}
    return {
        _text(key): value for key, value in zip(entry[::2], entry[1::2], strict=False)
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
