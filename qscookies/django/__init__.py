"""The Django door: a middleware configured by ``settings.QSCOOKIES``.

::

    # settings.py
    INSTALLED_APPS = [..., "qscookies.django"]      # `manage.py check` checks QSCOOKIES
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "qscookies.django.QSCookiesMiddleware",
        ...
    ]
    QSCOOKIES = {"redis_url": "redis://localhost:6379/0", "visit_gap": 1800}

    # a view
    def add(request):
        request.qs.cart.add(request.POST["sku"])

The same rules, cookies and Redis keys as every other door: the middleware
hands Django's request to the request core and adds the core's headers to
Django's response. ``secret_key`` defaults to keys derived from ``SECRET_KEY``
and ``SECRET_KEY_FALLBACKS`` (Django's rotation rotates ours; no qscookies
signature verifies as Django's). A :class:`~qscookies.StoreUnavailable` a
view lets out becomes the ``503`` with ``Retry-After``, not Django's ``500``.

Under Django's WSGI handler (and its test client) ``request.qs`` is a
:class:`~qscookies.Context`. Under its ASGI handler the middleware runs async:
an ``async def`` view gets an :class:`~qscookies.context.AsyncContext` (await
its cart), a sync view, which Django runs in a thread, the sync
:class:`~qscookies.Context`. Importing :mod:`qscookies` never imports Django.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from typing import TypeVar

from asgiref.sync import iscoroutinefunction
from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.http.response import HttpResponseRedirectBase

from ..codec import CookieCodec
from ..context import AsyncContext
from ..context import Context
from ..core.cycle import Head
from ..core.cycle import Turn
from ..core.messages import Answer
from ..core.messages import Headers
from ..core.messages import Request
from ..core.messages import reason
from ..core.request import RequestState
from ..door import Door
from ..door import async_for
from ..errors import ConfigurationError
from ..protocols.asgi import SCOPE_KEY
from ..protocols.asgi import request_from as asgi_request
from ..protocols.wsgi import ENVIRON_KEY
from ..protocols.wsgi import request_from as wsgi_request
from ..sending import atrack
from ..sending import track
from ..store.aio import AsyncAppStore
from ..store.app import AppStore
from .config import configuration
from .config import named

__all__ = [
    "QSCookiesMiddleware",
]


GetResponse = Callable[[HttpRequest], Any]
Qs = Context | AsyncContext
Response = TypeVar("Response", bound=HttpResponseBase)

_STATE = "qscookies.state"


class QSCookiesMiddleware(Door[GetResponse, AppStore]):
    """Signed cookies for cart, return visitors and promotions, as Django middleware.

    Configured by ``settings.QSCOOKIES`` (see :func:`configuration`): a dict of
    ``redis_url`` (or ``redis``, a ready sync client, with ``async_redis`` for
    the ASGI handler) and any :class:`~qscookies.settings.Settings` name.
    Building it contacts no Redis: the start-up check runs at the first
    request, or when a start-up hook calls :meth:`startup_check`.

    :raises ConfigurationError: a bad ``QSCOOKIES`` value (named).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        connection, keys, settings = configuration()
        url = connection.get("redis_url")
        codec = CookieCodec(keys)
        try:
            self._connect(
                get_response, settings, codec, AppStore, url, connection.get("redis")
            )
        except ConfigurationError as error:
            raise named(error) from error
        #: The asyncio store, when Django runs the middleware async (ASGI).
        self._astore: AsyncAppStore | None = None
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)
            aclient = connection.get("async_redis")
            if url is None and aclient is None:
                raise ConfigurationError(
                    "under Django's ASGI handler, QSCOOKIES with 'redis' needs"
                    " 'async_redis' too (a redis.asyncio client of the same server)"
                )
            self._astore = self._store_for(
                AsyncAppStore, async_for(url, aclient, settings), owned=url is not None
            )
            self.process_view = self._sync_context_for_sync_views

    def __call__(self, request: HttpRequest) -> Any:
        """Handle one request (returns a coroutine when Django runs async)."""
        if self._astore is not None:
            return self._acall(request, self._astore)
        if self._cycle.excluded(request.path_info):
            return self.app(request)
        turn = self._open(request, lambda state: Context(state, self._store))
        track(self._store, turn.begin(lambda: request.POST.get("choice")))
        head = turn.ours()
        if head is not None:
            return _response(head)
        return _respond(turn, self.app(request))

    def _rebind_more(self, redis_url: str) -> None:
        """Under Django's ASGI handler, :meth:`rebound` points the asyncio store
        at *redis_url* too."""
        if self._astore is not None:
            client = async_for(redis_url, None, self.settings)
            self._astore = self._store_for(AsyncAppStore, client, owned=True)

    async def _acall(self, request: HttpRequest, store: AsyncAppStore) -> Any:
        """:meth:`__call__` under Django's ASGI handler."""
        if self._cycle.excluded(request.path_info):
            return await self.app(request)
        turn = self._open(request, lambda state: AsyncContext(state, store))
        await self._astartup()
        await atrack(store, turn.begin(lambda: request.POST.get("choice")))
        head = turn.ours()
        if head is not None:
            return _response(head)
        return _respond(turn, await self.app(request))

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        """A :class:`StoreUnavailable` out of a view is the ``503``, not a ``500``.

        Django does not log it again: the store logged one line naming the
        cause (and ``django.request`` would mail ``ADMINS`` for every request
        while Redis is down).
        """
        turn = request.META.get(_STATE)
        answer = None if turn is None else turn.caught(exception)
        if answer is None:
            return None
        response = _response(answer)
        response._has_been_logged = True  # what django.utils.log.log_response reads
        return response

    async def _sync_context_for_sync_views(
        self, request: HttpRequest, view: Callable[..., Any], *args: Any
    ) -> None:
        """Under ASGI, a sync view (run in a thread) gets the sync context."""
        turn = request.META.get(_STATE)
        if turn is not None and not iscoroutinefunction(view):
            _attach(request, Context(turn.state, self._store))

    def _open(
        self, request: HttpRequest, context: Callable[[RequestState], Qs]
    ) -> Turn:
        """The request's turn, kept on the request, and its context attached.

        :raises QSCookiesError: the request already went through qscookies:
            Django's WSGI or ASGI app is wrapped in a qscookies door too, or
            the middleware is listed twice.
        """
        scope = getattr(request, "scope", {})  # the ASGI door's context is there
        meta = request.META
        wrapped = ENVIRON_KEY in meta or _STATE in meta or SCOPE_KEY in scope
        turn = self._cycle.open(_plain(request), wrapped=wrapped)
        request.META[_STATE] = turn
        _attach(request, context(turn.state))
        return turn


