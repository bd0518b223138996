"""Tests of :mod:`qscookies.testing`, the pytest plugin for shops."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from qscookies import ConfigurationError
from qscookies import QSCookies
from qscookies import QSCookiesError
from qscookies.demo.shop import Storefront
from qscookies.embedded import RedisServer
from qscookies.testing import TEST_SECRET_KEY
from qscookies.testing import ShopClient

Wrap = Callable[..., QSCookies]
SAMPLE = Path(__file__).parents[1] / "support" / "shop_test_sample.py"


def test_sample_shop_tests_pass_with_only_the_plugin(tmp_path: Path) -> None:
    """The sample runs in an empty directory: the entry point alone loads us."""
    shutil.copy(SAMPLE, tmp_path / "test_shop.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("qscookies")
    assert plugin is not None and plugin.__name__ == "qscookies.testing"


def test_private_server_is_not_the_suites_or_the_default(
    qscookies_redis_server: RedisServer, redis_server: RedisServer
) -> None:
    assert qscookies_redis_server.port not in (6379, redis_server.port)
    assert qscookies_redis_server.running


def test_wrap_binds_the_private_redis_and_passes_settings(
    qscookies_wrap: Wrap, qscookies_redis: redis.Redis
) -> None:
    wrapped = qscookies_wrap(Storefront(), visit_gap=60, key_prefix="t:")
    assert wrapped.settings.visit_gap == 60
    client = ShopClient(wrapped)
    client.post("/cart/add", data={"sku": "TEA-01"})
    assert sorted({key.split("{")[0] for key in qscookies_redis.keys()}) == [
        "t:a:",  # the site's day aggregates
        "t:c:",  # the cart
        "t:l:",  # its lines
    ]
    client.advance(61)
    client.get("/")
    visitor = client.visitor()
    assert visitor is not None and visitor.visits == 2


def test_wrap_takes_another_secret_key(qscookies_wrap: Wrap) -> None:
    first = ShopClient(qscookies_wrap(Storefront()))
    first.post("/cart/add", data={"sku": "TEA-01"})
    rotated = ShopClient(qscookies_wrap(Storefront(), secret_key="another-key-" * 3))
    rotated.set_cookie("qs_cart", first.get_cookie("qs_cart").value)  # type: ignore[union-attr]
    assert first.cart_items() == {"TEA-01": 1}
    assert rotated.cart_items() == {}  # signed with TEST_SECRET_KEY: not valid here
    assert len(TEST_SECRET_KEY) >= 16


def test_reading_state_sends_nothing_and_counts_nothing(
    qscookies_wrap: Wrap, qscookies_redis: redis.Redis
) -> None:
    client = ShopClient(qscookies_wrap(Storefront()))
    client.get("/?promo=SUMMER24")
    client.post("/cart/add", data={"sku": "MUG-02", "quantity": "3"})
    before = {key: qscookies_redis.dump(key) for key in qscookies_redis.keys()}
    cookies = {(c.key, c.value) for c in client._cookies.values()}  # type: ignore[union-attr]
    client.advance(3600)
    assert client.cart_items() == {"MUG-02": 3}
    assert client.promotion() == "SUMMER24"
    assert client.visitor() is not None
    assert client.tracking_allowed()
    after = {key: qscookies_redis.dump(key) for key in qscookies_redis.keys()}
    assert after == before
    assert {(c.key, c.value) for c in client._cookies.values()} == cookies  # type: ignore[union-attr]


def test_visitor_expires_after_its_max_age(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront(), visitor_max_age=7200))
    client.get("/")
    client.advance(7000)
    assert client.visitor() is not None
    client.advance(300)
    assert client.visitor() is None
    client.get("/")
    visitor = client.visitor()
    assert visitor is not None and visitor.visits == 1  # a stranger again


def test_https_clients_read_host_prefixed_cookies(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront()), base_url="https://shop.test/")
    client.get("/?promo=SPRING")
    client.post("/cart/add", data={"sku": "TEA-01"})
    assert client.get_cookie("__Host-qs_cart", domain="shop.test") is not None
    assert client.cart_items() == {"TEA-01": 1}
    assert client.promotion() == "SPRING"


def test_opted_out_client_reads_as_untracked(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront(), privacy_path="/privacy"))
    client.get("/?promo=SUMMER24")
    origin = {"Origin": "http://localhost"}
    client.post("/privacy", data={"choice": "out"}, headers=origin)
    assert (client.tracking_allowed(), client.promotion()) == (False, None)
    client.post("/privacy", data={"choice": "in"}, headers=origin)
    assert client.tracking_allowed()


def test_shop_client_refuses_an_unwrapped_app() -> None:
    with pytest.raises(TypeError, match="QSCookies-wrapped app"):
        ShopClient(Storefront())  # type: ignore[arg-type]


def test_time_only_moves_forward(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront()))
    client.advance(10)
    with pytest.raises(ValueError, match="forward"):
        client.advance(-1)
    assert client.offset == 10
    assert client.qscookies.clock() == pytest.approx(client.now(), abs=1)


def test_follow_redirects_per_request(qscookies_wrap: Wrap) -> None:
    """werkzeug re-opens with an ``EnvironBuilder`` to follow: no ``base_url`` then."""
    client = ShopClient(qscookies_wrap(Storefront()), base_url="https://shop.test/")
    response = client.get("/?promo=SUMMER24&page=2", follow_redirects=True)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [303]
    assert response.request.url == "https://shop.test/?page=2"
    assert client.promotion() == "SUMMER24"


def test_follow_redirects_as_the_clients_default(qscookies_wrap: Wrap) -> None:
    client = ShopClient(qscookies_wrap(Storefront()), follow_redirects=True)
    assert client.get("/?promo=SUMMER24").status_code == 200
    assert client.get("/?promo=WINTER", follow_redirects=False).status_code == 303
    assert client.promotion() == "WINTER"


def test_wrap_refuses_an_app_that_wraps_itself(
    qscookies_wrap: Wrap, qscookies_redis: redis.Redis
) -> None:
    class FlaskLike:
        def __init__(self, wsgi_app: QSCookies) -> None:
            self.wsgi_app = wsgi_app

    own = qscookies_wrap(Storefront())
    for app in (own, FlaskLike(own)):
        with pytest.raises(QSCookiesError, match=r"use qscookies_rebind\(app\)"):
            qscookies_wrap(app)
    assert qscookies_redis.dbsize() == 0


def test_rebind_refuses_an_app_that_does_not_wrap_itself(
    qscookies_rebind: Callable[..., QSCookies],
) -> None:
    with pytest.raises(TypeError, match=r"use qscookies_wrap\(app\)"):
        qscookies_rebind(Storefront())


def test_rebind_checks_the_settings_it_changes(
    qscookies_wrap: Wrap, qscookies_rebind: Callable[..., QSCookies]
) -> None:
    own = qscookies_wrap(Storefront())
    with pytest.raises(ConfigurationError, match="visit_gap"):
        qscookies_rebind(own, visit_gap=-1)
    with pytest.raises(ConfigurationError, match="unknown option"):
        qscookies_rebind(own, no_such_setting=1)
