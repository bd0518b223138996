"""Cart validation, limits and atomicity over a real Redis."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from werkzeug.test import Client

from qscookies import CartError
from qscookies import HeadersSentError
from qscookies import context
from qscookies.core.lines import check_sku

from shop import get_json
from shop import wrap


@pytest.mark.parametrize(
    "sku",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param(" padded", id="leading-space"),
        pytest.param("tab\there", id="control-char"),
        pytest.param("line\nbreak", id="newline"),
        pytest.param("4111111111111111", id="visa-test-number"),
        pytest.param("4111 1111 1111 1111", id="card-with-spaces"),
        pytest.param("CARD-5500-0000-0000-0004", id="card-with-dashes"),
        pytest.param(17, id="not-text"),
        pytest.param(None, id="none"),
    ],
)
def test_bad_skus_are_refused(sku: Any) -> None:
    with pytest.raises(CartError):
        check_sku(sku)


@pytest.mark.parametrize(
    "sku",
    [
        "SKU-1",
        "x" * 128,
        "Tasse « Café » 250 ml",
        "4111111111111112",
        "12345678901234567890",
    ],
)
def test_good_skus_pass(sku: str) -> None:
    assert check_sku(sku) == sku


def _cart_app(action: Any) -> Any:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        action(context(environ).cart)
        start_response("200 OK", [])
        return [b""]

    return app


@pytest.mark.parametrize(
    ("action", "message"),
    [
        pytest.param(lambda c: c.add("A", 0), "from 1", id="add-zero"),
        pytest.param(lambda c: c.add("A", -1), "from 1", id="add-negative"),
        pytest.param(lambda c: c.add("A", 1.5), "int", id="add-float"),
        pytest.param(lambda c: c.add("A", True), "int", id="add-bool"),
        pytest.param(lambda c: c.add("A", "2"), "int", id="add-str"),
        pytest.param(lambda c: c.set("A", -1), "from 0", id="set-negative"),
        pytest.param(lambda c: c.set("A", 1000), "to 999", id="set-over-max"),
        pytest.param(lambda c: c.add("A", 1000), "to 999", id="add-over-max"),
    ],
)
def test_bad_quantities_raise_cart_error(
    redis_client: redis.Redis, action: Any, message: str
) -> None:
    client = Client(wrap(redis_client, app=_cart_app(action)))
    with pytest.raises(CartError, match=message):
        client.get("/")
    assert redis_client.keys("qs:c:*") == []


def test_adding_past_the_max_quantity_changes_nothing(
    redis_client: redis.Redis,
) -> None:
    client = Client(wrap(redis_client, max_quantity=5))
    assert get_json(client, "/add?sku=A&q=4") == 4
    with pytest.raises(CartError, match="at most 5"):
        client.get("/add?sku=A&q=2")
    assert get_json(client, "/cart") == {"A": 4}


def test_max_cart_lines(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client, max_cart_lines=2))
    get_json(client, "/add?sku=A")
    get_json(client, "/add?sku=B")
    assert get_json(client, "/add?sku=A") == 2  # an existing line still grows
    with pytest.raises(CartError, match="at most 2 lines"):
        client.get("/add?sku=C")
    assert get_json(client, "/cart") == {"A": 2, "B": 1}


def test_set_zero_removes_the_line(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client))
    get_json(client, "/add?sku=A")
    assert get_json(client, "/set?sku=A&q=0") == 0
    assert get_json(client, "/cart") == {}


def test_set_zero_on_no_cart_creates_nothing(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client))
    response = client.get("/set?sku=A&q=0")
    assert "qs_cart" not in response.headers.get("Set-Cookie", "")
    assert redis_client.keys("qs:c:*") == []


def test_fifty_concurrent_adds_end_with_fifty(redis_client: redis.Redis) -> None:
    app = wrap(redis_client)
    first = Client(app)
    get_json(first, "/add?sku=HOT&q=1")
    cookie = first.get_cookie("qs_cart")
    assert cookie
    barrier = threading.Barrier(49)
    errors: list[BaseException] = []

    def add_one() -> None:
        client = Client(app)
        client.set_cookie("qs_cart", cookie.value)
        barrier.wait()
        try:
            get_json(client, "/add?sku=HOT")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=add_one) for _ in range(49)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert get_json(first, "/cart") == {"HOT": 50}


def test_cart_key_expires_with_the_cookie(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client, cart_max_age=3600))
    get_json(client, "/add?sku=A")
    (key,) = redis_client.keys("qs:c:*")
    assert 3590 < redis_client.ttl(key) <= 3600
    cookie = client.get_cookie("qs_cart")
    assert cookie and cookie.expires is not None


def test_first_cart_write_after_headers_is_loud(redis_client: redis.Redis) -> None:
    def streaming(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        yield b"page "
        context(environ).cart.add("LATE")
        yield b"end"

    client = Client(wrap(redis_client, app=streaming))
    with pytest.raises(HeadersSentError):
        client.get("/").get_data()
    assert redis_client.keys("qs:c:*") == []


def test_existing_cart_can_be_written_while_streaming(
    redis_client: redis.Redis,
) -> None:
    def streaming(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        yield b"page "
        yield str(context(environ).cart.add("A")).encode()

    app = wrap(redis_client)
    client = Client(app)
    get_json(client, "/add?sku=A")
    app.app = streaming
    assert client.get("/").data == b"page 2"
