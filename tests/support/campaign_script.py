"""Campaign journeys shared by the campaign, CLI and dashboard tests: landings
with sources and mediums, carts and purchases in two currencies, all through
:class:`~qscookies.QSCookies` on a real Redis."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from datetime import datetime
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import parse_qs

from werkzeug.test import Client

from qscookies import QSCookies
from qscookies import context

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment

DAY = date(2027, 3, 1)
NOW = datetime(2027, 3, 1, 10, tzinfo=timezone.utc).timestamp()


def shop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """``/cart`` adds a line; ``/buy?order=&total=&currency=`` checks out."""
    qs = context(environ)
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    body = str(qs.promotion)
    if environ["PATH_INFO"] == "/cart":
        qs.cart.add("SKU-1")
    elif environ["PATH_INFO"] == "/buy":
        counted = qs.record_purchase(
            query["order"], total_cents=int(query["total"]), currency=query.get("cur")
        ).counted
        body = "counted" if counted else "not counted"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


def middleware(client: Any, **options: Any) -> QSCookies:
    app = QSCookies(shop, secret_key="k" * 32, redis=client, **options)
    app.clock = lambda: NOW  # type: ignore[method-assign]
    return app


def journeys(app: QSCookies) -> None:
    """Five browsers land on SPRING: two from the newsletter by email (one buys
    19.99 EUR), one from a partner blog (buys 5.00 USD), one with a junk source
    but a valid medium, one with no source or medium (starts a cart)."""
    ann, ben, cat, dan, eve = (Client(app) for _ in range(5))
    ann.get("/?promo=SPRING&utm_source=newsletter&utm_medium=email")
    ann.get("/cart")
    assert ann.get("/buy?order=A1&total=1999").text == "counted"
    ben.get("/?promo=SPRING&utm_source=newsletter&utm_medium=email")
    cat.get("/?promo=SPRING&utm_source=blog-a&utm_medium=partner")
    cat.get("/cart")
    assert cat.get("/buy?order=C1&total=500&cur=USD").text == "counted"
    dan.get("/?promo=SPRING&utm_source=%3Cscript%3E&utm_medium=email")
    eve.get("/?promo=SPRING")
    eve.get("/cart")
