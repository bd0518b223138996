"""Start-up lines once per server: a claim the worker processes share.

A server with several worker processes (gunicorn, ``uvicorn --workers``) builds
the middleware in each of them, so each runs the start-up check and finds the
same thing: eight workers would log eight lines that read as eight problems.
The first worker to find something logs it and leaves a claim, a file in the
temp dir holding its pid, for :data:`CLAIM_TTL` seconds; a worker that finds the
claim of a live sibling (a process of the same parent) logs the line at
``DEBUG`` only. The file's name is a hash of the host, the user, the parent
process id (the server's master) and the line, so two servers, two users or two
findings never share a claim, and a restarted server whose previous warner is
gone logs the line again, even when its pid now names another process. Workers
forked at once (``gunicorn --preload`` forks them from a built app in a few
milliseconds) ask at once: they take turns on a lock of the claim file, so one
of them logs. Nothing of this reaches Redis: building a door writes nothing
there. Windows has no claim: each worker process logs the line there.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

if sys.platform != "win32":
    import fcntl

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
    than :data:`CLAIM_TTL`, or the claim cannot be taken: a line is never lost
    to the claim). Siblings that ask at once (workers forked together) take
    turns on a lock of the claim file, so one of them logs.
    """
    if sys.platform == "win32":
        return None
    try:  # never through a symlink; a file another user planted is refused
        fd = os.open(claim_path(line), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    with os.fdopen(fd, "r+") as claim:
        try:
            return _take(claim)
        except OSError:
            return None


def _take(claim: IO[str]) -> int | None:
    """Under the lock of *claim*: its live holder's pid, or ``None`` once it
    holds this process's."""
    status = os.fstat(claim.fileno())
    if (
        not stat.S_ISREG(status.st_mode)
        or status.st_nlink != 1  # a hard link: nothing is written through it
        or status.st_uid != os.getuid()
    ):
        return None
    fcntl.flock(claim.fileno(), fcntl.LOCK_EX)  # released when the file closes
    pid, other = os.getpid(), _holder(claim)
    if other is not None and other != pid and _sibling(other):
        return other
    claim.seek(0)
    claim.truncate()
    claim.write(str(pid))
    claim.flush()
    return None


def _holder(claim: IO[str]) -> int | None:
    """The pid of a fresh claim in *claim*, or ``None`` (empty, stale or junk)."""
    if time.time() - os.fstat(claim.fileno()).st_mtime > CLAIM_TTL:
        return None
    try:
        text = claim.read(16)
    except UnicodeDecodeError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _sibling(pid: int) -> bool:
    """*pid* runs, as a child of this process's parent, from the same program.

    A busy host reuses pids within minutes (32768 of them by default on
    Linux): a claim's pid may name an unrelated process now, whose claim
    holds nothing. Where ``/proc`` tells, a sibling must have our parent and
    our executable (a worker is a fork or a spawn of the same interpreter; a
    server the master started since is not) and not be a zombie; elsewhere any
    live process counts.
    """
    proc = Path("/proc", str(pid))
    try:
        status = (proc / "stat").read_text()
        program = os.readlink(proc / "exe")
    except FileNotFoundError:  # gone, or no /proc here
        return not Path("/proc/self").exists() and _alive(pid)
    except OSError:
        return _alive(pid)
    # "pid (name) state ppid ...": the name may hold spaces and parentheses
    state, ppid = status.rpartition(")")[2].split()[:2]
    return (
        state != "Z"
        and int(ppid) == os.getppid()
        and program == os.readlink("/proc/self/exe")
    )


def _alive(pid: int) -> bool:
    """A process *pid* runs on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it runs, as another user
    except OSError:
        return False
    return True
