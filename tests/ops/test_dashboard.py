"""The dashboard: access control, headers, JSON, the CLI, and real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import campaign_script
import chromium as headless
import promotion_script
import pytest
import redis
from browser import served
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.http import parse_cookie
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.test import create_environ

from qscookies.dashboard import COOKIE_NAME
from qscookies.dashboard import FORBIDDEN_BODY
from qscookies.dashboard import SECURITY_HEADERS
from qscookies.dashboard import SESSION_MAX_AGE
from qscookies.dashboard import Dashboard
from qscookies.dashboard.server import MISSING_EXTRA
from qscookies.dashboard.server import AccessLogMiddleware
from qscookies.dashboard.server import RedactingFormatter
from qscookies.dashboard.server import redact
from qscookies.embedded import RedisServer
from qscookies.errors import ConfigurationError
from qscookies.ops import cli
from qscookies.report import PromotionReport
from qscookies.report.days import utc_today
from qscookies.report.render import COLUMNS
from qscookies.report.render import render_csv

from shop import RoundTrips
from shop import wrap

pytestmark = pytest.mark.slow  # starts processes of its own

TOKEN = "marketing-token-0123456789"
FIRST = date(2024, 2, 28)
LAST = FIRST + timedelta(days=2)
RANGE = f"since={FIRST}&until={LAST}"
ROOT = Path(__file__).resolve().parents[2]
#: URL schemes served from inside the browser, never from the network.
_LOCAL = {"data", "chrome", "about", "blob"}


@pytest.fixture
def dashboard(redis_client: redis.Redis) -> Dashboard:
    promotion_script.run(redis_client, FIRST)
    return Dashboard(redis=redis_client, token=TOKEN)


class LocalClient(Client):
    """werkzeug's test client, asking from ``127.0.0.1`` unless told otherwise."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": "127.0.0.1"})
        return super().open(*args, **kwargs)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- access ------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/counts",
        "/api/counts.csv",
        "/api/daily?promotion=SPRING",
        "/static/dashboard.js",
    ],
)
def test_no_token_is_403(dashboard: Dashboard, path: str) -> None:
    response = LocalClient(dashboard).get(path)
    assert response.status_code == 403
    assert "SPRING" not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(bearer("marketing-token-012345678"), id="wrong-bearer"),
        pytest.param(bearer(TOKEN + "x"), id="longer-bearer"),
        pytest.param(bearer("täken-with-non-ascii"), id="non-ascii"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="basic"),
        pytest.param({"Authorization": TOKEN}, id="bare"),
        pytest.param({"Cookie": f"{COOKIE_NAME}={TOKEN}"}, id="raw-token-cookie"),
        pytest.param({"Cookie": f"{COOKIE_NAME}=0000"}, id="forged-cookie"),
    ],
)
def test_wrong_token_is_403(dashboard: Dashboard, headers: dict[str, str]) -> None:
    assert LocalClient(dashboard).get("/api/counts", headers=headers).status_code == 403


def test_wrong_query_token_is_403_and_sets_no_cookie(dashboard: Dashboard) -> None:
    response = LocalClient(dashboard).get("/?token=nope")
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


def test_query_token_only_on_get(dashboard: Dashboard) -> None:
    response = LocalClient(dashboard).post(f"/?token={TOKEN}")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("address", "headers", "status"),
    [
        pytest.param("8.8.8.8", {}, 403, id="public"),
        pytest.param(
            "203.0.113.9", {"X-Forwarded-For": "127.0.0.1"}, 403, id="forwarded-for"
        ),
        pytest.param("", {}, 403, id="no-address"),
        pytest.param("localhost", {}, 403, id="not-an-address"),
        pytest.param("127.0.0.1", {}, 200, id="loopback"),
        pytest.param("::1", {}, 200, id="loopback-v6"),
        pytest.param("::ffff:192.168.1.7", {}, 200, id="v4-mapped-private"),
        pytest.param("10.20.30.40", {}, 200, id="private-10"),
        pytest.param("172.31.0.1", {}, 200, id="private-172"),
        pytest.param("172.32.0.1", {}, 403, id="outside-172-16"),
    ],
)
def test_client_network_allow_list(
    dashboard: Dashboard, address: str, headers: dict[str, str], status: int
) -> None:
    client = LocalClient(dashboard)
    response = client.get(
        "/api/counts",
        headers={**bearer(), **headers},
        environ_overrides={"REMOTE_ADDR": address},
    )
    assert response.status_code == status


