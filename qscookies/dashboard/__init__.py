"""The marketing dashboard: a WSGI app of its own, aggregates only.

Mount it in any WSGI server, or run it with ``qscookies dashboard``::

    app = Dashboard(redis_url="redis://localhost/0", token="a long random token")

Every request must come from an allowed network (``REMOTE_ADDR`` only; a
``X-Forwarded-For`` header is never believed) and carry the token: as
``Authorization: Bearer <token>``, or once as ``?token=<token>``, which is traded
for an ``HttpOnly``, ``SameSite=Strict`` session cookie and a ``303`` to the same
URL without it. The cookie holds no token, only its issue time signed with a key
derived from the token (itsdangerous ``TimestampSigner``); it carries ``Max-Age``
and the server refuses it once older than ``session_max_age`` (default 12 hours),
whatever the browser does. Changing the token ends every session. Anything else
(no token, a wrong one, an expired or forged cookie, another network) gets the
same ``403``, whose body says how to get in and nothing else.

Routes: ``/`` (the page), ``/static/dashboard.js`` and ``/static/dashboard.css``
(served from the package, no CDN), ``/api/counts?since=&until=&top=`` (all the
page shows, in one bounded answer: the top promotions by landings, the rest
summed, totals, the site row, the top promotions day by day),
``/api/counts.csv?since=&until=`` (every promotion of the range, one row each,
as a CSV download: the page's link), ``/api/breakdown?promotion=&by=&since=&until=``
(one promotion by source and/or medium, asked only when the page's reader picks a
promotion: its top rows, the rest summed, bounded like ``/api/counts``) and
``/api/daily?promotion=&since=&until=`` (one promotion; the page does not use it).
Revenue is in EUR, each row's ``revenue_by_currency`` has every currency's.
Aggregates only, ``min_count`` applied; days as ``YYYY-MM-DD`` (or ``Nd``),
default the last 30 UTC days, at most :data:`~qscookies.report.days.MAX_DAYS`.
Every response carries a ``Content-Security-Policy`` that lets the page reach
its own origin only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature
from itsdangerous import TimestampSigner
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from ..errors import ConfigurationError
from ..errors import StoreError
from ..report import MAX_TOP
from ..report import DailyCounts
from ..report import PromotionReport
from ..report.cells import check_by
from ..report.days import parse_day
from ..report.days import utc_today
from ..report.render import render_csv
from ..report.render import row_dict
from ..report.render import sort_rows

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "DEFAULT_NETWORKS",
    "Dashboard",
]


#: Client networks allowed by default: loopback and the private ranges.
DEFAULT_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
)

#: Headers sent with every response, the 403s included.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}

#: Name of the cookie the ``?token=`` is traded for.
COOKIE_NAME = "qs_dashboard"

#: How many promotions the page shows one by one (the rest summed).
TOP = 20

#: The shortest token accepted.
MIN_TOKEN_LENGTH = 16

#: How long the session cookie is good for, in seconds (12 hours).
SESSION_MAX_AGE = 12 * 60 * 60

#: The body of every 403: how to get in, and nothing about why not.
FORBIDDEN_BODY = """\
403 Forbidden

This is an internal dashboard. To open it you need its access token, from
whoever runs it, and a connection from a network the dashboard allows (such as
the office network or its VPN). Then either:

  - send the token with every request, as the header
        Authorization: Bearer <token>
  - or open the address once with ?token=<token> added: the token is then
    traded for a cookie that keeps this browser in for a limited time.
"""

_SESSION_SALT = "qscookies.dashboard.session"
_SESSION_VALUE = b"marketing"

_ASSETS = {
    "/": ("page.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("static/dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("static/dashboard.css", "text/css; charset=utf-8"),
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _SessionSigner(TimestampSigner):
    """itsdangerous's ``TimestampSigner``, reading the time from *clock*."""

    def __init__(self, secret_key: bytes, clock: Callable[[], float]) -> None:
        super().__init__(secret_key, salt=_SESSION_SALT, digest_method=hashlib.sha256)
        self.clock = clock

    def get_timestamp(self) -> int:
        """Now, by the injected clock."""
        return int(self.clock())


