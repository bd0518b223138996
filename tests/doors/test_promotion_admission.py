"""Which codes a day admits, on a real Redis: a promotion cookie only from a
counted landing, and credits (carts, purchases) that never admit a code."""

from __future__ import annotations

from datetime import date
from typing import Any

import redis
from campaign_script import NOW
from campaign_script import shop
from werkzeug.test import Client

from qscookies import PromotionReport
from qscookies import QSCookies
from qscookies.embedded import RedisServer

INDEX = "qs:a:i:20270301"


def middleware(client: Any = None, **options: Any) -> QSCookies:
    """The campaign shop (``/cart`` adds a line) over *client*, clock frozen."""
    app = QSCookies(shop, secret_key="k" * 32, **options, redis=client)
    app.clock = lambda: NOW  # type: ignore[method-assign]
    return app


def _codes(client: redis.Redis, key: str = INDEX) -> set[str]:
    return {code.decode() for code in client.zrange(key, 0, -1)}


def test_a_landing_not_counted_sets_no_promotion_cookie(
    fresh_redis_server: RedisServer,
) -> None:
    """Redis down at the landing: no cookie, so the next cart write (Redis
    back) credits nothing and puts no code in the day's index."""
    app = QSCookies(
        shop,
        secret_key="k" * 32,
        redis_url=fresh_redis_server.url,
        socket_timeout=0.2,
        retry_interval=1,
        max_promotions_per_day=1,
    )
    now = [NOW]
    app.clock = lambda: now[0]  # type: ignore[method-assign]
    try:
        browser = Client(app)
        fresh_redis_server.stop()
        assert browser.get("/?promo=NEVER").status_code == 303  # still redirected
        assert browser.get_cookie("qs_promo") is None
        fresh_redis_server.start()
        now[0] += 5  # past the tracking pause
        Client(app).get("/?promo=SPRING")  # the day's one admitted code
        assert browser.get("/cart").text == "None"  # no promotion attributed
        with fresh_redis_server.client() as admin:
            assert _codes(admin) == {"SPRING"}
            assert admin.keys("qs:a:{NEVER}*") == []
    finally:
        app.close()


def test_a_counted_landing_sets_the_cookie(redis_client: redis.Redis) -> None:
    browser = Client(middleware(redis_client))
    browser.get("/?promo=SPRING")
    assert browser.get_cookie("qs_promo") is not None
    assert browser.get("/").text == "SPRING"


def test_a_cart_credits_a_code_without_admitting_it(redis_client: redis.Redis) -> None:
    """A cart started the day after the landing: counted and reported on its
    day, but the code takes no room in that day's index."""
    app = middleware(redis_client, max_promotions_per_day=1)
    browser = Client(app)
    browser.get("/?promo=SPRING")
    app.clock = lambda: NOW + 86400  # type: ignore[method-assign]
    browser.get("/cart")
    assert _codes(redis_client, "qs:a:i:20270302") == set()
    assert _codes(redis_client, "qs:a:k:20270302") == {"SPRING"}
    Client(app).get("/?promo=WINTER")  # the next day's one code: room for it
    assert _codes(redis_client, "qs:a:i:20270302") == {"WINTER"}
    with PromotionReport(redis=redis_client) as report:
        rows = report.counts(date(2027, 3, 2), date(2027, 3, 2))
    assert [(r.promotion, r.landings, r.carts) for r in rows] == [
        ("SPRING", 0, 1),
        ("WINTER", 1, 0),
    ]
