"""The WSGI door: the only module that knows WSGI.

It turns the environ into a plain :class:`~qscookies.core.request.Request`, runs
the request core's plans on the sync store, answers what the core answers itself
(the landing's ``303``, the privacy switch), adds the core's headers when the
application starts its response, and turns an unavailable store into a ``503``.
It never buffers or wraps a response body.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload
from urllib.parse import parse_qs

from .codec import CookieCodec
from .context import RAISE
from .context import Context
from .core.messages import Answer
from .core.messages import Request
from .core.request import RequestState
from .core.request import Rules
from .door import Door
from .door import checked_client
from .door import found
from .errors import QSCookiesError
from .errors import StoreUnavailable
from .http import raw_target
from .sending import track
from .settings import Settings
from .store.app import AppStore

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment
    from typing_extensions import Unpack

    from .settings import Options

__all__ = [
    "ENVIRON_KEY",
    "QSCookies",
    "context",
    "request_from",
]

#: The PEP 3333 extension key under which the context sits in the environ.
ENVIRON_KEY = "qscookies.context"

Headers = list[tuple[str, str]]
_D = TypeVar("_D")


@overload
def context(environ: WSGIEnvironment) -> Context: ...
@overload
def context(environ: WSGIEnvironment, default: _D) -> Context | _D: ...
def context(environ: WSGIEnvironment, default: Any = RAISE) -> Any:
    """Return the qscookies context of the current request.

    :param environ: the WSGI environ of a request that went through
        :class:`QSCookies`.
    :param default: returned instead of raising where there is no context (an
        excluded path such as ``/favicon.ico``, e.g. in a branded 404 page).
    :raises QSCookiesError: no context and no *default*: the path is excluded,
        or the app is not wrapped.
    """
    return found(
        environ.get(ENVIRON_KEY),
        default,
        environ.get("PATH_INFO", ""),
        "wrap the app in QSCookies, and on excluded paths use"
        " context(environ, default=None)",
    )


class QSCookies(Door["WSGIApplication", AppStore]):
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
        :func:`~qscookies.check.enforce`; without it, one warning is logged).
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        redis_url: str | None = None,
        redis: Any = None,
        **options: Unpack[Options],
    ) -> None:
        settings = Settings.from_options(**options)
        codec = CookieCodec(secret_key)
        client, self._owned = checked_client(redis_url, redis, settings)
        self._start(app, settings, codec, AppStore, client, owned=self._owned)

    def close(self) -> None:
        """Close the Redis connection pool, if qscookies opened it (``redis_url``),
        and the store's own twin of a client passed in that retries."""
        self._store.close()

    def context_for(self, environ: WSGIEnvironment) -> Context:
        """Build the request context of *environ* without handling a request.

        Nothing is tracked and no cookie is sent; for tests and tools that read
        a browser's cart or promotion from its cookies.
        """
        return Context(self._rules.read(request_from(environ)), self._store)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if self._rules.excluded(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        # The outer of QSCookies(QSCookies(app)) refuses too, or its tracking
        # would reach Redis before the inner one sees the context.
        if ENVIRON_KEY in environ or isinstance(self.app, QSCookies):
            raise QSCookiesError(
                "this request already went through QSCookies, or is about to: the"
                " app is wrapped twice. Wrap it once (in tests of an app that wraps"
                " itself, use the qscookies_rebind fixture, not qscookies_wrap)."
            )
        state = self._rules.open(request_from(environ))
        environ[ENVIRON_KEY] = Context(state, self._store)
        if state.request.path == self.settings.privacy_path:
            plan, switched = state.privacy_switch(
                lambda: _form_field(environ, "choice")
            )
            track(self._store, plan)
            return self._answer(state, start_response, switched)
        plan, answer = state.begin()
        track(self._store, plan)
        if answer is not None:
            return self._answer(state, start_response, answer)

        response = _Response(self._rules, state, start_response)
        try:
            body = self.app(environ, response.start_response)
        except StoreUnavailable:
            return response.unavailable(started=response.started)
        if response.replaced:
            _close(body)
            return response.unavailable(started=True)
        if response.started:
            return body
        return response.late(body)

    @staticmethod
    def _answer(
        state: RequestState, start_response: StartResponse, answer: Answer
    ) -> Iterable[bytes]:
        """Answer a request ourselves, without the application."""
        start_response(answer.status, state.finish(answer.status, answer.headers))
        return [answer.body] if answer.body else []


class _Response:
    """The response to one request through the app: ours, the app's, or the 503.

    :meth:`start_response` adds the core's headers to the app's and turns the
    app's 500 after a failed store call into the ``503``; :meth:`late` does
    the same for an app that starts its response only when its body is
    iterated (a generator), so that the ``503``'s headers always go with its
    body.

    :param rules: the core's rules (their ``503``).
    :param state: the request's state.
    :param start_response: the server's.
    """

    def __init__(
        self, rules: Rules, state: RequestState, start_response: StartResponse
    ) -> None:
        self._rules = rules
        self._state = state
        self._start_response = start_response
        #: The app called :meth:`start_response`.
        self.started = False
        #: The app's 500 became the ``503``: its body must not be sent.
        self.replaced = False

    def start_response(
        self, status: str, headers: Headers, exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        """The ``start_response`` the app is given."""
        self.started = True
        if self._state.store_failed and status.startswith("500"):
            self.replaced = True
            unavailable = self._rules.unavailable()
            status, headers = unavailable.status, unavailable.headers
        return self._start_response(
            status, self._state.finish(status, headers), exc_info
        )

    def unavailable(self, *, started: bool) -> list[bytes]:
        """The ``503``'s body, its headers sent unless :attr:`replaced` sent them.

        :param started: the app had started a response: ``exc_info`` goes
            with the ``503`` (PEP 3333), so a server whose headers went out
            already raises instead of sending a second status.
        """
        answer = self._rules.unavailable()
        if not self.replaced:
            self._start_response(
                answer.status,
                self._state.finish(answer.status, answer.headers),
                sys.exc_info() if started else None,
            )
        return [answer.body]

    def late(self, body: Iterable[bytes]) -> Iterator[bytes]:
        """The body of an app that had not started its response when it returned.

        Passes its chunks through as they come, unless its response became the
        ``503`` (then the ``503``'s body instead), also when it raises
        :class:`StoreUnavailable` while iterated. The app's iterable is closed.
        """
        try:
            for chunk in body:
                if self.replaced:
                    break
                yield chunk
        except StoreUnavailable:
            yield from self.unavailable(started=self.started)
            return
        finally:
            _close(body)
        if self.replaced:
            yield self._rules.unavailable().body


def _close(body: Iterable[bytes]) -> None:
    """Close the app's iterable, as the server would have (PEP 3333)."""
    close = getattr(body, "close", None)
    if close is not None:
        close()


def request_from(environ: WSGIEnvironment) -> Request:
    """The plain request the core reads, from a WSGI environ."""
    query = environ.get("QUERY_STRING", "")
    raw_path, raw_query = raw_target(
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        query,
        environ.get("RAW_URI") or environ.get("REQUEST_URI"),
    )
    return Request(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=environ.get("PATH_INFO", ""),
        raw_path=raw_path,
        query=raw_query,
        https=environ.get("wsgi.url_scheme") == "https",
        cookie=environ.get("HTTP_COOKIE"),
        host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
        sec_gpc=environ.get("HTTP_SEC_GPC", ""),
        dnt=environ.get("HTTP_DNT", ""),
        fetch_site=environ.get("HTTP_SEC_FETCH_SITE", ""),
        origin=environ.get("HTTP_ORIGIN", ""),
        referer=environ.get("HTTP_REFERER", ""),
    )


def _form_field(environ: WSGIEnvironment, name: str) -> str | None:
    """One field of a small urlencoded form body (at most 1 KiB is read)."""
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), 1024)
    except ValueError:
        return None
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    values = parse_qs(body.decode("latin-1"))
    return values[name][0] if name in values else None
