"""Privacy controls and leak guards, through the middleware, on a real Redis.

Opt-out (API, route, ``Sec-GPC``, ``DNT``), erasure, the clean-URL redirect,
redirect scrubbing, ``Referrer-Policy``, log hygiene, card-number refusal, and
client IPs kept out of Redis. Redis is inspected as the superuser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest
import redis
from werkzeug.test import Client
from werkzeug.test import TestResponse

from qscookies import CartError
from qscookies import QSCookies
from qscookies import QSCookiesError
from qscookies import context
from qscookies.embedded import RedisServer
from qscookies.privacy import looks_like_card_number
from qscookies.privacy import truncate_ip
from qscookies.store.client import connect

from shop import get_json
from shop import shop
from shop import wrap

NOW = 1_800_000_000
TRACKING_COOKIES = ("qs_visitor", "qs_promo")


def privacy_shop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The test shop plus ``/optout``, ``/optin`` and ``/tracking``."""
    qs = context(environ)
    path = environ["PATH_INFO"]
    if path == "/optout":
        qs.opt_out()
    elif path == "/optin":
        qs.opt_in()
    elif path == "/tracking":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(qs.tracking_allowed).encode()]
    return shop(environ, start_response)


@pytest.fixture
def app(redis_client: redis.Redis) -> QSCookies:
    middleware = wrap(redis_client, privacy_shop, privacy_path="/privacy")
    middleware.clock = lambda: NOW
    return middleware


def snapshot(redis_client: redis.Redis) -> dict[bytes, bytes]:
    """Every tracking key (not carts) and its serialized value."""
    return {
        key: redis_client.dump(key)
        for key in redis_client.scan_iter(count=1000)
        if not key.startswith((b"qs:c:", b"qs:l:"))  # a cart, its lines
    }


def set_cookies(response: TestResponse) -> dict[str, str]:
    """``name -> Set-Cookie value`` of a response."""
    return {
        value.split("=", 1)[0]: value
        for value in response.headers.getlist("Set-Cookie")
    }


def assert_expired(response: TestResponse, *names: str) -> None:
    cookies = set_cookies(response)
    for name in names:
        assert "Max-Age=0" in cookies[name], cookies


def tracked_browser(app: QSCookies) -> Client:
    """A browser with a visitor and a promotion cookie."""
    browser = Client(app)
    browser.get("/?promo=SUMMER")
    assert {c.key for c in browser._cookies.values()} >= set(TRACKING_COOKIES)
    return browser


def assert_untracked_but_cart_works(
    app: QSCookies, browser: Client, redis_client: redis.Redis, **kwargs: Any
) -> None:
    """Landings and visits by *browser* move nothing; its cart still works."""
    before = snapshot(redis_client)
    app.clock = lambda: NOW + 7200  # a new visit, as well
    landing = browser.get("/?promo=WINTER&x=1", **kwargs)
    assert landing.status_code == 303  # still stripped from the URL
    assert not set(set_cookies(landing)) & set(TRACKING_COOKIES)
    page = get_json(browser, "/", **kwargs)
    assert page == {"returning": False, "visits": 0, "promotion": None}
    assert get_json(browser, "/add?sku=SKU-1&q=2", **kwargs) == 2
    assert get_json(browser, "/cart", **kwargs) == {"SKU-1": 2}
    assert snapshot(redis_client) == before  # no key created, no count moved
    assert browser.get("/tracking", **kwargs).data == b"False"


# -- opt-out ------------------------------------------------------------------------


def test_opt_out_via_the_api(app: QSCookies, redis_client: redis.Redis) -> None:
    browser = tracked_browser(app)
    assert browser.get("/tracking").data == b"True"
    response = browser.get("/optout")
    assert_expired(response, *TRACKING_COOKIES)
    assert "Max-Age=34560000" in set_cookies(response)["qs_choice"]
    # there is no per-visitor record to leave behind: aggregates and carts only
    kinds = (b"qs:a:", b"qs:c:", b"qs:l:")
    assert all(k.startswith(kinds) for k in redis_client.keys("*"))
    assert_untracked_but_cart_works(app, browser, redis_client)


def test_opt_in_again(app: QSCookies, redis_client: redis.Redis) -> None:
    browser = tracked_browser(app)
    browser.get("/optout")
    back_in = set_cookies(browser.get("/optin"))
    assert "qs_choice=in." in back_in["qs_choice"]
    assert "qs_visitor" in back_in  # tracked again, from that very response
    assert browser.get("/tracking").data == b"True"
    assert browser.get_cookie("qs_visitor") is not None


