"""The two protocols the doors speak, read and written without a rule.

:mod:`~qscookies.protocols.wsgi` reads a WSGI environ, and
:mod:`~qscookies.protocols.asgi` an ASGI scope, as the plain
:class:`~qscookies.core.messages.Request` the core reads, and writes ASGI
messages; both read the small form of the privacy switch. The WSGI and ASGI
doors and the Django door (which runs under either handler) share them, so no
door imports another for its translation.
"""

from __future__ import annotations

from urllib.parse import parse_qs

#: At most this much of a privacy-switch form body is read.
FORM_LIMIT = 1024


def form_field(body: bytes, name: str) -> str | None:
    """One field of a small urlencoded form body (its first value)."""
    values = parse_qs(body[:FORM_LIMIT].decode("latin-1"))
    return values[name][0] if name in values else None
