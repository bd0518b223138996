"""The plain values a door hands the request core, and the answers it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import NamedTuple

Headers = list[tuple[str, str]]


class Request(NamedTuple):
    """What the rules read of a request, as plain text (a door builds it).

    A named tuple: built on every request, it costs a third of a frozen
    dataclass.
    """

    #: ``GET``, ``POST``…
    method: str
    #: The decoded path (``PATH_INFO``), for excluded paths and the privacy route.
    path: str
    #: The path as the client sent it, still percent-encoded.
    raw_path: str
    #: The raw query string, without ``?``.
    query: str
    #: The request came over HTTPS.
    https: bool
    #: The ``Cookie`` header (bytes as latin-1), or ``None``.
    cookie: str | None = None
    #: The ``Host`` header.
    host: str = ""
    #: ``Sec-GPC``, ``DNT``, ``Sec-Fetch-Site``, ``Origin`` and ``Referer``.
    sec_gpc: str = ""
    dnt: str = ""
    fetch_site: str = ""
    origin: str = ""
    referer: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A response the middleware gives itself, without the application."""

    #: The status code, e.g. ``303`` (see :func:`reason` for a status line).
    status: int
    headers: Headers
    body: bytes = b""


def reason(status: int) -> str:
    """The reason phrase of *status* (``"See Other"``), empty for an unknown code.

    Only a door that writes status lines (WSGI, Django) needs it.
    """
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


UNAVAILABLE_BODY = b"The shop is briefly unavailable. Please try again shortly.\n"


#: The headers of an answer without a body.
EMPTY: Headers = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", "0"),
    ("Cache-Control", "no-store"),
]


def refusal(status: int, why: str, headers: Headers | None = None) -> Answer:
    """An answer of ours that says why in a short plain-text body.

    :param status: the status code, e.g. ``403``.
    :param why: the reason, one line of text.
    :param headers: more headers (``Allow``), after the framing ones.
    """
    body = f"{reason(status)}: {why}\n".encode()
    return Answer(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *(headers or []),
        ],
        body,
    )
