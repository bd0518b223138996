"""The start-up guard of the doors: the lock-down checked, the client judged.

:func:`enforce` runs the verdicts of :mod:`qscookies.check` once, when a door
starts (or at its first request), and logs each finding once per server
(:func:`_once`); :func:`warn_unbounded` says what in a client passed in could
hold a request past its bound. The operator's ``qscookies check`` prints the
same verdicts (:mod:`qscookies.ops.cli`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .advisories import lua_advisory
from .check import check
from .check import refused_needs
from .errors import ConfigurationError
from .errors import StoreUnavailable
from .startup import logged_by
from .store.app import cause
from .store.client import describe
from .store.client import is_cluster
from .store.probe import Prober
from .words import docs_url

log = logging.getLogger("qscookies")


def enforce(client: Any, *, prefix: str, strict: bool) -> bool | None:
    """The start-up check of :class:`~qscookies.QSCookies`.

    With *strict*, raise when the connection's user could export the data (or
    when that cannot be checked); otherwise log one line on a finding, or when
    Redis cannot be reached (where, as whom, why; never the password). A server
    without the 2025 Lua fixes, or without functions (6.2), is logged, strict
    or not (:func:`~qscookies.advisories.lua_advisory`'s lines).

    On a server with functions, a user locked in that may still submit
    scripts (the rules of an older ``qscookies acl``) is logged too.

    :return: the server has functions (Redis 7.0 on: the store calls them),
        or ``None`` when Redis could not be reached.
    :raises ConfigurationError: *strict* and the data is not locked in.
    """
    store = Prober(client, prefix=prefix)
    try:
        advisory = lua_advisory(store.server_info())
        functions = not advisory.scripts_open
        result = check(store)
        missing = refused_needs(store, functions=functions)
    except StoreUnavailable as error:
        if strict:
            raise ConfigurationError(
                f"strict=True: cannot check the Redis user ({error})"
            ) from error
        _unreachable(client, prefix, error)
        return None
    if advisory.needs_fix or advisory.scripts_open:
        for line in advisory.lines():
            _once(logging.WARNING, f"qscookies: {line}")
    if functions and result.locked_in and result.submits_scripts:
        _once(
            logging.WARNING,
            f"qscookies: Redis user {result.user or '?'}:"
            f" {result.submission_line()}; the middleware calls functions on"
            " this server: apply the Redis 7 rules of `qscookies acl`",
        )
    if missing:
        needs = (
            f"configuration error: the user is refused {' '.join(missing)} on the"
            f" keys of {prefix!r}, which the middleware needs; apply the rules of"
            " `qscookies acl`"
        )
        if strict:
            raise ConfigurationError(f"strict=True refuses to start: {needs}")
        _once(
            logging.ERROR,
            f"qscookies: at start-up, Redis at {describe(client)}: {needs}",
        )
    if result.locked_in:
        return functions
    message = (
        f"Redis user {result.user or '?'}: {result.summary()};"
        " connect as the user of `qscookies acl`"
    )
    if strict:
        raise ConfigurationError(f"strict=True refuses to start: {message}")
    _once(logging.WARNING, f"qscookies: {message}")
    return functions


def _once(level: int, line: str) -> None:
    """Log a start-up finding once per server, not once per worker process.

    The first process of a server to find it logs *line* at *level*; its
    sibling workers log it at ``DEBUG`` (see
    :func:`~qscookies.startup.logged_by`).
    """
    sibling = logged_by(line)
    if sibling is None:
        log.log(
            level,
            "%s (pid %d; logged once for the worker processes of parent pid %d)",
            line,
            os.getpid(),
            os.getppid(),
        )
    else:
        log.debug("%s (pid %d; pid %d logged it already)", line, os.getpid(), sibling)


def _each_process() -> str:
    """What ends a start-up line that cannot be logged once per server."""
    return f"(pid {os.getpid()}; each worker process checks once)"


#: What a client passed in needs for the per-request bound: the start-up
#: warning (:func:`warn_unbounded`) and ``qscookies check --cluster`` say it.
#: Its retries do not matter: the middleware's store never lets a client
#: re-send (see :mod:`qscookies.store.pool` and :mod:`qscookies.store.cluster`).
CLIENT_SETTINGS = (
    "a socket_timeout and a socket_connect_timeout no longer than it"
    f" (see {docs_url('scale', 'client-settings')})"
)


def warn_unbounded(client: Any) -> None:
    """Log once when a client passed in could hold a request past its bound.

    What the store cannot change: a client without a ``socket_timeout`` waits
    as long as a hung Redis; one whose ``socket_connect_timeout`` is unset
    (redis-py 8 then waits 5 s, whatever the ``socket_timeout``) or longer
    waits that long for each connection it opens. Its retries are not named:
    the store sends through a client of its own without them, or (on a
    cluster) sends the commands itself. See :func:`unbounded`.
    """
    problems = unbounded(client, retries=False)
    if problems:
        log.warning(
            "qscookies: the Redis client passed in %s: a request can wait past"
            " socket_timeout; give it %s %s",
            " and ".join(problems),
            CLIENT_SETTINGS,
            _each_process(),
        )


def unbounded(client: Any, *, retries: bool = True) -> list[str]:
    """What in a client's settings breaks the per-request time bound.

    :param retries: name the client's retries too (a client used as it is,
        such as a command's own, re-sends what timed out).
    :return: e.g. ``["retries 3 times", "has no socket_timeout"]``; empty when
        (with *retries*, the client never retries and) each connect and reply
        has a timeout no longer than its ``socket_timeout``.
    """
    if is_cluster(client):
        retry = getattr(client, "retry", None)
        kwargs = client.get_connection_kwargs()
    else:
        get_retry = getattr(client, "get_retry", None)
        retry = get_retry() if get_retry else None
        pool = getattr(client, "connection_pool", None)
        kwargs = pool.connection_kwargs if pool is not None else None
    problems = []
    tries = retry.get_retries() if retry is not None and retries else 0
    if tries:
        problems.append(f"retries {tries} times")
    if kwargs is not None:
        timeout = kwargs.get("socket_timeout")
        connect = kwargs.get("socket_connect_timeout")
        if timeout is None:
            problems.append("has no socket_timeout")
        elif "socket_connect_timeout" not in kwargs:  # redis-py 8: 5 s, not timeout
            problems.append("sets no socket_connect_timeout")
        elif connect is not None and connect > timeout:
            problems.append(f"waits up to {connect:g} s to connect")
    return problems


def _unreachable(client: Any, prefix: str, error: StoreUnavailable) -> None:
    """Log why Redis failed the start-up check; a refused login is an error."""
    reason = cause(error, prefix)
    if reason.startswith("configuration error"):
        log.error(
            "qscookies: at start-up, Redis at %s: %s %s",
            describe(client),
            reason,
            _each_process(),
        )
        return
    log.warning(
        "qscookies: at start-up, Redis at %s did not answer (%s); the shop starts:"
        " pages render untracked and cart requests answer 503 until Redis is back"
        " %s",
        describe(client),
        error.original_error or reason,
        _each_process(),
    )
