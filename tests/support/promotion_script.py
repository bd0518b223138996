"""A scripted sequence of visits, landings, carts and purchases, and its figures.

Shared by the report, CLI and dashboard tests. Every step is a real request through
:class:`~qscookies.QSCookies` (werkzeug's test ``Client`` around a tiny shop), with
the middleware's clock moved across three UTC days and past the visit gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import parse_qs

from werkzeug.test import Client

from qscookies import QSCookies
from qscookies import context
from qscookies.report import DailyCounts
from qscookies.report import PromotionCounts
from qscookies.report import SiteCounts

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment


def shop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A tiny shop: ``/cart`` adds a line, ``/buy?order=&total=`` checks out."""
    qs = context(environ)
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    body = b"ok"
    if environ["PATH_INFO"] == "/cart":
        qs.cart.add("SKU-1")
    elif environ["PATH_INFO"] == "/buy":
        counted = qs.record_purchase(
            query["order"], total_cents=int(query["total"])
        ).counted
        body = b"counted" if counted else b"not counted"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


@dataclass
class Script:
    """The middleware around :func:`shop`, with a clock the script moves."""

    app: QSCookies
    first_day: date
    now: float = 0.0

    def at(self, day: int, hour: int, minute: int = 0) -> None:
        """Move the clock to *hour*:*minute* UTC on day 1, 2 or 3 of the script."""
        moment = datetime.combine(
            self.first_day + timedelta(days=day - 1), datetime.min.time()
        ).replace(hour=hour, minute=minute, tzinfo=timezone.utc)
        self.now = moment.timestamp()

    def browser(self) -> Client:
        """A new browser (its own cookie jar)."""
        return Client(self.app)


def day(first_day: date, number: int) -> date:
    """Day *number* (1-3) of a script that starts on *first_day*."""
    return first_day + timedelta(days=number - 1)


def run(redis: Any, first_day: date, **options: Any) -> None:
    """Drive the script's requests into *redis*.

    Alice lands on SPRING on day 1, starts a cart, buys (twice the same order:
    counted once), and lands on SPRING again on day 2 (returning). Bob lands on
    SPRING on day 1 and comes back on day 2 without a code (returning), starts a
    cart and buys. Carol lands on SUMMER (via ``utm_campaign``) on day 2 and starts
    a cart; on day 3 she lands on SUMMER and then SPRING. Eve lands on WINTER on
    day 3. A junk code and an opted-out (``Sec-GPC``) landing count nothing.
    """
    script = Script(
        QSCookies(shop, secret_key="k" * 32, redis=redis, **options), first_day
    )
    script.app.clock = lambda: script.now  # type: ignore[method-assign]
    alice, bob, carol, eve, mallory, gpc = (script.browser() for _ in range(6))

    script.at(1, 10)
    assert alice.get("/?promo=SPRING").status_code == 303
    alice.get("/cart")
    script.at(1, 10, 5)
    assert alice.get("/buy?order=A1&total=1999").text == "counted"
    assert alice.get("/buy?order=A1&total=1999").text == "not counted"
    bob.get("/?promo=SPRING")
    gpc.get("/?promo=SPRING", headers={"Sec-GPC": "1"})
    mallory.get("/?promo=<script>")

    script.at(2, 10)
    alice.get("/landing?promo=SPRING")
    script.at(2, 12)
    bob.get("/")
    bob.get("/cart")
    assert bob.get("/buy?order=B1&total=500").text == "counted"
    carol.get("/?utm_campaign=SUMMER")
    carol.get("/cart")

    script.at(3, 9)
    carol.get("/?promo=SUMMER")
    script.at(3, 9, 10)
    carol.get("/?promo=SPRING")
    eve.get("/?promo=WINTER")


def expected_counts() -> list[PromotionCounts]:
    """The figures of :func:`run` over its three days, sorted by code."""
    return [
        PromotionCounts(
            "SPRING",
            4,
            3,
            3,
            2,
            2,
            2499,
            revenue_by_currency={"EUR": 2499},
            currency_purchases=2,
        ),
        PromotionCounts("SUMMER", 2, 1, 1, 1, 0, 0),
        PromotionCounts("WINTER", 1, 1, 0, 0, 0, 0),
    ]


def expected_spring_daily(first_day: date) -> list[DailyCounts]:
    """SPRING day by day in :func:`run`."""
    return [
        DailyCounts(
            day(first_day, 1), 2, 2, 0, 1, 1, 1999, {"EUR": 1999}, currency_purchases=1
        ),
        DailyCounts(
            day(first_day, 2), 1, 1, 2, 1, 1, 500, {"EUR": 500}, currency_purchases=1
        ),
        DailyCounts(day(first_day, 3), 1, 1, 1, 0, 0, 0),
    ]


def day_dict(row: DailyCounts) -> dict[str, Any]:
    """A day's figures as the JSON answers spell them: the day as YYYY-MM-DD."""
    return {**asdict(row), "day": str(row.day)}


def expected_site() -> SiteCounts:
    """The site row of :func:`run` over its three days.

    Visits: Alice, Bob and Mallory (junk code, still a visitor) on day 1; Alice
    and Bob back and Carol new on day 2; Carol back and Eve new on day 3. The
    ``Sec-GPC`` browser is not counted. Unique: Alice, Bob, Mallory, Carol, Eve;
    returning: Alice, Bob, Carol.
    """
    return SiteCounts(visits=8, visitors=5, returning=3)


def expected_site_daily() -> list[SiteCounts]:
    """The site row of :func:`run` day by day."""
    return [SiteCounts(3, 3, 0), SiteCounts(3, 3, 2), SiteCounts(2, 2, 1)]
