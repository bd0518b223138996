"""Real servers in background threads: uvicorn for ASGI, werkzeug's for WSGI.

Both listen on ``127.0.0.1`` on a free port. Browsers (and httpx's cookie jar)
do not tell ports apart, so one client talking to both servers carries one set
of cookies, as a shop that serves some pages through each door would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import uvicorn
from werkzeug.serving import make_server

#: How long a server may take to start or stop.
TIMEOUT = 10.0


class ASGIServer:
    """An ASGI app served by uvicorn in a thread, lifespan on.

    :param app: the ASGI application.
    :param cleanup: coroutines run on the server's event loop after it stopped
        (``redis.asyncio`` clients must be closed on the loop that used them).
    """

    def __init__(
        self, app: Any, *, cleanup: Sequence[Callable[[], Awaitable[None]]] = ()
    ) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="on",
            ws="wsproto",
            log_config=None,
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self._cleanup = list(cleanup)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        #: ``http://127.0.0.1:<port>`` once started.
        self.url = ""

    def _run(self) -> None:
        async def main() -> None:
            try:
                await self.server.serve()
            finally:
                for close in self._cleanup:
                    await close()

        try:
            asyncio.run(main())
        except BaseException as error:  # reported by start() or stop()
            self._failure = error

    def start(self) -> ASGIServer:
        """Start serving and wait until the socket listens."""
        self._thread.start()
        deadline = time.monotonic() + TIMEOUT
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start: {self._failure!r}")
            self._thread.join(0.01)  # waiting for a thread, not moving time
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving (lifespan shutdown runs) and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("uvicorn did not stop")
        if self._failure is not None:
            raise self._failure

    def __enter__(self) -> ASGIServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class WSGIServer:
    """A WSGI app served by werkzeug's threaded server in a thread."""

    def __init__(self, app: Any) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        # Polled every 20 ms, not 0.5 s: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        #: ``http://127.0.0.1:<port>``.
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> WSGIServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)
