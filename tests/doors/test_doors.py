"""The same journeys through every door, on a single Redis and on Redis Cluster.

Each door is served over real HTTP: the WSGI shop of ``shop.py`` by werkzeug's
threaded server, the Starlette and bare ASGI shops of ``asgi_shop.py`` by
uvicorn. One httpx client per browser; the middleware's clock is moved, never
waited for. Whatever the door and the topology, the answers, the cookies and
the Redis keys are the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from test_django import _python
from test_django import start_site
from test_flask import make_app as flask_shop
from werkzeug.http import http_date
from werkzeug.test import Client as WerkzeugClient

from qscookies import ConfigurationError
from qscookies import QSCookies as WSGIQSCookies
from qscookies import QSCookiesError
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.core.cycle import WRAPPED_TWICE
from qscookies.core.messages import UNAVAILABLE_BODY
from qscookies.embedded import RedisServer
from qscookies.embedded import free_port
from qscookies.flask import QSCookies as FlaskQSCookies

import served
from asgi_server import ASGIServer
from asgi_server import WSGIServer
from asgi_shop import Events
from asgi_shop import make_app
from served import DAY
from served import NOW
from served import Served
from shop import SECRET
from shop import http_shop

pytestmark = pytest.mark.slow  # starts processes of its own

#: The shop behind each door, over each topology (see :mod:`served`).
redis_url = served.redis_url
serve = served.serve


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
        "purchases:EUR": 1,
        "revenue_cents:EUR": 500,
        "landings@/": 1,
        "carts@/": 1,
        "purchases@/": 1,
        "purchases:EUR@/": 1,
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
        "purchases:EUR": "1",
        "purchases:EUR@/": "1",
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


# -- every door, Django and Flask included: the cases that once drifted ------

#: Every door of the package: the Django project served by gunicorn (the
#: middleware sync) and by uvicorn (async), the Flask app through its extension.
EVERY_DOOR = ["wsgi", "asgi", "django-sync", "django-async", "flask"]
DOWN = {"privacy_path": "/privacy", "socket_timeout": 0.5}


def _flask(redis_url: str, **settings: Any) -> Any:
    """The Flask shop of ``test_flask.py`` with its extension, as a WSGI app."""
    config = {f"QSCOOKIES_{name.upper()}": value for name, value in settings.items()}
    app = flask_shop(redis_url, **config)
    FlaskQSCookies(app)
    return app


def _start_door(
    stack: ExitStack, logs: Path, door: str, url: str, **settings: Any
) -> tuple[str, str]:
    """Serve the shop behind *door* over the Redis at *url* until *stack*
    closes: its URL and the path of a cart add."""
    if door.startswith("django"):
        server = "gunicorn" if door == "django-sync" else "uvicorn"
        base = start_site(stack, logs, server, url, **settings)
        return base, "/async/add" if door == "django-async" else "/add"
    if door == "asgi":
        app = make_app("starlette", Events())
        app = ASGIQSCookies(app, secret_key=SECRET, redis_url=url, **settings)
        served: Any = ASGIServer(app, cleanup=[app.aclose])
    elif door == "wsgi":
        app = WSGIQSCookies(http_shop, secret_key=SECRET, redis_url=url, **settings)
        served = WSGIServer(app)
    else:
        served = WSGIServer(_flask(url, **settings))
    return stack.enter_context(served).url, "/add"


@pytest.fixture(params=EVERY_DOOR)
def down_shop(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., tuple[str, str]]]:
    """``down_shop(**settings)``: the shop behind this door, its Redis down
    (nothing listens at its port): its URL and the path of a cart add."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    with ExitStack() as stack:
        yield lambda **settings: _start_door(
            stack, tmp_path, request.param, url, **{**DOWN, **settings}
        )


