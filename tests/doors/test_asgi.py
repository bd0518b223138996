"""The ASGI door over real HTTP (uvicorn, httpx) and a real private Redis.

Every journey runs on a Starlette app and on a bare ASGI app; the WSGI door and
the ASGI door share cookies and Redis keys; the round-trip budget is counted on
the wire (sends on the client's connections, and ``INFO commandstats``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
import websocket

from qscookies.asgi import SCOPE_KEY
from qscookies.asgi import QSCookies
from qscookies.asgi import context
from qscookies.asgi import request_from as asgi_request_from
from qscookies.embedded import RedisServer
from qscookies.errors import ConfigurationError
from qscookies.errors import QSCookiesError
from qscookies.store.client import client_options

from asgi_server import ASGIServer
from asgi_server import WSGIServer
from asgi_shop import AsyncRoundTrips
from asgi_shop import Events
from asgi_shop import commands
from asgi_shop import make_app
from shop import SECRET
from shop import wrap

pytestmark = pytest.mark.slow  # starts processes of its own

NOW = 1_800_000_000
DAY = "20270115"  # the UTC day of NOW
KINDS = ["starlette", "bare"]


@dataclass
class Shop:
    """A served, wrapped ASGI shop."""

    middleware: QSCookies
    server: ASGIServer
    wire: AsyncRoundTrips | None
    events: Events

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=10, **options)

    def at(self, now: float) -> None:
        """Move the middleware's clock."""
        self.middleware.clock = lambda: now


