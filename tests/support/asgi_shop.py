"""The test shop of ``shop.py`` as ASGI apps (Starlette and bare), and a wire counter.

Both apps answer the same journeys as the WSGI shop: ``/`` gives the visitor
and promotion as JSON; ``/add?sku=&q=``, ``/set``, ``/remove``, ``/clear``,
``/cart``, ``/checkout``, ``/buy?order=&total=&paid=`` and ``/forget`` use the
cart; ``/login``, ``/logout`` and ``/account`` sign in and out;
``/choice?c=in|out`` opts in or out and answers the tracking choice;
``/static/…`` (excluded) answers whether a context was there. The Starlette
one also has a streamed ``/stream`` and a websocket echo on ``/ws``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs

import redis.asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from qscookies.asgi import QSCookies
from qscookies.asgi import context
from qscookies.context import AsyncContext
from qscookies.errors import AccountError
from qscookies.errors import CartError
from qscookies.errors import CrossSiteError
from qscookies.errors import PaidTokenError
from qscookies.errors import StoreUnavailable
from qscookies.store.client import client_options

from shop import HOLD
from shop import options_of
from shop import snapshot_of

#: Longest a streamed response waits for the test to read its first chunk.
STREAM_WAIT = 10.0


@dataclass
class Events:
    """What the apps report to the test, and what the test tells them."""

    #: ``"startup"`` and ``"shutdown"``, as the lifespan messages arrive.
    lifespan: list[str] = field(default_factory=list)
    #: Set by the test once it has read the first streamed chunk.
    first_chunk_read: threading.Event = field(default_factory=threading.Event)


async def journey(qs: AsyncContext, path: str, args: Mapping[str, str]) -> Any:
    """What ``shop.shop`` does for *path*, on the asyncio context."""
    if path == "/add":
        quantity, options = int(args.get("q", "1")), options_of(args)
        added = await qs.cart.add(
            args["sku"], quantity, options=options, write_id=args.get("id")
        )
        if args.get("hold"):
            await asyncio.to_thread(HOLD[0].wait)
        return added
    if path == "/set":
        return await qs.cart.set(args["sku"], int(args["q"]))
    if path == "/remove":
        return await qs.cart.remove(args["sku"])
    if path == "/clear":
        return await qs.cart.clear()
    if path == "/cart":
        return await qs.cart.items()
    if path == "/badge":  # a layout's cart badge: degrades while Redis is down
        return await qs.cart.items(default=None)
    if path == "/lines":
        return [asdict(line) for line in await qs.cart.lines()]
    if path == "/buy":  # with a checkout's token, only what it paid for
        total, paid = int(args["total"]), args.get("paid")
        purchase = await qs.record_purchase(args["order"], total_cents=total, paid=paid)
        return purchase.counted
    if path == "/checkout":
        return snapshot_of(await qs.cart.checkout())
    if path == "/forget":
        return await qs.forget()
    if path == "/login":  # a bad customer or policy: AccountError, a 400
        await qs.login(args.get("customer", ""), merge=args.get("merge", "add"))
        return {"signed_in": qs.signed_in, "cart": await qs.cart.items()}
    if path == "/logout":
        await qs.logout(everywhere=bool(args.get("everywhere")))
        return qs.signed_in
    if path == "/account":
        return qs.signed_in
    if path == "/choice":
        if args.get("c") == "in":
            await qs.opt_in()
        elif args.get("c") == "out":
            await qs.opt_out()
        return qs.tracking_choice
    visitor = qs.visitor
    return {
        "returning": visitor.is_returning,
        "visits": visitor.visits,
        "promotion": qs.promotion,
    }


# -- Starlette ------


def starlette_shop(events: Events, *, store_errors_as_500: bool = False) -> Starlette:
    """The shop on Starlette.

    :param store_errors_as_500: install an exception handler that turns
        :class:`StoreUnavailable` into the framework's own ``500`` page.
    """

    async def static(request: Request) -> Response:
        found = context(request.scope, default=None)
        return PlainTextResponse("static" if found is None else "context!")

    async def page(request: Request) -> Response:
        qs = context(request.scope)
        return JSONResponse(
            await journey(qs, request.url.path, request.query_params),
            headers={"X-Shop": "starlette"},
        )

    async def stream(request: Request) -> Response:
        qs = context(request.scope)
        visits = qs.visitor.visits

        async def chunks() -> AsyncIterator[bytes]:
            yield b"first;"
            read = await asyncio.to_thread(events.first_chunk_read.wait, STREAM_WAIT)
            yield f"last;visits={visits}".encode() if read else b"buffered!"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        found = context(websocket.scope, default=None)
        await websocket.send_text(f"{text} (context: {found is not None})")
        await websocket.close()

    async def as_500(request: Request, error: Exception) -> Response:
        return PlainTextResponse("<h1>Server Error</h1>", status_code=500)

    async def as_400(request: Request, error: Exception) -> Response:
        return PlainTextResponse(str(error), status_code=400)

    async def as_403(request: Request, error: Exception) -> Response:
        return PlainTextResponse(str(error), status_code=403)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.lifespan.append("startup")
        yield
        events.lifespan.append("shutdown")

    return Starlette(
        routes=[
            Route("/static/{rest:path}", static),
            Route("/stream", stream),
            WebSocketRoute("/ws", echo),
            Route("/{rest:path}", page, methods=["GET", "HEAD", "POST"]),
        ],
        exception_handlers={
            AccountError: as_400,
            CartError: as_400,
            PaidTokenError: as_400,
            CrossSiteError: as_403,
            **({StoreUnavailable: as_500} if store_errors_as_500 else {}),
        },
        lifespan=lifespan,
    )


# -- bare ASGI ------


def bare_shop(events: Events) -> Any:
    """The shop as a bare ASGI 3 callable (lifespan handled, no websocket)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    events.lifespan.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    events.lifespan.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "http"
        path = scope["path"]
        if path.startswith("/static/"):
            found = context(scope, default=None)
            await _respond(send, b"static" if found is None else b"context!")
            return
        query = parse_qs(scope["query_string"].decode("latin-1"), True)
        args = {name: values[0] for name, values in query.items()}
        try:
            result = await journey(context(scope), path, args)
        except CrossSiteError as error:  # a CartError: before the others
            await _respond(send, str(error).encode(), status=403)
            return
        except (AccountError, CartError, PaidTokenError) as error:
            await _respond(send, str(error).encode(), status=400)
            return
        await _respond(send, json.dumps(result).encode(), "application/json")

    return app


