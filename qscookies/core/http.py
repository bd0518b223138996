"""Pure helpers for the request core: the Cookie header and the clean-URL redirect.

Plain ``str`` in, plain values out: no WSGI environ, no Redis. The strings are the
ones a WSGI server hands over (PEP 3333: each byte of the request decoded as
Latin-1), so they may hold bytes that are not UTF-8, and a broken server may even
hand over characters beyond Latin-1; nothing here raises on either.

:func:`read_cookies` reads the ``Cookie`` header on every request.
:func:`raw_target` and :func:`clean_location` build the ``Location`` of the ``303``
that takes a promotion landing to its clean URL.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import unquote_plus

#: Characters of a ``Cookie`` header that :func:`read_cookies` reads at most;
#: pairs past this point are ignored. 8 KiB is what common servers and proxies
#: accept for a whole header line (nginx, gunicorn), so a header this long is
#: rare and anything past it is most likely junk.
MAX_COOKIE_HEADER = 8192

# Characters that cannot stand as they are in a Location header (controls, space,
# DEL, anything past ASCII); browsers would percent-encode them anyway.
_UNSAFE = re.compile(r"[^\x21-\x7e]")
# Path characters kept as they are when quoting a decoded PATH_INFO (besides the
# letters, digits and "_.-~" that quote() always keeps).
_PATH_SAFE = "/:@!$&'()*+,;="


def read_cookies(
    header: str | None, repeats: dict[str, list[str]] | None = None
) -> dict[str, str]:
    """Parse a ``Cookie`` header into ``{name: value}``.

    Built for the middleware's hot path: one pass of ``str`` methods, three to
    four times as fast as :func:`werkzeug.http.parse_cookie` on a typical
    header (``bench/cookies.py``), and forgiving of what real clients and
    servers send:

    - Pairs are separated by ``;`` and also by ``,``, which some servers use to
      join duplicate ``Cookie`` headers (``a=1, qs_cart=…``).
    - The first occurrence of a name wins (browsers send the cookie with the most
      specific path first); the values of its later occurrences go to
      *repeats*, when given: a cookie planted from a sibling subdomain
      (``Domain=``) or under a longer path arrives beside ours, often first,
      and the rules decide which one to trust (:mod:`qscookies.core.jar`).
    - A pair without ``=`` or with an empty name is skipped. White space around
      names and values is dropped, and so are the double quotes around a quoted
      value (escapes inside are not interpreted).
    - A pair whose name or value is not ASCII is skipped: bytes that are not
      UTF-8 in someone else's cookie (``legacy=caf\\xe9``) neither raise nor
      hide the others. qscookies's own values are always ASCII.
    - Only the first :data:`MAX_COOKIE_HEADER` characters are read; a pair cut
      at that point is dropped.

    A value that holds a ``,`` comes back cut there (and another name may appear
    from what follows the comma); the values qscookies reads are signed, so such
    a fragment can only fail to verify.

    :param header: the header as the WSGI server hands it
        (``environ.get("HTTP_COOKIE")``), or ``None``.
    :param repeats: filled with ``{name: [later values]}`` for the names that
        occur more than once (same validity rules as the first value).
    :return: a new dict; empty when there is no header.

    ::

        >>> read_cookies("a=1, qs_cart=x.y; legacy=caf\\xe9; a=2")
        {'a': '1', 'qs_cart': 'x.y'}
    """
    if not header:
        return {}
    if len(header) > MAX_COOKIE_HEADER:
        header = header[:MAX_COOKIE_HEADER]
        cut = max(header.rfind(";"), header.rfind(","))
        header = header[:cut] if cut > 0 else ""
    cookies: dict[str, str] = {}
    if "," in header:
        header = header.replace(",", ";")
    ascii = header.isascii()  # then every name and value is: no check each
    for pair in header.split(";"):
        name, equals, value = pair.partition("=")
        if not equals:
            continue
        name = name.strip()
        if not name or (name in cookies and repeats is None):
            continue
        value = value.strip()
        if value[:1] == '"' and value[-1:] == '"' and len(value) > 1:
            value = value[1:-1]
        if not (ascii or (name.isascii() and value.isascii())):
            continue
        if name not in cookies:
            cookies[name] = value
        elif repeats is not None:
            repeats.setdefault(name, []).append(value)
    return cookies


def raw_target(
    script_name: str, path_info: str, query_string: str, raw_uri: str | None
) -> tuple[str, str]:
    """Find the request's path and query string as the client sent them.

    WSGI gives ``SCRIPT_NAME`` and ``PATH_INFO`` percent-decoded, so ``/a%2Fb``
    and ``/a/b`` look the same there. Most servers also give the raw request
    target (gunicorn ``RAW_URI``; uWSGI, Apache and werkzeug ``REQUEST_URI``):
    its path is used when it decodes to ``script_name + path_info`` (each
    escape one byte, or, as werkzeug decodes, UTF-8 with bad bytes replaced,
    handed over as Latin-1). When it does not (a proxy or middleware moved the
    prefix into ``SCRIPT_NAME``, the server normalised the path) or there is
    none, the decoded path is quoted again, which keeps its meaning but not
    necessarily its spelling.

    :param script_name: ``environ["SCRIPT_NAME"]``.
    :param path_info: ``environ["PATH_INFO"]``; characters beyond Latin-1 (a
        non-conforming server) are taken as UTF-8 text rather than raising.
    :param query_string: ``environ["QUERY_STRING"]``: servers pass it undecoded,
        so it is the query as sent (the request target's may be missing, as in
        werkzeug's test client given ``query_string=``).
    :param raw_uri: ``environ.get("RAW_URI") or environ.get("REQUEST_URI")``: a
        path with its query (``/a%2Fb?x=1``) or an absolute URL
        (``http://host/a?x=1``).
    :return: ``(raw path, raw query string)``, the path starting with ``/``.

    ::

        >>> raw_target("", "/a/b", "x=1", "/a%2Fb?x=1")
        ('/a%2Fb', 'x=1')
        >>> raw_target("/shop", "/a b", "x=1", None)
        ('/shop/a%20b', 'x=1')
    """
    decoded = script_name + path_info
    if raw_uri:
        path = raw_uri.partition("?")[0]
        if path == decoded and path.startswith("/"):
            return path, query_string  # nothing escaped: the common case, fast
        scheme, sep, rest = path.partition("://")
        if sep and "/" not in scheme:  # absolute form: drop scheme and authority
            slash = rest.find("/")
            path = rest[slash:] if slash >= 0 else "/"
        if path.startswith("/") and (
            unquote(path, "latin-1") == decoded
            # werkzeug decodes the path as UTF-8 (bad bytes: U+FFFD), then
            # hands over its UTF-8 bytes as Latin-1: /%FF must stay /%FF.
            or _encode(unquote(path, "utf-8", "replace")).decode("latin-1") == decoded
        ):
            return path, query_string
    return "/" + _quote_path(decoded).removeprefix("/"), query_string


def clean_location(raw_path: str, query: str, params: Collection[str]) -> str | None:
    """Build the same-site ``Location`` of the clean URL of a promotion landing.

    Removes every parameter named in *params* from *query* and keeps the rest
    byte for byte: the path (``/a%2Fb`` stays ``/a%2Fb``), the other parameters
    in their order and spelling (``?flag``, ``q=caf%E9``, ``+`` and ``%20``).
    Only what may not stand in a header (controls, spaces, bytes past ASCII) is
    percent-encoded, as a browser would. A path that starts with several
    slashes or backslashes (``//evil.example/``, a scheme-relative URL to another
    host) keeps exactly one leading slash.

    Parameter names are compared as a browser's form submission encodes them and
    as :func:`urllib.parse.parse_qsl` (hence werkzeug's ``request.args`` and the
    promotion capture) decodes them: percent-escapes decoded as UTF-8 and ``+``
    as a space, so ``utm%5Fcampaign`` is ``utm_campaign`` and is removed. Were it
    kept, the clean URL would land on the same promotion again and redirect
    forever. Parameters are split on ``&`` only, as ``parse_qsl`` does.

    :param raw_path: the raw request path, from :func:`raw_target`.
    :param query: the raw query string, without the ``?``.
    :param params: the promotion parameter names (``promotion_params``).
    :return: the path and the remaining query string (no ``?`` when nothing
        remains), or ``None`` when *query* holds none of *params*.

    ::

        >>> clean_location("/a%2Fb", "promo=SUMMER&flag&q=caf%E9", ["promo"])
        '/a%2Fb?flag&q=caf%E9'
        >>> clean_location("//evil.example/", "promo=X", ["promo"])
        '/evil.example/'
    """
    kept: list[str] = []
    removed = False
    for part in query.split("&"):
        name = part.partition("=")[0]
        if name and unquote_plus(name) in params:
            removed = True
        else:
            kept.append(part)
    if not removed:
        return None
    # One leading slash: browsers read "//host" and "/\host" as another host.
    location = "/" + _escape(raw_path).lstrip("/\\")
    rest = "&".join(kept)
    return location + "?" + _escape(rest) if rest.strip("&") else location


def _escape(text: str) -> str:
    """Percent-encode what may not stand in a header, as UTF-8 past Latin-1."""
    return _UNSAFE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    data = char.encode("latin-1") if ord(char) < 256 else _encode(char)
    return "".join(f"%{byte:02X}" for byte in data)


def _quote_path(path: str) -> str:
    """Percent-encode a decoded WSGI path, keeping ``/`` and the sub-delimiters."""
    try:
        data = path.encode("latin-1")  # PEP 3333: each char is a byte
    except UnicodeEncodeError:
        data = _encode(path)
    return quote(data, safe=_PATH_SAFE)


def _encode(text: str) -> bytes:
    """UTF-8 for text that is not PEP 3333 bytes-as-Latin-1, never raising."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")
