"""Start-up lines once per server: the marker its worker processes share.

A server with several worker processes (gunicorn, ``uvicorn --workers``) builds
the middleware in each of them, so each runs the start-up check and finds the
same thing: eight workers would log eight lines that read as eight problems.
The first worker to find something logs it and leaves a marker in Redis,
``<prefix>s:{<hash>}`` (see :meth:`~qscookies.keys.KeySchema.startup`), holding
its pid for :data:`MARKER_TTL` seconds; a worker that finds the marker of another
live process logs the line at ``DEBUG`` only. The hash covers the host, the
parent process id (the server's master) and the line, so two servers, or two
findings, never share a marker; a restarted server whose previous warner is gone
logs the line again. Built once in a master (``gunicorn --preload``), the
middleware checks once and needs no marker.
"""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any

from ..errors import StoreError
from ..keys import KeySchema
from .client import Guard

#: The only command the marker needs: ``SET key pid GET EX ttl`` (Redis 6.2+).
MARKER_COMMANDS = frozenset({"SET"})

#: Seconds a marker lives: the workers of one server start well within it.
MARKER_TTL = 600


def logged_by(client: Any, prefix: str, line: str) -> int | None:
    """The pid of a live sibling process that logged *line* already, if any.

    Sets the marker of *line* to this process's pid, in one round trip, and
    reads the pid it held. ``None`` means: log it here (no marker, the marker
    is this process's own or its process is gone, or Redis refused the
    marker: a line is never lost to the marker).

    :param client: the sync client of the start-up check.
    :param prefix: the shop's key prefix.
    :param line: the line about to be logged.
    """
    identity = f"{socket.gethostname()}\0{os.getppid()}\0{line}"
    key = KeySchema(prefix).startup(hashlib.sha256(identity.encode()).hexdigest())
    pid = os.getpid()
    try:
        held = Guard(client, MARKER_COMMANDS).call(
            "SET", key, str(pid), "GET", "EX", str(MARKER_TTL), get=True
        )  # get=True: redis-py answers the old value, not whether SET said OK
    except StoreError:
        return None
    other = _pid(held)
    if other is None or other == pid or not _alive(other):
        return None
    return other


def _pid(value: object) -> int | None:
    """A marker's pid, or ``None`` when it holds none (or junk)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if isinstance(text, str) and text.isdigit() and int(text) > 0:
        return int(text)
    return None


def _alive(pid: int) -> bool:
    """A process *pid* runs on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it runs, as another user
    except OSError:
        return False
    return True
