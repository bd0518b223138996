"""``Set-Cookie`` headers for our cookies: HttpOnly, SameSite=Lax, Path=/, no Domain.

Pure functions over strings, beside the codec that signs the values
(:mod:`qscookies.codec`).
"""

from __future__ import annotations

import functools
import re

from werkzeug.http import dump_cookie
from werkzeug.http import http_date

#: Prefix that binds a cookie to the exact host, HTTPS and ``Path=/``.
HOST_PREFIX = "__Host-"


def cookie_name(base: str, secure: bool) -> str:
    """Return the cookie name to use: ``__Host-`` prefixed on secure responses."""
    return HOST_PREFIX + base if secure else base


def set_cookie_header(
    name: str, value: str, *, max_age: int, secure: bool, now: int
) -> str:
    """Build a ``Set-Cookie`` value: HttpOnly, SameSite=Lax, Path=/, no Domain.

    The same text as werkzeug's ``dump_cookie`` gives for these attributes
    (``Expires``, then ``Max-Age``), built directly: our names and values are
    plain tokens that never need quoting (signed values, ``1``), and the
    ``Expires`` date is formatted once per second, not per cookie. Any other
    value goes through ``dump_cookie``.

    :param now: the time of the request (Unix seconds, from the middleware's
        clock): ``Expires`` is *now* + *max_age*, never read from the wall
        clock.
    """
    if not _TOKEN.fullmatch(value):
        return dump_cookie(
            name,
            value,
            max_age=max_age,
            expires=now + max_age,
            path="/",
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
    expires = _http_date(now + max_age)
    attributes = _SECURE_ATTRIBUTES if secure else _ATTRIBUTES
    return f"{name}={value}; Expires={expires}; Max-Age={max_age}{attributes}"


#: A cookie value that ``dump_cookie`` would send unquoted (and ours always are).
_TOKEN = re.compile(r"[A-Za-z0-9_.~\-]*")
_ATTRIBUTES = "; HttpOnly; Path=/; SameSite=Lax"
_SECURE_ATTRIBUTES = "; Secure" + _ATTRIBUTES


@functools.lru_cache(maxsize=16)
def _http_date(timestamp: int) -> str:
    return http_date(timestamp)


def delete_cookie_header(name: str, *, secure: bool) -> str:
    """Build a ``Set-Cookie`` value that makes the browser drop cookie *name*."""
    return dump_cookie(
        name,
        "",
        max_age=0,
        expires=0,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
