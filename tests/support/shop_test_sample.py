"""A shop's own tests, written only with the ``qscookies.testing`` plugin.

No conftest, no fixture of ours: pytest loads the plugin through its entry point.
``tests/doors/test_testing_plugin.py`` runs this file in a separate pytest, in an empty
directory. The shop under test is the demo storefront; yours goes in its place.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from qscookies import QSCookies
from qscookies.demo.shop import Storefront
from qscookies.embedded import RedisServer
from qscookies.testing import ShopClient

Wrap = Callable[..., QSCookies]

DAY = 86400


def test_promotion_cart_and_return_visit(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront()))
    assert client.visitor() is None
    client.get("/?promo=SUMMER24")
    client.post("/cart/add", data={"sku": "TEA-01", "quantity": "2"})
    assert client.cart_items() == {"TEA-01": 2}
    assert client.promotion() == "SUMMER24"
    visitor = client.visitor()
    assert visitor is not None and visitor.visits == 1

    client.advance(3600)  # past the 30-minute visit gap, without sleeping
    client.get("/")
    visitor = client.visitor()
    assert visitor is not None and visitor.is_returning and visitor.visits == 2


def test_cart_and_promotion_expire(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront()))
    client.get("/?promo=SUMMER24")
    client.post("/cart/add", data={"sku": "MUG-02"})
    client.advance(31 * DAY)  # past the 30-day cart and promotion lifetimes
    assert client.cart_items() == {}
    assert client.promotion() is None


def test_opt_out_keeps_the_cart(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront(), privacy_path="/privacy"))
    client.post("/cart/add", data={"sku": "POT-03"})
    client.post(
        "/privacy", data={"choice": "out"}, headers={"Origin": "http://localhost"}
    )
    assert not client.tracking_allowed()
    assert client.visitor() is None
    assert client.cart_items() == {"POT-03": 1}


def test_redis_is_private_and_flushed_between_tests(
    qscookies_redis: redis.Redis, qscookies_redis_server: RedisServer
) -> None:
    assert qscookies_redis_server.port != 6379
    assert qscookies_redis.dbsize() == 0  # the tests above wrote, then were flushed


# A shop that wraps itself at import, bound to the developer's Redis (here a
# socket nobody listens on), as a Flask ``app.wsgi_app = QSCookies(...)`` does.
SELF_WRAPPED = QSCookies(
    Storefront(),
    secret_key="the-shops-own-secret-key",
    redis_url="unix:///nonexistent/qscookies-dev.sock",
)


def test_rebind_points_a_self_wrapped_shop_at_the_private_redis(
    qscookies_rebind: Callable[..., QSCookies], qscookies_redis: redis.Redis
) -> None:
    client = ShopClient(qscookies_rebind(SELF_WRAPPED, visit_gap=60))
    client.post("/cart/add", data={"sku": "TEA-01"})
    assert client.cart_items() == {"TEA-01": 1}
    assert any(key.startswith("qs:c:") for key in qscookies_redis.keys())
    assert SELF_WRAPPED.settings.visit_gap == 60


def test_rebind_is_undone_after_the_test() -> None:
    assert SELF_WRAPPED.settings.visit_gap == 1800
    client = ShopClient(SELF_WRAPPED)
    assert client.post("/cart/add", data={"sku": "TEA-01"}).status_code == 503
