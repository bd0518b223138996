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

from asgiref.sync import iscoroutinefunction
from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.http.response import HttpResponseRedirectBase

from ..asgi import request_from as asgi_request
from ..codec import CookieCodec
from ..context import AsyncContext
from ..context import Context
from ..core.messages import Answer
from ..core.messages import Request
from ..core.request import RequestState
from ..door import Door
from ..door import checked_client
from ..errors import ConfigurationError
from ..errors import QSCookiesError
from ..errors import StoreUnavailable
from ..sending import atrack
from ..sending import track
from ..settings import Settings
from ..store.aio import AsyncAppStore
from ..store.app import AppStore
from ..store.client import aconnect
from ..wsgi import ENVIRON_KEY
from ..wsgi import request_from as wsgi_request
from .config import configuration

__all__ = [
    "QSCookiesMiddleware",
]


GetResponse = Callable[[HttpRequest], Any]

_STATE = "qscookies.state"


class QSCookiesMiddleware(Door[GetResponse, AppStore]):
    """Signed cookies for cart, return visitors and promotions, as Django middleware.

    Configured by ``settings.QSCOOKIES`` (see :func:`configuration`): a dict of
    ``redis_url`` (or ``redis``, a ready sync client, with ``async_redis`` for
    the ASGI handler) and any :class:`~qscookies.settings.Settings` name.

    :raises ConfigurationError: a bad ``QSCOOKIES`` value (named), or with
        ``strict`` a Redis user who could export the data.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        connection, keys, settings = configuration()
        client, self._owned = checked_client(
            connection.get("redis_url"), connection.get("redis"), settings
        )
        self._start(
            get_response,
            settings,
            CookieCodec(keys),
            AppStore,
            client,
            owned=self._owned,
        )
        #: The asyncio store, when Django runs the middleware async (ASGI).
        self._astore: AsyncAppStore | None = None
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)
            self._astore = AsyncAppStore(
                _async_client(connection, settings),
                prefix=settings.key_prefix,
                retry_interval=settings.retry_interval,
                clock=self._now,
                durable_writes=settings.durable_writes,
                wait_ms=settings.durable_wait_ms,
            )
            self.process_view = self._sync_context_for_sync_views

    def __call__(self, request: HttpRequest) -> Any:
        """Handle one request (returns a coroutine when Django runs async)."""
        if self._astore is not None:
            return self._acall(request, self._astore)
        if self._rules.excluded(request.path_info):
            return self.app(request)
        state = self._open(request)
        _attach(request, Context(state, self._store))
        if state.request.path == self.settings.privacy_path:
            plan, switched = state.privacy_switch(lambda: request.POST.get("choice"))
            track(self._store, plan)
            return _finish(state, _response(switched))
        plan, answer = state.begin()
        track(self._store, plan)
        if answer is not None:
            return _finish(state, _response(answer))
        return self._respond(state, self.app(request))

    async def _acall(self, request: HttpRequest, store: AsyncAppStore) -> Any:
        """:meth:`__call__` under Django's ASGI handler."""
        if self._rules.excluded(request.path_info):
            return await self.app(request)
        state = self._open(request)
        _attach(request, AsyncContext(state, store))
        if state.request.path == self.settings.privacy_path:
            plan, switched = state.privacy_switch(lambda: request.POST.get("choice"))
            await atrack(store, plan)
            return _finish(state, _response(switched))
        plan, answer = state.begin()
        await atrack(store, plan)
        if answer is not None:
            return _finish(state, _response(answer))
        return self._respond(state, await self.app(request))

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        """A :class:`StoreUnavailable` out of a view is the ``503``, not a ``500``."""
        if isinstance(exception, StoreUnavailable) and _STATE in request.META:
            return self._unavailable()
        return None

    def _unavailable(self) -> HttpResponse:
        """The ``503``, which Django does not log again: the store logged one
        line naming the cause (and ``django.request`` would mail ``ADMINS``
        for every request while Redis is down)."""
        response = _response(self._rules.unavailable())
        response._has_been_logged = True  # what django.utils.log.log_response reads
        return response

    async def _sync_context_for_sync_views(
        self, request: HttpRequest, view: Callable[..., Any], *args: Any
    ) -> None:
        """Under ASGI, a sync view (run in a thread) gets the sync context."""
        state = request.META.get(_STATE)
        if state is not None and not iscoroutinefunction(view):
            _attach(request, Context(state, self._store))

    def _open(self, request: HttpRequest) -> RequestState:
        """The request's state, kept on the request.

        :raises QSCookiesError: the request already went through qscookies:
            Django's WSGI app is wrapped in :class:`qscookies.QSCookies` too, or
            the middleware is listed twice.
        """
        if ENVIRON_KEY in request.META or _STATE in request.META:
            raise QSCookiesError(
                "this request already went through qscookies: use the Django"
                " middleware or the WSGI wrap (QSCookies(get_wsgi_application())),"
                " not both, and list the middleware once"
            )
        state = self._rules.open(_plain(request))
        request.META[_STATE] = state
        return state

    def _respond(self, state: RequestState, response: HttpResponseBase) -> Any:
        """The view's response with our headers; after a store failure its 500
        is the ``503``."""
        if state.store_failed and response.status_code == 500:
            response.close()
            response = self._unavailable()
        return _finish(state, response)


def _attach(request: HttpRequest, qs: Context | AsyncContext) -> None:
    """``request.qs``, and the key of ``qscookies.context(request.META)``.

    (Under the WSGI handler ``request.META`` is the WSGI environ.)
    """
    request.qs = qs
    request.META[ENVIRON_KEY] = qs


def _async_client(connection: dict[str, Any], settings: Settings) -> Any:
    if "redis_url" in connection:
        return aconnect(
            connection["redis_url"],
            socket_timeout=settings.socket_timeout,
            max_connections=settings.max_connections,
        )
    if connection.get("async_redis") is None:
        raise ConfigurationError(
            "under Django's ASGI handler, QSCOOKIES with 'redis' needs"
            " 'async_redis' too (a redis.asyncio client of the same server)"
        )
    return connection["async_redis"]


def _plain(request: HttpRequest) -> Request:
    """The plain request the core reads, under either of Django's handlers."""
    scope = getattr(request, "scope", None)
    plain = asgi_request(scope) if scope is not None else wsgi_request(request.META)
    return plain._replace(https=request.is_secure())


def _response(answer: Answer) -> HttpResponse:
    """A Django response for an answer of the core (a redirect one for a 3xx)."""
    code, _, reason = answer.status.partition(" ")
    headers = dict(answer.headers)
    location = headers.pop("Location", None)
    response = HttpResponse() if location is None else _Redirect(location)
    response.status_code, response.reason_phrase = int(code), reason
    response.content = answer.body
    for name, value in headers.items():
        response[name] = value
    return response


class _Redirect(HttpResponseRedirectBase):  # type: ignore[misc]
    """A redirect of ours, as Django's own (``response.url``, ``assertRedirects``)."""


def _finish(state: RequestState, response: HttpResponseBase) -> HttpResponseBase:
    """Give a Django response the core's headers (our cookies as morsels)."""
    status = f"{response.status_code} {response.reason_phrase}"
    for name, value in state.finish(status, list(response.items())):
        if name.lower() == "set-cookie":
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(value)
            response.cookies.update(cookie)
        else:
            response[name] = value
    return response