@pytest.fixture(params=EVERY_DOOR)
def up_shop(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Iterator[Callable[..., tuple[str, str]]]:
    """``up_shop(**settings)``: the shop behind this door over the suite's
    Redis (flushed afterwards): its URL and the path of a cart add."""
    with ExitStack() as stack:
        yield lambda **settings: _start_door(
            stack, tmp_path, request.param, redis_server.url, **settings
        )
    with redis_server.client() as admin:
        admin.flushall()


def _journeys(base: str, add: str) -> dict[str, Any]:
    """What one browser sees of the middleware's own rules, Redis down."""
    seen: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=10) as browser:
        landing = browser.get("/?promo=SUMMER&x=1")
        seen["landing"] = (
            landing.status_code,
            landing.headers.get("location"),
            sorted(landing.cookies),  # the visitor; no promotion: never counted
        )
        added = browser.get(add, params={"sku": "A"})
        seen["store down"] = (
            added.status_code,
            added.headers.get("retry-after"),
            added.headers.get("cache-control"),
            added.headers.get("content-type"),
            added.text,
        )
        static = browser.get("/static/app.css")
        seen["excluded"] = "set-cookie" in static.headers, static.headers.get("vary")
        wrong = browser.get("/privacy")
        seen["privacy GET"] = wrong.status_code, wrong.headers.get("allow"), wrong.text
        blind = browser.post("/privacy", data={"choice": "out"})
        seen["privacy no origin"] = blind.status_code, blind.text
        out = browser.post("/privacy", data={"choice": "out"}, headers=SAME_ORIGIN)
        seen["privacy out"] = (
            out.status_code,
            out.headers.get("location"),
            sorted(out.cookies),
        )
        answers = (landing, added, wrong, blind, out)
        seen["status lines"] = [a.reason_phrase for a in answers]
    return seen


def test_every_door_answers_the_middlewares_own_rules_alike(
    down_shop: Callable[..., tuple[str, str]],
) -> None:
    """Landing ``303``, the ``503`` of a failed cart write, an excluded path and
    the privacy route's answers: the same status, headers and body at every
    door, while Redis is down."""
    assert _journeys(*down_shop()) == {
        "landing": (303, "/?x=1", ["qs_visitor"]),
        "store down": (
            503,
            "5",
            "no-store",
            "text/plain; charset=utf-8",
            UNAVAILABLE_BODY.decode(),
        ),
        "excluded": (False, None),
        "privacy GET": (
            405,
            "POST",
            "Method Not Allowed: the tracking choice is recorded by a POST only.\n",
        ),
        "privacy no origin": (
            403,
            "Forbidden: the request carries neither an Origin nor a Referer header,"
            " so it cannot be told to come from this site.\n",
        ),
        "privacy out": (303, "/", ["qs_choice"]),
        "status lines": [  # the core's int, and a reason where a door writes one
            "See Other",
            "Service Unavailable",
            "Method Not Allowed",
            "Forbidden",
            "See Other",
        ],
    }


_DJANGO_DOORS = """
import asyncio, json, logging, sys, django, httpx
django.setup()
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from werkzeug.test import Client as WerkzeugClient
from qscookies import QSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies
from django.http import HttpResponse
from django.test import AsyncClient, Client, override_settings
from qscookies.django import QSCookiesMiddleware

seen = {}
door = "qscookies.django.QSCookiesMiddleware"
with override_settings(MIDDLEWARE=[door, door]):
    for name, call in (
        ("sync", lambda: Client().get("/")),
        ("async", lambda: asyncio.run(AsyncClient().get("/async/"))),
    ):
        try:
            call()
        except Exception as error:
            seen[f"wrapped twice {name}"] = str(error)

# Django's own apps in a door too: the middleware inside refuses (Django's 500)
url, key = settings.QSCOOKIES["redis_url"], "k" * 32
django_asgi, django_wsgi = get_asgi_application(), get_wsgi_application()
errors = []  # after those: each sets Django's logging up again
handler = logging.Handler()
handler.emit = lambda record: errors.append(str(record.exc_info[1]))
logging.getLogger("django.request").addHandler(handler)

async def asgi_door():
    app = ASGIQSCookies(django_asgi, secret_key=key, redis_url=url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://a") as browser:
        status = (await browser.get("/async/")).status_code
    await app.aclose()
    return status

wsgi = QSCookies(django_wsgi, secret_key=key, redis_url=url)
for name, call in (
    ("in the wsgi door", lambda: WerkzeugClient(wsgi).get("/").status_code),
    ("in the asgi door", lambda: asyncio.run(asgi_door())),
):
    seen[f"wrapped twice {name}"] = [call(), errors.pop()]
bad = {**settings.QSCOOKIES, "redis_url": "nowhere://x"}
with override_settings(QSCOOKIES=bad):
    try:
        QSCookiesMiddleware(lambda request: HttpResponse())
    except Exception as error:
        seen["bad url"] = [error.setting, str(error)]
print(json.dumps(seen))
"""


