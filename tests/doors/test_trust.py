"""Trust under faults and races: cart and consent cookies that cannot be subverted.

Issue 22, over real HTTP through every door and topology of ``test_doors.py``:
a cookie planted beside ours (cookie tossing), concurrent first adds, and
sign-in and sign-out racing with requests that started before them.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

import served
from served import NOW
from served import Served
from shop import HOLD
from shop import Hold

#: The shop behind each door, over each topology (see :mod:`served`).
redis_url = served.redis_url
serve = served.serve


class TossedBrowser:
    """A browser holding our host-only cookie *and* one planted beside it.

    Over plain HTTP a sibling subdomain can set ``qs_cart`` (or ``qs_choice``)
    with ``Domain=`` or a longer ``Path``; the browser then sends both, the
    planted one first. This browser keeps its own value as a browser would
    (replaced by each ``Set-Cookie``, dropped by ``Max-Age=0``) and always sends
    the planted one first.
    """

    def __init__(self, shop: Served, name: str, planted: str) -> None:
        self.shop = shop
        self.name = name
        self.planted = planted
        self.own: str | None = None

    def get(self, path: str, **params: str) -> httpx.Response:
        pairs = [f"{self.name}={self.planted}"]
        if self.own is not None:
            pairs.append(f"{self.name}={self.own}")
        answer = httpx.get(
            self.shop.url + path,
            params=params,
            headers={"Cookie": "; ".join(pairs)},
            timeout=10,
        )
        for header in answer.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == self.name:
                value = rest.split(";", 1)[0]
                self.own = None if "Max-Age=0" in header else value
        return answer


def issued(shop: Served, path: str, name: str, **params: str) -> str:
    """The value of cookie *name* a fresh browser gets from *path*."""
    with shop.browser() as browser:
        return browser.get(path, params=params).cookies[name]


# -- 5. cookie tossing ------


def test_a_planted_cart_cookie_never_wins_over_ours(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    mine = issued(shop, "/add", "qs_cart", sku="MINE")
    planted = issued(shop, "/add", "qs_cart", sku="EVIL")  # the attacker's cart
    victim = TossedBrowser(shop, "qs_cart", planted)
    victim.own = mine  # ours was there first: neither outranks the other
    assert victim.get("/cart").json() == {}  # ambiguous: the planted one unread
    assert victim.get("/account").json() is False
    victim.get("/add", sku="NEW")  # a fresh cart, whose cookie outranks both
    victim.get("/add", sku="MORE")
    assert victim.get("/cart").json() == {"NEW": 1, "MORE": 1}
    # sign-in merges ours, never the planted cart, and sticks
    signed = victim.get("/login", customer="victim@example.com").json()
    assert signed == {"signed_in": True, "cart": {"NEW": 1, "MORE": 1}}
    assert victim.get("/account").json() is True
    assert victim.get("/cart").json() == {"NEW": 1, "MORE": 1}
    # sign-out leaves a fresh cart, never the planted one
    victim.get("/logout")
    assert victim.own is not None
    assert victim.get("/cart").json() == {}
    with httpx.Client(base_url=shop.url, cookies={"qs_cart": planted}) as attacker:
        assert attacker.get("/cart").json() == {"EVIL": 1}  # untouched, unmerged


def test_a_sign_in_outlives_a_planted_cart_cookie(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    planted = issued(shop, "/add", "qs_cart", sku="EVIL")
    victim = TossedBrowser(shop, "qs_cart", planted)  # holds nothing of ours
    victim.get("/login", customer="victim@example.com")
    assert victim.own is not None
    assert victim.get("/account").json() is True  # the planted one sent first
    victim.get("/add", sku="AFTER")
    with httpx.Client(base_url=shop.url, cookies={"qs_cart": planted}) as attacker:
        assert "AFTER" not in attacker.get("/cart").json()


def test_a_planted_yes_never_overrides_the_visitors_no(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    planted = issued(shop, "/choice", "qs_choice", c="in")
    victim = TossedBrowser(shop, "qs_choice", planted)
    assert victim.get("/choice").json() == "in"  # alone, it is the choice
    victim.get("/choice", c="out")
    assert victim.get("/choice").json() == "out"
    assert "qs_visitor" not in victim.get("/").cookies


# -- 4. first adds fired at once ------


def cookie_header(browser: httpx.Client) -> dict[str, str]:
    """The ``Cookie`` header the browser sends now."""
    pairs = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    return {"Cookie": pairs}


def test_two_first_adds_fired_at_once_land_in_one_cart(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        assert browser.get("/badge").json() == {}  # the page with the add buttons
        held = cookie_header(browser)  # what both adds carry: neither answered yet

        def add(sku: str) -> httpx.Response:
            return httpx.get(
                shop.url + "/add", params={"sku": sku}, headers=held, timeout=10
            )

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(add, ["A", "B"]))
        for answer in answers:
            assert answer.status_code == 200
            browser.cookies.update(answer.cookies)
        assert browser.get("/cart").json() == {"A": 1, "B": 1}
    assert len(shop.keys("c:*")) == 1


# -- 1. sign-in and sign-out win over requests that started before them ------


@pytest.fixture
def hold() -> Iterator[Hold]:
    """The hold of ``/add?hold=1``, released at teardown whatever happened."""
    HOLD[0] = Hold()
    yield HOLD[0]
    HOLD[0].release.set()


def held_add(browser: httpx.Client, hold: Hold, during: Callable[[], None]) -> None:
    """An add from *browser* held after its write while *during()* runs (with
    the same browser's cookies), then answered and its cookies kept."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(browser.get, "/add", params={"sku": "HELD", "hold": "1"})
        assert hold.reached.wait(10)
        during()
        hold.release.set()
        assert held.result().status_code == 200


def test_a_sign_out_wins_over_an_add_that_started_before_it(
    serve: Callable[..., Served], hold: Hold
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        browser.get("/login", params={"customer": "alice@example.com"})

        def sign_out() -> None:
            assert browser.get("/logout").json() is False

        held_add(browser, hold, sign_out)
        assert browser.get("/account").json() is False  # still signed out
        assert browser.get("/cart").json() == {}


def test_a_sign_in_wins_over_an_add_that_started_before_it(
    serve: Callable[..., Served], hold: Hold
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        browser.get("/add", params={"sku": "FIRST"})

        def sign_in() -> None:
            answer = browser.get("/login", params={"customer": "alice@example.com"})
            assert answer.json()["signed_in"] is True

        held_add(browser, hold, sign_in)
        assert browser.get("/account").json() is True  # still signed in
        assert browser.get("/cart").json() == {"FIRST": 1, "HELD": 1}  # merged


# -- 2. a sign-out that sticks ------


def holding(shop: Served, value: str) -> httpx.Client:
    """A browser given a copy of a cart cookie, which it then keeps as browsers
    do (replaced and dropped by our answers)."""
    browser = shop.browser()
    browser.cookies.set("qs_cart", value, domain=httpx.URL(shop.url).host)
    return browser


def test_sign_out_everywhere_ends_every_copy_of_a_signed_in_cookie(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as phone, shop.browser() as laptop:
        phone.get("/add", params={"sku": "A"})
        phone.get("/login", params={"customer": "alice@example.com"})
        laptop.get("/login", params={"customer": "alice@example.com"})
        copied = phone.cookies["qs_cart"]
        assert phone.get("/logout", params={"everywhere": "1"}).json() is False
        with holding(shop, copied) as thief:
            read = thief.get("/cart")  # every cart read checks the generation
            assert read.json() == {}
            assert thief.get("/account").json() is False  # and dropped the cookie
        for path, params in [
            ("/add", {"sku": "EVIL"}),
            ("/set", {"sku": "A", "q": "9"}),
            ("/remove", {"sku": "A"}),
            ("/clear", {}),
        ]:  # each on a fresh copy: none reaches the customer's cart
            with holding(shop, copied) as thief:
                assert thief.get(path, params=params).status_code == 200, path
                assert thief.get("/account").json() is False, path
        assert laptop.get("/cart").json() == {}  # signed out there too
        assert laptop.get("/account").json() is False
        again = phone.get("/login", params={"customer": "alice@example.com"})
        assert again.json() == {"signed_in": True, "cart": {"A": 1}}  # cart kept
        phone.get("/add", params={"sku": "B"})
        assert phone.get("/cart").json() == {"A": 1, "B": 1}


def test_a_copied_signed_in_cookie_does_not_renew_itself(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as phone:
        phone.get("/login", params={"customer": "alice@example.com"})
        copied = phone.cookies["qs_cart"]
        phone.get("/logout")
    with holding(shop, copied) as thief:
        for day in range(0, 89, 7):  # a write every week
            shop.at(NOW + day * 86400)
            assert thief.get("/add", params={"sku": f"D{day}"}).status_code == 200
        shop.at(NOW + 90 * 86400 + 1)  # customer_cart_max_age after the sign-in
        assert thief.get("/account").json() is False


# -- 3. cross-site requests ------

#: What a browser sends with a form another site posts (no SameSite=Lax cookie).
CROSS_SITE = [
    pytest.param(
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        id="sec-fetch-site",
    ),
    pytest.param({"Origin": "https://evil.example"}, id="origin-only"),
]


def aggregates(shop: Served) -> dict[str, Any]:
    """Every aggregate key of the shop and what it holds."""
    found: dict[str, Any] = {}
    for key in shop.keys("a:*"):
        kind = shop.admin.type(key)
        found[key] = shop.admin.hgetall(key) if kind == "hash" else kind
    return found


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_cross_site_form_never_overwrites_the_cart_cookie(
    serve: Callable[..., Served], headers: dict[str, str]
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as victim:
        victim.get("/add", params={"sku": "MINE"})
        victim.get("/login", params={"customer": "alice@example.com"})
        victim.get("/choice", params={"c": "out"})
        counted = aggregates(shop)
        # the attacker's auto-submitted form: the browser sends none of our cookies
        with shop.browser() as form:
            forced = form.post("/add", params={"sku": "EVIL"}, headers=headers)
            page = form.post("/", headers=headers)
        assert forced.status_code == 403
        assert "cross-site" in forced.text
        for answer in (forced, page):
            assert "set-cookie" not in answer.headers  # nothing overwritten
        assert aggregates(shop) == counted  # the opted-out visitor is not counted
        assert victim.get("/account").json() is True
        assert victim.get("/cart").json() == {"MINE": 1}
    assert not [key for key in shop.keys("c:*") if "{u:" not in key]


def test_a_same_origin_form_starts_a_cart(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        same = {"Sec-Fetch-Site": "same-origin", "Origin": shop.url}
        assert browser.post("/add", params={"sku": "A"}, headers=same).json() == 1
        assert browser.get("/cart").json() == {"A": 1}
