"""Cross-site requests in real headless Chromium (issue 22).

The shop is a Flask app written as the README's (its add route, its checkout and
payment return, CSRF-checked with ``qs.cross_site``), served on
``http://127.0.0.1:<port>``; the attacker's and the payment provider's pages are
on ``http://localhost:<port>``, another *site* to the browser, so it sends none
of our ``SameSite=Lax`` cookies with their auto-submitted form POSTs. The
middleware's clock is pinned to ``NOW``; every wait is an explicit
``WebDriverWait`` or the promise of a script.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from datetime import timezone
from html import escape
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlencode

import chromium as headless
import pytest
import redis
from browser import served
from flask import Flask
from flask import request
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from qscookies import CartError
from qscookies import CrossSiteError
from qscookies import PurchaseError
from qscookies.embedded import RedisServer
from qscookies.flask import QSCookies
from qscookies.flask import qs
from qscookies.report import PromotionReport

from served import NOW

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment

#: The headless Chromium driver (the fixture of chromium.py).
chromium = headless.chromium
pytestmark = [headless.needs_chromium, pytest.mark.slow, pytest.mark.browser]

SECRET = "cross-site-browser-secret-0123456789"
#: The UTC day of ``NOW``, for the report.
DAY = datetime.fromtimestamp(NOW, timezone.utc).date()
PROMOTION = "SUMMER24"
PRICES = {"TEA-01": 650, "MUG-02": 1400, "POT-03": 4900}
#: The shop's own refusal of a form another site posted (the README's).
REFUSED = "refused"
#: How long a page or a script may take (generous: one core is busy elsewhere).
WAIT = 20


def make_shop(redis_url: str) -> Flask:
    """The README's Flask shop: a cart badge, adds, checkout, the payment return."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SECRET,
        QSCOOKIES_REDIS_URL=redis_url,
        QSCOOKIES_PRIVACY_PATH="/privacy",
    )
    QSCookies(app)

    @app.get("/")
    def home() -> str:
        # The badge reads the cart: a fresh browser gets its cart id here.
        quantity = sum(qs.cart.items().values())
        return (
            f"<!doctype html><title>Tea shop</title><p id=badge>Cart ({quantity})</p>"
            '<form method="post" action="/privacy">'
            '<button id="opt-out" name="choice" value="out">No tracking</button>'
            "</form>"
        )

    def add(guarded: bool) -> tuple[str, int]:
        if guarded and qs.cross_site:  # CSRF: a form another site posted
            return REFUSED, 403
        try:
            sku, quantity = request.form["sku"], int(request.form.get("quantity", 1))
            return f"{qs.cart.add(sku, quantity)} in your cart", 200
        except CrossSiteError as error:  # the route forgot the check: the core's
            return str(error), 403
        except (KeyError, ValueError, CartError) as error:
            return str(error), 400

    app.add_url_rule(
        "/cart/add", "add", add, methods=["POST"], defaults={"guarded": True}
    )
    # The same route without its same-origin check: the core is its only guard.
    app.add_url_rule(
        "/cart/add-unguarded",
        "add_unguarded",
        add,
        methods=["POST"],
        defaults={"guarded": False},
    )

    @app.get("/cart")
    def cart() -> dict[str, int]:
        return qs.cart.items()

    @app.get("/account")
    def account() -> dict[str, bool]:
        return {"signed_in": qs.signed_in}

    @app.post("/login")
    def login() -> tuple[str, int]:
        if qs.cross_site:
            return REFUSED, 403
        qs.login(request.form["name"])
        return "signed in", 200

    @app.post("/checkout")
    def checkout() -> tuple[dict[str, Any] | str, int]:
        if qs.cross_site:
            return REFUSED, 403
        snapshot = qs.cart.checkout()
        total = sum(PRICES[sku] * n for sku, n in snapshot.lines.items())
        return {"order": "A-1001", "total": total, "token": snapshot.token}, 200

    @app.post("/payment/return")  # the provider's: with or without our cookies
    def payment_return() -> tuple[str, int]:
        form = request.form
        try:
            qs.record_purchase(
                form["order"], total_cents=int(form["total"]), paid=form["token"]
            )
        except (KeyError, ValueError, PurchaseError) as error:
            return str(error), 400
        return "thank you", 200

    app.extensions["qscookies"].clock = lambda: NOW
    return app