class Dashboard:
    """The marketing dashboard WSGI app: promotion table and daily chart.

    :param redis_url: where Redis is (the dashboard owns that pool).
    :param redis: a ready client instead; its owner closes it.
    :param token: the secret every request must show, at least
        :data:`MIN_TOKEN_LENGTH` characters. Compared in constant time.
    :param allowed_networks: client networks (CIDR) that may ask at all,
        matched against ``REMOTE_ADDR``. Behind a reverse proxy that is the
        proxy's address: allow only the proxy then.
    :param key_prefix: the middleware's ``key_prefix``.
    :param min_count: suppress figures resting on fewer visitors (see
        :mod:`qscookies.report`).
    :param socket_timeout: seconds to wait for Redis.
    :param session_max_age: seconds the cookie traded for ``?token=`` is good
        for, counted from when it was issued (default 12 hours).
    :param clock: the time as POSIX seconds (default :func:`time.time`); tests
        move it to show the cookie expire.
    :raises ConfigurationError: a short token, a bad network or option.

    .. versionchanged:: 0.1
        The cookie expires (``session_max_age``); it used to be good forever.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        redis: Any = None,
        *,
        token: str,
        allowed_networks: Sequence[str] = DEFAULT_NETWORKS,
        key_prefix: str = "qs:",
        min_count: int = 0,
        socket_timeout: float = 5.0,
        session_max_age: int = SESSION_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            raise ConfigurationError(
                f"token must be a string of at least {MIN_TOKEN_LENGTH} characters"
            )
        if (
            isinstance(session_max_age, bool)
            or not isinstance(session_max_age, int)
            or session_max_age <= 0
        ):
            raise ConfigurationError(
                "session_max_age must be a positive number of seconds"
            )
        if isinstance(allowed_networks, str):
            raise ConfigurationError("allowed_networks must be a list of networks")
        try:
            networks = [ipaddress.ip_network(net) for net in allowed_networks]
        except ValueError as error:
            raise ConfigurationError(f"allowed_networks: {error}") from error
        #: The networks a client must be in.
        self.allowed_networks: tuple[Network, ...] = tuple(networks)
        #: The report the dashboard reads through.
        self.report = PromotionReport(
            redis_url=redis_url,
            redis=redis,
            key_prefix=key_prefix,
            min_count=min_count,
            socket_timeout=socket_timeout,
        )
        #: Seconds a session cookie is good for.
        self.session_max_age = session_max_age
        self._token = token.encode()
        self._signer = _SessionSigner(self._token, clock)
        self._handlers: dict[str, Callable[[Request], Response | dict[str, Any]]] = {
            "/api/counts": self._counts,
            "/api/counts.csv": self._counts_csv,
            "/api/breakdown": self._breakdown,
            "/api/daily": self._daily,
        }
        package = resources.files(__package__)
        self._assets = {
            path: (package.joinpath(name).read_bytes(), mimetype)
            for path, (name, mimetype) in _ASSETS.items()
        }

    def __repr__(self) -> str:
        return f"<Dashboard networks={len(self.allowed_networks)}>"

    def close(self) -> None:
        """Close the Redis pool, if the dashboard opened it."""
        self.report.close()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self._authorize(request) or self._route(request)
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    # -- access ------

    def _authorize(self, request: Request) -> Response | None:
        """``None`` when the request may pass, else the response to send."""
        if not self._address_allowed(request.remote_addr):
            return _forbidden()
        offered = request.args.get("token")
        if offered is not None:
            if request.method not in ("GET", "HEAD") or not self._token_ok(offered):
                return _forbidden()
            return self._trade_token(request)
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._token_ok(bearer.strip()):
            return None
        if self._session_ok(request.cookies.get(COOKIE_NAME, "")):
            return None
        return _forbidden()

    def _session_ok(self, cookie: str) -> bool:
        """Whether *cookie* was issued by us, less than the max age ago."""
        if not cookie:
            return False
        try:
            value = self._signer.unsign(cookie, max_age=self.session_max_age)
        except (BadSignature, UnicodeError):
            return False
        return hmac.compare_digest(value, _SESSION_VALUE)

    def _address_allowed(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.allowed_networks)

    def _token_ok(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._token)

    def _trade_token(self, request: Request) -> Response:
        """Answer ``?token=`` with the cookie and a ``303`` to the clean URL."""
        query = [
            (name, value)
            for name, value in request.args.items(multi=True)
            if name != "token"
        ]
        location = (request.script_root + request.path) or "/"
        if query:
            location += "?" + urlencode(query)
        response = Response(status=303, headers={"Location": location})
        response.set_cookie(
            COOKIE_NAME,
            self._signer.sign(_SESSION_VALUE).decode(),
            max_age=self.session_max_age,
            path=request.script_root or "/",
            secure=request.scheme == "https",
            httponly=True,
            samesite="Strict",
        )
        return response

    # -- pages and data ------

    def _route(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _json({"error": "method not allowed"}, 405)
        if not request.environ.get("PATH_INFO"):  # mounted, asked without the "/"
            return Response(status=308, headers={"Location": request.script_root + "/"})
        asset = self._assets.get(request.path)
        if asset:
            body, mimetype = asset
            return Response(body, content_type=mimetype)
        handler = self._handlers.get(request.path)
        if handler is None:
            return _json({"error": "not found"}, 404)
        try:
            answer = handler(request)
        except ConfigurationError as error:
            return _json({"error": str(error)}, 400)
        except StoreError as error:
            return _json({"error": str(error)}, 503)
        return answer if isinstance(answer, Response) else _json(answer)

    def _counts(self, request: Request) -> dict[str, Any]:
        """Everything the page shows, in one bounded answer.

        The top promotions (``top``, default :data:`TOP`, at most
        :data:`~qscookies.report.MAX_TOP`), the rest summed, the totals, the
        site row and the top promotions day by day: at most ``top`` rows and
        ``top`` × 400 days of series, whatever the number of codes. Two Redis
        round trips (three with ``min_count``).
        """
        since, until = _range(request)
        top = _top(request.args.get("top"))
        summary = self.report.summary(since, until, top=top)
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "top": top,
            "rows": [row_dict(row) for row in summary.rows],
            "rest": row_dict(summary.rest) if summary.rest else None,
            "rest_codes": summary.rest_codes,
            "totals": row_dict(summary.totals),
            "site": asdict(summary.site),
            "daily": {
                code: [_day_dict(row) for row in rows]
                for code, rows in summary.daily.items()
            },
        }

    def _breakdown(self, request: Request) -> dict[str, Any]:
        """One promotion by source and/or medium (``by``, default
        ``source_medium``): at most :data:`TOP` rows, the rest summed, the
        totals. Asked only on demand; two Redis round trips (three with
        ``min_count``), whatever the number of pairs.
        """
        since, until = _range(request)
        promotion = request.args.get("promotion", "")
        by = check_by(request.args.get("by") or "source_medium")
        summary = self.report.summary(since, until, top=TOP, by=by, promotion=promotion)
        return {
            "promotion": promotion,
            "by": by,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "rows": [row_dict(row, breakdown=True) for row in summary.rows],
            "rest": row_dict(summary.rest) if summary.rest else None,
            "rest_rows": summary.rest_codes,
            "totals": row_dict(summary.totals),
        }

    def _counts_csv(self, request: Request) -> Response:
        """Every promotion of the range as a CSV download, one row each.

        The aggregates of :meth:`PromotionReport.counts` (``min_count``
        applied), sorted like the page's table (landings, ties by code),
        written by :func:`~qscookies.report.render.render_csv` as the CLI's
        ``--csv``. The round trips of ``/api/counts`` (two, three with
        ``min_count``); at most one row per code the day indexes admitted in
        the range.
        """
        since, until = _range(request)
        rows = sort_rows(self.report.counts(since, until), "landings")
        name = f"promotions-{since}-{until}.csv"
        return Response(
            render_csv(rows),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def _daily(self, request: Request) -> dict[str, Any]:
        since, until = _range(request)
        promotion = request.args.get("promotion", "")
        days = self.report.daily(promotion, since, until)
        return {
            "promotion": promotion,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "days": [_day_dict(row) for row in days],
        }


def _top(text: str | None) -> int:
    if text is None:
        return TOP
    if not text.isdigit() or not 1 <= int(text) <= MAX_TOP:
        raise ConfigurationError(f"top must be a whole number from 1 to {MAX_TOP}")
    return int(text)


def _day_dict(row: DailyCounts) -> dict[str, Any]:
    return {**asdict(row), "day": row.day.isoformat()}


def _range(request: Request) -> tuple[date, date]:
    today = utc_today()
    since = parse_day(request.args.get("since") or "30d", today)
    until = parse_day(request.args.get("until") or "1d", today)
    return since, until


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _forbidden() -> Response:
    return Response(FORBIDDEN_BODY, status=403, mimetype="text/plain")
