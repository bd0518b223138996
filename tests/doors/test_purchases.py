"""Purchases on a real Redis: the errors a shop catches, the currencies accepted,
and an order counted once whatever promotion it is attributed to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import parse_qs

import pytest
import redis
from campaign_script import NOW
from campaign_script import shop
from werkzeug.test import Client

from qscookies import AccountError
from qscookies import CartError
from qscookies import ConfigurationError
from qscookies import CurrencyError
from qscookies import InputError
from qscookies import PurchaseError
from qscookies import QSCookies
from qscookies import StoreUnavailable
from qscookies import context
from qscookies.currencies import ISO_4217
from qscookies.embedded import RedisServer

from launchers import RedisClusterServers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment

SPRING = "qs:a:{SPRING}:d:20270301"


def checkout(
    environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """A checkout written as the README says: ``PurchaseError`` is the shop's
    own ``400``; anything else (``StoreUnavailable``) goes to the middleware."""
    qs = context(environ)
    raw = environ.get("QUERY_STRING", "")
    query = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    try:
        counted = qs.record_purchase(
            query["order"], total_cents=int(query["total"]), currency=query.get("cur")
        ).counted
    except PurchaseError as error:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [str(error).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"counted" if counted else b"not counted"]


def middleware(client: Any, app: Any = shop, **options: Any) -> QSCookies:
    """*app* (the campaign shop) wrapped over *client*, its clock frozen."""
    wrapped = QSCookies(app, secret_key="k" * 32, redis=client, **options)
    wrapped.clock = lambda: NOW  # type: ignore[method-assign]
    return wrapped


# -- the errors a shop catches ----------------------------------------------------


@pytest.mark.parametrize(
    "error", [CartError, AccountError, PurchaseError, CurrencyError]
)
def test_bad_input_errors_share_one_base(error: type[Exception]) -> None:
    assert issubclass(error, InputError)
    assert issubclass(error, ValueError)
    assert not issubclass(StoreUnavailable, InputError)


def test_an_outage_is_a_503_not_the_shops_400(fresh_redis_server: RedisServer) -> None:
    """Catching the purchase-input error never catches ``StoreUnavailable``."""
    app = QSCookies(
        checkout,
        secret_key="k" * 32,
        redis_url=fresh_redis_server.url,
        socket_timeout=0.2,
    )
    app.clock = lambda: NOW  # type: ignore[method-assign]
    browser = Client(app)
    try:
        browser.get("/?promo=SPRING")  # the landing's 303, counted
        assert browser.get("/?order=bad%0A&total=1").status_code == 400
        fresh_redis_server.stop()
        response = browser.get("/?order=A1&total=5000")
        assert response.status_code == 503
        assert "Retry-After" in response.headers
    finally:
        app.close()


@pytest.mark.parametrize(
    ("order", "total"),
    [("", "1"), ("x" * 129, "1"), ("ok", "-1"), ("4111 1111 1111 1111", "1")],
)
def test_bad_order_or_total_is_a_purchase_error(
    redis_client: redis.Redis, order: str, total: str
) -> None:
    browser = Client(middleware(redis_client, app=checkout))
    browser.get("/?promo=SPRING")
    response = browser.get("/", query_string={"order": order, "total": total})
    assert response.status_code == 400
    assert redis_client.hget(SPRING, "purchases") is None


# -- currencies ---------------------------------------------------------------------


def test_the_currencies_are_iso_4217_codes() -> None:
    assert {"EUR", "USD", "GBP", "JPY", "CHF", "XCG"} <= ISO_4217
    assert {"ZZZ", "ABC", "HRK", "eur"}.isdisjoint(ISO_4217)
    assert all(len(code) == 3 and code.isupper() for code in ISO_4217)


@pytest.mark.parametrize("bad", ["ZZZ", "QQQ", "HRK", "eur", "EURO"])
def test_a_made_up_currency_is_refused(redis_client: redis.Redis, bad: str) -> None:
    browser = Client(middleware(redis_client))
    browser.get("/?promo=SPRING")
    with pytest.raises(CurrencyError, match="active ISO 4217") as raised:
        browser.get(f"/buy?order=X&total=1&cur={bad}")
    assert raised.value.currency == bad
    assert redis_client.hgetall(SPRING).get(b"purchases") is None
    assert not [f for f in redis_client.hgetall(SPRING) if bad.encode() in f]


def test_a_made_up_currency_setting_is_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigurationError, match="currency") as raised:
        QSCookies(checkout, secret_key="k" * 32, redis=redis_client, currency="ZZZ")
    assert raised.value.setting == "currency"


def test_a_real_currency_is_counted(redis_client: redis.Redis) -> None:
    browser = Client(middleware(redis_client, currency="CHF"))
    browser.get("/?promo=SPRING")
    assert browser.get("/buy?order=C1&total=700").text == "counted"
    assert browser.get("/buy?order=C2&total=300&cur=JPY").text == "counted"
    fields = redis_client.hgetall(SPRING)
    assert fields[b"revenue_cents:CHF"] == b"700"
    assert fields[b"revenue_cents:JPY"] == b"300"


# -- once per order, across promotions ------------------------------------------------


def _buy_twice_across_promotions(client: Any, prefix: str = "qs:") -> None:
    """One 50.00 EUR order recorded under SPRING, then again after the visitor
    landed on WINTER: counted once, under SPRING."""
    browser = Client(middleware(client, key_prefix=prefix))
    browser.get("/?promo=SPRING")
    assert browser.get("/buy?order=O-1&total=5000").text == "counted"
    browser.get("/?promo=WINTER")
    assert browser.get("/").text == "WINTER"
    assert browser.get("/buy?order=O-1&total=5000").text == "not counted"
    assert browser.get("/buy?order=O-2&total=100").text == "counted"  # another order
    spring = client.hgetall(f"{prefix}a:{{SPRING}}:d:20270301")
    winter = client.hgetall(f"{prefix}a:{{WINTER}}:d:20270301")
    assert (spring[b"purchases"], spring[b"revenue_cents:EUR"]) == (b"1", b"5000")
    assert (winter[b"purchases"], winter[b"revenue_cents:EUR"]) == (b"1", b"100")


def test_an_order_counts_once_whatever_its_promotion(
    redis_client: redis.Redis,
) -> None:
    _buy_twice_across_promotions(redis_client)
    markers = redis_client.keys("qs:o:*")
    assert len(markers) == 2
    for marker in markers:
        assert b"O-1" not in marker and b"O-2" not in marker  # a keyed hash
        assert 0 < redis_client.ttl(marker) <= 400 * 86400


def test_an_order_counts_once_on_redis_cluster(
    redis_cluster: RedisClusterServers,
) -> None:
    """The marker and the counters live in two slots: set first, then counted."""
    with redis_cluster.client() as client:
        _buy_twice_across_promotions(client, prefix="orders:")


def _purchases(
    environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Answers ``record_purchase``'s result for ``/buy?order=``, as text."""
    qs = context(environ)
    if environ["PATH_INFO"] != "/buy":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(qs.promotion).encode()]
    order = parse_qs(environ["QUERY_STRING"])["order"][0]
    purchase = qs.record_purchase(order, total_cents=900)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{purchase.credited} {purchase.duplicate} {bool(purchase)}".encode()]


@pytest.mark.parametrize(
    ("landing", "first", "again"),
    [
        pytest.param(
            "/?promo=SPRING", "SPRING False True", "None True False", id="credited"
        ),
        pytest.param("/", "None False False", "None False False", id="no-promotion"),
    ],
)
def test_record_purchase_says_what_it_credited(
    redis_client: redis.Redis, landing: str, first: str, again: str
) -> None:
    """The result names the promotion credited; no promotion is no duplicate
    and no failure (the order is not recorded, so a retry is no duplicate
    either), and its truth value is whether a promotion was credited."""
    browser = Client(middleware(redis_client, app=_purchases))
    browser.get(landing)
    assert browser.get("/buy?order=P-1").text == first
    assert browser.get("/buy?order=P-1").text == again