Launch = Callable[..., Shop]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def launch(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[Launch]:
    """Serve an app wrapped over the app user's counted asyncio client.

    ``launch(kind, **settings)``; ``launch(kind, redis_url=...)`` opens the
    middleware's own client instead (closed by ``aclose`` on the server's loop).
    """
    served: list[ASGIServer] = []

    def start(
        kind: str, *, app_options: dict[str, Any] | None = None, **options: Any
    ) -> Shop:
        events = Events()
        app = make_app(kind, events, **(app_options or {}))
        wire = None
        if "redis_url" in options:
            middleware = QSCookies(app, secret_key=SECRET, **options)
            cleanup = [middleware.aclose]
        else:
            assert redis_server.port
            wire = AsyncRoundTrips(redis_server.host, redis_server.port)
            middleware = QSCookies(app, secret_key=SECRET, redis=wire.client, **options)
            cleanup = [wire.client.aclose]
        middleware.clock = lambda: NOW
        server = ASGIServer(middleware, cleanup=cleanup).start()
        served.append(server)
        return Shop(middleware, server, wire, events)

    yield start
    for server in served:
        server.stop()


def get(client: httpx.Client, url: str, **kwargs: Any) -> Any:
    """GET *url* and decode the JSON body, asserting a 200."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


# -- journeys ------


def test_cart_round_trip(launch: Launch, kind: str, redis_client: redis.Redis) -> None:
    shop = launch(kind)
    with shop.client() as client:
        response = client.get("/add?sku=A")
        assert response.json() == 1
        assert response.headers["x-shop"] == kind  # the app's own header kept
        assert "Cookie" in response.headers["vary"]
        assert response.headers["cache-control"] == "private"
        assert "qs_cart" in client.cookies
        assert get(client, "/add?sku=A&q=2") == 3
        assert get(client, "/add?sku=B") == 1
        assert get(client, "/set?sku=B&q=5") == 5
        assert get(client, "/remove?sku=B") is None
        assert get(client, "/cart") == {"A": 3}
        assert len(redis_client.keys("qs:c:*")) == 1
        assert get(client, "/buy?order=o-1&total=300") is False  # no promotion
        assert get(client, "/cart") == {}
        assert get(client, "/add?sku=C") == 1
        assert get(client, "/forget") is None
        assert "qs_cart" not in client.cookies
        assert redis_client.keys("qs:c:*") == []
    with shop.client() as other:  # another browser: another cart
        assert get(other, "/cart") == {}


def test_promotion_landing_redirects_and_attributes(
    launch: Launch, kind: str, redis_client: redis.Redis
) -> None:
    shop = launch(kind)
    with shop.client() as client:
        response = client.get("/?promo=SUMMER&page=2")
        assert response.status_code == 303
        assert response.headers["location"] == "/?page=2"
        assert "qs_promo" in client.cookies and "qs_visitor" in client.cookies
        assert get(client, response.headers["location"]) == {
            "returning": False,
            "visits": 1,
            "promotion": "SUMMER",
        }
        assert get(client, "/add?sku=A") == 1
        assert get(client, "/buy?order=o-1&total=1999") is True
        assert get(client, "/buy?order=o-1&total=1999") is False  # once per order
    day = redis_client.hgetall(f"qs:a:{{SUMMER}}:d:{DAY}")
    assert day[b"landings"] == b"1"
    assert day[b"carts"] == b"1"
    assert redis_client.hget(f"qs:a:{{_site}}:d:{DAY}", "visits") == b"1"
    assert redis_client.pfcount(f"qs:a:{{SUMMER}}:u:{DAY}") == 1


def test_a_post_landing_is_counted_without_redirect(launch: Launch, kind: str) -> None:
    shop = launch(kind)
    with shop.client() as client:
        response = client.post("/?promo=SUMMER")
        assert response.status_code == 200
        assert response.json()["promotion"] == "SUMMER"


def test_returning_visit_after_moving_the_clock(
    launch: Launch, kind: str, redis_client: redis.Redis
) -> None:
    shop = launch(kind)
    with shop.client() as client:
        assert get(client, "/") == {"returning": False, "visits": 1, "promotion": None}
        shop.at(NOW + 600)  # inside the visit
        assert get(client, "/") == {"returning": False, "visits": 1, "promotion": None}
        shop.at(NOW + 600 + 3600)  # after visit_gap: a new visit
        assert get(client, "/") == {"returning": True, "visits": 2, "promotion": None}
    assert redis_client.hget(f"qs:a:{{_site}}:d:{DAY}", "visits") == b"2"
    assert redis_client.pfcount(f"qs:a:{{_site}}:r:{DAY}") == 1


def test_a_tampered_cart_cookie_is_treated_as_absent(launch: Launch, kind: str) -> None:
    shop = launch(kind)
    with shop.client() as client:
        assert get(client, "/add?sku=A&q=2") == 2
        cart = client.cookies["qs_cart"]
    payload, signature = cart.rsplit(".", 1)
    tampered = f"{'A' if payload[0] != 'A' else 'B'}{payload[1:]}.{signature}"
    with shop.client() as browser:
        browser.cookies.set("qs_cart", tampered, domain="127.0.0.1")
        assert get(browser, "/cart") == {}
        assert get(browser, "/add?sku=B") == 1  # a new cart, not the signed one
        assert browser.cookies["qs_cart"] not in (cart, tampered)
    with shop.client() as owner:
        owner.cookies.set("qs_cart", cart, domain="127.0.0.1")
        assert get(owner, "/cart") == {"A": 2}


def test_the_privacy_switch(launch: Launch, kind: str) -> None:
    shop = launch(kind, privacy_path="/privacy")
    with shop.client() as client:
        get(client, "/?promo=SUMMER", follow_redirects=True)
        assert client.get("/privacy").status_code == 405
        foreign = {"Origin": "http://evil.test"}
        refused = client.post("/privacy", data={"choice": "out"}, headers=foreign)
        assert refused.status_code == 403
        same = {"Origin": shop.server.url, "Referer": shop.server.url + "/cart?a=1"}
        response = client.post("/privacy", data={"choice": "out"}, headers=same)
        assert response.status_code == 303
        assert response.headers["location"] == "/cart?a=1"
        assert client.cookies["qs_choice"].startswith("out.")
        assert "qs_visitor" not in client.cookies
        assert "qs_promo" not in client.cookies
        assert get(client, "/")["promotion"] is None
        assert get(client, "/add?sku=A") == 1  # the cart keeps working
        fetched = {"Sec-Fetch-Site": "same-origin"}
        response = client.post("/privacy", data={"choice": "in"}, headers=fetched)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert client.cookies["qs_choice"].startswith("in.")
        assert client.post("/privacy", headers=fetched).status_code == 400
        assert get(client, "/")["visits"] == 1  # tracked again: a new visitor


# -- Redis away ------


def test_store_unavailable_gives_503_with_retry_after(
    launch: Launch, kind: str, fresh_redis_server: RedisServer
) -> None:
    shop = launch(
        kind, redis_url=fresh_redis_server.url, retry_interval=0.2, socket_timeout=0.2
    )
    with shop.client() as client:
        assert get(client, "/add?sku=A") == 1
        assert get(client, "/badge") == {"A": 1}
        fresh_redis_server.stop()
        assert client.get("/").status_code == 200  # page views still render
        assert get(client, "/badge") is None  # and so does a cart badge
        with shop.client() as newcomer:
            assert newcomer.get("/?promo=SUMMER").status_code == 303
        response = client.get("/add?sku=A")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.headers["cache-control"] == "no-store"
        assert response.text.startswith("The shop is briefly unavailable")
        assert client.get("/cart").status_code == 503


def test_a_framework_500_after_a_store_failure_becomes_503(
    launch: Launch, fresh_redis_server: RedisServer
) -> None:
    shop = launch(
        "starlette",
        app_options={"store_errors_as_500": True},
        redis_url=fresh_redis_server.url,
        retry_interval=0.2,
        socket_timeout=0.2,
    )
    fresh_redis_server.stop()
    with shop.client() as client:
        response = client.get("/add?sku=A")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "Server Error" not in response.text


def test_a_500_without_store_failure_is_left_alone(launch: Launch) -> None:
    shop = launch("starlette", app_options={"store_errors_as_500": True})
    with shop.client() as client:
        response = client.get("/set?sku=A&q=x")  # ValueError in the app
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


# -- what passes through ------


def test_lifespan_passes_through(launch: Launch, kind: str) -> None:
    shop = launch(kind)
    assert shop.events.lifespan == ["startup"]
    shop.server.stop()
    assert shop.events.lifespan == ["startup", "shutdown"]


def test_a_websocket_passes_through(launch: Launch) -> None:
    shop = launch("starlette")
    ws = websocket.create_connection(
        shop.server.url.replace("http://", "ws://") + "/ws", timeout=10
    )
    try:
        ws.send("hello")
        assert ws.recv() == "hello (context: False)"
    finally:
        ws.close()


def test_a_streamed_body_is_not_buffered(launch: Launch) -> None:
    shop = launch("starlette")
    with shop.client() as client, client.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert "qs_visitor" in response.cookies  # headers decided at the start
        chunks = response.iter_raw()
        assert next(chunks) == b"first;"  # before the app produced the last one
        shop.events.first_chunk_read.set()
        assert b"".join(chunks) == b"last;visits=1"


def test_an_excluded_path_sets_no_cookie_and_touches_no_redis(
    launch: Launch, kind: str, redis_client: redis.Redis
) -> None:
    shop = launch(kind)
    assert shop.wire is not None
    with shop.client() as client:
        get(client, "/")  # connected
        before, sent = commands(redis_client), len(shop.wire.sent)
        response = client.get("/static/app.js?promo=SUMMER")
        assert response.status_code == 200
        assert response.text == "static"  # no context in the scope
        assert "set-cookie" not in response.headers
        assert "vary" not in response.headers
        assert commands(redis_client) == before
        assert len(shop.wire.sent) == sent


# -- wrapping ------


def test_context_without_the_middleware() -> None:
    with pytest.raises(QSCookiesError, match="no qscookies context for '/x'"):
        context({"type": "http", "path": "/x"})
    assert context({"type": "http", "path": "/x"}, default=None) is None


def test_wrapping_twice_is_refused_before_redis(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    assert redis_server.port
    wire = AsyncRoundTrips(redis_server.host, redis_server.port)
    inner = QSCookies(make_app("bare", Events()), secret_key=SECRET, redis=wire.client)
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/add",
        "raw_path": b"/add",
        "query_string": b"sku=A",
        "headers": [(b"host", b"shop.test")],
        SCOPE_KEY: object(),
    }

    async def main() -> None:
        try:
            with pytest.raises(QSCookiesError, match="wrapped twice"):
                await inner(scope, receive, send)
        finally:
            await wire.client.aclose()

    before = commands(redis_client)
    asyncio.run(main())
    assert commands(redis_client) == before
    assert wire.sent == [] and sent == []


def test_wrapping_twice_over_http_fails(launch: Launch) -> None:
    shop = launch("bare")
    shop.middleware.app = QSCookies(
        shop.middleware.app, secret_key=SECRET, redis_url="redis://127.0.0.1:1/0"
    )
    with shop.client() as client:
        assert client.get("/").status_code == 500


def test_exactly_one_redis(redis_server: RedisServer) -> None:
    app = make_app("bare", Events())
    with pytest.raises(ConfigurationError, match="exactly one"):
        QSCookies(app, secret_key=SECRET)
    with pytest.raises(ConfigurationError, match="exactly one"):
        QSCookies(app, secret_key=SECRET, redis_url=redis_server.url, redis=object())
    with pytest.raises(ConfigurationError, match="bad Redis URL"):
        QSCookies(app, secret_key=SECRET, redis_url="nowhere://x")


def test_strict_refuses_to_start_as_the_default_user(
    redis_server: RedisServer,
) -> None:
    """With ``redis_url`` the start-up check runs, on a short-lived sync client,
    when a start-up hook asks (building the door reaches no Redis)."""
    app = QSCookies(
        make_app("bare", Events()),
        secret_key=SECRET,
        redis_url=redis_server.url,
        strict=True,
    )
    with pytest.raises(ConfigurationError, match="strict=True refuses to start"):
        app.startup_check()


# -- one shop, two doors ------


def test_wsgi_and_asgi_share_one_cart_one_visitor_one_attribution(
    launch: Launch, kind: str, redis_client: redis.Redis
) -> None:
    asgi = launch(kind)
    wsgi_app = wrap(redis_client)
    wsgi_app.clock = lambda: NOW
    with WSGIServer(wsgi_app) as wsgi, httpx.Client(timeout=10) as browser:
        # WSGI issues the visitor and promotion; ASGI reads them
        landed = browser.get(wsgi.url + "/?promo=SUMMER", follow_redirects=True)
        assert landed.json() == {"returning": False, "visits": 1, "promotion": "SUMMER"}
        before = commands(redis_client)
        assert get(browser, asgi.server.url + "/") == landed.json()
        assert commands(redis_client) == before  # the same visit: nothing counted
        # ASGI issues the cart; WSGI adds to it, and back
        assert get(browser, asgi.server.url + "/add?sku=A") == 1
        assert get(browser, wsgi.url + "/add?sku=A") == 2
        assert get(browser, asgi.server.url + "/add?sku=B") == 1
        assert get(browser, wsgi.url + "/cart") == {"A": 2, "B": 1}
        assert len(redis_client.keys("qs:c:*")) == 1
        # a new visit starts on one door and is seen on the other
        asgi.at(NOW + 3600)
        wsgi_app.clock = lambda: NOW + 3600
        visit = get(browser, asgi.server.url + "/")
        assert visit == {"returning": True, "visits": 2, "promotion": "SUMMER"}
        assert get(browser, wsgi.url + "/") == visit
        # one purchase, whichever door records it
        assert get(browser, wsgi.url + "/buy?order=o-1&total=500") is True
        assert get(browser, asgi.server.url + "/buy?order=o-1&total=500") is False
        assert get(browser, asgi.server.url + "/cart") == {}
        with httpx.Client(timeout=10) as other:  # a landing on ASGI, read by WSGI
            assert other.get(asgi.server.url + "/?promo=AUTUMN").status_code == 303
            assert get(other, wsgi.url + "/")["promotion"] == "AUTUMN"
    site = redis_client.hgetall(f"qs:a:{{_site}}:d:{DAY}")
    assert site[b"visits"] == b"3"  # two visits of one visitor, one of another
    assert redis_client.pfcount(f"qs:a:{{_site}}:u:{DAY}") == 2
    summer = redis_client.hgetall(f"qs:a:{{SUMMER}}:d:{DAY}")
    assert summer[b"landings"] == b"1"
    assert summer[b"carts"] == b"1"
    assert summer[b"purchases"] == b"1"
    assert summer[b"revenue_cents:EUR"] == b"500"


# -- the round-trip budget ------


def _cost(shop: Shop, redis_client: redis.Redis, client: httpx.Client, url: str) -> Any:
    """(round trips on the middleware's connections, commands Redis ran) of a request.

    Commands run inside a script count too (``INFO commandstats`` counts them).
    """
    assert shop.wire is not None
    before, sent = commands(redis_client), len(shop.wire.sent)
    response = client.get(url)
    assert response.status_code in (200, 303), response.text
    return len(shop.wire.sent) - sent, commands(redis_client) - before


def test_round_trip_budget(
    launch: Launch, kind: str, redis_client: redis.Redis
) -> None:
    shop = launch(kind)
    with shop.client() as warm:  # connect, and load the scripts on this server
        warm.get("/?promo=SPRING")
        warm.get("/add?sku=A")
        warm.get("/buy?order=o-0&total=1")
    with shop.client() as client:
        trips, sent = _cost(shop, redis_client, client, "/?promo=SUMMER")
        assert trips == 1 and sent >= 5  # visit start and landing: one pipeline
        shop.at(NOW + 600)
        assert _cost(shop, redis_client, client, "/") == (0, 0)  # known visitor
        assert _cost(shop, redis_client, client, "/cart") == (0, 0)  # no cart yet
        for url in ["/add?sku=A", "/add?sku=A&q=2", "/set?sku=B&q=1", "/cart"]:
            trips, sent = _cost(shop, redis_client, client, url)
            assert trips == 1 and sent >= 1, url
        assert redis_client.hget(f"qs:a:{{SUMMER}}:d:{DAY}", "carts") == b"1"
        trips, sent = _cost(shop, redis_client, client, "/buy?order=o-1&total=9")
        assert trips == 1 and sent >= 2
        assert _cost(shop, redis_client, client, "/") == (0, 0)
        shop.at(NOW + 600 + 3600)
        trips, sent = _cost(shop, redis_client, client, "/")  # a returning visit
        assert trips == 1 and sent >= 4
        assert _cost(shop, redis_client, client, "/static/x.css") == (0, 0)


def test_str_headers_in_a_scope_are_read_never_a_500(
    redis_server: RedisServer,
) -> None:
    """ASGI says bytes; some servers and test tools hand ``str``."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        qs = context(scope)
        seen["added"] = await qs.cart.add("A")
        seen["choice"] = qs.tracking_choice
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def journey() -> list[Any]:
        aclient = redis.asyncio.Redis.from_url(
            redis_server.url, **client_options(2, asynchronous=True)
        )
        middleware = QSCookies(app, secret_key=SECRET, redis=aclient, key_prefix="s:")
        middleware.clock = lambda: NOW
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/shoes",
            "raw_path": "/shoes",
            "query_string": "promo=SUMMER&color=red",
            "scheme": "http",
            "headers": [("host", "shop.test"), ("sec-gpc", "1"), ("cookie", "a=1")],
        }
        sent: list[Any] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            sent.append(message)

        await middleware(scope, receive, send)
        await middleware({**scope, "query_string": ""}, receive, send)
        await aclient.aclose()
        return sent

    sent = asyncio.run(journey())
    landing, _, page, _ = sent
    assert landing["status"] == 303
    assert dict(landing["headers"])[b"location"] == b"/shoes?color=red"
    assert page["status"] == 200
    assert seen == {"added": 1, "choice": "out"}  # Sec-GPC was read


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(bytes, id="bytes"),
        pytest.param(lambda b: b.decode("latin-1"), id="str"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(memoryview, id="memoryview"),
    ],
)
def test_the_request_reads_only_its_headers_in_any_case_and_kind(
    kind: Callable[[bytes], Any],
) -> None:
    """Header names as ASGI sends them (lower-case bytes) or as some tools do
    (text, other cases, other bytes-likes) read alike; repeated fields joined
    by ``,`` and cookies by ``;`` as WSGI servers join them; other headers and
    bytes that are not UTF-8 never raise."""
    headers = [
        (b"Host", b"shop.test"),
        (b"user-agent", b"caf\xe9"),
        (b"SEC-GPC", b"1"),
        (b"sec-gpc", b"1"),
        (b"cookie", b"a=1"),
        (b"Cookie", b"legacy=caf\xe9"),
        (b"x-cookie", b"no=1"),
        (b"referer", b"https://shop.test/"),
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/p",
        "raw_path": kind(b"/p?x"),
        "query_string": kind(b"a=%ff"),
        "headers": [(kind(n), kind(v)) for n, v in headers],
    }
    request = asgi_request_from(scope)
    assert request.host == "shop.test" and request.sec_gpc == "1,1"
    assert request.cookie == "a=1; legacy=caf\xe9"
    assert request.referer == "https://shop.test/" and request.origin == ""
    assert (request.raw_path, request.query) == ("/p", "a=%ff")


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(bytes, id="bytes"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(memoryview, id="memoryview"),
    ],
)
@pytest.mark.parametrize("vary", [None, b"Accept"], ids=["no-vary", "vary"])
def test_the_apps_response_headers_go_byte_for_byte_and_ours_lower_case(
    redis_server: RedisServer, kind: Callable[[bytes], Any], vary: bytes | None
) -> None:
    """The app's pairs go as they came (their names' case, bytes that are not
    UTF-8), made ``bytes`` from any bytes-like; a value the core changes (its
    ``Vary`` extended) keeps the app's name; ours follow, names lower case,
    the ``Set-Cookie`` of each browser set."""
    own = [(b"Content-Type", b"text/html"), (b"X-Caf\xe9", b"caf\xe9")]
    own += [(b"VARY", vary)] if vary else []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await context(scope).cart.add("A")  # a cart cookie to set
        headers = [(kind(name), kind(value)) for name, value in own]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async def journey() -> list[list[Any]]:
        aclient = redis.asyncio.Redis.from_url(
            redis_server.url, **client_options(2, asynchronous=True)
        )
        middleware = QSCookies(app, secret_key=SECRET, redis=aclient, key_prefix="h:")
        middleware.clock = lambda: NOW
        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        starts: list[Any] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                starts.append(message["headers"])

        for _ in range(2):  # two browsers: two carts
            await middleware(dict(scope), receive, send)
        await aclient.aclose()
        return starts

    first, second = asyncio.run(journey())
    for headers in (first, second):
        assert all(type(n) is bytes and type(v) is bytes for n, v in headers)
        assert headers[:2] == own[:2]  # the app's, byte for byte
        ours = headers[len(own) :]
        assert all(name == name.lower() for name, _ in ours)
        assert (b"referrer-policy", b"same-origin") in ours  # the default
        assert b"cache-control" in dict(ours)
    if vary:
        assert first[2] == (b"VARY", b"Accept, Cookie")
        assert b"vary" not in dict(first[len(own) :])
    else:
        assert (b"vary", b"Cookie") in first[len(own) :]
    cookies = [
        [value for name, value in headers if name == b"set-cookie"]
        for headers in (first, second)
    ]
    assert cookies[0] and cookies[1] and cookies[0] != cookies[1]
