"""The WSGI door: the only module that knows WSGI.

It translates only: the environ into a plain
:class:`~qscookies.core.messages.Request`, the request cycle
(:mod:`qscookies.core.cycle`) back into ``start_response`` calls and bodies,
its plans sent on the sync store. It never buffers a response body.
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

from .codec import CookieCodec
from .context import RAISE
from .context import Context
from .core.cycle import Turn
from .door import Door
from .door import found
from .errors import StoreUnavailable
from .memo import Memo
from .protocols.wsgi import ENVIRON_KEY
from .protocols.wsgi import read_form_field
from .protocols.wsgi import request_from
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

Headers = list[tuple[str, str]]
_D = TypeVar("_D")

#: The status lines the app answered, and their codes: an app answers a handful
#: of them, and a dict lookup costs a tenth of ``int()`` reading the line.
_CODES: Memo[str, int] = Memo(256)


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
    context = environ.get(ENVIRON_KEY)
    if context is not None:  # read on most requests: found() only when not
        return context
    return found(
        context,
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
    :raises ConfigurationError: a bad secret key, Redis location or option.

    Building it contacts no Redis: the start-up check (see
    :func:`~qscookies.guard.enforce`) runs at the first request, or when a
    server's start-up hook calls :meth:`startup_check`. With ``strict=True``,
    a Redis user who could export the data refuses to start: the hook's call
    raises, or (found at the first request) every request answers ``503``;
    without it, one warning is logged.
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
        self._connect(app, settings, codec, AppStore, redis_url, redis)

    def close(self) -> None:
        """Close the Redis connection pool, if qscookies opened it (``redis_url``),
        and the store's own twin of a client passed in that retries."""
        self._store.close()

    def context_for(self, environ: WSGIEnvironment) -> Context:
        """Build the request context of *environ* without handling a request.

        Nothing is tracked and no cookie is sent; for tests and tools that read
        a browser's cart or promotion from its cookies.
        """
        return Context(self._cycle.rules.read(request_from(environ)), self._store)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if self._cycle.excluded(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        # The outer of QSCookies(QSCookies(app)) refuses too, or its tracking
        # would reach Redis before the inner one sees the context.
        wrapped = ENVIRON_KEY in environ or isinstance(self.app, Door)
        turn = self._cycle.open(request_from(environ), wrapped=wrapped)
        environ[ENVIRON_KEY] = Context(turn.state, self._store)
        plan = turn.begin(lambda: read_form_field(environ, "choice"))
        if plan.commands:
            track(self._store, plan)
        head = turn.ours()
        if head is not None:
            start_response(head.line, head.headers)
            return [head.body] if head.body else []
        try:
            body = self.app(environ, _starting(turn, start_response))
        except StoreUnavailable as error:
            return _failed(turn, start_response, error)
        if turn.replacement is not None:
            _close(body)
            return [turn.replacement.body]
        if turn.started:
            return body
        return _late(turn, start_response, body)


def _starting(turn: Turn, start_response: StartResponse) -> StartResponse:
    """The ``start_response`` the app is given: the app's headers pass through
    the cycle, which adds ours, or puts our ``503`` in place of its ``500``
    (:meth:`Turn.respond`, :attr:`Turn.replacement`).

    A closure, not an object: one is made on every request.
    """

    def start(
        status: str, headers: Headers, exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        code = _CODES.get(status)
        if code is None:
            code = _CODES.keep(status, int(status.partition(" ")[0]))
        headers = turn.respond(code, headers)
        replacement = turn.replacement
        if replacement is not None:  # our 503, in place of its 500
            status = replacement.line
        return start_response(status, headers, exc_info)

    return start


def _failed(
    turn: Turn, start_response: StartResponse, error: StoreUnavailable
) -> list[bytes]:
    """The ``503``'s body for a StoreUnavailable the app let out, its head
    sent unless it went already; once the app started a response, ``exc_info``
    goes with it (PEP 3333), so a server whose headers went out already
    raises instead of sending a second status."""
    started = turn.started
    head = turn.failed(error, restart=True)
    if head is not None:
        exc_info = sys.exc_info() if started else None
        start_response(head.line, head.headers, exc_info)
    return [turn.replacement.body if turn.replacement else b""]


def _late(
    turn: Turn, start_response: StartResponse, body: Iterable[bytes]
) -> Iterator[bytes]:
    """The body of an app that had not started its response when it returned
    (a generator), so that the ``503``'s headers always go with its body.

    Passes its chunks through as they come, unless its response became the
    ``503`` (then the ``503``'s body instead), also when it raises
    :class:`StoreUnavailable` while iterated. The app's iterable is closed.
    """
    try:
        for chunk in body:
            if turn.replacement is not None:
                break
            yield chunk
    except StoreUnavailable as error:
        yield from _failed(turn, start_response, error)
        return
    finally:
        _close(body)
    if turn.replacement is not None:
        yield turn.replacement.body


def _close(body: Iterable[bytes]) -> None:
    """Close the app's iterable, as the server would have (PEP 3333)."""
    close = getattr(body, "close", None)
    if close is not None:
        close()
