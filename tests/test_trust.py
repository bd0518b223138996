"""Trust under faults and races: cart and consent cookies that cannot be subverted.

Issue 22, over real HTTP through every door and topology of ``test_doors.py``:
a cookie planted beside ours (cookie tossing), concurrent first adds, and
sign-in and sign-out racing with requests that started before them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import test_doors
from test_doors import NOW
from test_doors import Served

#: The shop behind each door, over each topology (the fixtures of test_doors).
redis_url = test_doors.redis_url
serve = test_doors.serve


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
    planted = issued(shop, "/add", "qs_cart", sku="EVIL")  # the attacker's cart
    victim = TossedBrowser(shop, "qs_cart", planted)
    # alone, it cannot be told from ours: the victim's first add lands there,
    # and its answer renews the cookie host-only, beside the planted one
    assert victim.get("/cart").json() == {"EVIL": 1}
    shop.at(NOW + 60)
    victim.get("/add", sku="LOST")
    assert victim.own is not None
    # from then on the two values are ambiguous: the planted cart is not read
    assert victim.get("/cart").json() == {}
    victim.get("/add", sku="MINE")  # a fresh cart, whose cookie outranks both
    victim.get("/add", sku="MORE")
    assert victim.get("/cart").json() == {"MINE": 1, "MORE": 1}
    # sign-in merges ours, never the planted cart, and sticks
    signed = victim.get("/login", customer="victim@example.com").json()
    assert signed == {"signed_in": True, "cart": {"MINE": 1, "MORE": 1}}
    assert victim.get("/account").json() is True
    assert victim.get("/cart").json() == {"MINE": 1, "MORE": 1}
    # sign-out leaves a fresh cart, never the planted one
    victim.get("/logout")
    assert victim.own is not None
    assert victim.get("/cart").json() == {}
    with httpx.Client(base_url=shop.url, cookies={"qs_cart": planted}) as attacker:
        assert attacker.get("/cart").json() == {"EVIL": 1, "LOST": 1}  # unmerged


def test_two_planted_values_without_ours_are_ambiguous_and_read_nothing(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    mine = issued(shop, "/add", "qs_cart", sku="MINE")
    planted = issued(shop, "/add", "qs_cart", sku="EVIL")
    victim = TossedBrowser(shop, "qs_cart", planted)
    victim.own = mine  # ours was there first: neither outranks the other
    assert victim.get("/cart").json() == {}
    assert victim.get("/account").json() is False
    victim.get("/add", sku="NEW")  # a fresh cart, outranking both
    assert victim.get("/cart").json() == {"NEW": 1}
    assert victim.get("/login", customer="victim@example.com").json()["cart"] == {
        "NEW": 1
    }


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