def _attach(request: HttpRequest, qs: Qs) -> None:
    """``request.qs``, and the key of ``qscookies.context(request.META)``.

    (Under the WSGI handler ``request.META`` is the WSGI environ.)
    """
    request.qs = qs
    request.META[ENVIRON_KEY] = qs


def _plain(request: HttpRequest) -> Request:
    """The plain request the core reads, under either of Django's handlers."""
    scope = getattr(request, "scope", None)
    plain = asgi_request(scope) if scope is not None else wsgi_request(request.META)
    return plain._replace(https=request.is_secure())


def _respond(turn: Turn, response: HttpResponseBase) -> HttpResponseBase:
    """The view's response through the cycle: our headers added, or (its 500
    after a failed store call) the ``503`` in its place."""
    headers = turn.respond(response.status_code, list(response.items()))
    if turn.replacement is None:
        return _finish(headers, response)
    response.close()
    return _response(turn.replacement)


def _response(answer: Answer | Head) -> HttpResponse:
    """A Django response for an answer of ours (a redirect one for a 3xx)."""
    location = dict(answer.headers).get("Location")
    response = HttpResponse() if location is None else _Redirect(location)
    response.status_code = answer.status
    response.reason_phrase = reason(answer.status)
    response.content = answer.body or b""
    return _finish(answer.headers, response)


class _Redirect(HttpResponseRedirectBase):  # type: ignore[misc]
    """A redirect of ours, as Django's own (``response.url``, ``assertRedirects``)."""


def _finish(headers: Headers, response: Response) -> Response:
    """Put *headers* on a Django response (our cookies as morsels)."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(value)
            response.cookies.update(cookie)
        else:
            response[name] = value
    return response
