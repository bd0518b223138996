"""Ctrl-C and ``SIGTERM`` stop a served waitress server, even when the
signal's handler runs inside a finalizer (whose exception Python ignores):
:class:`qscookies.dashboard.interrupts.Interrupts`, on a real waitress server.

A ``__del__`` that sends the process ``SIGTERM`` and runs a few more bytecodes
has the handler run inside it, deterministically: that is how a redis-py
``ConnectionPool`` freed by the collector once swallowed the demo's stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qscookies.dashboard.interrupts import AGAIN
from qscookies.dashboard.interrupts import Interrupts
from qscookies.dashboard.server import WaitressServer
from qscookies.dashboard.server import make_server

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="sends SIGTERM to its own process"
)


def _app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class _Swallowing:
    """Sends this process *signum* from its ``__del__``: the handler runs there."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        for _ in range(1000):  # the handler runs at one of these bytecodes
            pass


def _lost(signum: int = signal.SIGTERM) -> None:
    """A stop lost in a finalizer (the exception it raised is ignored)."""
    _Swallowing(signum)  # freed at once: its __del__ runs here


class _LosingFirst:
    """A waitress server whose loop starts right after a stop was lost."""

    def __init__(self, server: WaitressServer) -> None:
        self.server = server
        self.ran = False

    def run(self) -> None:
        self.ran = True
        _lost()
        self.server.run()


@pytest.fixture
def server() -> Iterator[WaitressServer]:
    """A real waitress server on a free port, closed by a safety timer after
    10 s if nothing else stopped it (so a broken stop fails, never hangs)."""
    served = make_server(_app, "127.0.0.1", 0, threads=1)
    safety = threading.Timer(10, served.close)
    safety.start()
    yield served
    safety.cancel()
    served.close()


@pytest.fixture
def ignored(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The exceptions Python ignored (in a ``__del__``) during the test."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_a_stop_lost_in_a_finalizer_while_serving_is_raised_again(
    server: WaitressServer, ignored: list[Any]
) -> None:
    losing = _LosingFirst(server)
    started = time.monotonic()
    with Interrupts() as interrupts:
        interrupts.serve(losing)  # returns: stopped
    assert losing.ran
    assert time.monotonic() - started < 5 * AGAIN + 2  # not the 10 s safety
    assert [lost.exc_type for lost in ignored] == [KeyboardInterrupt]  # was lost


def test_a_stop_lost_before_serving_keeps_the_server_from_starting(
    server: WaitressServer, ignored: list[Any]
) -> None:
    losing = _LosingFirst(server)
    with Interrupts() as interrupts:
        _lost()  # e.g. while Redis starts
        with pytest.raises(KeyboardInterrupt):
            interrupts.serve(losing)
    assert not losing.ran
    assert [lost.exc_type for lost in ignored] == [KeyboardInterrupt]


def test_a_signal_while_serving_stops_and_one_after_raises_nothing(
    server: WaitressServer,
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    with Interrupts() as interrupts:
        stop.start()
        interrupts.serve(server)  # returns: stopped
        os.kill(os.getpid(), signal.SIGTERM)  # while stopping: let it finish
        for _ in range(1000):
            pass
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C too
        for _ in range(1000):
            pass
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_ctrl_c_stays_ignored() -> None:
    """As under ``nohup``: Python installs no handler then, nor do we."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)