def test_every_door_refuses_a_double_wrap_and_a_bad_url_alike(
    redis_server: RedisServer,
) -> None:
    """One error text for a request that meets qscookies twice, whatever the
    door; a bad Redis URL names the setting (``setting="redis_url"``)."""
    url = redis_server.url
    admin = redis_server.client()
    before = _connections(admin)
    twice: dict[str, str] = {}
    bad: dict[str, ConfigurationError] = {}
    outer = WSGIQSCookies(WSGIQSCookies(http_shop, secret_key=SECRET, redis_url=url),
                          secret_key=SECRET, redis_url=url)  # fmt: skip
    flask_twice = _flask(url)
    FlaskQSCookies(flask_twice)
    for name, app in (("wsgi", outer), ("flask", flask_twice)):
        with pytest.raises(QSCookiesError) as raised:
            WerkzeugClient(app).get("/")
        twice[name] = str(raised.value)
    inner = ASGIQSCookies(make_app("bare", Events()), secret_key=SECRET, redis_url=url)
    aouter = ASGIQSCookies(inner, secret_key=SECRET, redis_url=url)
    with pytest.raises(QSCookiesError) as raised:
        asyncio.run(aouter({"type": "http", "path": "/"}, _nothing, _nothing))
    twice["asgi"] = str(raised.value)
    assert _connections(admin) == before  # refused before anything reached Redis
    admin.close()
    for name, build in (
        ("wsgi", lambda: WSGIQSCookies(http_shop, secret_key=SECRET, redis_url="nowhere://x")),
        ("asgi", lambda: ASGIQSCookies(http_shop, secret_key=SECRET, redis_url="nowhere://x")),
        ("flask", lambda: _flask("nowhere://x")),
    ):  # fmt: skip
        with pytest.raises(ConfigurationError) as error:
            build()
        bad[name] = error.value
    django = _python(url, "-c", _DJANGO_DOORS)
    assert django.returncode == 0, django.stderr
    seen = json.loads(django.stdout)
    twice["django sync"] = seen["wrapped twice sync"]
    twice["django async"] = seen["wrapped twice async"]
    for door in ("wsgi", "asgi"):  # Django's 500 for what its middleware raised
        status, twice[f"django in the {door} door"] = seen[
            f"wrapped twice in the {door} door"
        ]
        assert status == 500
    assert twice == dict.fromkeys(twice, WRAPPED_TWICE)
    assert len(twice) == 7
    assert {name: error.setting for name, error in bad.items()} == dict.fromkeys(
        bad, "redis_url"
    )
    assert seen["bad url"][0] == "redis_url"
    messages = [str(error) for error in bad.values()] + [seen["bad url"][1]]
    wheres = [message.partition("bad Redis URL: ")[0] for message in messages]
    assert wheres == ["", "", "app.config['QSCOOKIES_REDIS_URL']: ",
                      "QSCOOKIES['redis_url']: "]  # fmt: skip
    assert len({message.partition("bad Redis URL: ")[2] for message in messages}) == 1


