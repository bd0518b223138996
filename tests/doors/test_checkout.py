"""Payment returns: ``qs.cart.checkout()`` and ``record_purchase(..., paid=token)``.

Through every door of ``test_doors.py`` (WSGI, Starlette, bare ASGI) over real
HTTP, on a single Redis and on Redis Cluster: the purchase takes away only the
quantities checked out, once per order, credited to the landing's promotion,
whether the return carries our cookies or none (a payment provider's
cross-site POST); a bad token is a ``400`` that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

import served
from served import DAY
from served import NOW
from served import Served

#: The shop behind each door, over each topology (see :mod:`served`).
redis_url = served.redis_url
serve = served.serve

#: What a payment provider's return looks like: a cross-site POST.
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://pay.example"}


def counts(shop: Served) -> dict[str, int]:
    found = shop.admin.hgetall(f"door:a:{{SUMMER}}:d:{DAY}")
    return {k: int(v) for k, v in found.items() if k.startswith(("purchases", "rev"))}


def checked_out(shop: Served, browser: httpx.Client) -> dict[str, Any]:
    """A landing, two lines, a checkout in this tab and an add in another."""
    browser.get("/", params={"promo": "SUMMER"})
    browser.get("/add", params={"sku": "A", "q": "2"})
    browser.get("/add", params={"sku": "B"})
    snapshot = browser.get("/checkout").json()
    assert snapshot["lines"] == {"A": 2, "B": 1}
    with shop.browser() as tab:  # another tab of the same browser
        tab.cookies.update(browser.cookies)
        assert tab.get("/add", params={"sku": "A"}).json() == 3
        assert tab.get("/add", params={"sku": "C"}).json() == 1
    return snapshot


PURCHASED = {"purchases": 1, "purchases:EUR": 1, "revenue_cents:EUR": 500}
#: The same under the landing's (source, medium) pair, none here.
PAIRED = {"purchases@/": 1, "purchases:EUR@/": 1, "revenue_cents:EUR@/": 500}


def test_a_purchase_takes_away_only_what_was_checked_out(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        token = checked_out(shop, browser)["token"]
        order = {"order": "o-1", "total": "500", "paid": token}
        assert browser.get("/buy", params=order).json() is True
        assert browser.get("/cart").json() == {"A": 1, "C": 1}  # the other tab's
        assert browser.get("/buy", params=order).json() is False  # counted once
        assert browser.get("/cart").json() == {"A": 1, "C": 1}  # taken once
    assert counts(shop) == {**PURCHASED, **PAIRED}


def test_a_cookieless_cross_site_return_records_the_purchase(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        token = checked_out(shop, browser)["token"]
        with shop.browser() as provider:  # no cookie of ours
            order = {"order": "o-1", "total": "500", "paid": token}
            answer = provider.post("/buy", params=order, headers=CROSS_SITE)
            assert answer.status_code == 200 and answer.json() is True
            assert "set-cookie" not in answer.headers
        assert browser.get("/cart").json() == {"A": 1, "C": 1}
    assert counts(shop) == {**PURCHASED, **PAIRED}


def test_bad_tokens_are_refused_and_change_nothing(
    serve: Callable[..., Served],
) -> None:
    shop = serve(checkout_max_age=600)
    shop.at(NOW)
    with shop.browser() as browser, shop.browser() as other:
        token = checked_out(shop, browser)["token"]
        other.get("/add", params={"sku": "Z"})
        payload, _, signature = token.rpartition(".")
        forged = [
            payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature,
            token + "x",
            "junk",
            browser.cookies["qs_cart"],  # a signed value of another purpose
        ]
        for paid in forged:
            order = {"order": "o-1", "total": "500", "paid": paid}
            answer = browser.get("/buy", params=order)
            assert answer.status_code == 400, paid
            assert "checkout token" in answer.text
        mine = {"order": "o-2", "total": "500", "paid": token}
        answer = other.get("/buy", params=mine)  # another browser's cart
        assert answer.status_code == 400 and "another cart" in answer.text
        shop.at(NOW + 601)
        answer = browser.get("/buy", params={**mine, "order": "o-3"})
        assert answer.status_code == 400 and "expired" in answer.text
        assert browser.get("/cart").json() == {"A": 3, "B": 1, "C": 1}
        assert other.get("/cart").json() == {"Z": 1}
    assert counts(shop) == {}
    assert shop.keys("o:*") == []  # no order marked


def test_without_paid_the_cart_is_emptied_as_before(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        checked_out(shop, browser)
        assert browser.get("/buy", params={"order": "o-1", "total": "500"}).json()
        assert browser.get("/cart").json() == {}
