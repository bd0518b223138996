"""A scripted browser for end-to-end tests: real HTTP and cookies, urllib only.

Used by the example and demo tests. :func:`served` runs a WSGI app on a real
server on a free port; :class:`Browser` keeps cookies in a
:class:`http.cookiejar.CookieJar`, follows redirects like a browser (a ``303``
after a POST becomes a GET) and sends ``Origin`` on POSTs as browsers do.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _Quiet(WSGIRequestHandler):
    """A request handler that logs no request lines."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def served(app: WSGIApplication, *, quiet: bool = False) -> Iterator[str]:
    """Serve *app* on ``127.0.0.1`` on a free port; yield its base URL.

    :param quiet: log no request lines (a load test's thousands).
    """
    handler = _Quiet if quiet else None
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Page:
    """One response as the browser saw it (after redirects, if followed)."""

    status: int
    url: str
    headers: Mapping[str, str]
    text: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """A browser with a cookie jar, talking to the server at *base*."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        cookies = urllib.request.HTTPCookieProcessor(self.jar)
        self._follow = urllib.request.build_opener(cookies)
        self._stay = urllib.request.build_opener(cookies, _NoRedirect())

    def get(self, path: str, *, follow: bool = True) -> Page:
        """``GET base + path``."""
        return self._open(urllib.request.Request(self.base + path), follow)

    def post(
        self,
        path: str,
        data: Mapping[str, str],
        *,
        origin: str | None = None,
        follow: bool = True,
    ) -> Page:
        """``POST`` a form; ``Origin`` is the shop's own unless *origin* is given."""
        request = urllib.request.Request(
            self.base + path,
            data=urlencode(data).encode(),
            headers={"Origin": origin or self.base},
        )
        return self._open(request, follow)

    def cookie_names(self) -> set[str]:
        """The names of the cookies the browser holds."""
        return {cookie.name for cookie in self.jar}

    def _open(self, request: urllib.request.Request, follow: bool) -> Page:
        opener = self._follow if follow else self._stay
        try:
            response = opener.open(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            return Page(
                response.status,
                response.url,
                dict(response.headers),
                response.read().decode(),
            )