async def _nothing(*_args: Any) -> Any:
    raise AssertionError("nothing may be received or sent")


_DJANGO_BUILD = """
import django
django.setup()
from django.http import HttpResponse
from qscookies.django import QSCookiesMiddleware

async def view(request):
    return HttpResponse()

QSCookiesMiddleware(lambda request: HttpResponse())  # Django's WSGI handler
QSCookiesMiddleware(view)  # its ASGI handler
"""


def _connections(admin: redis.Redis) -> int:
    return int(admin.info("stats")["total_connections_received"])


def test_building_any_door_contacts_no_redis(redis_server: RedisServer) -> None:
    """Importing a shop under test reaches no Redis: each door checks at its
    first request (or when a start-up hook calls ``startup_check()``)."""
    url = redis_server.url
    with redis_server.client() as admin:
        before = _connections(admin)
        wsgi = WSGIQSCookies(http_shop, secret_key=SECRET, redis_url=url)
        asgi = ASGIQSCookies(
            make_app("bare", Events()), secret_key=SECRET, redis_url=url
        )
        flask = _flask(url)
        django = _python(url, "-c", _DJANGO_BUILD)
        assert django.returncode == 0, django.stderr
        assert _connections(admin) == before
        assert WerkzeugClient(wsgi).get("/").status_code == 200
        checked = _connections(admin)
        assert checked > before  # the first request ran the check (and tracked)
        assert WerkzeugClient(wsgi).get("/").status_code == 200
        asgi.startup_check()
        assert _connections(admin) > checked  # its own short-lived sync client
        assert flask.test_client().get("/").status_code == 200
        wsgi.close()


def test_a_strict_refusal_at_the_first_request_is_a_503_at_every_door(
    down_shop: Callable[..., tuple[str, str]],
) -> None:
    """``strict=True`` and a Redis that cannot be checked: building the door
    raised nothing; its first request finds the refusal, and every request is
    the ``503``, the middleware's own answers too."""
    base, add = down_shop(strict=True)
    with httpx.Client(base_url=base, timeout=10) as browser:
        answers = [
            browser.get("/"),
            browser.get("/?promo=SUMMER"),
            browser.get(add, params={"sku": "A"}),
            browser.post("/privacy", data={"choice": "out"}, headers=SAME_ORIGIN),
        ]
        excluded = browser.get("/static/app.css")
    seen = [
        (a.status_code, a.headers.get("retry-after"), a.text, sorted(a.cookies))
        for a in answers
    ]
    assert seen == [(503, "5", UNAVAILABLE_BODY.decode(), [])] * 4
    assert excluded.status_code != 503  # the app alone, as ever


#: A form posted to the shop by a page of another origin: a sibling
#: subdomain's (the browser sends our SameSite=Lax cookies with it, and says
#: same-site), or one an old browser names by its Origin alone.
OTHER_ORIGIN = [
    pytest.param(
        {"Sec-Fetch-Site": "same-site", "Origin": "http://evil.127.0.0.1"},
        id="same-site",
    ),
    pytest.param({"Origin": "http://evil.127.0.0.1"}, id="subdomain-origin"),
]


@pytest.mark.parametrize("headers", OTHER_ORIGIN)
def test_every_door_refuses_a_sibling_subdomains_cart_form(
    up_shop: Callable[..., tuple[str, str]], headers: dict[str, str]
) -> None:
    """A form from ``evil.shop.example`` is not same-origin: its cart write is
    a ``403`` (``CrossSiteError``) that sets and drops no cookie, though the
    visitor's cookies came with it; a same-origin form and a request naming no
    origin at all (an old browser, ``curl``) still add."""
    base, add = up_shop()
    cart = add.replace("add", "cart")
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.get(add, params={"sku": "MINE"}).json() == 1
        forced = browser.post(add, params={"sku": "EVIL"}, headers=headers)
        assert forced.status_code == 403, forced.text
        assert "cross-site" in forced.text
        assert "set-cookie" not in forced.headers
        same = browser.post(add, params={"sku": "A"}, headers=SAME_ORIGIN)
        assert same.json() == 1
        assert browser.post(add, params={"sku": "B"}).json() == 1
        assert browser.get(cart).json() == {"MINE": 1, "A": 1, "B": 1}


