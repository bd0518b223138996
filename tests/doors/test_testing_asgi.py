"""The ASGI side of the pytest plugin, and the ASGI door on any event loop.

Starlette's ``TestClient`` runs each request on an event loop of its own unless
used in a ``with`` block, and two TestClients of one app run two loops at once;
uvicorn runs one more. The door opens a pool per loop, closed with its loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from qscookies import QSCookies as WSGIQSCookies
from qscookies.asgi import QSCookies
from qscookies.asgi import context
from qscookies.demo.shop import Storefront
from qscookies.embedded import RedisServer
from qscookies.testclient import ASGIShopClient
from qscookies.testing import TEST_SECRET_KEY
from qscookies.testing import ShopClient

from asgi_server import ASGIServer

pytestmark = pytest.mark.slow  # starts processes of its own

Wrap = Callable[..., QSCookies]


async def _add(request: Request) -> JSONResponse:
    qs = context(request.scope)
    return JSONResponse(await qs.cart.add(request.path_params["sku"]))


async def _home(request: Request) -> JSONResponse:
    qs = context(request.scope)
    return JSONResponse({"visits": qs.visitor.visits, "promotion": qs.promotion})


def starlette_shop() -> Starlette:
    return Starlette(routes=[Route("/", _home), Route("/add/{sku}", _add)])


def _our_connections(server: RedisServer) -> int:
    """Connections to *server* but the one asking."""
    with server.client() as probe:
        return len(probe.client_list()) - 1


def test_a_testclient_without_with_serves_request_after_request(
    qscookies_asgi_wrap: Wrap, qscookies_redis_server: RedisServer
) -> None:
    """Each request runs on a new loop: the second one used to fail
    ("Event loop is closed"); each loop's pool closes with its loop."""
    client = TestClient(qscookies_asgi_wrap(starlette_shop()))
    assert [client.get("/add/TEA-01").json() for _ in range(3)] == [1, 2, 3]
    assert _our_connections(qscookies_redis_server) == 0


def test_testclients_side_by_side_and_one_after_the_other(
    qscookies_asgi_wrap: Wrap,
) -> None:
    app = qscookies_asgi_wrap(starlette_shop())
    with TestClient(app) as first, TestClient(app) as second:
        assert first.get("/add/A").json() == 1
        assert second.get("/add/A").json() == 1
        assert first.get("/add/A").json() == 2
    with TestClient(app) as third:
        assert third.get("/add/A").json() == 1
    assert first.get("/add/A").json() == 3  # after its loop ended: a new one


def test_uvicorn_and_a_testclient_serve_one_app_at_once(
    qscookies_asgi_wrap: Wrap,
) -> None:
    app = qscookies_asgi_wrap(starlette_shop())
    with ASGIServer(app) as server, httpx.Client(base_url=server.url) as browser:
        local = TestClient(app)
        for expected in (1, 2):
            assert browser.get("/add/MUG").json() == expected
            assert local.get("/add/MUG").json() == expected


def test_lifespan_shutdown_closes_the_pool_of_its_loop(
    qscookies_asgi_wrap: Wrap, qscookies_redis_server: RedisServer
) -> None:
    seen: list[int] = []

    async def aclose() -> None:
        seen.append(_our_connections(qscookies_redis_server))
        await app.aclose()
        seen.append(_our_connections(qscookies_redis_server))

    app = qscookies_asgi_wrap(starlette_shop())
    with ASGIServer(app, cleanup=[aclose]) as server:
        assert httpx.get(f"{server.url}/add/MUG").json() == 1
    assert seen == [1, 0]


