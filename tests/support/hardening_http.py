"""A real HTTP server and a small client for the hardening tests.

:func:`serve` runs a WSGI app on werkzeug's threaded server on a free port;
:meth:`Server.request` sends one request with :mod:`http.client` and
:meth:`Server.raw` sends bytes as they are over a socket (bytes that are not
UTF-8, duplicate header lines). :class:`Browser` keeps the cookies a real
browser would.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Reply:
    """One HTTP response as the client received it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, or ``None``."""
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def set_cookies(self) -> dict[str, str]:
        """``{name: value}`` of every ``Set-Cookie`` (deletions give ``""``)."""
        cookies: dict[str, str] = {}
        for line in self.all("Set-Cookie"):
            name, _, value = line.split(";", 1)[0].partition("=")
            deleted = "max-age=0" in line.lower().replace(" ", "")
            cookies[name.strip()] = "" if deleted else value.strip()
        return cookies


def _read(response: http.client.HTTPResponse) -> Reply:
    body = response.read()
    return Reply(response.status, response.getheaders(), body)


@dataclass
class Server:
    """A WSGI app served over real HTTP on ``127.0.0.1:port``."""

    port: int

    @property
    def host(self) -> str:
        """The ``Host`` header clients send."""
        return f"127.0.0.1:{self.port}"

    def request(
        self,
        target: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        """Send one request with :mod:`http.client` (target sent as given)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            return _read(connection.getresponse())
        finally:
            connection.close()

    def raw(self, head: bytes) -> Reply:
        """Send *head* (request line and header lines, no final blank line) as is."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(head + b"\r\nConnection: close\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            return _read(response)


@contextmanager
def serve(app: Any) -> Iterator[Server]:
    """Serve *app* on werkzeug's threaded server in a daemon thread."""
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield Server(server.port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Browser:
    """A client of one :class:`Server` that keeps and sends its cookies."""

    server: Server
    cookies: dict[str, str] = field(default_factory=dict)

    def get(self, target: str, headers: dict[str, str] | None = None) -> Reply:
        """GET *target* with the cookies held, and keep those set."""
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.server.request(target, headers=sent)
        for name, value in reply.set_cookies.items():
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply
