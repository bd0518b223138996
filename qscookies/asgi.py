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

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import MutableMapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload
from urllib.parse import parse_qs
from urllib.parse import quote

from .codec import CookieCodec
from .context import RAISE
from .context import AsyncContext
from .core.cycle import Head
from .core.messages import Request
from .door import Door
from .door import async_client
from .door import found
from .errors import StoreUnavailable
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

#: An ASGI connection scope.
Scope = MutableMapping[str, Any]
#: An ASGI event message.
Message = MutableMapping[str, Any]
#: The ``receive`` callable of an ASGI application.
Receive = Callable[[], Awaitable[Message]]
#: The ``send`` callable of an ASGI application.
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Raw ASGI headers: ``(name, value)`` byte pairs.
RawHeaders = list[tuple[bytes, bytes]]

#: The scope extension key under which the context sits (``request.scope`` in
#: Starlette reaches it).
SCOPE_KEY = "qscookies.context"

#: At most this much of a privacy-switch form body is read.
FORM_LIMIT = 1024

_D = TypeVar("_D")
#: The request headers the core reads, besides ``Cookie``.
_READ = frozenset({"host", "sec-gpc", "dnt", "sec-fetch-site", "origin", "referer"})
_URL_SAFE = "/:@!$&'()*+,;=-._~"


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
    return found(
        scope.get(SCOPE_KEY),
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
        client, self._owned, check = async_client(redis_url, redis, settings)
        self._start(
            app, settings, codec, AsyncAppStore, client, owned=self._owned, check=check
        )

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
        await self._astartup()
        scope = dict(scope)  # ASGI: copy a scope before changing it
        scope[SCOPE_KEY] = AsyncContext(turn.state, self._store)
        body = await _read_form(receive) if turn.reads_form else b""
        await atrack(self._store, turn.begin(lambda: _form_field(body, "choice")))
        head = turn.ours()
        if head is not None:
            await _send(send, head)
            return

        async def qs_send(message: Message) -> None:
            if turn.replaced:  # the app's 500 body, trailers…: our 503 went instead
                return
            if message["type"] != "http.response.start":
                await send(message)
                return
            raw = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            head = turn.respond(int(message["status"]), _decode(raw))
            if head.body is not None:
                await _send(send, head)
                return
            await send({**message, "headers": _encode(head.headers, raw)})

        try:
            await self.app(scope, receive, qs_send)
        except StoreUnavailable as error:
            head = turn.failed(error)
            if head is not None:
                await _send(send, head)


def request_from(scope: Scope) -> Request:
    """The plain request the core reads, from an ASGI HTTP scope.

    ASGI gives header names and values, ``raw_path`` and ``query_string`` as
    bytes; some servers and test tools hand ``str`` instead, which is read as
    it is. Duplicate headers are joined by ``,`` as WSGI servers join them
    (``Sec-GPC: 1`` twice is ``1,1``), so every door hands the core the same
    text.
    """
    path: str = scope.get("path", "")
    raw = scope.get("raw_path")
    if raw:
        raw_path = _text(raw).partition("?")[0]
    else:
        raw_path = quote(path.encode("utf-8", "surrogateescape"), safe=_URL_SAFE)
    cookies: list[str] = []
    fields: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = _text(name).lower()
        if key == "cookie":
            cookies.append(_text(value))
        elif key in _READ:
            text = _text(value)
            fields[key] = f"{fields[key]},{text}" if key in fields else text
    server = scope.get("server")
    host = fields.get("host") or (str(server[0]) if server else "")
    return Request(
        method=scope.get("method", "GET"),
        path=path,
        raw_path=raw_path,
        query=_text(scope.get("query_string", b"")),
        https=scope.get("scheme") == "https",
        cookie="; ".join(cookies) if cookies else None,
        host=host,
        sec_gpc=fields.get("sec-gpc", ""),
        dnt=fields.get("dnt", ""),
        fetch_site=fields.get("sec-fetch-site", ""),
        origin=fields.get("origin", ""),
        referer=fields.get("referer", ""),
    )


def _text(value: bytes | str) -> str:
    """Bytes of a scope as latin-1 text; ``str`` (not ASGI, but sent) as it is."""
    return value if isinstance(value, str) else bytes(value).decode("latin-1")


async def _read_form(receive: Receive) -> bytes:
    """The first :data:`FORM_LIMIT` bytes of the request body."""
    body = b""
    while len(body) < FORM_LIMIT:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return body[:FORM_LIMIT]


def _form_field(body: bytes, name: str) -> str | None:
    """One field of a small urlencoded form body."""
    values = parse_qs(body.decode("latin-1"))
    return values[name][0] if name in values else None


def _decode(raw: RawHeaders) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def _encode(headers: Iterable[tuple[str, str]], raw: RawHeaders) -> RawHeaders:
    """*headers* as ASGI bytes, the app's own pairs kept byte for byte.

    The core keeps the app's headers in place (changing at most a value) and
    appends its own; new names are sent lower case, as ASGI asks.
    """
    out: RawHeaders = []
    for index, (name, value) in enumerate(headers):
        if index < len(raw) and raw[index][0].decode("latin-1") == name:
            raw_name, raw_value = raw[index]
            if value.encode("latin-1") != raw_value:
                raw_value = value.encode("latin-1")
            out.append((raw_name, raw_value))
        else:
            out.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return out


async def _send(send: Send, head: Head) -> None:
    """Send a response of ours, whole: *head* and its body."""
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in head.headers
    ]
    start = {"type": "http.response.start", "status": head.status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": head.body or b""})
