"""Serve the dashboard with waitress, a production WSGI server, and a clean log.

waitress (pure Python, every platform) comes with the ``dashboard`` extra::

    pip install 'qscookies[dashboard]'

waitress keeps no access log of its own; :class:`AccessLogMiddleware` writes one
line per request to the :data:`ACCESS_LOGGER` logger, in the common log format,
with the client address truncated (IPv4 to /24, IPv6 to /48, see
:func:`qscookies.privacy.truncate_ip`) and every ``token`` parameter's value
blanked (:func:`redact`). :func:`log_to_stderr` also blanks the dashboard's own
token, in any of its URL spellings, wherever it appears in any logged line
(waitress's own messages included). The application still sees the full
``REMOTE_ADDR``: the dashboard checks it against its allowed networks.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from datetime import datetime
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol
from urllib.parse import quote
from urllib.parse import quote_plus
from urllib.parse import unquote_plus

from ..errors import ConfigurationError
from ..privacy import truncate_ip
from .interrupts import Interrupts

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

#: The logger of the request log.
ACCESS_LOGGER = "qscookies.dashboard.access"

#: What a blanked value reads as in the log.
BLANK = "…"

#: The line the CLI prints when waitress is missing.
MISSING_EXTRA = (
    "serving needs waitress, from the dashboard extra:"
    " pip install 'qscookies[dashboard]'"
)

# name=value inside a URL: the name runs up to "=", the value up to the next
# separator ("&" or ";"), the end of the URL, a quote or white space.
_PARAMETER = re.compile(r"(?P<name>[^?&;=/\s\"]+)=(?P<value>[^&;\s\"#]*)")

#: How deep a percent-encoded parameter name is decoded (``%2574oken``).
_DECODE_ROUNDS = 3


class WaitressServer(Protocol):
    """What :func:`make_server` hands back: a waitress server."""

    def run(self) -> None:
        """Serve until interrupted."""

    def close(self) -> None:
        """Close the listening sockets."""


def redact(text: str) -> str:
    """Blank the value of every parameter named ``token`` in *text*.

    The name may be percent-encoded (``%74oken``, even twice), in any letter
    case, in any position of the query, after ``?``, ``&`` or ``;``; the value
    runs to the next ``&`` or ``;``. Everything else is kept as it was.

    >>> redact("GET /?since=30d&token=s3cret;x=1 HTTP/1.1")
    'GET /?since=30d&token=…;x=1 HTTP/1.1'
    """

    def blank(match: re.Match[str]) -> str:
        if _is_token_name(match["name"]):
            return f"{match['name']}={BLANK}"
        return match.group()

    return _PARAMETER.sub(blank, text)


def _is_token_name(name: str) -> bool:
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip().casefold() == "token"


def spellings(secret: str) -> list[str]:
    """Every form *secret* may take in a URL: raw, percent- and plus-encoded,
    upper- and lower-case hex; longest first, for replacing."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return sorted((form for form in forms if form), key=len, reverse=True)


