"""The three example storefronts, driven through real HTTP with cookies.

Each example (plain WSGI, Flask, Django) is served by a real server on a free port
and used by a scripted browser: promotion landing, cart, checkout, opt-out, bad
input, and Redis going away.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import datetime
from datetime import timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from browser import Browser
from browser import served
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler

from qscookies import QSCookies
from qscookies.demo.catalogue import OPTIONS
from qscookies.demo.catalogue import PROMOTION
from qscookies.demo.catalogue import STYLESHEET_PATH
from qscookies.demo.catalogue import stylesheet
from qscookies.django import QSCookiesMiddleware
from qscookies.embedded import RedisServer
from qscookies.report import PromotionCounts
from qscookies.report import PromotionReport

pytestmark = pytest.mark.slow  # starts processes of its own

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "example-tests-secret-key-0123456789"
#: The middleware's clock in every test (2027-01-15 08:00 UTC): the day keys
#: and the report's day never depend on the real date.
NOW = 1_800_000_000
SHOPS = {
    "wsgi": EXAMPLES / "wsgi_shop.py",
    "flask": EXAMPLES / "flask_shop.py",
    "django": EXAMPLES / "django_shop" / "shop.py",
}


def _example(kind: str) -> ModuleType:
    """Import an example by path, once (Django's urlconf is the module itself)."""
    name = f"qscookies_example_{kind}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SHOPS[kind])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _middleware(app: Any) -> QSCookies | None:
    """The QSCookies of an example app (Flask wraps ``app.wsgi_app``); ``None``
    for Django, whose handler keeps its middleware to itself."""
    middleware = getattr(app, "wsgi_app", app)
    return middleware if isinstance(middleware, QSCookies) else None


class Shop:
    """An example storefront being served, and a way to read its counts."""

    def __init__(self, kind: str, app: Any, base: str, redis_url: str) -> None:
        self.kind = kind
        self.app = app
        self.base = base
        self.redis_url = redis_url

    def browser(self) -> Browser:
        return Browser(self.base)

    def set_clock(self, monkeypatch: pytest.MonkeyPatch, now: float) -> None:
        """Move the middleware's clock (Django's: the class's, for this test)."""
        middleware = _middleware(self.app)
        if middleware is not None:
            middleware.clock = lambda: now
        else:
            monkeypatch.setattr(QSCookiesMiddleware, "clock", lambda self: now)

    def counts(self) -> PromotionCounts:
        today = datetime.fromtimestamp(NOW, timezone.utc).date()
        with PromotionReport(redis_url=self.redis_url) as report:
            (row,) = report.counts(since=today, until=today)
        assert row.promotion == PROMOTION
        return row


def _serve(kind: str, redis_url: str) -> Iterator[Shop]:
    app = _example(kind).create_app(secret_key=SECRET, redis_url=redis_url)
    try:
        with served(app) as base:
            yield Shop(kind, app, base, redis_url)
    finally:
        middleware = _middleware(app)
        if middleware is not None:
            middleware.close()


@pytest.fixture(params=sorted(SHOPS))
def shop(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Shop]:
    """Each example, served over the session's Redis (flushed after the test),
    its clock at :data:`NOW`."""
    request.getfixturevalue("redis_client")
    for shop in _serve(request.param, redis_server.url):
        shop.set_clock(monkeypatch, NOW)
        yield shop


def test_promotion_cart_checkout_journey(shop: Shop) -> None:
    browser = shop.browser()
    landing = browser.get(f"/?promo={PROMOTION}", follow=False)
    assert landing.status == 303
    assert landing.headers["Location"] == "/"
    page = browser.get("/")
    assert "Welcome! This is your first visit." in page.text
    assert f"Promotion {PROMOTION} applied." in page.text

    added = browser.post("/cart/add", {"sku": "TEA-01", "quantity": "2"})
    assert added.status == 200 and added.url == shop.base + "/cart"
    browser.post("/cart/add", {"sku": "MUG-02"})
    cart = browser.get("/cart")
    assert "2 &times; Green tea, 100 g" in cart.text
    assert "1 &times; Stoneware mug" in cart.text
    assert "Total: &euro;27.00" in cart.text
    assert '<a href="/cart">Cart (3)</a>' in cart.text

    order = browser.post("/checkout", {})
    assert order.status == 200
    assert "Thank you! Order <code>order-" in order.text
    assert "&euro;27.00" in order.text
    assert "Your cart is empty." in browser.get("/cart").text

    row = shop.counts()
    assert (row.landings, row.visitors, row.carts) == (1, 1, 1)
    assert (row.purchases, row.revenue_cents) == (1, 2700)


def test_the_pages_link_the_stylesheet_the_shop_serves(
    shop: Shop, redis_client: Any
) -> None:
    """The shop's own ``/static/shop.css`` (no CDN), on an excluded path: no
    cookie set, nothing written to Redis."""
    page = shop.browser().get("/")
    assert f'<link rel="stylesheet" href="{STYLESHEET_PATH}">' in page.text
    assert "Set-Cookie" in page.headers  # a page's first visit: the header we check
    before = redis_client.dbsize()
    css = Browser(shop.base).get(STYLESHEET_PATH)
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.text.encode() == stylesheet() and b"body {" in stylesheet()
    assert "Set-Cookie" not in css.headers
    assert redis_client.dbsize() == before


def test_returning_visitor_is_greeted(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = shop.browser()
    assert "This is your first visit." in browser.get("/").text
    shop.set_clock(monkeypatch, NOW + OPTIONS.get("visit_gap", 1800) + 60)
    assert "Welcome back! This is visit 2." in browser.get("/").text


def test_the_cart_follows_a_signed_in_name_between_browsers(shop: Shop) -> None:
    phone, laptop = shop.browser(), shop.browser()
    assert "Sign in" in phone.get("/").text
    phone.post("/cart/add", {"sku": "TEA-01", "quantity": "2"})
    page = phone.post("/login", {"name": "ann"})
    assert page.url == shop.base + "/cart"
    assert "Sign out" in page.text and "2 &times; Green tea" in page.text
    laptop.post("/cart/add", {"sku": "MUG-02"})
    page = laptop.post("/login", {"name": "ann"})
    assert "2 &times; Green tea" in page.text and "1 &times; Stoneware mug" in page.text
    assert "1 &times; Stoneware mug" in phone.get("/cart").text  # one cart
    page = laptop.post("/logout", {})
    assert page.url == shop.base + "/"
    assert "Sign in" in page.text and "Cart (0)" in page.text
    assert "Cart (3)" in phone.get("/").text  # still signed in there
    refused = laptop.post("/login", {"name": " "})
    assert refused.status == 400 and "Cannot sign in" in refused.text


def test_a_form_another_site_posted_is_refused(shop: Shop) -> None:
    browser = shop.browser()
    browser.post("/cart/add", {"sku": "TEA-01"})
    evil = "http://evil.example"
    for path, form in [
        ("/cart/add", {"sku": "MUG-02"}),
        ("/login", {"name": "mallory"}),
        ("/logout", {}),
        ("/checkout", {}),
    ]:
        assert browser.post(path, form, origin=evil).status == 403, path
    cart = browser.get("/cart").text
    assert "Green tea, 100 g" in cart and "Stoneware mug" not in cart


def test_opt_out_switch(shop: Shop) -> None:
    browser = shop.browser()
    page = browser.get(f"/?promo={PROMOTION}")
    assert {"qs_visitor", "qs_promo"} <= browser.cookie_names()
    assert "We use cookies to recognise your return visits" in page.text  # banner

    assert (
        browser.post("/privacy", {"choice": "out"}, origin="http://evil.example").status
        == 403
    )
    page = browser.post("/privacy", {"choice": "out"})
    assert page.url == shop.base + "/"
    assert "Tracking is off for this browser." in page.text
    assert "applied." not in page.text and "We use cookies" not in page.text
    assert browser.cookie_names() == {"qs_choice", "qs_cart"}  # the badge's cart id

    # Opted out: another landing is not counted, the cart still works.
    browser.get(f"/?promo={PROMOTION}")
    browser.post("/cart/add", {"sku": "POT-03"})
    assert "1 &times; Cast-iron teapot" in browser.get("/cart").text
    browser.post("/checkout", {})
    row = shop.counts()
    assert (row.landings, row.carts, row.purchases) == (1, 0, 0)

    page = browser.post("/privacy", {"choice": "in"})
    assert "Welcome! This is your first visit." in page.text
    assert {"qs_choice", "qs_visitor"} <= browser.cookie_names()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        pytest.param({"sku": "NOPE"}, "There is no such product.", id="unknown-sku"),
        pytest.param({}, "There is no such product.", id="no-sku"),
        pytest.param(
            {"sku": "TEA-01", "quantity": "two"},
            "The quantity must be a whole number.",
            id="quantity-not-a-number",
        ),
        pytest.param(
            {"sku": "TEA-01", "quantity": "0"},
            "The quantity must be from 1 to 99.",
            id="quantity-zero",
        ),
        pytest.param(
            {"sku": "TEA-01", "quantity": "100"},
            "The quantity must be from 1 to 99.",
            id="quantity-too-big",
        ),
    ],
)
def test_bad_add_to_cart_is_refused(
    shop: Shop, form: dict[str, str], message: str
) -> None:
    browser = shop.browser()
    page = browser.post("/cart/add", form)
    assert page.status == 400
    assert message in page.text
    assert '<a href="/cart">Cart (0)</a>' in browser.get("/cart").text