def test_opt_out_via_the_route(app: QSCookies, redis_client: redis.Redis) -> None:
    browser = tracked_browser(app)
    response = browser.post(
        "/privacy",
        data={"choice": "out"},
        headers={"Origin": "http://localhost", "Referer": "http://localhost/shop?a=1"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/shop?a=1"
    assert_expired(response, *TRACKING_COOKIES)
    assert "qs_choice=out." in set_cookies(response)["qs_choice"]
    assert_untracked_but_cart_works(app, browser, redis_client)
    back_in = browser.post(
        "/privacy", data={"choice": "in"}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert back_in.status_code == 303 and back_in.headers["Location"] == "/"
    assert "qs_choice=in." in set_cookies(back_in)["qs_choice"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"Origin": "null"}, id="null-origin"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site-fetch"),
        pytest.param({"Referer": "http://localhost.evil.example/"}, id="look-alike"),
        pytest.param({}, id="no-origin-at-all"),
    ],
)
def test_the_route_refuses_other_origins(
    app: QSCookies, headers: dict[str, str]
) -> None:
    browser = tracked_browser(app)
    response = browser.post("/privacy", data={"choice": "out"}, headers=headers)
    assert response.status_code == 403
    assert "qs_choice" not in set_cookies(response)
    assert browser.get("/tracking").data == b"True"


def test_the_route_takes_only_post_and_a_known_choice(app: QSCookies) -> None:
    browser = Client(app)
    assert browser.get("/privacy").status_code == 405
    same = {"Origin": "http://localhost"}
    bad = browser.post("/privacy", data={"choice": "maybe"}, headers=same)
    assert bad.status_code == 400
    assert browser.get("/tracking").data == b"True"


def test_the_route_is_off_by_default(redis_client: redis.Redis) -> None:
    browser = Client(wrap(redis_client, privacy_shop))
    response = browser.post(
        "/privacy", data={"choice": "out"}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 200  # the application's page
    assert "qs_choice" not in set_cookies(response)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-GPC": "1"}, id="sec-gpc"),
        pytest.param({"DNT": "1"}, id="dnt"),
    ],
)
def test_opt_out_signals(
    app: QSCookies, redis_client: redis.Redis, headers: dict[str, str]
) -> None:
    browser = tracked_browser(app)
    response = browser.get("/", headers=headers)
    assert_expired(response, *TRACKING_COOKIES)
    assert_untracked_but_cart_works(app, browser, redis_client, headers=headers)
    fresh = Client(app)
    assert set_cookies(fresh.get("/?promo=NEW", headers=headers)) == {}


def test_dnt_is_ignored_when_honor_dnt_is_off(redis_client: redis.Redis) -> None:
    app = wrap(redis_client, privacy_shop, honor_dnt=False)
    browser = Client(app)
    browser.get("/?promo=SUMMER", headers={"DNT": "1"})
    assert browser.get("/tracking", headers={"DNT": "1"}).data == b"True"
    assert redis_client.keys("qs:a:{_site}:*") and redis_client.keys("qs:a:{SUMMER}:*")
    gpc = browser.get("/", headers={"Sec-GPC": "1", "DNT": "1"})
    assert_expired(gpc, *TRACKING_COOKIES)  # GPC is always honoured


# -- erasure ------------------------------------------------------------------------


