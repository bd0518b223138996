"""The shop of ``shop.py`` / ``asgi_shop.py`` behind each door, over each topology.

The fixtures of the journeys that every door answers alike
(``tests/doors/test_doors.py`` and the feature files that take them over):
``redis_url`` is a single Redis or the suite's Redis Cluster, ``serve(**settings)``
the shop behind one door over it, served over real HTTP (werkzeug's threaded
server for WSGI, uvicorn for the Starlette and bare ASGI shops). A module uses
them by naming them: ``redis_url = served.redis_url``, ``serve = served.serve``.
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
            aclient = factory.from_url(url, **client_options(2.0, asynchronous=True))
            app = ASGIQSCookies(
                make_app(kind, Events()), secret_key=SECRET, redis=aclient, **settings
            )
            server = stack.enter_context(ASGIServer(app, cleanup=[aclient.aclose]))
            return Served(server.url, app, admin, prefix)

        yield start