async def _respond(
    send: Any, body: bytes, kind: str = "text/plain", *, status: int = 200
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind.encode()), (b"x-shop", b"bare")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def make_app(kind: str, events: Events, **options: Any) -> Any:
    """``"starlette"`` or ``"bare"``."""
    if kind == "starlette":
        return starlette_shop(events, **options)
    return bare_shop(events)


# -- the wire ------


class CountingConnection(redis.asyncio.Connection):
    """A real asyncio connection that counts round trips: each send is one."""

    sent: list[int]

    async def send_packed_command(
        self, command: Any, check_health: bool = True
    ) -> None:
        self.sent.append(1)
        await super().send_packed_command(command, check_health)


class AsyncRoundTrips:
    """A ``redis.asyncio`` client, as the test app user, whose sends are counted.

    :param host: the private server's host.
    :param port: its port.
    """

    def __init__(self, host: str, port: int) -> None:
        #: One entry per send on any connection of the pool.
        self.sent: list[int] = []
        counting = type("Counting", (CountingConnection,), {"sent": self.sent})
        pool = redis.asyncio.ConnectionPool(
            host=host,
            port=port,
            username="qs-app",
            password="test-app",
            connection_class=counting,
            **client_options(2.0, asynchronous=True),
        )
        #: Closing it (``aclose``) closes the pool.
        self.client = redis.asyncio.Redis.from_pool(pool)


def middleware(app: Any, client: Any, secret: str, **options: Any) -> QSCookies:
    """*app* in the ASGI middleware over *client*."""
    return QSCookies(app, secret_key=secret, redis=client, **options)


def commands(client: Any) -> int:
    """Commands Redis has executed so far, not counting ``INFO`` itself."""
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")
