"""The ASGI door: the only module that knows ASGI.

It mirrors :mod:`qscookies.wsgi` and holds no rule of its own. It turns the
scope into a plain :class:`~qscookies.core.request.Request`, runs the request
core's plans on the asyncio store, answers what the core answers itself (the
landing's ``303``, the privacy switch), adds the core's headers to the
application's ``http.response.start`` message, and turns an unavailable store
into a ``503``. Every other message passes through untouched: bodies stream, and
``lifespan`` and ``websocket`` scopes never meet qscookies.

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
from http import HTTPStatus
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload
from urllib.parse import parse_qs
from urllib.parse import quote

from .check import enforce
from .check import warn_unbounded
from .codec import CookieCodec
from .context import RAISE
from .context import AsyncContext
from .core.messages import Answer
from .core.messages import Request
from .core.request import RequestState
from .door import Door
from .door import found
from .errors import ConfigurationError
from .errors import QSCookiesError
from .errors import StoreUnavailable
from .sending import atrack
from .settings import Settings
from .store.aio import AsyncAppStore
from .store.client import aconnect
from .store.client import connect

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
        ACL check (:func:`~qscookies.check.enforce`) runs on a short-lived sync
        connection to the same URL.
    :param redis: a ready ``redis.asyncio`` client instead (``Redis``,
        ``RedisCluster``, or a Sentinel ``master_for`` client); its owner
        closes it. Set short socket timeouts on it: a hung Redis must not hang
        the shop. No start-up ACL check is run on a given client (it would
        need a blocking call in the constructor): run ``qscookies check``
        for that user instead, and ``strict`` has no effect.
    :param options: the settings, see :class:`~qscookies.settings.Settings`.
    :raises ConfigurationError: a bad secret key, Redis location or option; with
        *redis_url* and ``strict=True``, a Redis user who could export the data
        (without ``strict``, one warning is logged).

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
        if (redis_url is None) == (redis is None):
            raise ConfigurationError("pass exactly one of redis_url= and redis=")
        #: The client was opened here from *redis_url* (closed by :meth:`aclose`).
        self._owned = redis is None
        if redis is None:
            url = str(redis_url)
            _check_user(url, settings)
            try:
                redis = aconnect(
                    url,
                    socket_timeout=settings.socket_timeout,
                    max_connections=settings.max_connections,
                )
            except ValueError as error:
                raise ConfigurationError(f"bad Redis URL: {error}") from error
        else:
            warn_unbounded(redis)
        self._start(app, settings, codec, AsyncAppStore, redis, owned=self._owned)

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
        return AsyncContext(self._rules.read(request_from(scope)), self._store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection.

        ``lifespan``, ``websocket`` and excluded paths go straight to the app.
        An HTTP request gets its context in a copy of the scope; the core's
        ``303`` and privacy answers are sent without the app; otherwise the
        core's headers join the app's ``http.response.start``. After a failed
        store call, the app's ``500`` (and its body) becomes the ``503``; a
        :class:`StoreUnavailable` the app lets out becomes the ``503`` when no
        response started, and is re-raised otherwise (not when the ``503``
        already answered: a framework such as Starlette re-raises after
        sending its ``500``).

        :raises QSCookiesError: the request already went through a
            :class:`QSCookies` (the app is wrapped twice), before any Redis call.
        """
        if scope["type"] != "http" or self._rules.excluded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if SCOPE_KEY in scope:
            raise QSCookiesError(
                "this request already went through QSCookies: the app is wrapped"
                " twice. Wrap it once (in tests, see qscookies.testing's"
                " qscookies_rebind for an app that wraps itself)"
            )
        state = self._rules.open(request_from(scope))
        scope = dict(scope)  # ASGI: copy a scope before changing it
        scope[SCOPE_KEY] = AsyncContext(state, self._store)
        if state.request.path == self.settings.privacy_path:
            body = await _read_form(receive) if state.request.method == "POST" else b""
            plan, switched = state.privacy_switch(lambda: _form_field(body, "choice"))
            await atrack(self._store, plan)
            await _answer(state, send, switched)
            return
        plan, answer = state.begin()
        await atrack(self._store, plan)
        if answer is not None:
            await _answer(state, send, answer)
            return

        started = replaced = False

        async def qs_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:  # the app's 500 body, trailers…: our 503 went instead
                return
            if message["type"] != "http.response.start":
                await send(message)
                return
            started = True
            status = int(message["status"])
            if state.store_failed and status == 500:
                replaced = True
                await _answer(state, send, self._rules.unavailable())
                return
            raw = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            headers = state.finish(_status_line(status), _decode(raw))
            await send({**message, "headers": _encode(headers, raw)})

        try:
            await self.app(scope, receive, qs_send)
        except StoreUnavailable:
            if replaced:  # answered: the 503 is the whole response
                return
            if started:
                raise
            await _answer(state, send, self._rules.unavailable())


def _check_user(url: str, settings: Settings) -> None:
    """The start-up ACL check, on a short-lived sync connection to *url*.

    :raises ConfigurationError: a malformed URL, or ``strict`` and a finding.
    """
    try:
        client = connect(url, socket_timeout=settings.socket_timeout)
    except ValueError as error:
        raise ConfigurationError(f"bad Redis URL: {error}") from error
    try:
        enforce(client, prefix=settings.key_prefix, strict=settings.strict)
    finally:
        client.close()


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


def _status_line(status: int) -> str:
    """``200`` as ``"200 OK"``: the core reads WSGI-style status lines."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


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


async def _answer(state: RequestState, send: Send, answer: Answer) -> None:
    """Answer a request ourselves, without the application."""
    status = int(answer.status.split(" ", 1)[0])
    headers = state.finish(answer.status, answer.headers)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})
