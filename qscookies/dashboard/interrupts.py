"""Ctrl-C and ``SIGTERM`` stop a server, even when one lands in a finalizer.

A signal's Python handler runs in the main thread between two bytecodes,
wherever it is: inside a ``__del__`` (redis-py's ``ConnectionPool`` has one,
run whenever the collector frees a pool), the :class:`KeyboardInterrupt` it
raises is ignored ("Exception ignored in ..."), and a server that relied on it
would serve on. :class:`Interrupts` remembers that a stop was asked for: one
asked before :meth:`Interrupts.serve` keeps the server from starting, and one
asked while it serves is raised again until the server has stopped.
"""

from __future__ import annotations

import _thread
import signal
import threading
from types import FrameType
from typing import Any
from typing import Protocol

#: Seconds between two raises of a stop while the server has not stopped.
AGAIN = 0.5


class Server(Protocol):
    """What :meth:`Interrupts.serve` runs: a waitress server."""

    def run(self) -> None:
        """Serve until a :class:`KeyboardInterrupt`, then return."""


class Interrupts:
    """Within the block, Ctrl-C and ``SIGTERM`` raise :class:`KeyboardInterrupt`
    (Ctrl-C only where it is not ignored, as under ``nohup``).

    Once serving is over, a signal raises nothing more: the stop (closing the
    server, stopping Redis) is not cut short. Enter it from the main thread
    (only there are signals handled)::

        with Interrupts() as interrupts:
            ...  # a signal here stops what starts
            interrupts.serve(server)  # returns once a signal stopped it
    """

    def __init__(self) -> None:
        self._asked = threading.Event()  # a stop was asked for
        self._over = threading.Event()  # serving is over
        self._wake = threading.Event()  # either
        self._serving = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if signum == signal.SIGTERM or handler is signal.default_int_handler:
                self._previous[signum] = signal.signal(signum, self._interrupt)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self._over.is_set() or (self._asked.is_set() and not self._serving):
            return  # stopping already: let the stop finish
        self._asked.set()
        self._wake.set()
        raise KeyboardInterrupt

    def serve(self, server: Server) -> None:
        """Run *server* until a signal stops it, then return.

        :raises KeyboardInterrupt: a stop was asked for before (and lost in a
            finalizer): the server does not start.
        """
        if self._asked.is_set():
            raise KeyboardInterrupt
        self._serving = True
        again = threading.Thread(target=self._again, name="qscookies-stop", daemon=True)
        again.start()
        try:
            server.run()  # returns on KeyboardInterrupt
        except KeyboardInterrupt:
            pass  # raised again while the server stopped: stopped all the same
        finally:
            self._serving = False
            self._over.set()
            self._wake.set()
            again.join()

    def _again(self) -> None:
        """Once a stop is asked for, raise it again in the main thread until
        the server has stopped (the first may have been lost)."""
        self._wake.wait()
        while not self._over.wait(AGAIN):
            _thread.interrupt_main(signal.SIGTERM)