def test_forget_leaves_no_key_of_that_visitor_or_cart(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    other = tracked_browser(app)
    get_json(other, "/add?sku=KEEP")
    others = set(redis_client.scan_iter(match="qs:[vc]:*"))
    browser = tracked_browser(app)
    get_json(browser, "/add?sku=A")
    mine = set(redis_client.scan_iter(match="qs:[vc]:*")) - others
    assert len(mine) == 1  # a cart: there is no per-visitor record
    ids = {key.split(b"{")[1].rstrip(b"}") for key in mine}
    aggregates = {k: redis_client.dump(k) for k in redis_client.scan_iter("qs:a:*")}
    response = browser.get("/forget")
    assert_expired(response, "qs_cart", *TRACKING_COOKIES)
    everything = list(redis_client.scan_iter(count=1000))
    assert not [key for key in everything if any(i in key for i in ids)]
    assert set(redis_client.scan_iter(match="qs:[vc]:*")) == others
    assert {k: redis_client.dump(k) for k in redis_client.scan_iter("qs:a:*")} == (
        aggregates  # counts stay
    )
    assert get_json(browser, "/cart") == {}


# -- the clean-URL redirect ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        pytest.param("/shoes", "promo=SUMMER&color=red", "/shoes?color=red", id="kept"),
        pytest.param("/shoes", "utm_campaign=SUMMER", "/shoes", id="only-param"),
        pytest.param("//evil.com/x", "promo=SUMMER", "/evil.com/x", id="open-redirect"),
        pytest.param("/a b", "promo=JUNK!!&q=1", "/a%20b?q=1", id="junk-code-too"),
    ],
)
def test_landing_is_answered_with_a_303_to_the_clean_url(
    app: QSCookies, path: str, query: str, location: str
) -> None:
    for method in ("GET", "HEAD"):
        response = Client(app).open(
            "/",
            query_string=query,
            method=method,
            environ_overrides={"PATH_INFO": path},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == location
        assert response.headers["Cache-Control"] == "no-store"


def test_other_methods_and_the_switch_off_reach_the_app(
    redis_client: redis.Redis,
) -> None:
    app = wrap(redis_client, privacy_shop)
    assert Client(app).post("/?promo=SUMMER").status_code == 200
    unstripped = wrap(redis_client, privacy_shop, strip_promotion_params=False)
    browser = Client(unstripped)
    assert get_json(browser, "/?promo=SUMMER")["promotion"] == "SUMMER"


def redirecting_app(location: str, status: str = "302 Found") -> Any:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        context(environ).visitor  # noqa: B018
        start_response(status, [("Location", location)])
        return [b""]

    return app


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param(
            "https://partner.example/go?promo=SUMMER&utm_campaign=X&a=1",
            "https://partner.example/go?a=1",
            id="other-host",
        ),
        pytest.param(
            "//partner.example/go?promo=SUMMER",
            "//partner.example/go",
            id="scheme-relative",
        ),
        pytest.param(
            "http://localhost/next?promo=SUMMER",
            "http://localhost/next?promo=SUMMER",
            id="same-host-untouched",
        ),
        pytest.param("/next?promo=SUMMER", "/next?promo=SUMMER", id="relative"),
    ],
)
def test_redirects_to_other_hosts_lose_promotion_params(
    redis_client: redis.Redis, location: str, expected: str
) -> None:
    app = wrap(redis_client, redirecting_app(location))
    response = Client(app).get("/checkout")
    assert response.headers["Location"] == expected


# -- Referrer-Policy ----------------------------------------------------------------


def policy_app(policy: str | None) -> Any:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Referrer-Policy", policy)] if policy else [])
        return [b""]

    return app


@pytest.mark.parametrize(
    ("app_policy", "setting", "expected"),
    [
        pytest.param(None, "same-origin", ["same-origin"], id="absent-ours"),
        pytest.param("unsafe-url", "same-origin", ["unsafe-url"], id="weaker-kept"),
        pytest.param("no-referrer", "same-origin", ["no-referrer"], id="stronger-kept"),
        pytest.param(None, "no-referrer", ["no-referrer"], id="configured"),
        pytest.param(None, None, [], id="switched-off"),
    ],
)
def test_referrer_policy(
    redis_client: redis.Redis,
    app_policy: str | None,
    setting: str | None,
    expected: list[str],
) -> None:
    app = wrap(redis_client, policy_app(app_policy), referrer_policy=setting)
    response = Client(app).get("/")
    assert response.headers.getlist("Referrer-Policy") == expected


# -- cookies, card numbers, client IPs ----------------------------------------------


def test_no_cookie_of_ours_carries_a_domain(app: QSCookies) -> None:
    browser = tracked_browser(app)
    headers = [
        *browser.get("/add?sku=A").headers.getlist("Set-Cookie"),
        *browser.get("/optout").headers.getlist("Set-Cookie"),
    ]
    assert len(headers) >= 4
    assert not [h for h in headers if "domain=" in h.lower()]


