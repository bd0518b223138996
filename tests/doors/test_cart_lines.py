"""Cart lines with options, through every door of ``test_doors.py``.

WSGI, Starlette and bare ASGI over real HTTP, on a single Redis and on Redis
Cluster: a line is a sku and its options (``/add?opt.<key>=``), the same
options in any order make one line, other options another; every refusal is a
``CartError`` (a ``400`` in the shops) that stores nothing; a checkout pays
only for its lines, whatever another tab added meanwhile, with or without our
cookies on the return; the lines' hash holds one entry per line and goes with
the cart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_checkout import CROSS_SITE
from test_checkout import counts

from qscookies.core.lines import canonical_options
from qscookies.core.lines import line_id

import served
from served import NOW
from served import Served

redis_url = served.redis_url
serve = served.serve

ADA = {"opt.engraving": "Ada", "opt.wrap": "gift"}
#: The same options, given in another order.
ADA_AGAIN = {"opt.wrap": "gift", "opt.engraving": "Ada"}
BOB = {"opt.engraving": "Bob"}


def mug(**options: str) -> str:
    """The line id of a mug with *options*."""
    return line_id("MUG", canonical_options(options, 5))


MUG_ADA = mug(engraving="Ada", wrap="gift")
MUG_BOB = mug(engraving="Bob")


def add(browser: httpx.Client, sku: str, q: int = 1, **options: str) -> Any:
    answer = browser.get("/add", params={"sku": sku, "q": str(q), **options})
    return answer.json() if answer.status_code == 200 else answer


def cart_keys(shop: Served) -> list[str]:
    """The keys of carts: quantities, lines and write markers."""
    return shop.keys("c:*") + shop.keys("l:*") + shop.keys("w:*")


def lines_hash(shop: Served) -> dict[str, str]:
    (key,) = shop.keys("l:*")
    return shop.admin.hgetall(key)  # type: ignore[no-any-return]


def test_same_options_in_any_order_are_one_line_other_options_another(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        assert add(browser, "TEA", 2) == 2
        assert add(browser, "MUG", **ADA) == 1
        assert add(browser, "MUG", 2, **ADA_AGAIN) == 3  # the same line
        assert add(browser, "MUG", **BOB) == 1  # another line
        assert add(browser, "MUG") == 1  # a mug without options: a third
        assert browser.get("/cart").json() == {
            "TEA": 2,
            MUG_ADA: 3,
            MUG_BOB: 1,
            "MUG": 1,
        }
        assert browser.get("/lines").json() == [  # in the order first added
            {"line_id": "TEA", "sku": "TEA", "quantity": 2, "options": {}},
            {
                "line_id": MUG_ADA,
                "sku": "MUG",
                "quantity": 3,
                "options": {"engraving": "Ada", "wrap": "gift"},
            },
            {
                "line_id": MUG_BOB,
                "sku": "MUG",
                "quantity": 1,
                "options": {"engraving": "Bob"},
            },
            {"line_id": "MUG", "sku": "MUG", "quantity": 1, "options": {}},
        ]
        assert browser.get("/set", params={"sku": MUG_ADA, "q": "5"}).json() == 5
        browser.get("/remove", params={"sku": MUG_BOB})
        assert browser.get("/cart").json() == {"TEA": 2, MUG_ADA: 5, "MUG": 1}
    assert set(lines_hash(shop)) == {"", "TEA", MUG_ADA, "MUG"}  # one per line
    cart, lines = shop.keys("c:*")[0], shop.keys("l:*")[0]
    assert 0 < shop.admin.pttl(lines) <= shop.admin.pttl(cart) + 1000


def test_an_option_less_cart_reads_as_before(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        add(browser, "A", 2)
        add(browser, "B")
        browser.get("/set", params={"sku": "C", "q": "4"})  # set starts a line
        assert browser.get("/cart").json() == {"A": 2, "B": 1, "C": 4}
        assert [line["line_id"] for line in browser.get("/lines").json()] == [
            "A",
            "B",
            "C",
        ]
    (cart,) = shop.keys("c:*")
    assert shop.admin.hgetall(cart) == {"A": "2", "B": "1", "C": "4"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"opt.engraving": "4111 1111 1111 1111"}, "card", id="card"),
        pytest.param({"opt.note": "4111-1111-1111-1111"}, "card", id="card-dashes"),
        pytest.param({"opt.engraving": "x" * 129}, "at most 128", id="too-long"),
        pytest.param({"opt.engraving": "Ada\n"}, "printable", id="not-printable"),
        pytest.param({"opt.Engraving": "Ada"}, "option key", id="capital-key"),
        pytest.param({"opt.{x}": "Ada"}, "option key", id="key-with-braces"),
        pytest.param({"opt." + "k" * 33: "Ada"}, "option key", id="key-too-long"),
        pytest.param(
            {f"opt.k{n}": "v" for n in range(3)}, "at most 2 options", id="too-many"
        ),
    ],
)
def test_a_bad_option_is_a_cart_error_that_stores_nothing(
    serve: Callable[..., Served], params: dict[str, str], message: str
) -> None:
    shop = serve(max_line_options=2)
    shop.at(NOW)
    with shop.browser() as browser:
        answer = add(browser, "MUG", **params)
        assert answer.status_code == 400 and message in answer.text
    assert cart_keys(shop) == []


def test_caps_hold_and_each_refusal_is_a_cart_error(
    serve: Callable[..., Served],
) -> None:
    shop = serve(max_cart_items=5, max_cart_lines=3)
    shop.at(NOW)
    with shop.browser() as browser:
        assert add(browser, "MUG", 3, **ADA) == 3
        refused = add(browser, "MUG", 3, **BOB)
        assert refused.status_code == 400 and "at most 5 items" in refused.text
        assert add(browser, "MUG", 2, **ADA_AGAIN) == 5  # up to the bound
        over = browser.get("/set", params={"sku": MUG_ADA, "q": "6"})
        assert over.status_code == 400 and "at most 5 items" in over.text
        assert browser.get("/set", params={"sku": MUG_ADA, "q": "1"}).json() == 1
        add(browser, "MUG", **BOB)
        add(browser, "TEA")
        third = add(browser, "MUG", **{"opt.engraving": "Cy"})
        assert third.status_code == 400 and "at most 3 lines" in third.text
        assert browser.get("/cart").json() == {MUG_ADA: 1, MUG_BOB: 1, "TEA": 1}
        # A sku shaped like a line id with options, or a bad line id: refused.
        shaped = add(browser, "MUG~abcdefgh")
        assert shaped.status_code == 400 and "line id" in shaped.text
        for bad in ("", " MUG", "x" * 129 + "~abcdefgh", "4111111111111111"):
            answer = browser.get("/set", params={"sku": bad, "q": "1"})
            assert answer.status_code == 400, bad
            assert browser.get("/remove", params={"sku": bad}).status_code == 400
        # A line with options that is not there is not started by set.
        gone = mug(engraving="Zed")
        assert browser.get("/set", params={"sku": gone, "q": "2"}).json() == 0
        assert browser.get("/cart").json() == {MUG_ADA: 1, MUG_BOB: 1, "TEA": 1}
    assert len(lines_hash(shop)) == 4  # three lines and the sequence


def test_two_tabs_the_purchase_takes_only_the_paid_lines(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        browser.get("/", params={"promo": "SUMMER"})
        add(browser, "MUG", 2, **ADA)
        add(browser, "TEA")
        snapshot = browser.get("/checkout").json()
        assert snapshot["lines"] == {MUG_ADA: 2, "TEA": 1}
        assert [line["options"] for line in snapshot["details"]] == [
            {"engraving": "Ada", "wrap": "gift"},
            {},
        ]
        with shop.browser() as tab:  # another tab, while the customer pays
            tab.cookies.update(browser.cookies)
            assert add(tab, "MUG", **ADA_AGAIN) == 3
            assert add(tab, "MUG", **BOB) == 1
        order = {"order": "o-1", "total": "500", "paid": snapshot["token"]}
        assert browser.get("/buy", params=order).json() is True
        assert browser.get("/cart").json() == {MUG_ADA: 1, MUG_BOB: 1}
        assert browser.get("/buy", params=order).json() is False  # once
        assert browser.get("/cart").json() == {MUG_ADA: 1, MUG_BOB: 1}
        assert [line["sku"] for line in browser.get("/lines").json()] == ["MUG"] * 2
    assert set(lines_hash(shop)) == {"", MUG_ADA, MUG_BOB}
    assert counts(shop)["purchases"] == 1


def test_a_cookieless_return_empties_what_was_paid_for(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        browser.get("/", params={"promo": "SUMMER"})
        add(browser, "MUG", **ADA)
        add(browser, "MUG", 2, **BOB)
        token = browser.get("/checkout").json()["token"]
        with shop.browser() as provider:  # no cookie of ours, cross-site
            order = {"order": "o-1", "total": "900", "paid": token}
            answer = provider.post("/buy", params=order, headers=CROSS_SITE)
            assert answer.status_code == 200 and answer.json() is True
            assert "set-cookie" not in answer.headers
        assert browser.get("/cart").json() == {}
        assert browser.get("/lines").json() == []
    assert cart_keys(shop) == []
    assert counts(shop)["revenue_cents:EUR"] == 900


def test_forget_and_a_purchase_without_paid_erase_the_lines_hash(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        add(browser, "MUG", **ADA)
        browser.get("/buy", params={"order": "o-1", "total": "1"})
        assert shop.keys("l:*") == []
        add(browser, "MUG", **ADA)
        browser.get("/clear")
        assert shop.keys("l:*") == []
        add(browser, "MUG", **BOB)
        browser.get("/forget")
    assert cart_keys(shop) == []


def login(browser: httpx.Client, merge: str = "add") -> Any:
    answer = browser.get("/login", params={"customer": "alice", "merge": merge})
    return answer.json()["cart"]


def test_login_merges_by_line_within_the_caps(serve: Callable[..., Served]) -> None:
    shop = serve(max_cart_items=6)
    shop.at(NOW)
    with shop.browser() as laptop, shop.browser() as phone:
        add(laptop, "MUG", 2, **ADA)
        add(laptop, "TEA")
        assert login(laptop) == {MUG_ADA: 2, "TEA": 1}
        add(phone, "MUG", **ADA_AGAIN)  # the same line, anonymous on the phone
        add(phone, "MUG", 3, **BOB)  # past the items cap once merged
        assert login(phone) == {MUG_ADA: 3, "TEA": 1, MUG_BOB: 2}
        lines = phone.get("/lines").json()
        assert [line["line_id"] for line in lines] == [MUG_ADA, "TEA", MUG_BOB]
        assert lines[2]["options"] == {"engraving": "Bob"}
    (customer,) = shop.keys("l:*")
    assert customer.startswith("door:l:{u:")  # the anonymous lines went
    assert 30 * 86400 < shop.admin.ttl(customer) <= 90 * 86400


def test_write_markers_are_kept_by_line(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        for _ in range(2):  # a re-sent add: applied once
            assert add(browser, "MUG", id="w-1", **ADA) == 1
        assert add(browser, "MUG", id="w-1", **BOB) == 1  # another line
        assert browser.get("/cart").json() == {MUG_ADA: 1, MUG_BOB: 1}


def test_distinct_options_cannot_grow_a_cart_past_its_lines(
    serve: Callable[..., Served],
) -> None:
    shop = serve(max_cart_lines=5)
    shop.at(NOW)
    with shop.browser() as browser:
        answers = [add(browser, "MUG", **{"opt.n": str(n)}) for n in range(12)]
    assert answers[:5] == [1] * 5
    assert all(answer.status_code == 400 for answer in answers[5:])
    assert len(lines_hash(shop)) == 6  # five lines and the sequence
    assert len(cart_keys(shop)) == 2  # the cart and its lines