def other_site(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
    """Another site's page: a form that posts itself at once to ``?to=`` with
    the other query fields (an attacker's trap, or a provider's return)."""
    fields = Request(environ).args.to_dict()
    action = fields.pop("to")
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )
    page = (
        f'<!doctype html><form method="post" action="{escape(action)}">{inputs}'
        "</form><script>document.forms[0].submit()</script>"
    )
    return Response(page, mimetype="text/html")(environ, start_response)


class Sites:
    """The shop and the other site, served, and the browser visiting them."""

    def __init__(
        self, driver: Any, app: Flask, shop: str, other: str, admin: redis.Redis
    ) -> None:
        self.driver = driver
        self.middleware = app.extensions["qscookies"]
        self.shop = shop
        self.other = other
        self.admin = admin

    def open(self, path: str) -> None:
        """Navigate to a page of the shop."""
        self.driver.get(self.shop + path)

    def post(self, path: str, **fields: str) -> tuple[int, str]:
        """A same-origin ``fetch`` POST from the shop page open in the tab."""
        return tuple(
            self.driver.execute_async_script(
                "const [path, fields, done] = arguments;"
                "fetch(path, {method: 'POST', body: new URLSearchParams(fields)})"
                ".then(async r => done([r.status, await r.text()]),"
                " e => done([0, String(e)]));",
                path,
                fields,
            )
        )

    def read(self, path: str) -> Any:
        """The JSON a same-origin ``fetch`` GET of *path* answers."""
        return self.driver.execute_async_script(
            "const [path, done] = arguments;"
            "fetch(path).then(r => r.json()).then(done, e => done(String(e)));",
            path,
        )

    def cookies(self) -> dict[str, str]:
        """The shop's cookies as the browser holds them (the tab is on the shop)."""
        assert self.driver.current_url.startswith(self.shop + "/")
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}

    def cart_id(self) -> str | None:
        """The cart the browser's cart cookie names (read by the shop's codec)."""
        settings = self.middleware.settings
        value = self.cookies().get(settings.cart_cookie)
        return self.middleware.codec.load_cart(value, NOW, settings.cart_max_age)

    def cross_site(self, path: str, **fields: str) -> tuple[int, str]:
        """Open the other site's page posting *fields* to the shop's *path*.

        :return: the status and the text of the shop's answer, as shown.
        """
        target = self.shop + path
        self.driver.get_log("performance")  # drain: only this post's below
        self.driver.get(f"{self.other}/?{urlencode({'to': target, **fields})}")
        WebDriverWait(self.driver, WAIT).until(
            lambda d: (
                d.current_url == target
                and d.execute_script("return document.readyState") == "complete"
            )
        )
        (sent,) = headless.exchanges(self.driver, target)
        # What makes it cross-site: the browser sent none of our cookies.
        assert sent.headers["sec-fetch-site"] == "cross-site"
        assert "cookie" not in sent.headers
        return sent.status, self.driver.find_element(By.TAG_NAME, "body").text

    def everything(self) -> dict[bytes, bytes]:
        """Every key of the shop's Redis and its serialized value."""
        return {key: self.admin.dump(key) for key in self.admin.keys("*")}

    def report(self) -> PromotionReport:
        return PromotionReport(redis=self.admin)


@pytest.fixture
def sites(
    chromium: Any, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[Sites]:
    app = make_shop(redis_server.url)
    try:
        with served(app) as shop, served(other_site) as other:
            # 127.0.0.1 and localhost: two sites (SameSite), not only two origins.
            yield Sites(
                chromium,
                app,
                shop,
                other.replace("127.0.0.1", "localhost"),
                redis_client,
            )
    finally:
        app.extensions["qscookies"].close()


# -- a. a cross-site form against a signed-in browser ------


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        pytest.param("/cart/add", REFUSED, id="route-checks-cross-site"),
        pytest.param(
            "/cart/add-unguarded",
            "a cross-site form cannot change the cart",
            id="route-forgot-the-check",
        ),
    ],
)
def test_a_cross_site_form_leaves_a_signed_in_cart_alone(
    sites: Sites, path: str, refusal: str
) -> None:
    sites.open(f"/?promo={PROMOTION}")
    assert sites.post("/cart/add", sku="TEA-01") == (200, "1 in your cart")
    assert sites.post("/login", name="alice@example.com") == (200, "signed in")
    sites.driver.get_log("performance")
    sites.open("/")
    (own,) = headless.exchanges(sites.driver, sites.shop + "/")
    assert "qs_cart=" in own.headers["cookie"]  # the shop's own pages get them
    cookies = sites.cookies()
    held = sites.everything()

    status, text = sites.cross_site(f"{path}?promo=EVIL24", sku="MUG-02")
    assert sites.everything() == held  # nothing counted, no cart started
    assert sites.cookies() == cookies  # the signed-in cart cookie untouched
    assert status == 403 and refusal in text
    assert sites.read("/account") == {"signed_in": True}
    assert sites.read("/cart") == {"TEA-01": 1}