CARD_NUMBERS = [
    pytest.param("4111111111111111", id="in-one-piece"),
    pytest.param("4111 1111 1111 1111", id="spaces"),
    pytest.param("5500-0000-0000-0004", id="dashes"),
    pytest.param("4111.1111.1111.1111", id="dots"),
    pytest.param("4111/1111/1111/1111", id="slashes"),
    pytest.param("4111_1111_1111_1111", id="underscores"),
    pytest.param("4111,1111,1111,1111", id="commas"),
    pytest.param("4111  1111 1111 1111", id="a-run-of-spaces"),
    pytest.param("4111 - 1111 - 1111 - 1111", id="spaced-dashes"),
    pytest.param("4111\t1111\n1111\u00a01111", id="other-white-space"),
    pytest.param("4111-/.1111_,1111 1111", id="mixed-separators"),
    pytest.param("3782 822463 10005", id="amex-4-6-5"),
    pytest.param("4222222222222", id="13-digits"),
    pytest.param("4111 1111 1111 1111 110", id="19-digits"),
    pytest.param("x4111111111111111", id="after-a-letter"),
    pytest.param("SKU-4111.1111.1111.1111-B", id="inside-a-sku"),
    pytest.param("2 4111 1111 1111 1111", id="after-another-number"),
    pytest.param("4111 1111 1111 1111 12/25", id="before-an-expiry-date"),
    pytest.param("4111 1111 1111 1111 123", id="before-a-security-code"),
    pytest.param("1999 4111 1111 1111 1111", id="after-a-4-digit-number"),
    pytest.param("\uff14\uff11\uff11\uff11" + "\uff11" * 12, id="fullwidth-digits"),
]

NOT_CARD_NUMBERS = [
    pytest.param("", id="empty"),
    pytest.param("SKU-1", id="sku"),
    pytest.param("4111 1111 1111 1112", id="fails-luhn"),
    pytest.param("4111.1111.1111.1112", id="dots-fails-luhn"),
    pytest.param("4111 1111 117", id="12-digits"),
    pytest.param("41111111111111111115", id="20-digits-in-one-piece"),
    pytest.param("2024-01-15", id="iso-date"),
    pytest.param("15/01/2024", id="date-with-slashes"),
    pytest.param("2024-01-15/2024-02-15", id="date-range"),
    # its first 14 digits pass Luhn, but 2-digit groups make no card number
    pytest.param("19.99, 29.99, 39.99, 49.99", id="prices"),
    pytest.param("10/12/14/16/18/20", id="sizes"),
    pytest.param("+44 20 7946 0958", id="phone-number"),
    pytest.param("4111x1111x1111x1111", id="letters-end-a-run"),
    pytest.param("12:34:56.789", id="time"),
]


@pytest.mark.parametrize("text", CARD_NUMBERS)
def test_card_numbers_are_recognised(text: str) -> None:
    assert looks_like_card_number(text)


@pytest.mark.parametrize("text", NOT_CARD_NUMBERS)
def test_other_numbers_are_not_card_numbers(text: str) -> None:
    assert not looks_like_card_number(text)


SEPARATED_CARD_NUMBERS = [
    pytest.param("4111111111111111", id="in-one-piece"),
    pytest.param("4111 1111 1111 1111", id="spaces"),
    pytest.param("5500-0000-0000-0004", id="dashes"),
    pytest.param("4111.1111.1111.1111", id="dots"),
    pytest.param("4111/1111/1111/1111", id="slashes"),
    pytest.param("4111_1111_1111_1111", id="underscores"),
    pytest.param("4111,1111,1111,1111", id="commas"),
    pytest.param("4111 - 1111 - 1111 - 1111", id="spaced-dashes"),
]


@pytest.mark.parametrize(
    "sku", [*SEPARATED_CARD_NUMBERS, pytest.param("x4111111111111111", id="x-prefix")]
)
def test_card_like_skus_are_refused(
    app: QSCookies, redis_client: redis.Redis, sku: str
) -> None:
    with pytest.raises(CartError, match="card number"):
        Client(app).get("/add", query_string={"sku": sku})
    assert not redis_client.keys("qs:c:*")


def test_a_16_digit_sku_that_is_not_luhn_valid_is_fine(app: QSCookies) -> None:
    assert get_json(Client(app), "/add?sku=4111111111111112") == 1


def test_a_dotted_sku_that_is_not_luhn_valid_is_fine(app: QSCookies) -> None:
    assert get_json(Client(app), "/add?sku=4111.1111.1111.1112") == 1


@pytest.mark.parametrize("code", ["4111111111111111", "4111.1111.1111.1111"])
@pytest.mark.parametrize("param", ["promo", "utm_campaign"])
def test_card_like_promotion_codes_are_ignored(
    app: QSCookies, redis_client: redis.Redis, param: str, code: str
) -> None:
    browser = Client(app)
    response = browser.get("/", query_string={param: code})
    assert response.status_code == 303  # still taken out of the URL
    assert "qs_promo" not in set_cookies(response)
    assert redis_client.keys("qs:a:*") == redis_client.keys("qs:a:{_site}:*")
    assert code not in str(response.headers)