def test_shop_client_reads_state_and_moves_time(qscookies_asgi_wrap: Wrap) -> None:
    client = ASGIShopClient(qscookies_asgi_wrap(starlette_shop(), visit_gap=60))
    assert client.visitor() is None and client.cart_items() == {}
    client.get("/?promo=SPRING24")  # the 303 to the clean URL, followed
    client.get("/add/TEA-01")
    assert client.cart_items() == {"TEA-01": 1}
    assert client.promotion() == "SPRING24"
    assert client.tracking_allowed() and client.tracking_choice() is None
    visitor = client.visitor()
    assert visitor is not None and visitor.visits == 1
    client.advance(61)
    assert client.get("/").json() == {"visits": 2, "promotion": "SPRING24"}
    visitor = client.visitor()
    assert visitor is not None and visitor.is_returning


def test_shop_client_works_inside_with_too(qscookies_asgi_wrap: Wrap) -> None:
    with ASGIShopClient(qscookies_asgi_wrap(starlette_shop())) as client:
        client.get("/add/TEA-01")
        assert client.cart_items() == {"TEA-01": 1}


def test_https_client_reads_host_prefixed_cookies(qscookies_asgi_wrap: Wrap) -> None:
    client = ASGIShopClient(
        qscookies_asgi_wrap(starlette_shop()), base_url="https://shop.test"
    )
    client.get("/add/TEA-01")
    assert any(name.startswith("__Host-") for name in client.cookies)
    assert client.cart_items() == {"TEA-01": 1}


def test_asgi_rebind_points_an_app_at_the_private_redis_for_one_test(
    qscookies_asgi_rebind: Callable[..., QSCookies],
    redis_server: RedisServer,
    qscookies_redis: redis.Redis,
) -> None:
    own = QSCookies(
        starlette_shop(), secret_key="own-" * 10, redis_url=redis_server.url
    )
    rebound = qscookies_asgi_rebind(own, visit_gap=60, key_prefix="r:")
    assert rebound is own and own.settings.visit_gap == 60
    ASGIShopClient(own).get("/add/TEA-01")
    keys = qscookies_redis.keys()
    assert "r:c:" in {key.split("{")[0] for key in keys}
    assert all(key.startswith("r:") for key in keys)


def test_rebound_puts_the_middleware_back(redis_server: RedisServer) -> None:
    with RedisServer() as other:
        own = QSCookies(
            starlette_shop(), secret_key="own-" * 10, redis_url=redis_server.url
        )
        before = (own.settings, own.codec, own.clock)
        with own.rebound(other.url, secret_key=TEST_SECRET_KEY, visit_gap=5):
            own.clock = lambda: 0.0
            assert TestClient(own).get("/add/X").json() == 1
            assert own.settings.visit_gap == 5
        assert (own.settings, own.codec, own.clock) == before
        with other.client() as probe:
            assert len(probe.keys("qs:c:*")) == 1


@pytest.mark.parametrize(
    ("fixture", "door", "use"),
    [
        ("qscookies_rebind", "qscookies.asgi.QSCookies", "qscookies_asgi_rebind"),
        ("qscookies_asgi_rebind", "qscookies.QSCookies", "qscookies_rebind"),
    ],
)
def test_the_wrong_door_is_named(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    fixture: str,
    door: str,
    use: str,
) -> None:
    """Both doors' classes are called QSCookies: the error names the module."""
    apps: dict[str, Any] = {
        "qscookies.asgi.QSCookies": QSCookies(
            starlette_shop(), secret_key=TEST_SECRET_KEY, redis_url=redis_server.url
        ),
        "qscookies.QSCookies": WSGIQSCookies(
            Storefront(), secret_key=TEST_SECRET_KEY, redis_url=redis_server.url
        ),
    }
    rebind = request.getfixturevalue(fixture)
    with pytest.raises(TypeError, match=f"this is {door}: use {use}"):
        rebind(apps[door])


def test_each_client_names_the_door_it_needs(qscookies_asgi_wrap: Wrap) -> None:
    asgi_app = qscookies_asgi_wrap(starlette_shop())
    with pytest.raises(TypeError, match="this is qscookies.asgi.QSCookies: use ASGI"):
        ShopClient(asgi_app)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs the qscookies.asgi.QSCookies-wrapped"):
        ASGIShopClient(starlette_shop())  # type: ignore[arg-type]