def test_every_doors_store_is_built_from_the_settings(
    up_shop: Callable[..., tuple[str, str]], redis_server: RedisServer
) -> None:
    """The store each door sends on (Django's asyncio one under its ASGI
    handler included) is built from the settings, as every other door's: a
    cart added through it is under the settings' key prefix, with their cart
    lifetime, and reads back through the same door."""
    base, add = up_shop(key_prefix="p23:", cart_max_age=3600)
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.get(add, params={"sku": "A"}).json() == 1
        assert browser.get(add.replace("add", "cart")).json() == {"A": 1}
    with redis_server.client() as admin:
        carts = admin.keys("p23:c:*")
        assert len(carts) == 1
        assert 3500 < admin.ttl(carts[0]) <= 3600
        assert admin.keys("qs:*") == []


_DJANGO_GIVEN = """
import json, logging, os, django, redis, redis.asyncio
django.setup()
from django.http import HttpResponse
from django.test import override_settings
from qscookies.django import QSCookiesMiddleware
from qscookies.store.client import client_options

url = os.environ["DJANGO_SITE_REDIS_URL"]
warned = []
handler = logging.Handler()
handler.emit = lambda record: warned.append(record.getMessage())
logging.getLogger("qscookies").addHandler(handler)

async def view(request):
    return HttpResponse()

bounded = redis.Redis.from_url(url, **client_options(1.0))
unbounded = redis.asyncio.Redis.from_url(url)
for name, given, get_response in (
    ("sync", {"redis": redis.Redis.from_url(url)}, lambda request: HttpResponse()),
    ("async", {"redis": bounded, "async_redis": unbounded}, view),
):
    warned.clear()
    with override_settings(QSCOOKIES=given):
        QSCookiesMiddleware(get_response)
    print(json.dumps([name, [m for m in warned if "passed in" in m]]))
"""


def test_every_door_warns_of_a_given_client_without_a_timeout(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client passed in that can hold a request past ``socket_timeout`` is
    named once, at whichever door it is given to: Django's ``async_redis``
    under its ASGI handler as the ASGI door's ``redis``."""
    url = redis_server.url
    seen: dict[str, list[str]] = {}
    flask = flask_shop(None, QSCOOKIES_REDIS=redis.Redis.from_url(url))
    for name, build in (
        ("wsgi", lambda: WSGIQSCookies(http_shop, secret_key=SECRET,
                                       redis=redis.Redis.from_url(url))),
        ("asgi", lambda: ASGIQSCookies(http_shop, secret_key=SECRET,
                                       redis=redis.asyncio.Redis.from_url(url))),
        ("flask", lambda: FlaskQSCookies(flask)),
    ):  # fmt: skip
        caplog.clear()
        with caplog.at_level(logging.WARNING, "qscookies"):
            build()
        seen[name] = [m for m in caplog.messages if "passed in" in m]
    django = _python(url, "-c", _DJANGO_GIVEN)
    assert django.returncode == 0, django.stderr
    for line in django.stdout.splitlines():
        name, warned = json.loads(line)
        seen[f"django {name}"] = warned
    assert list(seen) == ["wsgi", "asgi", "flask", "django sync", "django async"]
    texts = {
        name: [w.partition(" (pid")[0] for w in warned] for name, warned in seen.items()
    }
    assert texts == dict.fromkeys(seen, [
        "qscookies: the Redis client passed in has no socket_timeout: a request"
        " can wait past socket_timeout; give it a socket_timeout and a"
        " socket_connect_timeout no longer than it (see"
        " https://qscookies.github.io/qscookies/scale/#client-settings)"
    ])  # fmt: skip
