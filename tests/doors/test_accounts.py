"""Accounts: carts that follow the customer, through every door and topology.

The journeys of PRODUCT.md "Accounts", over real HTTP (the shops and fixtures of
``test_doors.py``: 3 doors × a single Redis and a Redis Cluster), and the race
of adds with a sign-in made deterministic by pausing a sign-in between its
round trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from werkzeug.test import Client

from qscookies import QSCookies as WSGIQSCookies
from qscookies import scripts
from qscookies.store.client import connect

import served
from served import NOW
from served import Served
from shop import SECRET
from shop import get_json
from shop import shop as wsgi_shop

#: The shop behind each door, over each topology (see :mod:`served`).
redis_url = served.redis_url
serve = served.serve

ALICE = "alice@example.com"
CUSTOMERS = (ALICE, "Ålice Müller", "c-000042")


def cart_cookie(browser: httpx.Client) -> dict[str, str]:
    """The browser's cart cookie, to copy into another browser."""
    return {"qs_cart": browser.cookies["qs_cart"]}


def login(browser: httpx.Client, customer: str = ALICE, merge: str = "add") -> Any:
    answer = browser.get("/login", params={"customer": customer, "merge": merge})
    assert answer.status_code == 200, answer.text
    return answer.json()


def carts(shop: Served) -> list[str]:
    return shop.keys("c:*")