def test_a_dotted_promotion_code_that_is_no_card_number_counts(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    response = Client(app).get("/?promo=SPRING.2024")
    assert "qs_promo" in set_cookies(response)
    assert redis_client.keys("qs:a:{SPRING.2024}:*")


@pytest.mark.parametrize("order_id", SEPARATED_CARD_NUMBERS)
def test_card_like_order_ids_are_refused(
    app: QSCookies, redis_client: redis.Redis, order_id: str
) -> None:
    browser = tracked_browser(app)
    with pytest.raises(QSCookiesError):
        browser.get("/buy", query_string={"order": order_id, "total": "100"})
    assert not redis_client.keys("qs:o:*")


CLIENT_IPS = ("203.0.113.77", "198.51.100.23", "2001:db8:abcd:12::7")


def ip_headers(index: int) -> dict[str, Any]:
    return {
        "environ_base": {"REMOTE_ADDR": CLIENT_IPS[index % 2]},
        "headers": {"X-Forwarded-For": f"{CLIENT_IPS[2]}, {CLIENT_IPS[index % 2]}"},
    }


def test_client_ips_never_reach_redis(
    app: QSCookies, redis_client: redis.Redis
) -> None:
    for index in range(2):
        browser = Client(app)
        kwargs = ip_headers(index)
        browser.get("/?promo=SUMMER", **kwargs)
        get_json(browser, "/add?sku=A", **kwargs)
        get_json(browser, f"/buy?order=o-{index}&total=100", **kwargs)
        app.clock = lambda: NOW + 7200
        get_json(browser, "/", **kwargs)
        app.clock = lambda: NOW
    dumped = b"".join(
        key + redis_client.dump(key) for key in redis_client.scan_iter(count=1000)
    )
    # same IP: still two visitors
    assert redis_client.pfcount(*redis_client.keys("qs:a:{_site}:u:*")) == 2
    for ip in CLIENT_IPS:
        assert ip.encode() not in dumped


def test_visitors_behind_one_ip_are_told_apart(app: QSCookies) -> None:
    kwargs = ip_headers(0)
    get_json(Client(app), "/", **kwargs)
    app.clock = lambda: NOW + 7200
    assert get_json(Client(app), "/", **kwargs)["returning"] is False


# -- logs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "truncated"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        (" 10.1.2.3 ", "10.1.2.0/24"),
        ("2001:db8:abcd:12:1::7", "2001:db8:abcd::/48"),
        ("::ffff:203.0.113.77", "::/48"),
        ("not-an-ip", "-"),
        ("", "-"),
    ],
)
def test_truncate_ip(address: str, truncated: str) -> None:
    assert truncate_ip(address) == truncated


def test_logs_carry_no_ids_or_cookie_values_while_redis_comes_and_goes(
    fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "qscookies")
    client = connect(fresh_redis_server.url, socket_timeout=0.5)
    app = QSCookies(
        privacy_shop, secret_key="k" * 32, redis=client, retry_interval=0.01
    )
    browser = Client(app)
    secrets: set[str] = set()

    def visit(url: str) -> None:
        response = browser.get(url, environ_base={"REMOTE_ADDR": CLIENT_IPS[0]})
        for header in response.headers.getlist("Set-Cookie"):
            value = header.split(";")[0].split("=", 1)[1]
            secrets.update(part for part in value.split(".") if len(part) > 8)
            secrets.add(value)

    visit("/?promo=SUMMER")
    visit("/add?sku=A")
    for key in client.scan_iter(match="qs:[vc]:*"):
        secrets.add(key.split("{")[1].rstrip("}"))  # the raw ids
    fresh_redis_server.stop()
    for _ in range(3):
        app.clock = lambda: 2_000_000_000.0
        visit("/?promo=WINTER")
    fresh_redis_server.start()
    visit("/")
    app.clock = lambda: 2_000_100_000.0
    visit("/?promo=AUTUMN")
    client.close()
    messages = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("qscookies")
    ]
    assert len(secrets) >= 4
    assert any("unavailable" in m for m in messages)
    assert any("back" in m for m in messages)
    secrets.discard("")
    leaked = [m for m in messages for s in (*secrets, *CLIENT_IPS) if s in m]
    assert not leaked
