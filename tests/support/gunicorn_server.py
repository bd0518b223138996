"""A real gunicorn serving ``gunicorn_shop:app`` in a subprocess, its log kept.

gunicorn's own log and whatever the workers write on stderr (qscookies' log
lines: no logging is configured, so Python's last-resort handler prints each
``WARNING`` and above as one line) go to one file: the combined log an operator
reads. The server is ready when every worker has said it is (a
``post_worker_init`` hook), so every worker's start-up check has run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gunicorn.config import KNOWN_SETTINGS

from qscookies.embedded import free_port

HERE = Path(__file__).parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
#: How long gunicorn may take to start its workers.
TIMEOUT = 30.0
#: What each worker logs once its app is loaded.
READY = "qscookies-test: worker ready"
#: A recent gunicorn opens a control socket in ``~/.gunicorn`` unless told not to:
#: servers of parallel tests would share it.
_NO_CONTROL = [
    "--no-control-socket"
    for setting in KNOWN_SETTINGS
    if setting.name == "control_socket_disable"
]

_CONFIG = f"""
def post_worker_init(worker):
    worker.wsgi.startup_check()  # the shop's start-up hook: checked before serving
    worker.log.info("{READY} (pid %s)", worker.pid)
"""


@dataclass
class Gunicorn:
    """A running gunicorn: its URL and its combined log so far."""

    url: str
    log_path: Path
    pid: int

    @property
    def log(self) -> str:
        """Everything gunicorn and its workers wrote so far."""
        return self.log_path.read_text()


@contextmanager
def gunicorn(
    tmp_path: Path,
    redis_url: str,
    *,
    workers: int = 3,
    preload: bool = False,
    **settings: str,
) -> Iterator[Gunicorn]:
    """Serve the test shop with gunicorn's sync workers on a free port.

    :param redis_url: where the shop's Redis is (``QS_TEST_REDIS_URL``).
    :param settings: more ``QS_TEST_<NAME>`` variables for ``gunicorn_shop``.
    """
    port = free_port()
    config = tmp_path / "gunicorn_conf.py"
    config.write_text(_CONFIG)
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(HERE),
        "QS_TEST_REDIS_URL": redis_url,
        **{f"QS_TEST_{name.upper()}": value for name, value in settings.items()},
    }
    command = [
        str(GUNICORN), "--config", str(config), "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}", "--log-level", "info", *_NO_CONTROL,
        *(["--preload"] if preload else []), "gunicorn_shop:app",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    served = Gunicorn(f"http://127.0.0.1:{port}", log_path, process.pid)
    try:
        _wait_ready(process, served, port, workers)
        yield served
    finally:
        process.terminate()
        process.wait(TIMEOUT)


def _wait_ready(
    process: subprocess.Popen[bytes], served: Gunicorn, port: int, workers: int
) -> None:
    """Until every worker is ready and the port accepts connections."""
    deadline = time.monotonic() + TIMEOUT
    while served.log.count(READY) < workers or not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start:\n{served.log}")
        try:
            process.wait(0.05)  # waiting for gunicorn, not moving time
        except subprocess.TimeoutExpired:
            pass


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