# -- b. the payment provider's cross-site return ------


def test_a_cross_site_payment_return_pays_for_what_was_checked_out(
    sites: Sites,
) -> None:
    driver = sites.driver
    sites.open(f"/?promo={PROMOTION}")
    assert driver.current_url == sites.shop + "/"  # the landing's 303
    sites.post("/cart/add", sku="TEA-01", quantity="2")
    sites.post("/cart/add", sku="MUG-02")
    status, paying = sites.post("/checkout")
    assert status == 200
    order = driver.execute_script("return JSON.parse(arguments[0])", paying)
    assert order["total"] == 2 * 650 + 1400
    shop_tab = driver.current_window_handle

    driver.switch_to.new_window("tab")  # another tab, while the customer pays
    sites.open("/")
    assert sites.post("/cart/add", sku="TEA-01") == (200, "3 in your cart")
    assert sites.post("/cart/add", sku="POT-03") == (200, "1 in your cart")
    cookies = sites.cookies()

    driver.switch_to.new_window("tab")  # the provider sends the customer back
    fields = {name: str(value) for name, value in order.items()}
    for _ in range(2):  # a return sent twice (a reload) takes the lines once
        assert sites.cross_site("/payment/return", **fields) == (200, "thank you")
        assert sites.cookies() == cookies  # the return sets no cookie of ours
        (row,) = sites.report().counts(since=DAY, until=DAY)
        assert (row.promotion, row.purchases) == (PROMOTION, 1)
        assert row.revenue_cents == order["total"]

    driver.switch_to.window(shop_tab)
    sites.open("/")
    assert sites.read("/cart") == {"TEA-01": 1, "POT-03": 1}  # the other tab's


# -- c. first adds fired at once from a fresh browser ------

ADDS = 10
TRIALS = 5


def test_first_adds_fired_at_once_land_in_one_cart(sites: Sites) -> None:
    driver = sites.driver
    for trial in range(TRIALS):
        sites.open("/")
        driver.delete_all_cookies()  # a fresh browser
        sites.open("/")  # the page reads the cart: its id comes with it
        issued = sites.cart_id()
        assert issued is not None
        skus = [f"T{trial}-{n}" for n in range(ADDS)]
        answers = driver.execute_async_script(
            "const [skus, done] = arguments;"
            "Promise.all(skus.map(sku => fetch('/cart/add',"
            " {method: 'POST', body: new URLSearchParams({sku})})"
            ".then(async r => [r.status, await r.text()])))"
            ".then(done, e => done(String(e)));",
            skus,
        )
        assert answers == [[200, "1 in your cart"]] * ADDS
        assert sites.cart_id() == issued
        assert sites.read("/cart") == dict.fromkeys(skus, 1)
        assert len(sites.admin.keys("qs:c:*")) == trial + 1  # one cart per trial


# -- d. an opted-out visitor ------


def test_an_opted_out_visitor_is_not_counted_by_a_cross_site_post(
    sites: Sites,
) -> None:
    driver = sites.driver
    sites.open("/")  # tracked (opt-out mode): one visit
    driver.find_element(By.ID, "opt-out").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.get_cookie("qs_choice"))
    cookies = sites.cookies()
    assert "qs_visitor" not in cookies
    held = sites.everything()

    status, text = sites.cross_site(f"/cart/add?promo={PROMOTION}", sku="TEA-01")
    assert sites.everything() == held  # no visit, no landing, no cart
    assert sites.cookies() == cookies  # still "out", no visitor cookie
    assert (status, text) == (403, REFUSED)
    assert sites.report().counts(since=DAY, until=DAY) == []
    assert sites.report().site(DAY, DAY).visits == 1
