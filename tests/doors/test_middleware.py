"""The middleware end to end over a real Redis: cookies, visits, promotions."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from itsdangerous import Signer
from werkzeug.http import parse_cookie
from werkzeug.test import Client

from qscookies import ConfigurationError
from qscookies import PurchaseError
from qscookies import QSCookies
from qscookies import QSCookiesError
from qscookies import context
from qscookies.codec import CookieCodec
from qscookies.codec import VisitorState

from shop import SECRET
from shop import get_json
from shop import shop
from shop import wrap

NOW = 1_800_000_000


@pytest.fixture
def app(redis_client: redis.Redis) -> QSCookies:
    middleware = wrap(redis_client)
    middleware.clock = lambda: NOW
    return middleware


def set_cookies(response: Any) -> dict[str, str]:
    """The cookies a response sets, name -> full Set-Cookie value."""
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def cookie_value(client: Client, name: str) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


# -- plain WSGI and Flask: a cart across requests ------------------------------------


def test_plain_wsgi_cart_round_trip(app: QSCookies) -> None:
    client = Client(app)
    assert get_json(client, "/add?sku=SKU-1&q=2") == 2
    assert get_json(client, "/add?sku=SKU-1") == 3
    assert get_json(client, "/add?sku=SKU-2") == 1
    assert get_json(client, "/cart") == {"SKU-1": 3, "SKU-2": 1}
    assert get_json(client, "/set?sku=SKU-1&q=1") == 1
    get_json(client, "/remove?sku=SKU-2")
    assert get_json(client, "/cart") == {"SKU-1": 1}
    get_json(client, "/clear")
    assert get_json(client, "/cart") == {}


def test_flask_cart_round_trip(redis_client: redis.Redis) -> None:
    flask = pytest.importorskip("flask")
    flask_app = flask.Flask(__name__)

    @flask_app.post("/cart/<sku>")
    def add(sku: str) -> Any:
        quantity = context(flask.request.environ).cart.add(sku)
        return {"quantity": quantity}

    @flask_app.get("/cart")
    def show() -> Any:
        return context(flask.request.environ).cart.items()

    flask_app.wsgi_app = wrap(redis_client, flask_app.wsgi_app)  # type: ignore[method-assign]
    client = flask_app.test_client()
    assert client.post("/cart/SKU-9").json == {"quantity": 1}
    assert client.post("/cart/SKU-9").json == {"quantity": 2}
    assert client.get("/cart").json == {"SKU-9": 2}
    other = flask_app.test_client()
    assert other.get("/cart").json == {}


def test_cart_is_lazy(app: QSCookies, redis_client: redis.Redis) -> None:
    client = Client(app)
    response = client.get("/cart")
    assert response.json == {}
    assert "qs_cart" in set_cookies(response)  # its id, for the adds that follow
    assert redis_client.keys("qs:c:*") == []  # and nothing in Redis
    assert "qs_cart" not in set_cookies(client.get("/cart"))  # given once


def test_cart_supports_len_iteration_and_membership(app: QSCookies) -> None:
    seen: dict[str, Any] = {}

    def inner(environ: Any, start_response: Any) -> list[bytes]:
        cart = context(environ).cart
        cart.add("A")
        cart.add("B", 2)
        seen.update(length=len(cart), skus=sorted(cart), has_a="A" in cart)
        start_response("200 OK", [])
        return [b""]

    app.app = inner
    Client(app).get("/")
    assert seen == {"length": 2, "skus": ["A", "B"], "has_a": True}


# -- return visitors ------------------------------------------------------------------


def test_visits_are_counted_across_the_visit_gap(app: QSCookies) -> None:
    client = Client(app)
    assert get_json(client, "/") == {"returning": False, "visits": 1, "promotion": None}
    app.clock = lambda: NOW + 600  # inside the visit
    assert get_json(client, "/")["visits"] == 1
    app.clock = lambda: NOW + 600 + 1801  # past the 30 minute gap
    assert get_json(client, "/") == {"returning": True, "visits": 2, "promotion": None}


def test_a_visit_start_feeds_day_aggregates_only(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    client = Client(app)
    get_json(client, "/")
    get_json(Client(app), "/")
    keys = redis_client.keys("*")
    assert sorted(keys) == [
        b"qs:a:{_site}:d:20270115",
        b"qs:a:{_site}:u:20270115",
    ]  # no per-visitor record
    assert redis_client.hgetall("qs:a:{_site}:d:20270115") == {b"visits": b"2"}
    assert redis_client.pfcount("qs:a:{_site}:u:20270115") == 2
    app.clock = lambda: NOW + 3600  # a new visit of the first browser
    get_json(client, "/")
    assert redis_client.hgetall("qs:a:{_site}:d:20270115") == {b"visits": b"3"}
    assert redis_client.pfcount("qs:a:{_site}:u:20270115") == 2
    assert redis_client.pfcount("qs:a:{_site}:r:20270115") == 1
    for key in redis_client.keys("*"):
        assert 0 < redis_client.ttl(key) <= 758 * 86400  # 25 months


def test_first_seen_is_exposed(app: QSCookies) -> None:
    seen = []

    def inner(environ: Any, start_response: Any) -> list[bytes]:
        seen.append(context(environ).visitor.first_seen)
        start_response("200 OK", [])
        return [b""]

    app.app = inner
    Client(app).get("/")
    assert seen[0].timestamp() == NOW


def test_cookie_refreshed_only_now_and_then(app: QSCookies) -> None:
    client = Client(app)
    assert "qs_visitor" in set_cookies(client.get("/"))
    app.clock = lambda: NOW + 5
    assert "qs_visitor" not in set_cookies(client.get("/"))
    app.clock = lambda: NOW + 61  # gap / 30 = 60 s: the last-seen time moves on
    assert "qs_visitor" in set_cookies(client.get("/"))


def test_visitor_cookie_expires_server_side(app: QSCookies) -> None:
    client = Client(app)
    get_json(client, "/")
    first = cookie_value(client, "qs_visitor")
    app.clock = lambda: NOW + 365 * 86400 + 1
    assert get_json(client, "/")["visits"] == 1  # a new visitor
    assert cookie_value(client, "qs_visitor") != first


# -- bad cookies fail soft ------------------------------------------------------------


def _bad_values(value: str) -> dict[str, str]:
    payload, signature = value.rsplit(".", 1)
    foreign = Signer("some-other-shop-secret-key", salt="qscookies.cart")
    return {
        "tampered": ("A" if payload[0] != "A" else "B") + payload[1:] + "." + signature,
        "truncated": value[:-5],
        "unsigned": payload,
        "foreign-key": foreign.sign(payload).decode(),
        "garbage": "%%%garbage\x7f",
        "expired": CookieCodec(SECRET).dump_cart(
            payload.split(".")[0], NOW - 31 * 86400
        ),
    }


@pytest.mark.parametrize(
    "kind", ["tampered", "truncated", "unsigned", "foreign-key", "garbage", "expired"]
)
def test_bad_cart_cookie_is_treated_as_absent(
    app: QSCookies, redis_client: redis.Redis, kind: str
) -> None:
    victim = Client(app)
    get_json(victim, "/add?sku=SECRET-ITEM&q=5")
    victim_value = cookie_value(victim, "qs_cart")
    assert victim_value

    attacker = Client(app)
    attacker.set_cookie("qs_cart", _bad_values(victim_value)[kind])
    assert get_json(attacker, "/cart") == {}  # nothing of the victim's cart
    assert get_json(attacker, "/add?sku=MINE") == 1  # a fresh cart id is issued
    assert cookie_value(attacker, "qs_cart") != victim_value
    assert get_json(attacker, "/cart") == {"MINE": 1}
    assert get_json(victim, "/cart") == {"SECRET-ITEM": 5}


@pytest.mark.parametrize("value", ["", "x", "a.b.c.d", "\u00e9" * 100, "." * 600])
def test_garbage_visitor_and_promotion_cookies(app: QSCookies, value: str) -> None:
    client = Client(app)
    client.set_cookie("qs_visitor", value)
    client.set_cookie("qs_promo", value)
    assert get_json(client, "/") == {"returning": False, "visits": 1, "promotion": None}
    assert cookie_value(client, "qs_visitor") != value


def test_a_visitor_can_never_choose_its_own_id(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    client = Client(app)
    client.set_cookie("qs_visitor", "chosen-by-me-aaaaaaaaaa.1.1.1")
    get_json(client, "/")
    assert b"chosen" not in b"".join(redis_client.keys("*"))


def test_rotation_old_cookie_still_verifies_new_one_signed_with_newest_key(
    redis_client: redis.Redis,
) -> None:
    old = QSCookies(shop, secret_key="old-key-0123456789abcdef", redis=redis_client)
    client = Client(old)
    get_json(client, "/add?sku=KEEP")
    rotated = QSCookies(
        shop,
        secret_key=["new-key-0123456789abcdef", "old-key-0123456789abcdef"],
        redis=redis_client,
    )
    client.application = rotated
    assert get_json(client, "/cart") == {"KEEP": 1}
    get_json(client, "/add?sku=KEEP")  # a write never rewrites the cart cookie
    assert get_json(client, "/cart") == {"KEEP": 2}  # the old key still verifies
    get_json(client, "/buy?order=o-1&total=100")
    get_json(client, "/add?sku=NEXT")  # a new cart: a new cookie
    value = cookie_value(client, "qs_cart")
    assert value
    now = int(time.time())
    assert CookieCodec("new-key-0123456789abcdef").load_cart(value, now, 86400)
    assert CookieCodec("old-key-0123456789abcdef").load_cart(value, now, 86400) is None


# -- cookie attributes --------------------------------------------------------------


def _attributes(header: str) -> set[str]:
    return {part.strip() for part in header.split(";")[1:]}


def test_cookie_attributes_over_http(app: QSCookies) -> None:
    client = Client(app)
    landing = client.get("/?promo=SUMMER", follow_redirects=False)
    cookies = set_cookies(landing) | set_cookies(client.get("/add?sku=A"))
    assert {"qs_visitor", "qs_promo", "qs_cart"} <= set(cookies)
    for header in cookies.values():
        attributes = _attributes(header)
        assert {"HttpOnly", "Path=/", "SameSite=Lax"} <= attributes
        assert "Secure" not in attributes
        assert not any(a.lower().startswith("domain") for a in attributes)


def test_cookie_attributes_over_https(app: QSCookies) -> None:
    client = Client(app)
    landing = client.get(
        "/?promo=SUMMER", base_url="https://shop.test/", follow_redirects=False
    )
    cart = client.get("/add?sku=A", base_url="https://shop.test/")
    cookies = set_cookies(landing) | set_cookies(cart)
    assert {"__Host-qs_visitor", "__Host-qs_promo", "__Host-qs_cart"} <= set(cookies)
    for header in cookies.values():
        attributes = _attributes(header)
        assert {"HttpOnly", "Secure", "Path=/", "SameSite=Lax"} <= attributes
        assert not any(a.lower().startswith("domain") for a in attributes)
    max_ages = {n: h.split("Max-Age=")[1].split(";")[0] for n, h in cookies.items()}
    assert max_ages == {
        "__Host-qs_visitor": str(365 * 86400),
        "__Host-qs_promo": str(30 * 86400),
        "__Host-qs_cart": str(30 * 86400),
    }


def test_secure_setting_overrides_the_scheme(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client, secure=True))
    assert "__Host-qs_visitor" in set_cookies(client.get("/"))


def test_unchanged_state_sends_no_cookie_and_no_vary(app: QSCookies) -> None:
    def static_page(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    client = Client(app)
    client.get("/")
    app.app = static_page
    response = client.get("/about")
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_vary_cookie_when_the_app_reads_state(app: QSCookies) -> None:
    def page(environ: Any, start_response: Any) -> list[bytes]:
        context(environ).visitor  # noqa: B018
        start_response("200 OK", [("Vary", "Accept-Encoding")])
        return [b""]

    client = Client(app)
    client.get("/")
    app.app = page
    assert client.get("/").headers["Vary"] == "Accept-Encoding, Cookie"


# -- excluded paths -----------------------------------------------------------------


def test_excluded_paths_get_no_cookies_and_no_context(app: QSCookies) -> None:
    def static(environ: Any, start_response: Any) -> list[bytes]:
        with pytest.raises(QSCookiesError):
            context(environ)
        start_response("200 OK", [])
        return [b"css"]

    app.app = static
    response = Client(app).get("/static/site.css")
    assert response.data == b"css"
    assert "Set-Cookie" not in response.headers


# -- promotions ---------------------------------------------------------------------


def test_promotion_landing_redirects_and_attributes(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    client = Client(app)
    response = client.get("/shoes?promo=SUMMER&color=red", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/shoes?color=red"
    assert get_json(client, "/shoes?color=red")["promotion"] == "SUMMER"
    day = "20270115"
    assert redis_client.hgetall(f"qs:a:{{SUMMER}}:d:{day}") == {
        b"landings": b"1",
        b"landings@/": b"1",  # no source, no medium
    }
    assert redis_client.pfcount(f"qs:a:{{SUMMER}}:u:{day}") == 1


def test_last_touch_attribution(app: QSCookies) -> None:
    client = Client(app)
    client.get("/?promo=FIRST")
    client.get("/?utm_campaign=SECOND")
    assert get_json(client, "/")["promotion"] == "SECOND"


def test_attribution_window(app: QSCookies) -> None:
    client = Client(app)
    client.get("/?promo=SUMMER")
    app.clock = lambda: NOW + 30 * 86400 + 1
    assert get_json(client, "/")["promotion"] is None


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("", id="empty"),
        pytest.param("bad code", id="space"),
        pytest.param("-leading-dash", id="leading-dash"),
        pytest.param("x" * 65, id="too-long"),
        pytest.param("{tag}", id="braces"),
        pytest.param("4111111111111111", id="card-number"),
        pytest.param("<script>", id="markup"),
    ],
)
def test_junk_codes_create_no_keys(
    app: QSCookies, redis_client: redis.Redis, code: str
) -> None:
    client = Client(app)
    get_json(client, "/")
    keys_before = set(redis_client.keys("*"))
    response = client.get("/", query_string={"promo": code}, follow_redirects=False)
    assert response.status_code == 303  # the parameter is still stripped
    assert get_json(client, "/")["promotion"] is None
    assert set(redis_client.keys("*")) == keys_before


def test_allow_list(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client, allowed_promotions=["SUMMER"]))
    client.get("/?promo=WINTER")
    assert get_json(client, "/")["promotion"] is None
    client.get("/?promo=SUMMER")
    assert get_json(client, "/")["promotion"] == "SUMMER"
    assert redis_client.keys("qs:a:{WINTER}*") == []


def test_carts_started_and_purchases_counted(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    client = Client(app)
    client.get("/?promo=SUMMER")
    get_json(client, "/add?sku=A")
    get_json(client, "/add?sku=B")  # same cart: not a new start
    assert get_json(client, "/buy?order=o-1&total=1999") is True
    assert get_json(client, "/buy?order=o-1&total=1999") is False  # idempotent
    assert get_json(client, "/cart") == {}  # a purchase clears the cart
    counts = redis_client.hgetall("qs:a:{SUMMER}:d:20270115")
    assert counts == {
        b"landings": b"1",
        b"carts": b"1",
        b"purchases": b"1",
        b"purchases:EUR": b"1",
        b"revenue_cents:EUR": b"1999",
        # the same per (source, medium) pair: none here
        b"landings@/": b"1",
        b"carts@/": b"1",
        b"purchases@/": b"1",
        b"purchases:EUR@/": b"1",
        b"revenue_cents:EUR@/": b"1999",
    }
    get_json(client, "/add?sku=C")  # a new cart after the purchase
    assert redis_client.hget("qs:a:{SUMMER}:d:20270115", "carts") == b"2"


def test_purchase_without_promotion_counts_nothing(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    client = Client(app)
    get_json(client, "/add?sku=A")
    assert get_json(client, "/buy?order=o-2&total=500") is False
    assert redis_client.keys("qs:[ao]:*") == redis_client.keys("qs:a:{_site}:*")
    assert get_json(client, "/cart") == {}


@pytest.mark.parametrize(
    ("order", "total"),
    [("", "1"), ("x" * 129, "1"), ("ok", "-1"), ("4111 1111 1111 1111", "1")],
)
def test_bad_purchase_input_is_refused(app: QSCookies, order: str, total: str) -> None:
    client = Client(app)
    with pytest.raises(PurchaseError):
        client.get("/buy", query_string={"order": order, "total": total})


# -- settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"visit_gap": 0}, id="visit_gap"),
        pytest.param({"key_prefix": "bad prefix"}, id="key_prefix"),
        pytest.param({"excluded_paths": "/static/"}, id="excluded_paths-str"),
        pytest.param({"referrer_policy": "sometimes"}, id="referrer_policy"),
        pytest.param({"allowed_promotions": ["bad code"]}, id="allowed"),
        pytest.param({"socket_timeout": 0}, id="socket_timeout"),
        pytest.param({"cart_cookie": "qs_visitor"}, id="same-cookie-names"),
        pytest.param({"no_such_option": 1}, id="unknown"),
    ],
)
def test_bad_settings_are_rejected(redis_client: redis.Redis, options: Any) -> None:
    with pytest.raises(ConfigurationError):
        wrap(redis_client, **options)


def test_exactly_one_redis_location() -> None:
    with pytest.raises(ConfigurationError):
        QSCookies(shop, secret_key=SECRET)
    with pytest.raises(ConfigurationError):
        QSCookies(shop, secret_key=SECRET, redis_url="redis://x", redis=object())


def test_custom_prefix_and_cookie_names(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client, key_prefix="shop1:", visitor_cookie="v"))
    assert "v" in set_cookies(client.get("/"))
    keys = redis_client.keys("*")
    assert keys and all(k.startswith(b"shop1:a:") for k in keys)


def test_context_outside_the_middleware() -> None:
    with pytest.raises(QSCookiesError, match="wrap the app"):
        context({})


def test_environ_key(app: QSCookies) -> None:
    seen = []

    def inner(environ: Any, start_response: Any) -> list[bytes]:
        seen.append(environ["qscookies.context"] is context(environ))
        start_response("200 OK", [])
        return [b""]

    app.app = inner
    Client(app).get("/")
    assert seen == [True]


def test_visitor_state_in_cookie_is_only_ids_counters_and_times(app: QSCookies) -> None:
    client = Client(app)
    client.get("/")
    value = cookie_value(client, "qs_visitor")
    assert value
    state = CookieCodec(SECRET).load_visitor(value, NOW, 86400)
    assert isinstance(state, VisitorState)
    assert value.rsplit(".", 1)[0] == f"{state.visitor_id}.1.{NOW}.{NOW}"
    assert json.dumps(parse_cookie(f"qs_visitor={value}")["qs_visitor"]) == json.dumps(
        value
    )


def test_the_test_shop_runs_as_the_app_user(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    """Every shop built by shop.wrap(redis_client) obeys the production ACL."""
    assert app.settings.strict
    get_json(Client(app), "/add?sku=A")
    users = {client["user"] for client in redis_client.client_list()}
    assert "qs-app" in users


# -- any WSGI app: write(), generators, close(); the body is never buffered -----


def test_write_callable_apps(app: QSCookies) -> None:
    def legacy(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        context(environ).visitor  # noqa: B018
        return [b"returned"]

    app.app = legacy
    response = Client(app).get("/")
    assert response.data == b"written returned"
    assert "qs_visitor" in set_cookies(response)


def test_the_app_iterable_is_returned_untouched_and_closed(app: QSCookies) -> None:
    class Body:
        closed = False

        def __iter__(self) -> Any:
            yield b"a"
            yield b"b"

        def close(self) -> None:
            Body.closed = True

    body = Body()

    def streaming(environ: Any, start_response: Any) -> Body:
        start_response("200 OK", [])
        return body

    app.app = streaming
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "http",
    }
    assert app(environ, lambda status, headers, exc_info=None: None) is body
    response = Client(app).get("/")
    assert response.data == b"ab"
    response.close()
    assert Body.closed


def test_responses_that_set_our_cookies_are_private(app: QSCookies) -> None:
    def page(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    def cached_page(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Cache-Control", "no-store")])
        return [b""]

    app.app = page
    client = Client(app)
    assert client.get("/").headers["Cache-Control"] == "private"  # new visitor
    assert "Cache-Control" not in client.get("/").headers  # no cookie: untouched
    app.app = cached_page
    assert Client(app).get("/").headers.getlist("Cache-Control") == ["no-store"]


@pytest.mark.parametrize("line", ["302 Found", "302 FOUND", "302 Gone Elsewhere"])
def test_a_status_line_is_read_by_its_code_whatever_its_phrase(
    app: QSCookies, line: str
) -> None:
    """The code decides (a redirect elsewhere loses its promotion parameters),
    the line goes out as the app wrote it, the same line read again as well
    (the door remembers what the lines it saw say)."""

    def redirect(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        location = "https://elsewhere.example/x?promo=SUMMER&color=red"
        start_response(line, [("Location", location)])
        return [b""]

    app.app = redirect
    for _ in range(2):
        response = Client(app).get("/away")
        assert response.status == line
        assert response.headers["Location"] == "https://elsewhere.example/x?color=red"
