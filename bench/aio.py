"""The ASGI side of the bench: the storefront as an ASGI app, driven in process.

One event loop runs every ASGI request and every ``redis.asyncio`` command, and
each timing is taken inside the loop, so the loop's own start is not counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from qscookies.asgi import context

Scope = dict[str, Any]
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/html")],
}
BODY = {"type": "http.response.body", "body": b"<h1>shop</h1>"}


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """The storefront of ``requests.app``, on ASGI."""
    path = scope["path"]
    if path == "/add":
        await context(scope).cart.add("SKU-1")
    elif path == "/cart":
        await context(scope).cart.items()
    elif path == "/seed":
        for n in range(1, 6):
            await context(scope).cart.add(f"SKU-{n}")
    elif "qscookies.context" in scope:
        qs = context(scope)
        qs.visitor  # noqa: B018 - a page that greets returning visitors
        qs.promotion  # noqa: B018
    await send(START)
    await send(BODY)


def scope(path: str, cookie: str = "") -> Scope:
    """An HTTP scope as uvicorn builds it."""
    headers = [(b"host", b"shop.example"), (b"user-agent", b"bench")]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("shop.example", 80),
        "client": ("127.0.0.1", 50000),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Driver:
    """Runs ASGI requests and async commands on one event loop, timed inside it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def requests(self, asgi: Any, template: Scope) -> Callable[[int], float]:
        """A timer of *n* requests of *template* to *asgi*: seconds for all."""

        async def send(message: Any) -> None:
            pass  # gone to the client

        async def timed(n: int) -> float:
            # Each request's scope is made and dropped with it, as a server
            # does: what a request left in it is freed before the next.
            started = time.perf_counter()
            for _ in range(n):
                await asgi(dict(template), receive, send)
            return time.perf_counter() - started

        return lambda n: self.run(timed(n))

    def commands(self, command: Callable[[], Awaitable[Any]]) -> Callable[[int], float]:
        """A timer of *n* awaits of *command*: seconds for all."""

        async def timed(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                await command()
            return time.perf_counter() - started

        return lambda n: self.run(timed(n))

    def close(self) -> None:
        self.loop.close()
