"""The WSGI middleware: the only module that knows WSGI.

It builds the per-request :class:`~qscookies.context.Context`, answers promotion
landings with a redirect to the clean URL, adds ``Set-Cookie``, ``Vary`` and
``Referrer-Policy`` headers when the application starts its response, and turns an
unavailable store into a ``503``. It never buffers or wraps a response body.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlsplit

from .acl import enforce
from .context import ENVIRON_KEY
from .context import Context
from .context import Runtime
from .cookies import CookieCodec
from .errors import ConfigurationError
from .errors import StoreUnavailable
from .privacy import is_same_origin
from .privacy import scrub_location
from .settings import Settings
from .store import Store
from .store import open_client

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger("qscookies")

Headers = list[tuple[str, str]]

_UNAVAILABLE_BODY = b"The shop is briefly unavailable. Please try again shortly.\n"


class QSCookies:
    """Signed cookies for cart, return visitors and promotions, data in Redis.

    Wrap any WSGI application::

        app = QSCookies(app, secret_key="...", redis_url="redis://localhost/0")

    and use :func:`~qscookies.context` inside it. Requests to ``excluded_paths``
    pass straight through: no Redis, no cookies.

    :param app: the WSGI application to wrap.
    :param secret_key: the signing key, or a list of keys, newest first: the
        first signs, all verify (rotation without logging anyone out).
    :param redis_url: where Redis is, e.g. ``redis://localhost:6379/0`` or
        ``unix:///run/redis.sock``; qscookies owns that connection pool.
    :param redis: a ready client instead (``redis.Redis``, ``redis.RedisCluster``,
        or a Sentinel ``master_for`` client); its owner closes it. Set short
        socket timeouts on it: a hung Redis must not hang the shop.
    :param options: the settings, see :class:`~qscookies.settings.Settings`.
    :raises ConfigurationError: a bad secret key, Redis location or option; with
        ``strict=True``, a Redis user who could export the data (see
        :func:`~qscookies.acl.enforce`; without it, one warning is logged).
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        redis_url: str | None = None,
        redis: Any = None,
        **options: Any,
    ) -> None:
        settings = Settings.from_options(**options)
        codec = CookieCodec(secret_key)
        client, self._owned = open_client(
            redis_url, redis, socket_timeout=settings.socket_timeout
        )
        try:
            enforce(client, prefix=settings.key_prefix, strict=settings.strict)
        except ConfigurationError:
            if self._owned:
                client.close()  # refusing to start: close the pool we opened
            raise
        first_key = (
            secret_key if isinstance(secret_key, (str, bytes)) else secret_key[0]
        )
        if isinstance(first_key, str):
            first_key = first_key.encode()
        #: The wrapped application.
        self.app = app
        #: The validated settings.
        self.settings = settings
        #: The Redis store (key schema, batching, allow-list).
        self.store = Store(
            client, prefix=settings.key_prefix, retry_interval=settings.retry_interval
        )
        #: The cookie codec (signing and verification).
        self.codec = codec
        self._runtime = Runtime(
            settings=settings,
            codec=codec,
            store=self.store,
            hash_key=hashlib.sha256(b"qscookies.visitor-hash\0" + first_key).digest(),
            clock=lambda: self.clock(),
        )
        self._excluded = settings.excluded_paths

    #: The clock (Unix seconds); replace it on an instance to move time in tests.
    clock: Callable[[], float] = staticmethod(time.time)

    def __repr__(self) -> str:
        return f"<QSCookies {self.app!r} prefix={self.settings.key_prefix!r}>"

    def close(self) -> None:
        """Close the Redis connection pool, if qscookies opened it (``redis_url``)."""
        if self._owned:
            self.store.client.close()

    def context_for(self, environ: WSGIEnvironment) -> Context:
        """Build the request context of *environ* without handling a request.

        Nothing is tracked and no cookie is sent; for tests and tools that read
        a browser's cart or promotion from its cookies.
        """
        return Context(self._runtime, environ)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self._excluded):
            return self.app(environ, start_response)
        settings = self.settings
        qs = Context(self._runtime, environ)
        environ[ENVIRON_KEY] = qs
        if path == settings.privacy_path:
            return self._privacy_switch(qs, environ, start_response)
        qs.begin()
        method = environ.get("REQUEST_METHOD", "GET")
        if (
            qs.clean_query is not None
            and settings.strip_promotion_params
            and method in ("GET", "HEAD")
        ):
            location = _request_path(environ)
            if qs.clean_query:
                location += "?" + qs.clean_query
            return self._respond(qs, environ, start_response, "303 See Other", location)

        replaced = started = False

        def qs_start_response(
            status: str, headers: Headers, exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal replaced, started
            started = True
            if qs.store_failed and status.startswith("500"):
                replaced = True
                status, headers = self._unavailable_headers()
            return start_response(
                status, self._finish(qs, environ, status, headers), exc_info
            )

        try:
            body = self.app(environ, qs_start_response)
        except StoreUnavailable:
            status, headers = self._unavailable_headers()
            # exc_info only when the app had started a response (PEP 3333)
            start_response(
                status,
                self._finish(qs, environ, status, headers),
                sys.exc_info() if started else None,
            )
            return [_UNAVAILABLE_BODY]
        if replaced:
            close = getattr(body, "close", None)
            if close:
                close()
            return [_UNAVAILABLE_BODY]
        return body

    def _finish(
        self, qs: Context, environ: WSGIEnvironment, status: str, headers: Headers
    ) -> Headers:
        """Add our headers to the application's, never weakening its own."""
        headers = list(headers)
        names = {name.lower(): index for index, (name, _) in enumerate(headers)}
        cookies = qs.cookie_headers()
        headers.extend(("Set-Cookie", cookie) for cookie in cookies)
        if cookies or qs.accessed:
            _add_vary(headers, names.get("vary"))
        if cookies and "cache-control" not in names:
            # a shared cache must never hand one browser's ids to another
            headers.append(("Cache-Control", "private"))
        policy = self.settings.referrer_policy
        if policy and "referrer-policy" not in names:
            headers.append(("Referrer-Policy", policy))
        index = names.get("location")
        if index is not None and status.startswith("3"):
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
            location = scrub_location(
                headers[index][1], host, self.settings.promotion_params
            )
            headers[index] = (headers[index][0], location)
        return headers

    def _unavailable_headers(self) -> tuple[str, Headers]:
        return "503 Service Unavailable", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(_UNAVAILABLE_BODY))),
            ("Retry-After", str(self.settings.retry_after)),
            ("Cache-Control", "no-store"),
        ]

    def _respond(
        self,
        qs: Context,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        status: str,
        location: str | None = None,
    ) -> Iterable[bytes]:
        """Answer a request ourselves, without the application."""
        headers = [("Content-Length", "0"), ("Cache-Control", "no-store")]
        if location:
            headers.append(("Location", location))
        start_response(status, self._finish(qs, environ, status, headers))
        return []

    def _privacy_switch(
        self, qs: Context, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """The optional opt-out route: POST ``choice=out`` or ``choice=in``.

        Same-origin requests only; answers with a ``303`` back to the page.
        """
        if environ.get("REQUEST_METHOD") != "POST":
            return self._respond(qs, environ, start_response, "405 Method Not Allowed")
        if not is_same_origin(environ):
            return self._respond(qs, environ, start_response, "403 Forbidden")
        choice = _read_form_field(environ, "choice")
        if choice == "out":
            qs.opt_out()
        elif choice == "in":
            qs.opt_in()
        else:
            return self._respond(qs, environ, start_response, "400 Bad Request")
        return self._respond(
            qs, environ, start_response, "303 See Other", _back(environ)
        )


def _add_vary(headers: Headers, index: int | None) -> None:
    if index is None:
        headers.append(("Vary", "Cookie"))
        return
    name, value = headers[index]
    fields = {part.strip().lower() for part in value.split(",")}
    if "cookie" not in fields and "*" not in fields:
        headers[index] = (name, f"{value}, Cookie")


def _request_path(environ: WSGIEnvironment) -> str:
    """The request's path, quoted, as a same-site relative URL."""
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    path = quote(raw.encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
    # "//host/x" would be read as another host: keep exactly one leading slash.
    return "/" + path.lstrip("/")


def _back(environ: WSGIEnvironment) -> str:
    """Where the privacy switch sends the browser: the page it came from."""
    referer = urlsplit(environ.get("HTTP_REFERER", ""))
    host = environ.get("HTTP_HOST", "")
    if referer.netloc and referer.netloc.lower() == host.lower():
        path = "/" + referer.path.lstrip("/")
        return path + ("?" + referer.query if referer.query else "")
    return "/"


def _read_form_field(environ: WSGIEnvironment, name: str) -> str | None:
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), 1024)
    except ValueError:
        return None
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    values = parse_qs(body.decode("latin-1"))
    return values[name][0] if name in values else None
