"""ASGI read as the core's plain request, and the messages of our own answers."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import MutableMapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote

from ..core.messages import Request
from ..memo import Memo
from . import FORM_LIMIT

if TYPE_CHECKING:
    from ..core.cycle import Head

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

#: The request headers the core reads, by their lower-case name as bytes (as
#: ASGI sends it) and as text (as some test tools do).
_READ = ("cookie", "host", "sec-gpc", "dnt", "sec-fetch-site", "origin", "referer")
_FIELDS = {name.encode(): name for name in _READ} | {name: name for name in _READ}
_URL_SAFE = "/:@!$&'()*+,;=-._~"

#: Our own headers as ASGI bytes (``Vary``, ``Cache-Control``,
#: ``Referrer-Policy``: a few values; never a ``Set-Cookie``).
_ENCODED: Memo[tuple[str, str], tuple[bytes, bytes]] = Memo(64)


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
        text = raw.decode("latin-1") if type(raw) is bytes else _text(raw)
        raw_path = text.partition("?")[0]
    else:
        raw_path = quote(path.encode("utf-8", "surrogateescape"), safe=_URL_SAFE)
    cookies: list[str] = []
    fields: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        try:  # one lookup a header: most are not read
            key = _FIELDS.get(name.lower())
        except (TypeError, AttributeError):  # a bytearray, a memoryview: not ASGI
            key = _FIELDS.get(bytes(name).lower())
        if key is None:
            continue
        text = value.decode("latin-1") if type(value) is bytes else _text(value)
        if key == "cookie":
            cookies.append(text)
        else:
            fields[key] = f"{fields[key]},{text}" if key in fields else text
    query = scope.get("query_string", b"")
    server = scope.get("server")
    host = fields.get("host") or (str(server[0]) if server else "")
    # tuple.__new__: a named tuple's own __new__ is one Python call more.
    return tuple.__new__(
        Request,
        (
            scope.get("method", "GET"),
            path,
            raw_path,
            query.decode("latin-1") if type(query) is bytes else _text(query),
            scope.get("scheme") == "https",
            "; ".join(cookies) if cookies else None,
            host,
            fields.get("sec-gpc", ""),
            fields.get("dnt", ""),
            fields.get("sec-fetch-site", ""),
            fields.get("origin", ""),
            fields.get("referer", ""),
        ),
    )


def _text(value: bytes | str) -> str:
    """Bytes of a scope as latin-1 text; ``str`` (not ASGI, but sent) as it is."""
    return value if isinstance(value, str) else bytes(value).decode("latin-1")


async def read_form(receive: Receive) -> bytes:
    """The first :data:`~qscookies.protocols.FORM_LIMIT` bytes of the request body."""
    body = b""
    while len(body) < FORM_LIMIT:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return body[:FORM_LIMIT]


def decode(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[RawHeaders, list[tuple[str, str]]]:
    """A message's ASGI header pairs as bytes (any bytes-like made ``bytes``)
    and as text (latin-1)."""
    raw = headers if type(headers) is list else list(headers)
    text = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in raw
        if type(name) is bytes is type(value)
    ]
    if len(text) == len(raw):  # bytes, as ASGI sends them: the pairs as they are
        return raw, text
    raw = [(bytes(name), bytes(value)) for name, value in raw]
    return raw, [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in raw
    ]


def encode(
    headers: Sequence[tuple[str, str]],
    raw: RawHeaders,
    decoded: Sequence[tuple[str, str]] = (),
) -> RawHeaders:
    """*headers* as ASGI bytes, the app's own pairs (*raw*) kept byte for byte.

    The core keeps the app's headers in place (changing at most a value) and
    appends its own; new names are sent lower case, as ASGI asks.

    :param decoded: what :func:`decode` made of *raw*, when the core was
        handed it: the app's pairs that *headers* still holds as they were
        go as they came (nothing re-encoded).
    """
    kept = len(decoded)
    if headers[:kept] == decoded:  # the common case: ours only appended
        out = raw[:kept]
    else:
        kept, out = 0, []
    for index in range(kept, len(headers)):
        pair = headers[index]
        if index < len(raw) and raw[index][0].decode("latin-1") == pair[0]:
            raw_name, raw_value = raw[index]  # the app's: its name as it came
            value = pair[1].encode("latin-1")
            out.append((raw_name, raw_value if value == raw_value else value))
        else:
            out.append(_ours(pair))
    return out


def _ours(pair: tuple[str, str]) -> tuple[bytes, bytes]:
    """A header of ours as ASGI bytes, its name lower case: remembered, but
    for a ``Set-Cookie`` (its value is the browser's own)."""
    encoded = _ENCODED.get(pair)
    if encoded is None:
        name, value = pair
        encoded = (name.lower().encode("latin-1"), value.encode("latin-1"))
        if name != "Set-Cookie":
            _ENCODED.keep(pair, encoded)
    return encoded


async def send_whole(send: Send, head: Head) -> None:
    """Send a response of ours, whole: *head* and its body."""
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in head.headers
    ]
    start = {"type": "http.response.start", "status": head.status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": head.body or b""})