class RedactingFormatter(logging.Formatter):
    """A formatter that blanks ``token`` parameters and the given secrets.

    :param secrets: strings never to be written (the dashboard's token); each
        is blanked in every URL spelling (:func:`spellings`).
    :param fmt: the ``logging`` format.
    """

    def __init__(self, secrets: Sequence[str] = (), fmt: str = "%(message)s") -> None:
        super().__init__(fmt)
        forms = {form for secret in secrets for form in spellings(secret)}
        forms |= {_escape(form) for form in forms}
        self._spellings = sorted(forms, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted line, scrubbed."""
        line = redact(super().format(record))
        for form in self._spellings:
            line = line.replace(form, BLANK)
        return line


class AccessLogMiddleware:
    """Log one line per request: truncated client address, no token.

    The line is the common log format as werkzeug writes it::

        127.0.0.0/24 - - [01/Mar/2024 10:00:00] "GET /?token=… HTTP/1.1" 303 -

    Characters that could forge a log line (control characters, quotes,
    non-ASCII) are written as ``\\xNN``.

    :param app: the application to log for.
    :param logger: where the lines go (default :data:`ACCESS_LOGGER`).
    :param clock: the time of day, for the line's date (UTC).
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        logger: logging.Logger | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        def logging_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            length = next((v for k, v in headers if k.lower() == "content-length"), "-")
            self.logger.info(self.line(environ, status.split(" ", 1)[0], length))
            return start_response(status, headers, exc_info)

        return self.app(environ, logging_start_response)

    def line(self, environ: WSGIEnvironment, status: str, length: str) -> str:
        """The log line for a request answered with *status*."""
        uri = str(
            environ.get("REQUEST_URI")
            or quote(
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                safe="/;=,@:",
            )
        )
        query = environ.get("QUERY_STRING")
        if query and "?" not in uri:
            uri += f"?{query}"
        request = " ".join(
            (
                str(environ.get("REQUEST_METHOD", "-")),
                uri,
                str(environ.get("SERVER_PROTOCOL", "-")),
            )
        )
        when = self.clock().strftime("%d/%b/%Y %H:%M:%S")
        address = truncate_ip(str(environ.get("REMOTE_ADDR", "")))
        return f'{address} - - [{when}] "{redact(_escape(request))}" {status} {length}'


def _escape(text: str) -> str:
    """*text* with every character but printable ASCII (and ``"``, ``\\``) as
    ``\\xNN`` / ``\\uNNNN``, so no request can break or forge a log line."""
    return "".join(
        char
        if " " <= char <= "~" and char not in '"\\'
        else f"\\x{ord(char):02x}"
        if ord(char) < 0x100
        else f"\\u{ord(char):04x}"
        for char in text
    )


def log_to_stderr(secrets: Sequence[str] = ()) -> None:
    """Send the request log and waitress's messages to standard error, scrubbed.

    :param secrets: strings never to be written (the dashboard's token).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    for name in (ACCESS_LOGGER, "waitress"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def require_waitress() -> None:
    """Fail early, with :data:`MISSING_EXTRA`, when waitress is not installed.

    :raises ConfigurationError: waitress cannot be imported.
    """
    try:
        import waitress  # noqa: F401
    except ImportError as error:
        raise ConfigurationError(MISSING_EXTRA) from error


def make_server(
    app: WSGIApplication, host: str, port: int, *, threads: int = 8
) -> WaitressServer:
    """A waitress server for *app* on *host*:*port*, with the access log.

    ``port=0`` picks a free port (see :func:`addresses`).

    :raises ConfigurationError: waitress is not installed (the ``dashboard``
        extra); the message says how to install it.
    :raises OSError: the address is taken.
    """
    try:
        from waitress import create_server
    except ImportError as error:
        raise ConfigurationError(MISSING_EXTRA) from error
    server: WaitressServer = create_server(
        AccessLogMiddleware(app), host=host, port=port, threads=threads
    )
    return server


def run(server: WaitressServer) -> None:
    """Serve until Ctrl-C (``SIGINT``) or ``SIGTERM``, then close the sockets.

    Call it from the main thread (it handles the signals while serving).
    """
    try:
        with Interrupts() as interrupts:
            interrupts.serve(server)
    finally:
        server.close()


def serve(
    app: WSGIApplication, host: str, port: int, *, token: str, generated: bool
) -> None:
    """Serve *app* until Ctrl-C or ``SIGTERM``, saying where on standard output.

    A *generated* token is printed, with the URL that trades it for the
    cookie; the request log on standard error never holds it.

    :raises OSError: the address is taken.
    """
    server = make_server(app, host, port)
    host, port = addresses(server)[0]
    if generated:
        print(f"generated token: {token}", flush=True)
    query = f"?token={token}" if generated else ""
    print(
        f"qscookies dashboard on {url(host, port, '/' + query)}"
        " (waitress; request log on stderr)",
        flush=True,
    )
    log_to_stderr([token])
    run(server)


def addresses(server: WaitressServer) -> list[tuple[str, int]]:
    """The ``(host, port)`` pairs *server* listens on."""
    listen = getattr(server, "effective_listen", None)
    if listen:
        return [(str(host), int(port)) for host, port in listen]
    return [(str(server.effective_host), int(server.effective_port))]  # type: ignore[attr-defined]


def url(host: str, port: int, path: str = "/") -> str:
    """``http://host:port/path``, with an IPv6 host in brackets."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"
