"""The marketing dashboard: a WSGI app of its own, aggregates only.

Mount it in any WSGI server, or run it with ``qscookies dashboard``::

    app = Dashboard(redis_url="redis://localhost/0", token="a long random token")

Who may open it (an allowed network and the token, or the session cookie the
token is traded for) is :mod:`qscookies.dashboard.access`'s job; anything else
gets the same ``403``.

Routes: ``/`` (the page), ``/static/dashboard.js`` and ``/static/dashboard.css``
(served from the package, no CDN), ``/api/counts?since=&until=&top=&currency=``
(all the page shows, in one bounded answer: the top promotions by landings, the
rest summed, totals, the site row, the top promotions day by day),
``/api/counts.csv?since=&until=`` (every promotion of the range, one row each,
as a CSV download: the page's link; a revenue column per currency),
``/api/breakdown?promotion=&by=&since=&until=&currency=`` (one promotion by
source and/or medium, asked only when the page's reader picks a promotion: its
top rows, the rest summed, bounded like ``/api/counts``) and
``/api/daily?promotion=&since=&until=&currency=`` (one promotion; the page does
not use it).

Revenue and the average order are in one currency, named in each answer
(``currency``) beside the currencies that have revenue in the range
(``currencies``): the one ``?currency=`` asks for when it has data, else the
dashboard's ``currency`` (default EUR) when it has data or none has, else the
first of them, so a USD shop never reads 0.00 EUR. Any other ``?currency=``
(unknown, lower case, junk) is ignored: it never reaches Redis, whose
currencies are fields of the day hashes read whole. Each row's
``revenue_by_currency`` has every currency's, never added together.
Aggregates only, ``min_count`` applied; days as ``YYYY-MM-DD`` (or ``Nd``),
default the last 30 UTC days, at most :data:`~qscookies.report.days.MAX_DAYS`.
Every response carries a ``Content-Security-Policy`` that lets the page reach
its own origin only.
"""

from __future__ import annotations

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

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from ..errors import ConfigurationError
from ..errors import StoreError
from ..report import MAX_TOP
from ..report import DailyCounts
from ..report import PromotionReport
from ..report import Summary
from ..report.cells import check_by
from ..report.days import parse_day
from ..report.days import utc_today
from ..report.render import render_csv
from ..report.render import row_dict
from ..report.render import sort_rows
from ..store.client import open_client
from .access import COOKIE_NAME as COOKIE_NAME
from .access import DEFAULT_NETWORKS as DEFAULT_NETWORKS
from .access import FORBIDDEN_BODY as FORBIDDEN_BODY
from .access import MIN_TOKEN_LENGTH as MIN_TOKEN_LENGTH
from .access import SESSION_MAX_AGE as SESSION_MAX_AGE
from .access import Gate
from .currency import Shown
from .currency import shown_in

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "DEFAULT_NETWORKS",
    "Dashboard",
]


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

#: How many promotions the page shows one by one (the rest summed).
TOP = 20

_ASSETS = {
    "/": ("page.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("static/dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("static/dashboard.css", "text/css; charset=utf-8"),
}


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
    :param currency: the ISO 4217 currency revenue is shown in when the page
        asks for none, and this one has data in the range (or none has).
    :raises ConfigurationError: a short token, a bad network or option.

    .. versionchanged:: 0.1
        The cookie expires (``session_max_age``); it used to be good forever.

    .. versionchanged:: 0.2
        ``currency``, and the ``?currency=`` choice among the currencies with data.
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
        currency: str = "EUR",
    ) -> None:
        #: Who may ask: the networks, the token, the session cookie.
        self.gate = Gate(token, allowed_networks, session_max_age, clock)
        #: The networks a client must be in.
        self.allowed_networks = self.gate.allowed_networks
        #: Seconds a session cookie is good for.
        self.session_max_age = session_max_age
        client, self._owned = open_client(
            redis_url, redis, socket_timeout=socket_timeout
        )
        self._client = client
        self._options: dict[str, Any] = {
            "key_prefix": key_prefix,
            "min_count": min_count,
            "socket_timeout": socket_timeout,
        }
        try:
            #: The report the dashboard reads through, in its default currency.
            self.report = PromotionReport(
                redis=client, currency=currency, **self._options
            )
        except ConfigurationError:
            self.close()
            raise
        #: The currency figures are shown in unless another is asked for.
        self.currency = self.report.currency
        self._reports = {self.currency: self.report}
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
        if self._owned:
            self._client.close()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self.gate.authorize(request) or self._route(request)
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

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

    def _in(self, currency: str) -> PromotionReport:
        """The report in *currency* (an ISO 4217 code: one report each at most)."""
        report = self._reports.get(currency)
        if report is None:
            report = PromotionReport(
                redis=self._client, currency=currency, **self._options
            )
            self._reports[currency] = report
        return report

    def _shown(
        self, request: Request, read: Callable[[PromotionReport], Summary]
    ) -> Shown[Summary]:
        """A summary in the currency the request may ask for (see the module)."""
        return shown_in(
            request.args.get("currency"),
            self.currency,
            lambda currency: read(self._in(currency)),
            lambda summary: summary.totals.revenue_by_currency,
        )

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
        shown = self._shown(
            request, lambda report: report.summary(since, until, top=top)
        )
        summary = shown.figures
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "top": top,
            **shown.fields(),
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
        shown = self._shown(
            request,
            lambda report: report.summary(
                since, until, top=TOP, by=by, promotion=promotion
            ),
        )
        summary = shown.figures
        return {
            "promotion": promotion,
            "by": by,
            **shown.fields(),
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
        shown = shown_in(
            request.args.get("currency"),
            self.currency,
            lambda currency: self._in(currency).daily(promotion, since, until),
            lambda days: (code for day in days for code in day.revenue_by_currency),
        )
        days = shown.figures
        return {
            "promotion": promotion,
            **shown.fields(),
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