def test_custom_networks(redis_client: redis.Redis) -> None:
    app = Dashboard(redis=redis_client, token=TOKEN, allowed_networks=["10.1.0.0/16"])
    client = LocalClient(app)
    ok = client.get(
        "/", headers=bearer(), environ_overrides={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert ok.status_code == 200
    assert client.get("/", headers=bearer()).status_code == 403  # 127.0.0.1


def test_token_is_traded_for_a_cookie(dashboard: Dashboard) -> None:
    client = LocalClient(dashboard)
    response = client.get(f"/?token={TOKEN}&{RANGE}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/?{RANGE}"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie
    assert "Secure" not in cookie  # plain http here
    # The cookie now opens every route, without the token.
    counts = client.get(f"/api/counts?{RANGE}")
    assert counts.status_code == 200
    assert [row["promotion"] for row in counts.json["rows"]] == [
        "SPRING",
        "SUMMER",
        "WINTER",
    ]
    assert client.get("/").status_code == 200


def test_cookie_is_secure_on_https(dashboard: Dashboard) -> None:
    response = LocalClient(dashboard).get(
        f"/?token={TOKEN}", environ_overrides={"wsgi.url_scheme": "https"}
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


class Clock:
    """A clock the test moves by hand (POSIX seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session_cookie(response: Any) -> str:
    """The value of the dashboard cookie a response sets."""
    return parse_cookie(response.headers["Set-Cookie"].split(";", 1)[0])[COOKIE_NAME]


def test_cookie_carries_max_age(dashboard: Dashboard) -> None:
    response = LocalClient(dashboard).get(f"/?token={TOKEN}")
    assert f"Max-Age={SESSION_MAX_AGE}" in response.headers["Set-Cookie"]
    assert SESSION_MAX_AGE == 12 * 60 * 60


@pytest.mark.parametrize(
    ("max_age", "moved", "status"),
    [
        pytest.param(SESSION_MAX_AGE, 0, 200, id="fresh"),
        pytest.param(SESSION_MAX_AGE, SESSION_MAX_AGE, 200, id="last-second"),
        pytest.param(SESSION_MAX_AGE, SESSION_MAX_AGE + 1, 403, id="expired"),
        pytest.param(60, 61, 403, id="short-session-expired"),
        pytest.param(60, -5, 403, id="issued-in-the-future"),
    ],
)
def test_cookie_expires(
    redis_client: redis.Redis, max_age: int, moved: int, status: int
) -> None:
    clock = Clock()
    app = Dashboard(
        redis=redis_client, token=TOKEN, session_max_age=max_age, clock=clock
    )
    client = LocalClient(app)
    traded = client.get(f"/?token={TOKEN}")
    assert f"Max-Age={max_age}" in traded.headers["Set-Cookie"]
    clock.now += moved
    response = client.get("/api/counts")
    assert response.status_code == status
    if status == 403:
        assert response.text == FORBIDDEN_BODY
        # The bearer token still opens the door; only the cookie is stale.
        assert client.get("/api/counts", headers=bearer()).status_code == 200


def test_cookie_of_another_token_is_403(redis_client: redis.Redis) -> None:
    other = "another-token-0123456789"
    issued = LocalClient(Dashboard(redis=redis_client, token=other)).get(
        f"/?token={other}"
    )
    cookie = session_cookie(issued)
    assert other not in cookie
    client = LocalClient(Dashboard(redis=redis_client, token=TOKEN))
    client.set_cookie(COOKIE_NAME, cookie)
    assert client.get("/api/counts").status_code == 403


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda v: v[:-9] + ("A" if v[-9] != "A" else "B") + v[-8:], id="sig"
        ),
        pytest.param(lambda v: v.replace("marketing", "marketinG"), id="value"),
        pytest.param(
            lambda v: "marketing.{}.{}".format("ZZZZZZ", v.rsplit(".", 1)[1]),
            id="timestamp",
        ),
        pytest.param(lambda v: v.rsplit(".", 1)[0], id="unsigned"),
        pytest.param(lambda v: "é" + v, id="non-ascii"),
    ],
)
def test_forged_cookie_is_403(dashboard: Dashboard, forge: Any) -> None:
    client = LocalClient(dashboard)
    cookie = session_cookie(client.get(f"/?token={TOKEN}"))
    assert client.get("/api/counts").status_code == 200
    client.set_cookie(COOKIE_NAME, forge(cookie))
    response = client.get("/api/counts")
    assert response.status_code == 403
    assert response.text == FORBIDDEN_BODY


@pytest.mark.parametrize(
    ("address", "headers"),
    [
        pytest.param("127.0.0.1", {}, id="no-token"),
        pytest.param("127.0.0.1", bearer("marketing-token-wrong-one"), id="wrong"),
        pytest.param("8.8.8.8", bearer(), id="other-network"),
        pytest.param("127.0.0.1", {"Cookie": f"{COOKIE_NAME}=x.y.z"}, id="forged"),
    ],
)
def test_forbidden_says_how_to_get_in_and_nothing_else(
    dashboard: Dashboard, address: str, headers: dict[str, str]
) -> None:
    response = LocalClient(dashboard).get(
        "/api/counts", headers=headers, environ_overrides={"REMOTE_ADDR": address}
    )
    assert response.status_code == 403
    # One body whatever the reason: it does not tell which check failed.
    assert response.text == FORBIDDEN_BODY
    assert response.mimetype == "text/plain"
    assert "Authorization: Bearer <token>" in FORBIDDEN_BODY
    assert "?token=<token>" in FORBIDDEN_BODY
    assert "network" in FORBIDDEN_BODY
    for secret in (TOKEN, address, "10.0.0.0", "/8", "SPRING", "expired", "12"):
        assert secret not in response.text


def test_mounted_under_a_prefix(redis_client: redis.Redis) -> None:
    app = DispatcherMiddleware(
        lambda environ, start_response: [],
        {"/marketing": Dashboard(redis=redis_client, token=TOKEN)},
    )
    client = LocalClient(app)
    response = client.get(f"/marketing?token={TOKEN}")
    assert response.headers["Location"] == "/marketing/"
    assert "Path=/marketing" in response.headers["Set-Cookie"]
    assert client.get("/marketing").headers["Location"] == "/marketing/"
    assert client.get("/marketing/").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"token": "short"}, "at least 16", id="short-token"),
        pytest.param({"token": None}, "at least 16", id="no-token"),
        pytest.param(
            {"token": TOKEN, "allowed_networks": "10.0.0.0/8"}, "a list", id="string"
        ),
        pytest.param(
            {"token": TOKEN, "allowed_networks": ["10.0.0.1/8"]},
            "allowed_networks",
            id="host-bits",
        ),
        pytest.param(
            {"token": TOKEN, "allowed_networks": ["intranet"]},
            "allowed_networks",
            id="name",
        ),
        pytest.param(
            {"token": TOKEN, "session_max_age": 0}, "session_max_age", id="no-age"
        ),
        pytest.param(
            {"token": TOKEN, "session_max_age": 1.5}, "session_max_age", id="float"
        ),
    ],
)
def test_bad_configuration(
    redis_client: redis.Redis, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Dashboard(redis=redis_client, **kwargs)


# -- pages, headers, data ------


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        pytest.param("/", bearer(), 200, id="page"),
        pytest.param("/static/dashboard.css", bearer(), 200, id="css"),
        pytest.param("/api/counts", bearer(), 200, id="api"),
        pytest.param("/nowhere", bearer(), 404, id="not-found"),
        pytest.param("/", {}, 403, id="forbidden"),
    ],
)
def test_security_headers_on_every_response(
    dashboard: Dashboard, path: str, headers: dict[str, str], status: int
) -> None:
    response = LocalClient(dashboard).get(path, headers=headers)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Content-Disposition" not in response.headers


def test_assets_are_served_from_the_package(dashboard: Dashboard) -> None:
    client = LocalClient(dashboard)
    page = client.get("/", headers=bearer())
    assert page.mimetype == "text/html"
    assert 'src="static/dashboard.js"' in page.text
    assert 'href="static/dashboard.css"' in page.text
    script = client.get("/static/dashboard.js", headers=bearer())
    assert script.mimetype == "text/javascript" and "createElementNS" in script.text
    style = client.get("/static/dashboard.css", headers=bearer())
    assert style.mimetype == "text/css"
    # No path outside the known assets, however it is spelt.
    for path in ("/static/../__init__.py", "/static/page.html", "/static/"):
        assert client.get(path, headers=bearer()).status_code == 404


def test_api_counts_equal_the_script(dashboard: Dashboard) -> None:
    body = LocalClient(dashboard).get(f"/api/counts?{RANGE}", headers=bearer()).json
    assert body["since"] == str(FIRST) and body["until"] == str(LAST)
    assert body["rows"] == [
        {
            "promotion": row.promotion,
            "landings": row.landings,
            "visitors": row.visitors,
            "returning": row.returning,
            "carts": row.carts,
            "purchases": row.purchases,
            "revenue_cents": row.revenue_cents,
            "currency_purchases": row.currency_purchases,
            "revenue_by_currency": row.revenue_by_currency,
            "conversion_rate": round(row.conversion_rate, 4),
            "average_order_cents": row.average_order_cents,
        }
        for row in promotion_script.expected_counts()
    ]
    assert [row["average_order_cents"] for row in body["rows"]] == [
        1249.5,
        None,
        None,
    ]
    assert body["totals"] == {
        "landings": 7,
        "visitors": 4,
        "returning": 3,
        "carts": 3,
        "purchases": 2,
        "revenue_cents": 2499,
        "currency_purchases": 2,
        "revenue_by_currency": {"EUR": 2499},
        "conversion_rate": 0.5,
        "average_order_cents": 1249.5,
    }


def test_api_counts_has_the_site_row_and_the_series(dashboard: Dashboard) -> None:
    body = LocalClient(dashboard).get(f"/api/counts?{RANGE}", headers=bearer()).json
    assert body["site"] == {"visits": 8, "visitors": 5, "returning": 3}
    assert (body["top"], body["rest"], body["rest_codes"]) == (20, None, 0)
    assert body["daily"]["SPRING"] == [
        promotion_script.day_dict(row)
        for row in promotion_script.expected_spring_daily(FIRST)
    ]
    assert set(body["daily"]) == {"SPRING", "SUMMER", "WINTER"}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_api_counts_top_and_rest(dashboard: Dashboard) -> None:
    body = (
        LocalClient(dashboard).get(f"/api/counts?{RANGE}&top=1", headers=bearer()).json
    )
    assert [row["promotion"] for row in body["rows"]] == ["SPRING"]
    assert body["rest_codes"] == 2
    assert body["rest"] == {
        "landings": 3,
        "visitors": 2,
        "returning": 1,
        "carts": 1,
        "purchases": 0,
        "revenue_cents": 0,
        "currency_purchases": 0,
        "revenue_by_currency": {},
        "conversion_rate": 0.0,
        "average_order_cents": None,  # no purchase: no average
    }
    assert set(body["daily"]) == {"SPRING"}
    for bad in ("0", "101", "x", "-1"):
        response = LocalClient(dashboard).get(
            f"/api/counts?top={bad}", headers=bearer()
        )
        assert response.status_code == 400


def test_junk_codes_grow_keys_by_a_constant_and_one_bounded_call(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    """Hundreds of junk codes through the real middleware: the key space grows
    by a small constant past ``max_promotions_per_day``, and the dashboard's
    data call stays one request of bounded size and two Redis round trips."""
    bound, junk = 5, 300
    shop_app = wrap(redis_client, max_promotions_per_day=bound)
    for number in range(junk):
        browser = Client(shop_app)
        assert browser.get(f"/?promo=JUNK{number:04d}").status_code == 303
        browser.get("/add?sku=SKU-1")  # a cart started under the promotion
    # Per code and day: the d, u and r aggregates; plus "other"'s, the day's
    # index and its credit index (the carts) and the site row's three. Carts are
    # one key each (they expire).
    aggregates = [
        key for key in redis_client.scan_iter("qs:a:*", count=1000)
    ]  # the test's own admin look, never a request path
    assert len(aggregates) <= 3 * (bound + 1) + 2 + 3
    index = redis_client.zrange(f"qs:a:i:{utc_today():%Y%m%d}", 0, -1, withscores=True)
    assert len(index) == bound + 1  # the carts' evidence fills the rest, no more
    landed = bound - bound // 2  # the codes landings alone may admit
    assert {_text(code): score for code, score in index}["other"] == junk - landed

    counting = RoundTrips(redis_server.url)
    try:
        app = Dashboard(redis=counting.client, token=TOKEN)
        with counting.count() as trips:
            response = LocalClient(app).get("/api/counts", headers=bearer())
        assert trips == [2]
        with counting.count() as trips:
            download = LocalClient(app).get("/api/counts.csv", headers=bearer())
        assert trips == [2]
    finally:
        counting.close()
    body = response.json
    # The codes landings admitted and "other" (those the carts admitted have
    # no figure of their own yet).
    assert len(body["rows"]) == landed + 1
    assert dict((r["promotion"], r["landings"]) for r in body["rows"])["other"] == (
        junk - landed
    )
    assert body["rest"] is None and body["totals"]["landings"] == junk
    assert body["totals"]["carts"] == junk
    # Bounded by the codes kept a day and the 30 days shown, not by the junk:
    # about 200 bytes per code and day of series, plus the tables.
    assert len(response.data) < (bound + 1) * 30 * 200 + 5_000
    # The CSV download: one row per code kept, largest first, same bound.
    rows = csv_rows(download.text)
    assert len(rows) == landed + 1
    assert (rows[0]["promotion"], rows[0]["landings"]) == ("other", str(junk - landed))
    assert len(download.data) < (bound + 1) * 200


def test_api_daily_equals_the_script(dashboard: Dashboard) -> None:
    response = LocalClient(dashboard).get(
        f"/api/daily?promotion=SPRING&{RANGE}", headers=bearer()
    )
    assert response.json["days"] == [
        promotion_script.day_dict(row)
        for row in promotion_script.expected_spring_daily(FIRST)
    ]


# -- the CSV download ------


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_download_holds_every_promotion_of_the_range(
    dashboard: Dashboard,
) -> None:
    response = LocalClient(dashboard).get(
        f"/api/counts.csv?{RANGE}&top=1", headers=bearer()
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="promotions-{FIRST}-{LAST}.csv"'
    )
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    # The CLI's CSV, written by the same function: every promotion (top does
    # not apply), aggregates only, an empty average where nothing was bought.
    assert response.text == render_csv(promotion_script.expected_counts())
    rows = csv_rows(response.text)
    assert list(rows[0]) == [*COLUMNS, "revenue_cents_EUR"]
    assert [row["promotion"] for row in rows] == ["SPRING", "SUMMER", "WINTER"]
    assert [row["average_order_cents"] for row in rows] == ["1249.5", "", ""]


def test_csv_download_respects_min_count(redis_client: redis.Redis) -> None:
    promotion_script.run(redis_client, FIRST)
    app = Dashboard(redis=redis_client, token=TOKEN, min_count=2)
    response = LocalClient(app).get(f"/api/counts.csv?{RANGE}", headers=bearer())
    # Only SPRING's first day rests on 2 visitors.
    rows = csv_rows(response.text)
    assert [(row["promotion"], row["landings"]) for row in rows] == [("SPRING", "2")]


def test_csv_download_of_a_quiet_range_is_the_header_only(
    dashboard: Dashboard,
) -> None:
    response = LocalClient(dashboard).get(
        "/api/counts.csv?since=2001-01-01&until=2001-01-31", headers=bearer()
    )
    assert response.status_code == 200
    assert response.text == ",".join(COLUMNS) + "\n"


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        f"since={LAST}&until={FIRST}",
        "since=2020-01-01&until=2024-01-01",
    ],
)
def test_csv_download_bad_range_is_400_and_no_file(
    dashboard: Dashboard, query: str
) -> None:
    response = LocalClient(dashboard).get(f"/api/counts.csv?{query}", headers=bearer())
    assert response.status_code == 400
    assert response.json["error"]
    assert "Content-Disposition" not in response.headers


def test_api_defaults_to_the_last_30_days(dashboard: Dashboard) -> None:
    body = LocalClient(dashboard).get("/api/counts", headers=bearer()).json
    since, until = date.fromisoformat(body["since"]), date.fromisoformat(body["until"])
    assert (until - since).days == 29
    assert body["rows"] == []  # the script ran in 2024


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        f"since={LAST}&until={FIRST}",
        "since=2020-01-01&until=2024-01-01",
        "promotion=bad%20code",
    ],
)
def test_api_bad_input_is_400(dashboard: Dashboard, query: str) -> None:
    path = "/api/daily" if "promotion" in query else "/api/counts"
    response = LocalClient(dashboard).get(f"{path}?{query}", headers=bearer())
    assert response.status_code == 400
    assert response.json["error"]


def test_other_methods_are_405(dashboard: Dashboard) -> None:
    assert (
        LocalClient(dashboard).post("/api/counts", headers=bearer()).status_code == 405
    )


def test_redis_unavailable_is_503(fresh_redis_server: RedisServer) -> None:
    app = Dashboard(redis_url=fresh_redis_server.url, token=TOKEN, socket_timeout=0.5)
    try:
        fresh_redis_server.stop()
        response = LocalClient(app).get("/api/counts", headers=bearer())
        assert response.status_code == 503
        assert "Redis unavailable" in response.json["error"]
        assert LocalClient(app).get("/", headers=bearer()).status_code == 200
    finally:
        app.close()


# -- the command ------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            f"GET /?token={TOKEN} HTTP/1.1", "GET /?token=… HTTP/1.1", id="first"
        ),
        pytest.param(
            f'"GET /?since=2024-01-01&token={TOKEN}&x=1 HTTP/1.1" 303 -',
            '"GET /?since=2024-01-01&token=…&x=1 HTTP/1.1" 303 -',
            id="middle",
        ),
        pytest.param(f"/?x=1&token={TOKEN}", "/?x=1&token=…", id="last"),
        pytest.param(f"/?x=1;token={TOKEN};y=2", "/?x=1;token=…;y=2", id="semicolon"),
        pytest.param(f"/?%74oken={TOKEN}", "/?%74oken=…", id="encoded-name"),
        pytest.param(f"/?%74%6F%6B%65%6E={TOKEN}", "/?%74%6F%6B%65%6E=…", id="all"),
        pytest.param(f"/?%2574oken={TOKEN}", "/?%2574oken=…", id="twice-encoded"),
        pytest.param(f"/?TOKEN={TOKEN}", "/?TOKEN=…", id="upper-case"),
        pytest.param(f"/?to+ken=x&token+={TOKEN}", "/?to+ken=x&token+=…", id="plus"),
        pytest.param(f"/x;token={TOKEN}?a=b", "/x;token=…", id="path-param"),
        pytest.param(
            "/?token=a%26b&tokens=keep&mytoken=keep",
            "/?token=…&tokens=keep&mytoken=keep",
            id="only-token",
        ),
    ],
)
def test_redact_blanks_every_token_parameter(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("a b/c+d?é&", id="raw"),
        pytest.param("a%20b%2Fc%2Bd%3F%C3%A9%26", id="quoted"),
        pytest.param("a+b%2Fc%2Bd%3F%C3%A9%26", id="plus-quoted"),
        pytest.param("a%20b%2fc%2bd%3f%c3%a9%26", id="lower-hex"),
    ],
)
def test_formatter_blanks_the_token_anywhere(spelling: str) -> None:
    secret = "a b/c+d?é&"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "GET /%s/%s HTTP/1.1", (spelling, "ok"), None
    )
    line = RedactingFormatter([secret]).format(record)
    assert line == "GET /…/ok HTTP/1.1"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _ok(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def access_line(environ_overrides: dict[str, Any], query: str = "") -> str:
    """The line :class:`AccessLogMiddleware` logs for one request."""
    logger = logging.getLogger("test.access")
    handler = _Lines()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        app = AccessLogMiddleware(
            _ok,
            logger=logger,
            clock=lambda: datetime(2024, 3, 1, 10, 0, 0, tzinfo=timezone.utc),
        )
        environ = create_environ("/p", query_string=query)
        environ.update(environ_overrides)
        list(app(environ, lambda status, headers, exc_info=None: lambda data: None))
    finally:
        logger.removeHandler(handler)
    (line,) = handler.lines
    return line


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        pytest.param("203.0.113.77", "203.0.113.0/24", id="ipv4"),
        pytest.param("2001:db8:abcd:12:3456::1", "2001:db8:abcd::/48", id="ipv6"),
        pytest.param("::ffff:192.0.2.9", "::/48", id="v4-mapped"),
        pytest.param("", "-", id="none"),
    ],
)
def test_access_log_truncates_the_client_address(address: str, shown: str) -> None:
    line = access_line({"REMOTE_ADDR": address}, f"token={TOKEN}")
    assert line == (
        f'{shown} - - [01/Mar/2024 10:00:00] "GET /p?token=… HTTP/1.1" 200 2'
    )


def test_access_log_escapes_what_could_forge_a_line() -> None:
    line = access_line(
        {
            "REMOTE_ADDR": "10.1.2.3",
            "REQUEST_URI": '/a"\n\x1b[1m\xe9',
        }
    )
    assert line == (
        "10.1.2.0/24 - - [01/Mar/2024 10:00:00]"
        ' "GET /a\\x22\\x0a\\x1b[1m\\xe9 HTTP/1.1" 200 2'
    )


def test_cli_dashboard_unreachable_redis(
    fresh_redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_redis_server.url
    fresh_redis_server.stop()
    code = cli.main(["dashboard", "--redis-url", url, "--token", TOKEN])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == "qscookies dashboard: Redis unavailable: ConnectionError\n"


def test_cli_dashboard_short_token(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["dashboard", "--redis-url", redis_server.url, "--token", "x"])
    assert code == 2
    assert "at least 16" in capsys.readouterr().err


def test_cli_dashboard_without_the_extra(
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "waitress", None)  # import waitress fails
    code = cli.main(["dashboard", "--redis-url", redis_server.url, "--token", TOKEN])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"qscookies dashboard: {MISSING_EXTRA}\n"
    assert "pip install 'qscookies[dashboard]'" in err


@dataclass
class Command:
    """A running ``qscookies dashboard`` process."""

    process: subprocess.Popen[str]
    #: The lines it printed before serving.
    banner: list[str]

    @property
    def base(self) -> str:
        """The URL it serves, without the path and query."""
        url = self.banner[-1].split()[3]
        return url[: url.index("/", len("http://"))]

    def stop(self) -> tuple[str, str]:
        """SIGTERM; its remaining standard output and its standard error."""
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        assert self.process.returncode == 0, err
        return out, err


@pytest.fixture
def start_dashboard(redis_server: RedisServer) -> Iterator[Any]:
    """Start the real ``qscookies dashboard`` command; stopped at teardown."""
    started: list[Command] = []

    def start(*args: str, token: str | None = None) -> Command:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QSCOOKIES_")}
        if token:
            env["QSCOOKIES_DASHBOARD_TOKEN"] = token
        # ``python -m qscookies`` is the ``qscookies`` script's entry point, run
        # from this checkout whatever the venv's script points at.
        env["PYTHONPATH"] = str(ROOT)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qscookies",
                "dashboard",
                "--redis-url",
                redis_server.url,
                "--port",
                "0",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert process.stdout is not None
        banner = [process.stdout.readline().strip()]
        if not token:
            banner.append(process.stdout.readline().strip())
        command = Command(process, banner)
        started.append(command)
        assert banner[-1].startswith("qscookies dashboard on http://"), banner
        return command

    yield start
    for command in started:
        if command.process.poll() is None:
            command.process.kill()
            command.process.communicate(timeout=10)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """GET *url* without following redirects: the status and the headers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {})) as r:
            r.read()
            return r.status, r.headers
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, error.headers


def test_cli_dashboard_serves_with_a_generated_token(start_dashboard: Any) -> None:
    command = start_dashboard()
    token = command.banner[0].removeprefix("generated token: ")
    assert len(token) >= 32
    assert command.banner[1].endswith(
        f"/?token={token} (waitress; request log on stderr)"
    )
    request = urllib.request.Request(
        command.base + "/api/counts", headers=bearer(token)
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.load(response)
    assert set(body) == {
        "since",
        "until",
        "top",
        "currency",
        "currencies",
        "rows",
        "rest",
        "rest_codes",
        "totals",
        "site",
        "daily",
    }
    assert fetch(command.base + "/api/counts")[0] == 403
    command.stop()


@pytest.mark.parametrize(
    ("host", "client", "truncated"),
    [
        pytest.param("127.0.0.1", "127.0.0.1", "127.0.0.0/24", id="ipv4"),
        pytest.param("::1", "::1", "::/48", id="ipv6"),
    ],
)
def test_cli_dashboard_log_holds_no_token_and_no_full_address(
    start_dashboard: Any, host: str, client: str, truncated: str
) -> None:
    command = start_dashboard("--host", host, token=TOKEN)
    base = command.base
    status, headers = fetch(f"{base}/?token={TOKEN}")
    assert status == 303 and "Max-Age=43200" in headers["Set-Cookie"]
    # Not werkzeug's development server: waitress answers.
    assert headers["Server"] == "waitress"
    assert "Werkzeug" not in headers.get("Server", "")
    asked = [
        f"/?since=30d&token={TOKEN}",
        f"/?x=1;token={TOKEN}",
        f"/?x=1&token={TOKEN}&y=2",
        f"/?%74oken={TOKEN}",
        f"/?%74%6f%6b%65%6e={TOKEN}&x=1",
        "/?token=marketing-token-guessed-wrong",
        f"/{TOKEN}",
    ]
    for path in asked:
        fetch(base + path)
    assert fetch(f"{base}/api/counts", bearer())[0] == 200
    out, log = command.stop()
    lines = log.splitlines()
    assert len(lines) == len(asked) + 2, log
    assert all(line.startswith(f"{truncated} - - [") for line in lines), log
    assert TOKEN not in log and TOKEN not in out
    assert "guessed-wrong" not in log
    assert client not in log.replace(truncated, "")
    assert '"GET /?x=1;token=… HTTP/1.1" 403' in log
    assert '"GET /?%74oken=… HTTP/1.1" 303' in log
    assert '"GET /… HTTP/1.1" 403' in log
    assert '"GET /api/counts HTTP/1.1" 200' in log
    assert "Werkzeug" not in log and "development server" not in log


# -- real headless Chromium ------

#: The headless Chromium driver (the fixture of chromium.py).
chromium = headless.chromium


@headless.needs_chromium
def test_dashboard_in_headless_chromium(
    redis_client: redis.Redis, chromium: Any
) -> None:
    promotion_script.run(redis_client, FIRST)
    report = PromotionReport(redis=redis_client)
    app = Dashboard(redis=redis_client, token=TOKEN)
    with served(app) as base:
        chromium.get_log("performance")  # drop the start-up tab's entries
        chromium.get(f"{base}/?token={TOKEN}&{RANGE}")
        WebDriverWait(chromium, 15).until(
            lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-state")
        )
        assert (
            chromium.find_element(By.TAG_NAME, "html").get_attribute("data-state")
            == "ready"
        )
        # The token was traded for an HttpOnly cookie and dropped from the URL.
        assert chromium.current_url == f"{base}/?{RANGE}"
        (cookie,) = chromium.get_cookies()
        assert cookie["name"] == COOKIE_NAME and cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        assert chromium.execute_script("return document.cookie") == ""

        table = headless.cells(chromium, "#counts tr")
        # The average order: 2499 cents over 2 orders, rounded half up to a
        # cent as the CLI does; blank where nothing was bought.
        assert table == [
            ["SPRING", "4", "3", "3", "2", "2", "24.99 EUR", "66.7%", "12.50 EUR"],
            ["SUMMER", "2", "1", "1", "1", "0", "0.00 EUR", "0.0%", ""],
            ["WINTER", "1", "1", "0", "0", "0", "0.00 EUR", "0.0%", ""],
            ["Total", "7", "4", "3", "3", "2", "24.99 EUR", "50.0%", "12.50 EUR"],
        ]
        heads = chromium.find_elements(By.CSS_SELECTOR, "#counts th")
        assert heads[-1].text == "Avg. order (EUR)"
        status = chromium.find_element(By.ID, "status").text
        assert status == f"3 promotions, {FIRST} to {LAST} (UTC)."
        site = [
            cell.text for cell in chromium.find_elements(By.CSS_SELECTOR, "#site td")
        ]
        assert site == ["8", "5", "3"]  # visits, unique visitors, returning

        # The chart's figures, read back from the SVG, equal the seeded ones.
        drawn: dict[str, dict[str, list[tuple[str, int]]]] = {}
        for point in chromium.find_elements(By.CSS_SELECTOR, "svg [data-day]"):
            svg = point.find_element(By.XPATH, "ancestor::*[local-name()='svg']")
            series = drawn.setdefault(svg.get_attribute("data-promotion"), {})
            series.setdefault(point.get_attribute("data-series"), []).append(
                (
                    point.get_attribute("data-day"),
                    int(point.get_attribute("data-value")),
                )
            )
            title = point.find_element(By.XPATH, "./*[local-name()='title']")
            assert title.get_attribute("textContent") == (
                f"{point.get_attribute('data-day')} "
                f"{point.get_attribute('data-series')}: "
                f"{point.get_attribute('data-value')}"
            )
        spring = promotion_script.expected_spring_daily(FIRST)
        assert drawn["SPRING"] == {
            "landings": [(str(row.day), row.landings) for row in spring],
            "purchases": [(str(row.day), row.purchases) for row in spring],
        }
        for code in ("SUMMER", "WINTER"):
            daily = report.daily(code, FIRST, LAST)
            assert drawn[code] == {
                "landings": [(str(row.day), row.landings) for row in daily],
                "purchases": [(str(row.day), row.purchases) for row in daily],
            }
        # Charts come biggest first.
        charts = chromium.find_elements(By.CSS_SELECTOR, "figure.chart")
        assert [c.get_attribute("data-promotion") for c in charts] == [
            "SPRING",
            "SUMMER",
            "WINTER",
        ]

        # Overlapping lines stay apart without colour: each series has its own
        # dash pattern and marker shape, in the SVG and as drawn, and the
        # legend shows each series with the same line and marker.
        assert chart_styles(chromium, "#charts svg") == {
            "landings": {("none", "none", "circle")},
            "purchases": {("6 4", "6px, 4px", "rect")},
        }
        assert chart_styles(chromium, "#legend svg") == chart_styles(
            chromium, "#charts svg"
        )
        legend = chromium.find_element(By.ID, "legend")
        assert legend.is_displayed() and legend.text.split() == [
            "landings",
            "purchases",
        ]
        strokes = {
            line.get_attribute("data-series"): line.value_of_css_property("stroke")
            for line in chromium.find_elements(By.CSS_SELECTOR, "svg polyline")
        }
        assert len(set(strokes.values())) == 2  # and colour, for those who see it

        # What the columns mean, beside the table, in plain words.
        definitions = chromium.find_element(By.ID, "definitions")
        assert definitions.is_displayed()
        meaning = dict(
            zip(
                [dt.text for dt in definitions.find_elements(By.TAG_NAME, "dt")],
                [dd.text for dd in definitions.find_elements(By.TAG_NAME, "dd")],
                strict=True,
            )
        )
        assert list(meaning) == [
            "Landings",
            "Visitors",
            "Consent",
            "Returning",
            "Carts",
            "Purchases",
            "Conversion",
            "Avg. order",
        ]
        assert meaning["Conversion"].startswith("Purchases ÷ Visitors, both over")
        assert meaning["Carts"].startswith("Carts started: the first item put")
        assert meaning["Avg. order"].startswith("Revenue ÷ Purchases; blank")
        assert meaning["Consent"].startswith(
            "Visitors, Returning, Carts and Purchases count tracked visitors only"
        )
        assert "from everyone" in meaning["Landings"]

        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        assert chromium.save_screenshot(str(artifacts / "dashboard.png"))

        # Every request went to the dashboard's own origin. (Chromium's own
        # start-up tab loads chrome:// resources from inside the browser; those
        # are not network requests, and no document sent any to another host.)
        sent = headless.requests(chromium)
        ours = [url for url, document in sent if document.startswith(base)]
        assert len(ours) >= 5  # page (and its 303), css, js, counts
        # One data call for every promotion: never one request per code.
        assert [u for u in ours if "/api/" in u] == [f"{base}/api/counts?{RANGE}"]
        # data: here is the date input's own calendar icon.
        assert [u for u in ours if not u.startswith((base + "/", "data:"))] == []
        network = [u for u, _ in sent if urlsplit(u).scheme not in _LOCAL]
        assert [u for u in network if not u.startswith(base + "/")] == []
        # No CSP violation or script error in the console.
        assert [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"] == []


def chart_styles(driver: Any, svgs: str) -> dict[str, set[tuple[str, str, str]]]:
    """Per series, how its lines look in the SVGs matched by *svgs*: the
    ``stroke-dasharray`` attribute, the dash pattern Chromium draws, and the
    tag of the series' point markers."""
    styles: dict[str, set[tuple[str, str, str]]] = {}
    for svg in driver.find_elements(By.CSS_SELECTOR, svgs):
        for line in svg.find_elements(By.CSS_SELECTOR, "polyline"):
            name = line.get_attribute("data-series")
            markers = svg.find_elements(By.CSS_SELECTOR, f"circle.{name}, rect.{name}")
            assert markers
            for marker in markers:
                styles.setdefault(name, set()).add(
                    (
                        line.get_attribute("stroke-dasharray"),
                        line.value_of_css_property("stroke-dasharray"),
                        marker.tag_name,
                    )
                )
    return styles


def wait_ready(driver: Any) -> str:
    """Wait until the page has drawn what it fetched; its state then."""
    WebDriverWait(driver, 15).until(
        lambda d: (
            d.find_element(By.TAG_NAME, "html").get_attribute("data-state")
            in ("ready", "error")
        )
    )
    return str(driver.find_element(By.TAG_NAME, "html").get_attribute("data-state"))


def api_requests(driver: Any, base: str) -> list[str]:
    """The page's requests to the API since the log was last read."""
    return [
        url for url, _ in headless.requests(driver) if url.startswith(f"{base}/api/")
    ]


def pick_breakdown(driver: Any) -> list[list[str]]:
    """Pick the first promotion of the table; its breakdown's rows as shown."""
    driver.find_element(By.CSS_SELECTOR, "#counts button.pick").click()
    WebDriverWait(driver, 15).until(
        lambda d: (
            d.find_element(By.ID, "breakdown").get_attribute("data-state") == "ready"
        )
    )
    return headless.cells(driver, "#breakdown-table tr")


def table_rows(driver: Any) -> list[list[str]]:
    """The promotion table's rows as shown (empty when the table is hidden)."""
    return headless.cells(driver, "#counts tr")


@headless.needs_chromium
def test_dashboard_counts_in_the_right_number(
    redis_client: redis.Redis, chromium: Any
) -> None:
    promotion_script.run(redis_client, FIRST)
    app = Dashboard(redis=redis_client, token=TOKEN)
    with served(app) as base:
        # Day 1: only SPRING landed.
        chromium.get(f"{base}/?token={TOKEN}&since={FIRST}&until={FIRST}")
        assert wait_ready(chromium) == "ready"
        status = chromium.find_element(By.ID, "status").text
        assert status == f"1 promotion, {FIRST} to {FIRST} (UTC)."
        # The top two, and one other promotion summed.
        chromium.get(f"{base}/?top=2&{RANGE}")
        assert wait_ready(chromium) == "ready"
        status = chromium.find_element(By.ID, "status").text
        assert status == (
            f"3 promotions, {FIRST} to {LAST} (UTC);"
            " the top 2 by landings, the rest summed."
        )
        assert [row[0] for row in table_rows(chromium)] == [
            "SPRING",
            "SUMMER",
            "1 other promotion",
            "Total",
        ]
        chromium.get(f"{base}/?top=1&{RANGE}")
        assert wait_ready(chromium) == "ready"
        assert table_rows(chromium)[1][0] == "2 other promotions"


#: A range without activity, where the quick-range tests start.
QUIET = "since=2001-01-01&until=2001-01-31"


@pytest.fixture
def today(redis_client: redis.Redis) -> date:
    """Today (UTC), the last of the script's three days."""
    day = utc_today()
    promotion_script.run(redis_client, day - timedelta(days=2))
    return day


def open_quiet(driver: Any, base: str) -> None:
    """Open the page on :data:`QUIET`, trading the token: nothing to show."""
    driver.get(f"{base}/?token={TOKEN}&{QUIET}")
    assert wait_ready(driver) == "ready"
    status = driver.find_element(By.ID, "status").text
    assert status == "No promotion activity from 2001-01-01 to 2001-01-31."
    assert table_rows(driver) == []


@headless.needs_chromium
def test_quick_ranges_ask_again_and_redraw(
    redis_client: redis.Redis, chromium: Any, today: date
) -> None:
    report = PromotionReport(redis=redis_client)
    app = Dashboard(redis=redis_client, token=TOKEN)
    with served(app) as base:
        open_quiet(chromium, base)
        chromium.get_log("performance")  # start counting the API requests here

        month = today.replace(day=1)
        for label, since in [
            ("7 days", today - timedelta(days=6)),
            ("30 days", today - timedelta(days=29)),
            ("This month", month),
        ]:
            button = chromium.find_element(
                By.XPATH, f"//button[@class='quick' and text()='{label}']"
            )
            button.click()
            assert wait_ready(chromium) == "ready"
            # One bounded data request per range, for the range picked.
            asked = f"since={since}&until={today}"
            assert api_requests(chromium, base) == [f"{base}/api/counts?{asked}"]
            assert chromium.current_url == f"{base}/?{asked}"
            assert chromium.find_element(By.ID, "since").get_attribute("value") == (
                str(since)
            )
            assert chromium.find_element(By.ID, "until").get_attribute("value") == (
                str(today)
            )
            # Today, the script's last day, is in every range; the first two
            # are in this month's unless it began today or yesterday.
            codes = [row.promotion for row in report.counts(since, today)]
            assert [row[0] for row in table_rows(chromium)] == [*codes, "Total"]
            csv_link = chromium.find_element(By.ID, "csv")
            assert csv_link.get_attribute("href") == f"{base}/api/counts.csv?{asked}"

        chromium.find_element(By.XPATH, "//button[text()='7 days']").click()
        assert wait_ready(chromium) == "ready"
        assert table_rows(chromium)[0] == [
            "SPRING",
            *("4", "3", "3", "2", "2", "24.99 EUR", "66.7%", "12.50 EUR"),
        ]
        # Back to the quiet range: its figures, and the table hidden again.
        chromium.get_log("performance")
        chromium.back()
        chromium.back()
        chromium.back()
        chromium.back()
        WebDriverWait(chromium, 15).until(lambda d: d.current_url.endswith(QUIET))
        assert wait_ready(chromium) == "ready"
        assert table_rows(chromium) == []
        assert not chromium.find_element(By.ID, "legend").is_displayed()
        assert chromium.find_elements(By.CSS_SELECTOR, "#charts svg") == []
        assert [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"] == []


@headless.needs_chromium
def test_csv_download_from_the_page(
    redis_client: redis.Redis, chromium: Any, tmp_path: Path
) -> None:
    promotion_script.run(redis_client, FIRST)
    app = Dashboard(redis=redis_client, token=TOKEN)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chromium.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(downloads)},
    )
    with served(app) as base:
        chromium.get(f"{base}/?token={TOKEN}&{RANGE}")
        assert wait_ready(chromium) == "ready"
        link = chromium.find_element(By.ID, "csv")
        assert link.is_displayed() and link.text == "Download CSV"
        assert link.get_attribute("href") == f"{base}/api/counts.csv?{RANGE}"
        link.click()
        saved = downloads / f"promotions-{FIRST}-{LAST}.csv"
        WebDriverWait(chromium, 15).until(lambda d: saved.exists())
    # The page's session cookie opened it; the file is the CLI's CSV.
    assert saved.read_text() == render_csv(promotion_script.expected_counts())


class Held:
    """A WSGI wrapper that holds ``/api/counts`` requests for one range until
    the test lets them go (the others pass at once)."""

    def __init__(self, app: Any, query: str) -> None:
        self.app = app
        self.query = query
        self.release = threading.Event()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        held = environ["PATH_INFO"] == "/api/counts"
        if held and environ.get("QUERY_STRING") == self.query:
            assert self.release.wait(timeout=15)
        return self.app(environ, start_response)


#: Counts, in ``window.answers``, the data answers the page has finished
#: handling: the count moves in a task queued after the page's own handlers.
COUNT_ANSWERS = """
window.answers = 0;
const fetchFor = window.fetch;
window.fetch = (...args) => fetchFor(...args).then((response) => {
  const json = response.json.bind(response);
  response.json = () => json().then((body) => {
    setTimeout(() => { window.answers += 1; }, 0);
    return body;
  });
  return response;
});
"""


@headless.needs_chromium
def test_a_late_answer_does_not_overwrite_a_newer_range(
    redis_client: redis.Redis, chromium: Any, today: date
) -> None:
    week = f"since={today - timedelta(days=6)}&until={today}"
    app = Held(Dashboard(redis=redis_client, token=TOKEN), week)
    with served(app) as base:
        open_quiet(chromium, base)
        chromium.execute_script(COUNT_ANSWERS)
        # The week's figures are slow to come; meanwhile the user goes back.
        chromium.find_element(By.XPATH, "//button[text()='7 days']").click()
        chromium.back()
        WebDriverWait(chromium, 15).until(
            lambda d: d.execute_script("return window.answers") == 1
        )
        assert table_rows(chromium) == []
        app.release.set()
        WebDriverWait(chromium, 15).until(
            lambda d: d.execute_script("return window.answers") == 2
        )
        # The week's answer came last but belongs to a range no longer shown.
        assert chromium.current_url == f"{base}/?{QUIET}"
        assert table_rows(chromium) == []
        status = chromium.find_element(By.ID, "status").text
        assert status == "No promotion activity from 2001-01-01 to 2001-01-31."
        assert chromium.find_element(By.ID, "since").get_attribute("value") == (
            "2001-01-01"
        )


# -- campaigns: a promotion by source and medium, revenue per currency ------


def test_api_breakdown_equals_the_report_in_two_round_trips(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    campaign_script.journeys(campaign_script.middleware(redis_client))
    day = campaign_script.DAY
    counting = RoundTrips(redis_server.url)
    try:
        app = Dashboard(redis=counting.client, token=TOKEN)
        query = f"/api/breakdown?promotion=SPRING&since={day}&until={day}"
        with counting.count() as trips:
            body = LocalClient(app).get(query, headers=bearer()).json
        assert trips == [2]  # the day and pair indexes, then every figure
        bad = LocalClient(app).get(query + "&by=country", headers=bearer())
        assert bad.status_code == 400
    finally:
        counting.close()
    report = PromotionReport(redis=redis_client)
    expected = report.counts(day, day, by="source_medium")
    assert [
        (r["source"], r["medium"], r["landings"], r["visitors"], r["purchases"])
        for r in body["rows"]
    ] == [
        (r.source, r.medium, r.landings, r.visitors, r.purchases)
        for r in sorted(expected, key=lambda r: -r.landings)
    ]
    assert body["totals"]["revenue_by_currency"] == {"EUR": 1999, "USD": 500}
    assert body["totals"]["revenue_cents"] == 1999  # EUR only, never 2499


@headless.needs_chromium
def test_breakdown_and_currencies_in_headless_chromium(
    redis_client: redis.Redis, chromium: Any
) -> None:
    campaign_script.journeys(campaign_script.middleware(redis_client))
    day = campaign_script.DAY
    report = PromotionReport(redis=redis_client)
    app = Dashboard(redis=redis_client, token=TOKEN)
    with served(app) as base:
        chromium.get(f"{base}/?token={TOKEN}&since={day}&until={day}")
        WebDriverWait(chromium, 15).until(
            lambda d: (
                d.find_element(By.TAG_NAME, "html").get_attribute("data-state")
                == "ready"
            )
        )
        note = chromium.find_element(By.ID, "currencies")
        assert note.is_displayed()
        assert note.text == (
            "Revenue above is in EUR. Other currencies, never added to it: USD 5.00."
        )
        section = chromium.find_element(By.ID, "breakdown")
        assert not section.is_displayed()  # asked only on demand
        shown = pick_breakdown(chromium)
    rows = sorted(
        report.counts(day, day, by="source_medium"),
        key=lambda r: (-r.landings, f"SPRING@{r.source or ''}/{r.medium or ''}"),
    )
    assert [cells[:7] for cells in shown[:-1]] == [
        [
            r.source or "(none)",
            r.medium or "(none)",
            *(str(n) for n in (r.landings, r.visitors, r.returning, r.carts)),
            str(r.purchases),
        ]
        for r in rows
    ]
    assert shown[-1][:3] == ["Total", "", "5"]
    # EUR revenue only: the USD purchase is not in the EUR column.
    blog = next(cells for cells in shown if cells[0] == "blog-a")
    assert blog[7] == "0.00 EUR"