def test_two_devices_of_one_customer_see_one_cart(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as phone, shop.browser() as laptop:
        phone.get("/add", params={"sku": "A", "q": "2"})
        assert login(phone) == {"signed_in": True, "cart": {"A": 2}}
        laptop.get("/add", params={"sku": "B"})
        assert login(laptop) == {"signed_in": True, "cart": {"A": 2, "B": 1}}
        phone.get("/add", params={"sku": "C"})
        assert laptop.get("/cart").json() == phone.get("/cart").json()
        assert laptop.get("/cart").json() == {"A": 2, "B": 1, "C": 1}
        assert laptop.get("/account").json() is True
    (cart,) = carts(shop)  # both anonymous carts were merged and deleted
    assert cart.startswith("door:c:{u:")
    assert 30 * 86400 < shop.admin.ttl(cart) <= 90 * 86400  # customer_cart_max_age


@pytest.mark.parametrize(
    ("policy", "check"),
    [
        pytest.param(
            "add",
            lambda cart: (
                cart["A"] == 5  # 4 + 3, capped at max_quantity
                and cart["B"] == 1
                and len(cart) == 3  # max_cart_lines: one of C and D left out
                and len({"C", "D"} & set(cart)) == 1
            ),
            id="add",
        ),
        pytest.param(
            "replace", lambda cart: cart == {"A": 3, "C": 1, "D": 1}, id="replace"
        ),
        pytest.param("keep", lambda cart: cart == {"A": 4, "B": 1}, id="keep"),
    ],
)
def test_each_merge_policy_within_the_caps(
    serve: Callable[..., Served], policy: str, check: Callable[[dict[str, int]], bool]
) -> None:
    shop = serve(max_quantity=5, max_cart_lines=3)
    shop.at(NOW)
    with shop.browser() as phone, shop.browser() as laptop:
        phone.get("/add", params={"sku": "A", "q": "4"})
        phone.get("/add", params={"sku": "B"})
        login(phone)
        for sku, quantity in (("A", "3"), ("C", "1"), ("D", "1")):
            laptop.get("/add", params={"sku": sku, "q": quantity})
        merged = login(laptop, merge=policy)["cart"]
        assert check(merged), merged
        assert phone.get("/cart").json() == merged
    assert len(carts(shop)) == 1  # the anonymous cart is gone, whatever the policy


def test_a_cookie_captured_before_sign_in_reaches_nothing_after(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as victim:
        victim.get("/add", params={"sku": "A"})
        planted = cart_cookie(victim)  # what an attacker planted or copied
        login(victim)
        assert cart_cookie(victim) != planted  # the cart cookie is new
        victim.get("/add", params={"sku": "AFTER"})
        with httpx.Client(base_url=shop.url, cookies=planted) as attacker:
            assert attacker.get("/account").json() is False
            assert attacker.get("/cart").json() == {}  # reads nothing
            attacker.get("/add", params={"sku": "EVIL"})  # writes elsewhere
            attacker.get("/set", params={"sku": "AFTER", "q": "9"})
            attacker.get("/remove", params={"sku": "A"})
            attacker.get("/clear")
        assert victim.get("/cart").json() == {"A": 1, "AFTER": 1}


def test_logout_forget_and_purchase_while_signed_in(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as phone, shop.browser() as laptop:
        phone.get("/add", params={"sku": "A"})
        login(phone)
        # "replace" without an anonymous cart keeps the customer's
        assert login(laptop, merge="replace")["cart"] == {"A": 1}
        assert laptop.get("/logout").json() is False
        assert laptop.get("/account").json() is False
        assert laptop.get("/cart").json() == {}  # a fresh anonymous cart
        assert len(carts(shop)) == 1  # the customer's cart stays
        assert login(laptop)["cart"] == {"A": 1}  # back at the next sign-in
        # a purchase empties the customer's cart; the browser stays signed in
        assert (
            laptop.get("/buy", params={"order": "o-1", "total": "100"}).json() is False
        )
        assert laptop.get("/account").json() is True
        assert phone.get("/cart").json() == {}
        phone.get("/add", params={"sku": "B"})
        assert laptop.get("/cart").json() == {"B": 1}
        # forget() erases the customer's cart, on every device, and signs out
        assert laptop.get("/forget").status_code == 200
        assert laptop.get("/account").json() is False
        assert phone.get("/cart").json() == {}
    assert carts(shop) == []


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"customer": ""}, id="empty"),
        pytest.param({"customer": "x" * 129}, id="too-long"),
        pytest.param({"customer": "al\tice"}, id="not-printable"),
        pytest.param({"customer": ALICE, "merge": "sum"}, id="unknown-merge"),
    ],
)
def test_a_bad_login_is_a_clear_error_and_changes_nothing(
    serve: Callable[..., Served], query: dict[str, str]
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        browser.get("/add", params={"sku": "A"})
        before = cart_cookie(browser)
        answer = browser.get("/login", params=query)
        assert answer.status_code == 400
        assert "customer_id" in answer.text or "merge must be one of" in answer.text
        assert cart_cookie(browser) == before
        assert browser.get("/cart").json() == {"A": 1}
        assert browser.get("/account").json() is False
    assert len(carts(shop)) == 1


def _race(
    shop: Served, cookies: dict[str, str], skus: list[str]
) -> tuple[set[str], dict[str, str]]:
    """Add each sku with *cookies* while a browser with them signs in, at once.

    Threads on the WSGI door, tasks on the ASGI doors. Answers the skus whose
    add was acknowledged, and the signed-in browser's cart cookie.
    """
    half = len(skus) // 2
    query = {"customer": ALICE}
    if isinstance(shop.middleware, WSGIQSCookies):
        adder = httpx.Client(base_url=shop.url, cookies=cookies)
        signing_in = httpx.Client(base_url=shop.url, cookies=cookies)

        def add(sku: str) -> str | None:
            answer = adder.get("/add", params={"sku": sku})
            return sku if answer.status_code == 200 else None

        with adder, signing_in, ThreadPoolExecutor(max_workers=8) as pool:
            before = [pool.submit(add, sku) for sku in skus[:half]]
            signed = pool.submit(signing_in.get, "/login", params=query)
            after = [pool.submit(add, sku) for sku in skus[half:]]
            acknowledged = {f.result() for f in before + after}
            return {sku for sku in acknowledged if sku}, _cart_set(signed.result())

    async def race() -> tuple[set[str], dict[str, str]]:
        async with (
            httpx.AsyncClient(base_url=shop.url, cookies=cookies) as adder,
            httpx.AsyncClient(base_url=shop.url, cookies=cookies) as signing_in,
        ):

            async def add(sku: str) -> str | None:
                answer = await adder.get("/add", params={"sku": sku})
                return sku if answer.status_code == 200 else None

            tasks = [add(sku) for sku in skus]
            signed = signing_in.get("/login", params=query)
            done = await asyncio.gather(*tasks[:half], signed, *tasks[half:])
            acknowledged = {sku for sku in done if isinstance(sku, str)}
            return acknowledged, _cart_set(done[half])  # type: ignore[arg-type]

    return asyncio.run(race())


def _cart_set(answer: httpx.Response) -> dict[str, str]:
    """The cart cookie a successful answer set."""
    assert answer.status_code == 200, answer.text
    return {"qs_cart": answer.cookies["qs_cart"]}


def test_adds_racing_with_login_are_neither_lost_nor_doubled(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    for round_ in range(2):
        with shop.browser() as browser:
            browser.get("/add", params={"sku": "FIRST"})
            anonymous = cart_cookie(browser)
        skus = [f"R{round_}-{n:02d}" for n in range(24)]
        acknowledged, signed_in = _race(shop, anonymous, skus)
        assert acknowledged == set(skus)
        with (
            httpx.Client(base_url=shop.url, cookies=signed_in) as customer_browser,
            httpx.Client(base_url=shop.url, cookies=anonymous) as late,
        ):
            customer = customer_browser.get("/cart").json()
            after_merge = late.get("/cart").json()  # the cart of later adds
            assert not set(customer) & set(after_merge)  # none doubled
            assert set(customer) | set(after_merge) == acknowledged | {"FIRST"}
            assert "FIRST" in customer
            assert all(n == 1 for n in (customer | after_merge).values())
            customer_browser.get("/forget")


def test_redis_holds_no_customer_id(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    for customer in CUSTOMERS:
        with shop.browser() as phone, shop.browser() as laptop:
            phone.get("/", params={"promo": "SUMMER"})
            phone.get("/add", params={"sku": "A"})
            login(phone, customer)
            login(laptop, customer, merge="replace")
            laptop.get("/add", params={"sku": "B"})
            laptop.get("/buy", params={"order": f"o-{customer}", "total": "100"})
            phone.get("/add", params={"sku": "C"})
    keys = _every_key(shop.admin)
    assert len(keys) > 5
    for key in keys:
        value = shop.admin.dump(key)
        for customer in CUSTOMERS:
            for form in (customer.encode(), customer.encode("latin-1", "replace")):
                assert form not in key.encode() + value, key
    customer_carts = [key for key in keys if key.startswith("door:c:{u:")]
    assert len(customer_carts) == len(CUSTOMERS)


def _every_key(admin: Any) -> list[str]:
    """Every key of the server, or of every primary of the cluster (superuser)."""
    if isinstance(admin, redis.RedisCluster):
        nodes = admin.get_primaries()
        return [
            key
            for node in nodes
            for key in admin.scan_iter(count=1000, target_nodes=node)
        ]
    return list(admin.scan_iter(count=1000))


# -- the race, made deterministic: a sign-in paused between its round trips ------


@pytest.fixture
def paused_login(redis_url: tuple[str, bool]) -> Iterator[Callable[..., Any]]:
    """``paused_login(during)``: the WSGI shop whose sign-in calls *during()*
    right after its first round trip (the atomic take on a cluster, the whole
    merge on a single Redis), or before it (``before=True``)."""
    url, cluster = redis_url
    client = connect(url, socket_timeout=2.0, cluster=cluster)
    app = WSGIQSCookies(wsgi_shop, secret_key=SECRET, redis=client)
    app.clock = lambda: NOW

    def make(during: Callable[[], None], *, before: bool = False) -> WSGIQSCookies:
        store = app._store
        send = store.send

        def paused(commands: Any, durable: str | None = None) -> list[Any]:
            merging = commands[0].script in (scripts.CART_TAKE, scripts.LOGIN)
            if merging and before:
                during()
            replies = send(commands, durable)
            if merging and not before:
                during()
            return replies

        store.send = paused  # type: ignore[method-assign]
        return app

    yield make
    client.close()


@pytest.mark.parametrize("before", [True, False], ids=["add-before", "add-after"])
def test_an_add_racing_with_login_lands_exactly_once(
    paused_login: Callable[..., WSGIQSCookies], before: bool
) -> None:
    raced: list[Client] = []

    def add() -> None:
        assert get_json(raced[0], "/add?sku=RACER") == 1  # acknowledged

    app = paused_login(add, before=before)
    browser = Client(app)
    get_json(browser, "/add?sku=A&q=2")
    racer = Client(app)
    racer.set_cookie("qs_cart", browser.get_cookie("qs_cart").value)  # type: ignore[union-attr]
    raced.append(racer)
    get_json(browser, f"/login?customer={ALICE}")
    customer = get_json(browser, "/cart")
    after_merge = get_json(racer, "/cart")
    if before:  # merged once into the customer's cart
        assert (customer, after_merge) == ({"A": 2, "RACER": 1}, {})
    else:  # in the anonymous cart started after the merge, not the customer's
        assert (customer, after_merge) == ({"A": 2}, {"RACER": 1})
