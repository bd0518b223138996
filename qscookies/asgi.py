"""The ASGI door: the only module that knows ASGI.

It mirrors :mod:`qscookies.wsgi` and translates only: the scope into a plain
:class:`~qscookies.core.messages.Request`, the request cycle
(:mod:`qscookies.core.cycle`) back into ASGI messages, its plans sent on the
asyncio store; its headers join the application's ``http.response.start``.
Every other message passes through untouched: bodies stream, and ``lifespan``
and ``websocket`` scopes never meet qscookies.

Wrap any ASGI 3 application (Starlette, FastAPI, Django's ASGI handler)::

    from qscookies.asgi import QSCookies, context

    app = QSCookies(app, secret_key="...", redis_url="redis://localhost/0")

    async def cart_page(request):  # Starlette
        qs = context(request.scope)
        await qs.cart.add("SKU-1")
        ...

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload

from .codec import CookieCodec
from .context import RAISE
from .context import AsyncContext
from .door import Door
from .door import found
from .errors import StoreUnavailable
from .protocols import form_field
from .protocols.asgi import SCOPE_KEY
from .protocols.asgi import ASGIApp
from .protocols.asgi import Message
from .protocols.asgi import Receive
from .protocols.asgi import Scope
from .protocols.asgi import Send
from .protocols.asgi import decode
from .protocols.asgi import encode
from .protocols.asgi import read_form
from .protocols.asgi import request_from
from .protocols.asgi import send_whole
from .sending import atrack
from .settings import Settings
from .store.aio import AsyncAppStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .settings import Options

__all__ = [
    "ASGIApp",
    "Message",
    "QSCookies",
    "Receive",
    "SCOPE_KEY",
    "Scope",
    "Send",
    "context",
    "request_from",
]

_D = TypeVar("_D")


@overload
def context(scope: Scope) -> AsyncContext: ...
@overload
def context(scope: Scope, default: _D) -> AsyncContext | _D: ...
def context(scope: Scope, default: Any = RAISE) -> Any:
    """Return the qscookies context of the current ASGI request.

    ::

        qs = context(request.scope)          # Starlette, FastAPI
        if qs.visitor.is_returning: ...      # plain: no Redis
        await qs.cart.add("SKU-1")           # awaited: one round trip

    :param scope: the scope of an HTTP request that went through
        :class:`QSCookies`.
    :param default: returned instead of raising where there is no context (an
        excluded path such as ``/favicon.ico``, e.g. in a branded 404 page).
    :raises QSCookiesError: no context and no *default*: the path is excluded,
        or the app is not wrapped.
    """
    context = scope.get(SCOPE_KEY)
    if context is not None:  # read on most requests: found() only when not
        return context
    return found(
        context,
        default,
        scope.get("path", ""),
        "wrap the app in qscookies.asgi.QSCookies, and on excluded paths use"
        " context(scope, default=None)",
    )


class QSCookies(Door[ASGIApp, AsyncAppStore]):
    """Signed cookies for cart, return visitors and promotions, data in Redis (ASGI).

    The same behaviour, cookies and Redis keys as the WSGI
    :class:`qscookies.QSCookies`: a shop that serves some pages through each
    door, with the same *secret_key* and Redis, keeps one cart, one visitor and
    one attribution per browser. Requests to ``excluded_paths`` pass straight
    through (no Redis, no cookies), and so do ``lifespan`` and ``websocket``
    scopes. Response bodies are never buffered.

    ::

        app = QSCookies(app, secret_key="...", redis_url="redis://localhost/0")
        ...
        await app.aclose()  # at shutdown, when qscookies opened the client

    :param app: the ASGI 3 application to wrap.
    :param secret_key: the signing key, or a list of keys, newest first: the
        first signs, all verify (rotation without logging anyone out).
    :param redis_url: where Redis is, e.g. ``redis://localhost:6379/0`` or
        ``unix:///run/redis.sock``; qscookies opens a ``redis.asyncio.Redis``
        for it, owns its pool and closes it in :meth:`aclose`. The start-up
        ACL check (:func:`~qscookies.guard.enforce`) runs on a short-lived sync
        connection to the same URL, at the first request (off the event loop)
        or when a start-up hook calls :meth:`startup_check`: building the
        door contacts no Redis.
    :param redis: a ready ``redis.asyncio`` client instead (``Redis``,
        ``RedisCluster``, or a Sentinel ``master_for`` client); its owner
        closes it. Set short socket timeouts on it: a hung Redis must not hang
        the shop. No start-up ACL check is run on a given client (it would
        need a blocking call in the constructor): run ``qscookies check``
        for that user instead, and ``strict`` has no effect.
    :param options: the settings, see :class:`~qscookies.settings.Settings`.
    :raises ConfigurationError: a bad secret key, Redis location or option.
        With *redis_url* and ``strict=True``, a Redis user who could export the
        data refuses to start: :meth:`startup_check` raises, or (found at the
        first request) every request answers ``503``; without ``strict``, one
        warning is logged.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        redis_url: str | None = None,
        redis: Any = None,
        **options: Unpack[Options],
    ) -> None:
        settings = Settings.from_options(**options)
        codec = CookieCodec(secret_key)
        self._connect(app, settings, codec, AsyncAppStore, redis_url, redis)

    async def aclose(self) -> None:
        """Close the Redis connection pool, if qscookies opened it (``redis_url``),
        and the store's own twin of a client passed in that retries.

        Call it on the event loop that served the requests (e.g. at lifespan
        shutdown): ``redis.asyncio`` connections belong to their loop.
        """
        await self._store.close()

    def context_for(self, scope: Scope) -> AsyncContext:
        """Build the request context of an HTTP *scope* without handling a request.

        Nothing is tracked and no cookie is sent; for tests and tools that read
        a browser's cart or promotion from its cookies.
        """
        return AsyncContext(self._cycle.rules.read(request_from(scope)), self._store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection.

        ``lifespan``, ``websocket`` and excluded paths go straight to the app.
        An HTTP request gets its context in a copy of the scope and walks the
        request cycle (:mod:`qscookies.core.cycle`): its answers are sent
        without the app, its headers join the app's ``http.response.start``,
        and the app's ``500`` after a failed store call (its body dropped) is
        the ``503``. A :class:`StoreUnavailable` the app lets out is the
        ``503`` when no response started, and is re-raised otherwise (not when
        the ``503`` already answered: a framework such as Starlette re-raises
        after sending its ``500``).

        :raises QSCookiesError: the request already went through a qscookies
            door (the app is wrapped twice), before any Redis call.
        """
        if scope["type"] != "http" or self._cycle.excluded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        wrapped = SCOPE_KEY in scope or isinstance(self.app, Door)
        turn = self._cycle.open(request_from(scope), wrapped=wrapped)
        if not self._cycle.startup.done:  # an await less on every later request
            await self._astartup()
        scope = dict(scope)  # ASGI: copy a scope before changing it
        scope[SCOPE_KEY] = AsyncContext(turn.state, self._store)
        body = await read_form(receive) if turn.reads_form else b""
        plan = turn.begin(lambda: form_field(body, "choice"))
        if plan.commands:
            await atrack(self._store, plan)
        head = turn.ours()
        if head is not None:
            await send_whole(send, head)
            return

        async def qs_send(message: Message) -> None:
            if turn.replacement is not None:  # the 500's body, trailers…: not ours
                return
            if message["type"] != "http.response.start":
                await send(message)
                return
            raw, decoded = decode(message.get("headers", ()))
            headers = turn.respond(int(message["status"]), decoded)
            if turn.replacement is not None:  # our 503, in place of its 500
                await send_whole(send, turn.replacement)
                return
            await send({**message, "headers": encode(headers, raw, decoded)})

        try:
            await self.app(scope, receive, qs_send)
        except StoreUnavailable as error:
            head = turn.failed(error)
            if head is not None:
                await send_whole(send, head)