def test_wrong_method_path_and_empty_checkout(shop: Shop) -> None:
    browser = shop.browser()
    assert browser.get("/cart/add").status == 405
    assert browser.get("/checkout").status == 405
    assert browser.get("/no-such-page").status == 404
    assert browser.get("/privacy").status == 405
    empty = browser.post("/checkout", {}, follow=False)
    assert empty.status == 303
    assert empty.headers["Location"].endswith("/cart")


def test_redis_down_page_views_render_cart_gets_503(
    request: pytest.FixtureRequest, fresh_redis_server: RedisServer
) -> None:
    for kind in sorted(SHOPS):
        for shop in _serve(kind, fresh_redis_server.url):
            browser = shop.browser()
            browser.post("/cart/add", {"sku": "TEA-01"})
            assert '<a href="/cart">Cart (1)</a>' in browser.get("/").text
            fresh_redis_server.stop()
            page = browser.get("/")
            assert "Catalogue" in page.text, kind
            assert '<a href="/cart">Cart</a>' in page.text  # the badge waits
            for page in (
                browser.get("/cart"),
                browser.post("/cart/add", {"sku": "MUG-02"}),
            ):
                assert page.status == 503, kind
                assert page.headers["Retry-After"] == "5"
                assert page.text.startswith("The shop is briefly unavailable."), kind
            fresh_redis_server.start()


def test_django_example_is_djangos_own_handler_configured_by_settings() -> None:
    app = _example("django").create_app(
        secret_key=SECRET, redis_url="redis://127.0.0.1:1/0"
    )
    assert type(app) is WSGIHandler
    assert "qscookies.django.QSCookiesMiddleware" in django_settings.MIDDLEWARE
    assert django_settings.QSCOOKIES["redis_url"] == "redis://127.0.0.1:1/0"
