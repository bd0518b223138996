"""WSGI read as the core's plain request: the environ, and the privacy form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.http import raw_target
from ..core.messages import Request
from . import FORM_LIMIT
from . import form_field

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: The PEP 3333 extension key under which the context sits in the environ.
ENVIRON_KEY = "qscookies.context"


def request_from(environ: WSGIEnvironment) -> Request:
    """The plain request the core reads, from a WSGI environ.

    One lookup per field, and the raw path's common case (the request target
    as sent is the decoded path: nothing escaped) decided here, without a call.
    """
    get = environ.get
    path = get("PATH_INFO", "")
    script = get("SCRIPT_NAME", "")
    query = get("QUERY_STRING", "")
    raw_uri = get("RAW_URI") or get("REQUEST_URI")
    raw_path = script + path
    if raw_uri != raw_path or raw_path[:1] != "/" or "?" in raw_path:
        # Not the common request target: the decoded path itself, no query.
        raw_path = raw_uri.partition("?")[0] if raw_uri else ""
        if not (raw_path == script + path and raw_path.startswith("/")):
            raw_path = raw_target(script, path, query, raw_uri)[0]
    # tuple.__new__: a named tuple's own __new__ is one Python call more.
    return tuple.__new__(
        Request,
        (
            get("REQUEST_METHOD", "GET"),
            path,
            raw_path,
            query,
            get("wsgi.url_scheme") == "https",
            get("HTTP_COOKIE"),
            get("HTTP_HOST") or get("SERVER_NAME", ""),
            get("HTTP_SEC_GPC", ""),
            get("HTTP_DNT", ""),
            get("HTTP_SEC_FETCH_SITE", ""),
            get("HTTP_ORIGIN", ""),
            get("HTTP_REFERER", ""),
        ),
    )


def read_form_field(environ: WSGIEnvironment, name: str) -> str | None:
    """One field of the request's small urlencoded form body (at most
    :data:`~qscookies.protocols.FORM_LIMIT` bytes are read)."""
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), FORM_LIMIT)
    except ValueError:
        return None
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    return form_field(body, name)
