"""The same journeys through every door, on a single Redis and on Redis Cluster.

Each door is served over real HTTP: the WSGI shop of ``shop.py`` by werkzeug's
threaded server, the Starlette and bare ASGI shops of ``asgi_shop.py`` by
uvicorn. One httpx client per browser; the middleware's clock is moved, never
waited for. Whatever the door and the topology, the answers, the cookies and
the Redis keys are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from werkzeug.http import http_date

from qscookies import QSCookies as WSGIQSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.embedded import RedisServer
from qscookies.store.client import client_options
from qscookies.store.client import connect

from asgi_server import ASGIServer
from asgi_server import WSGIServer
from asgi_shop import Events
from asgi_shop import make_app
from launchers import RedisClusterServers
from shop import SECRET
from shop import http_shop

NOW = 1_800_000_000
DAY = "20270115"  # the UTC day of NOW
DOORS = ["wsgi", "asgi-starlette", "asgi-bare"]
TOPOLOGIES = ["single", "cluster"]


@dataclass
class Served:
    """A shop behind one door, and an admin client of its Redis."""

    url: str
    middleware: WSGIQSCookies | ASGIQSCookies
    admin: Any
    prefix: str

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def at(self, now: float) -> None:
        self.middleware.clock = lambda: now

    def keys(self, pattern: str) -> list[str]:
        """The keys of this shop matching *pattern*, on every node."""
        if isinstance(self.admin, redis.RedisCluster):
            found = self.admin.keys(
                self.prefix + pattern, target_nodes=redis.RedisCluster.PRIMARIES
            )
        else:
            found = self.admin.keys(self.prefix + pattern)
        return sorted(found)


@pytest.fixture(params=TOPOLOGIES)
def redis_url(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> Iterator[tuple[str, bool]]:
    if request.param == "single":
        yield redis_server.url, False
        with redis_server.client() as admin:
            admin.flushall()
        return
    cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
    yield cluster.url, True
    with cluster.client() as admin:
        admin.flushall(target_nodes=redis.RedisCluster.PRIMARIES)


@pytest.fixture(params=DOORS)
def serve(
    request: pytest.FixtureRequest, redis_url: tuple[str, bool]
) -> Iterator[Callable[..., Served]]:
    """``serve(**settings)``: the shop behind this door, over this Redis."""
    url, cluster = redis_url
    door = request.param
    with ExitStack() as stack:
        admin = stack.enter_context(connect(url, socket_timeout=2.0, cluster=cluster))

        def start(**settings: Any) -> Served:
            prefix = settings.setdefault("key_prefix", "door:")
            if door == "wsgi":
                client = stack.enter_context(
                    connect(url, socket_timeout=2.0, cluster=cluster)
                )
                app: Any = WSGIQSCookies(
                    http_shop, secret_key=SECRET, redis=client, **settings
                )
                server: Any = stack.enter_context(WSGIServer(app))
                return Served(server.url, app, admin, prefix)
            kind = door.removeprefix("asgi-")
            factory = redis.asyncio.RedisCluster if cluster else redis.asyncio.Redis
            aclient = factory.from_url(url, **client_options(2.0))
            app = ASGIQSCookies(
                make_app(kind, Events()), secret_key=SECRET, redis=aclient, **settings
            )
            server = stack.enter_context(ASGIServer(app, cleanup=[aclient.aclose]))
            return Served(server.url, app, admin, prefix)

        yield start


def test_cart_round_trip(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        assert browser.get("/add", params={"sku": "A", "q": "2"}).json() == 2
        assert browser.get("/add", params={"sku": "A"}).json() == 3
        assert browser.get("/set", params={"sku": "B", "q": "1"}).json() == 1
        browser.get("/remove", params={"sku": "A"})
        assert browser.get("/cart").json() == {"B": 1}
    (cart,) = shop.keys("c:*")
    assert 0 < shop.admin.ttl(cart) <= 30 * 86400


def test_landing_attribution_cart_and_one_purchase(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        landing = browser.get("/shoes", params={"promo": "SUMMER", "color": "red"})
        assert landing.status_code == 303
        assert landing.headers["location"] == "/shoes?color=red"
        assert browser.get("/").json()["promotion"] == "SUMMER"
        browser.get("/add", params={"sku": "A"})
        assert browser.get("/buy", params={"order": "o-1", "total": "500"}).json()
        assert not browser.get("/buy", params={"order": "o-1", "total": "500"}).json()
    counts = shop.admin.hgetall(f"door:a:{{SUMMER}}:d:{DAY}")
    assert {k: int(v) for k, v in counts.items()} == {
        "landings": 1,
        "carts": 1,
        "purchases": 1,
        "revenue_cents:EUR": 500,
        "landings@/": 1,
        "carts@/": 1,
        "purchases@/": 1,
        "revenue_cents:EUR@/": 500,
    }
    assert shop.admin.zrange(f"door:a:i:{DAY}", 0, -1) == ["SUMMER"]


def test_a_returning_visit_is_recognised_and_counted(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        assert browser.get("/").json() == {
            "returning": False,
            "visits": 1,
            "promotion": None,
        }
        shop.at(NOW + 3600)  # past the 30 minute visit gap
        assert browser.get("/").json()["visits"] == 2
    site = f"door:a:{{_site}}:%s:{DAY}"
    assert shop.admin.hget(site % "d", "visits") == "2"
    assert shop.admin.pfcount(site % "u") == 1
    assert shop.admin.pfcount(site % "r") == 1
    assert shop.keys("v:*") == []  # no per-visitor record


def test_codes_past_the_day_bound_count_under_other(
    serve: Callable[..., Served],
) -> None:
    shop = serve(max_promotions_per_day=2)
    shop.at(NOW)
    attributed = []
    for code in ("A1", "B2", "C3", "D4"):
        with shop.browser() as browser:
            browser.get("/", params={"promo": code})
            attributed.append(browser.get("/").json()["promotion"])
    assert attributed == ["A1", "B2", "C3", "D4"]  # the codes landed on
    index = shop.admin.zrange(f"door:a:i:{DAY}", 0, -1, withscores=True)
    # Landings admit one of the two codes; the other is kept for evidence.
    assert dict(index) == {"A1": 1.0, "other": 3.0}
    assert shop.keys("a:{B2}:*") == shop.keys("a:{C3}:*") == []


def test_forget_erases_the_cart(serve: Callable[..., Served]) -> None:
    shop = serve()
    shop.at(NOW)
    with shop.browser() as browser:
        browser.get("/add", params={"sku": "A"})
        assert shop.keys("c:*")
        forgotten = browser.get("/forget")
        assert forgotten.status_code == 200
        assert browser.get("/cart").json() == {}
    assert shop.keys("c:*") == []


# -- consent ------


def tracking_keys(shop: Served) -> dict[str, Any]:
    """Every key of the shop but carts, with what it holds (sketches: counts)."""
    found: dict[str, Any] = {}
    for key in shop.keys("*"):
        kind = shop.admin.type(key)
        if key.startswith("door:c:"):
            continue
        if kind == "hash":
            found[key] = shop.admin.hgetall(key)
        elif kind == "zset":
            found[key] = shop.admin.zrange(key, 0, -1, withscores=True)
        elif ":u:" in key or ":r:" in key:  # the HyperLogLogs of visitors
            found[key] = shop.admin.pfcount(key)
        else:  # an order marker
            found[key] = shop.admin.get(key)
    return found


TRACKING = {"qs_visitor", "qs_promo"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def test_opt_in_mode_tracks_nothing_before_a_yes_and_the_cart_works(
    serve: Callable[..., Served],
) -> None:
    shop = serve(consent="opt-in")
    shop.at(NOW)
    with shop.browser() as browser:
        landing = browser.get("/shoes", params={"promo": "SUMMER", "color": "red"})
        assert landing.status_code == 303  # still the clean URL
        assert landing.headers["location"] == "/shoes?color=red"
        assert not set(landing.cookies) & TRACKING
        assert browser.get("/choice").json() is None  # the app asks
        page = browser.get("/")
        assert page.json() == {"returning": False, "visits": 0, "promotion": None}
        assert browser.get("/add", params={"sku": "A", "q": "2"}).json() == 2
        assert browser.get("/cart").json() == {"A": 2}
        assert not browser.get("/buy", params={"order": "o-1", "total": "500"}).json()
        shop.at(NOW + 3600)
        browser.get("/", params={"promo": "SUMMER"})
        assert set(browser.cookies) <= {"qs_cart"}
    # the landing counters, and nothing else: no sketch, no site row, no order
    assert tracking_keys(shop) == {
        f"door:a:i:{DAY}": [("SUMMER", 2.0)],
        f"door:a:j:{{door:a:i:{DAY}}}": {"SUMMER": "1", "SUMMER@/": "2"},
        f"door:a:{{SUMMER}}:d:{DAY}": {"landings": "2", "landings@/": "2"},
    }


def test_a_yes_starts_tracking_on_that_response_and_an_out_stops_it(
    serve: Callable[..., Served],
) -> None:
    shop = serve(consent="opt-in")
    shop.at(NOW)
    site = f"door:a:{{_site}}:%s:{DAY}"
    with shop.browser() as browser:
        browser.get("/", params={"promo": "SUMMER"})  # before: attributed nowhere
        yes = browser.get("/choice", params={"c": "in"})
        assert yes.json() == "in"
        assert {"qs_choice", "qs_visitor"} <= set(yes.cookies)
        assert shop.admin.hget(site % "d", "visits") == "1"
        assert shop.admin.pfcount(site % "u") == 1
        assert browser.get("/").json() == {
            "returning": False,
            "visits": 1,
            "promotion": None,
        }
        browser.get("/", params={"promo": "WINTER"})
        assert browser.get("/").json()["promotion"] == "WINTER"
        browser.get("/add", params={"sku": "A"})
        assert browser.get("/buy", params={"order": "o-1", "total": "700"}).json()
        no = browser.get("/choice", params={"c": "out"})
        assert no.json() == "out"
        assert not set(browser.cookies) & TRACKING
        before = tracking_keys(shop)
        browser.get("/", params={"promo": "WINTER"})
        browser.get("/add", params={"sku": "B"})
        assert browser.get("/cart").json() == {"B": 1}
        assert not browser.get("/buy", params={"order": "o-2", "total": "9"}).json()
        shop.at(NOW + 3600)
        assert browser.get("/").json()["visits"] == 0
        assert tracking_keys(shop) == before  # nothing moves again
    winter = shop.admin.hgetall(f"door:a:{{WINTER}}:d:{DAY}")
    assert winter == {  # "@/": the landing carried no source and no medium
        "landings": "1",
        "landings@/": "1",
        "carts": "1",
        "carts@/": "1",
        "purchases": "1",
        "purchases@/": "1",
        "revenue_cents:EUR": "700",
        "revenue_cents:EUR@/": "700",
    }
    summer = shop.admin.hgetall(f"door:a:{{SUMMER}}:d:{DAY}")
    assert summer == {"landings": "1", "landings@/": "1"}


def test_the_privacy_route_records_a_yes_and_gpc_wins_over_it(
    serve: Callable[..., Served],
) -> None:
    shop = serve(consent="opt-in", privacy_path="/privacy")
    shop.at(NOW)
    with shop.browser() as browser:
        bad = browser.post("/privacy", data={"choice": "yes"}, headers=SAME_ORIGIN)
        assert bad.status_code == 400 and not bad.cookies
        yes = browser.post("/privacy", data={"choice": "in"}, headers=SAME_ORIGIN)
        assert yes.status_code == 303 and yes.headers["location"] == "/"
        assert {"qs_choice", "qs_visitor"} <= set(yes.cookies)
        site = f"door:a:{{_site}}:d:{DAY}"
        assert shop.admin.hget(site, "visits") == "1"
        gpc = {"Sec-GPC": "1"}
        assert browser.get("/choice", headers=gpc).json() == "out"
        assert browser.get("/", headers=gpc).json()["visits"] == 0
        before = tracking_keys(shop)
        shop.at(NOW + 3600)
        browser.get("/", params={"promo": "SUMMER"}, headers=gpc)
        assert tracking_keys(shop) == before  # not even the landing
        assert browser.get("/choice").json() == "in"  # the yes is still there
        # tracked again without the header: a new visitor (GPC dropped the cookie)
        assert browser.get("/").json()["visits"] == 1


def test_opt_out_mode_is_not_chosen_until_the_visitor_chooses(
    serve: Callable[..., Served],
) -> None:
    shop = serve(privacy_path="/privacy")
    shop.at(NOW)
    with shop.browser() as browser:
        assert browser.get("/choice").json() is None
        assert browser.get("/").json()["visits"] == 1  # tracked meanwhile
        out = browser.post("/privacy", data={"choice": "out"}, headers=SAME_ORIGIN)
        assert out.status_code == 303 and "qs_choice" in out.cookies
        assert browser.get("/choice").json() == "out"
        yes = browser.post("/privacy", data={"choice": "in"}, headers=SAME_ORIGIN)
        assert "qs_visitor" in yes.cookies  # tracked again from that response
        assert browser.get("/").json()["visits"] == 1


def test_opt_in_lifetimes_are_never_extended(serve: Callable[..., Served]) -> None:
    shop = serve(consent="opt-in")
    month = 30 * 86400
    shop.at(NOW)
    with shop.browser() as browser:
        assert browser.get("/choice", params={"c": "in"}).json() == "in"
        for months in range(1, 13):  # a visit every month
            shop.at(NOW + months * month)
            page = browser.get("/")
            assert page.json()["visits"] == months + 1
            visitor = page.headers["set-cookie"]
            left = 393 * 86400 - months * month  # 13 months from the consent
            assert f"Max-Age={left}" in visitor
        shop.at(NOW + 393 * 86400 + 1)  # past 13 months after the yes: asked again
        assert browser.get("/choice").json() is None
        assert browser.get("/").json()["visits"] == 0
        assert browser.get("/choice", params={"c": "in"}).json() == "in"
        assert browser.get("/").json()["visits"] == 1  # a new visitor


# -- the HTTP rules, the same at every door ------

SIGNALS = [
    [("Sec-GPC", "1"), ("Sec-GPC", "0")],
    [("Sec-GPC", "0"), ("Sec-GPC", "1")],
    [("Sec-GPC", "1, 0")],
    [("DNT", "0"), ("DNT", "1")],
]


def test_a_privacy_signal_is_on_when_any_of_its_headers_says_1(
    serve: Callable[..., Served],
) -> None:
    shop = serve()
    shop.at(NOW)
    for headers in SIGNALS:
        with shop.browser() as browser:
            assert browser.get("/choice", headers=headers).json() == "out", headers
            landing = browser.get("/", params={"promo": "SUMMER"}, headers=headers)
            assert not set(landing.cookies) & TRACKING
            assert browser.get("/", headers=headers).json()["visits"] == 0
    assert tracking_keys(shop) == {}  # not even a landing


def test_the_privacy_switchs_refusals_say_why(serve: Callable[..., Served]) -> None:
    shop = serve(privacy_path="/privacy")
    shop.at(NOW)
    out = {"choice": "out"}
    with shop.browser() as browser:
        refusals = [
            (
                browser.post("/privacy", data=out),
                403,
                "neither an Origin nor a Referer",
            ),
            (
                browser.post("/privacy", data=out, headers={"Origin": "http://evil"}),
                403,
                "another site",
            ),
            (browser.get("/privacy"), 405, "POST only"),
            (
                browser.post("/privacy", data={"choice": "x"}, headers=SAME_ORIGIN),
                400,
                '"choice" must be in or out',
            ),
        ]
    for response, status, why in refusals:
        assert response.status_code == status
        assert why in response.text
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert int(response.headers["content-length"]) == len(response.content)


def test_expires_is_read_from_the_middlewares_clock(
    serve: Callable[..., Served],
) -> None:
    shop = serve(privacy_path="/privacy")
    later = NOW + 400 * 86400  # another day, month and year than NOW
    for now in (NOW, later):
        shop.at(now)
        with shop.browser() as browser:
            response = browser.get("/add", params={"sku": "A"})
            set_cookies = response.headers.get_list("set-cookie")
            assert len(set_cookies) == 2  # the cart and the visitor
            for header in set_cookies:
                max_age = int(header.split("Max-Age=")[1].split(";")[0])
                assert f"Expires={http_date(now + max_age)};" in header
