"""Start-up lines once per server: a claim the worker processes share.

A server with several worker processes (gunicorn, ``uvicorn --workers``) builds
the middleware in each of them, so each runs the start-up check and finds the
same thing: eight workers would log eight lines that read as eight problems.
The first worker to find something logs it and leaves a claim, a file in the
temp dir holding its pid, for :data:`CLAIM_TTL` seconds; a worker that finds the
claim of another live process logs the line at ``DEBUG`` only. The file's name is
a hash of the host, the user, the parent process id (the server's master) and the
line, so two servers, two users or two findings never share a claim, and a
restarted server whose previous warner is gone logs the line again. Nothing of
this reaches Redis: building a door writes nothing there. Built once in a master
(``gunicorn --preload``), the middleware checks once and needs no claim.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
from pathlib import Path

#: Seconds a claim holds: the workers of one server start well within it.
CLAIM_TTL = 600


def claim_path(line: str) -> Path:
    """The file that claims *line* for this server's worker processes."""
    identity = f"{socket.gethostname()}\0{os.getuid()}\0{os.getppid()}\0{line}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return Path(tempfile.gettempdir()) / f"qscookies-startup-{digest}"


def logged_by(line: str) -> int | None:
    """The pid of a live sibling process that logged *line* already, if any.

    Claims *line* for this process otherwise: ``None`` means log it here (no
    claim, the claim is this process's own, its process is gone or it is older
    than :data:`CLAIM_TTL`, or the temp dir cannot be written: a line is never
    lost to the claim).
    """
    path = claim_path(line)
    pid = os.getpid()
    other = _holder(path)
    if other is not None and other != pid and _alive(other):
        return other
    try:  # write a file of our own, then put it in place: no symlink followed
        fd, written = tempfile.mkstemp(dir=path.parent, prefix=".qscookies-")
        with os.fdopen(fd, "w") as out:
            out.write(str(pid))
        os.replace(written, path)
    except OSError:
        pass
    return None


def _holder(path: Path) -> int | None:
    """The pid of a fresh claim at *path*, or ``None`` (none, stale or junk)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as claim:
            if time.time() - os.fstat(claim.fileno()).st_mtime > CLAIM_TTL:
                return None
            text = claim.read(16)
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _alive(pid: int) -> bool:
    """A process *pid* runs on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it runs, as another user
    except OSError:
        return False
    return True
