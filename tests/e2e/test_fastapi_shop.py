"""The FastAPI example through the plugin's ASGI fixtures, on a real Redis.

The shop is built as its own module would build it, bound to "production"
(the suite's server); ``qscookies_asgi_rebind`` points it at the plugin's
private Redis for each test.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import redis

from qscookies.asgi import QSCookies
from qscookies.embedded import RedisServer
from qscookies.testclient import ASGIShopClient

pytestmark = pytest.mark.slow  # starts processes of its own

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_shop.py"
Rebind = Callable[..., QSCookies]


def _example() -> ModuleType:
    name = "qscookies_example_fastapi"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def shop(qscookies_asgi_rebind: Rebind, redis_server: RedisServer) -> QSCookies:
    built = _example().create_app(secret_key="p" * 40, redis_url=redis_server.url)
    return qscookies_asgi_rebind(built)


def test_landing_cart_and_checkout_credit_the_promotion(
    shop: QSCookies, qscookies_redis: redis.Redis
) -> None:
    client = ASGIShopClient(shop)
    assert client.get("/?promo=SUMMER24").json()["promotion"] == "SUMMER24"
    assert client.post("/cart", json={"sku": "TEA-01", "quantity": 2}).json() == {
        "TEA-01": 2
    }
    assert client.cart_items() == {"TEA-01": 2}
    order = client.post("/checkout").json()
    assert (order["total_cents"], order["credited"]) == (1300, "SUMMER24")
    assert client.cart_items() == {}
    assert client.post("/checkout").status_code == 409  # the cart is empty now
    assert not any(key.startswith("p:") for key in qscookies_redis.keys())


def test_bad_lines_are_clear_errors(shop: QSCookies) -> None:
    client = ASGIShopClient(shop)
    assert client.post("/cart", json={"sku": "NOPE"}).status_code == 404
    assert (
        client.post("/cart", json={"sku": "TEA-01", "quantity": 0}).status_code == 400
    )
    assert client.post("/cart", json={"sku": 7, "quantity": "x"}).status_code == 422
    assert client.cart_items() == {}


def test_return_visit_after_moving_the_clock(shop: QSCookies) -> None:
    client = ASGIShopClient(shop)
    assert client.get("/").json()["visits"] == 1
    client.advance(2 * 3600)  # past the 30-minute visit gap
    assert client.get("/").json()["visits"] == 2
    visitor = client.visitor()
    assert visitor is not None and visitor.is_returning and visitor.visits == 2


def test_lifespan_shutdown_runs_aclose(
    shop: QSCookies, qscookies_redis_server: RedisServer
) -> None:
    with ASGIShopClient(shop) as client:
        client.post("/cart", json={"sku": "MUG-02"})
        with qscookies_redis_server.client() as probe:
            assert len(probe.client_list()) == 2  # the probe and the shop's
    with qscookies_redis_server.client() as probe:
        assert len(probe.client_list()) == 1  # closed by the lifespan


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_runs_with_one_command_on_an_embedded_redis(
    redis_server_binary: str,
) -> None:
    port = _free_port()
    env = {**os.environ, "QSCOOKIES_REDIS_SERVER": redis_server_binary}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/cart", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the example did not start"
                time.sleep(0.05)  # polling a starting process, not moving time
        assert answer.status_code == 200 and answer.json() == {}
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "Application shutdown complete" in output
