"""A FastAPI storefront (a JSON API) behind qscookies' ASGI door.

The recipe in three parts:

- the middleware wraps the FastAPI app itself (``QSCookies(api, ...)``, not
  ``api.add_middleware``, which hides the instance), so the shop holds it;
- a typed dependency hands each view the request's
  :class:`~qscookies.context.AsyncContext` (``qs: QS``);
- the lifespan's shutdown calls ``aclose()``, on the loop that served the
  requests.

Run it with one command, over an embedded Redis (needs ``fastapi`` and
``uvicorn``)::

    python examples/fastapi_shop.py      # http://127.0.0.1:8000/docs
    python examples/fastapi_shop.py 8001 # another port

Its tests (``tests/e2e/test_fastapi_shop.py``) use the plugin's
``qscookies_asgi_rebind`` fixture and :class:`~qscookies.testclient.ASGIShopClient`.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from typing import Annotated

import uvicorn
from fastapi import Depends
from fastapi import FastAPI
from fastapi import HTTPException
from fastapi import Request
from pydantic import BaseModel

from qscookies import CartError
from qscookies.asgi import QSCookies
from qscookies.asgi import context
from qscookies.context import AsyncContext
from qscookies.demo.catalogue import PRODUCTS
from qscookies.demo.catalogue import new_order_id
from qscookies.demo.catalogue import order_total
from qscookies.embedded import RedisServer

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qscookies.settings import Options

__all__ = ["QS", "create_app", "shop_context"]


async def shop_context(request: Request) -> AsyncContext:
    """The qscookies context of the request, for ``Depends``."""
    return context(request.scope)


#: What a view declares to get the context: ``async def view(qs: QS)``.
QS = Annotated[AsyncContext, Depends(shop_context)]


class Line(BaseModel):
    """A line to add to the cart."""

    sku: str
    quantity: int = 1
    #: Line options (say ``{"engraving": "Ada"}``): other options, another line.
    options: dict[str, str] | None = None


def create_app(
    *, secret_key: str, redis_url: str, **options: Unpack[Options]
) -> QSCookies:
    """The storefront: a FastAPI app wrapped in :class:`qscookies.asgi.QSCookies`.

    :param secret_key: the signing key (at least 32 characters).
    :param redis_url: where Redis is.
    :param options: more qscookies settings, typed (a misspelt one is a mypy
        error).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await shop.aclose()  # on the loop that served the requests

    api = FastAPI(title="qscookies tea shop", lifespan=lifespan)

    @api.get("/")
    async def home(qs: QS) -> dict[str, object]:
        return {
            "visits": qs.visitor.visits,
            "returning": qs.visitor.is_returning,
            "promotion": qs.promotion,
            "products": {sku: p.name for sku, p in PRODUCTS.items()},
        }

    @api.get("/cart")
    async def cart(qs: QS) -> dict[str, int]:
        return await qs.cart.items()

    @api.post("/cart")
    async def add(line: Line, qs: QS) -> dict[str, int]:
        if line.sku not in PRODUCTS:
            raise HTTPException(404, "There is no such product.")
        try:
            await qs.cart.add(line.sku, quantity=line.quantity, options=line.options)
        except CartError as error:
            raise HTTPException(400, str(error)) from error
        return await qs.cart.items()

    @api.post("/checkout")
    async def checkout(qs: QS) -> dict[str, object]:
        snapshot = await qs.cart.checkout()
        total = order_total(snapshot.details)
        if not total:
            raise HTTPException(409, "Your cart is empty.")
        order_id = new_order_id()
        # Paid with the snapshot's token: only its lines leave the cart.
        purchase = await qs.record_purchase(
            order_id, total_cents=total, paid=snapshot.token
        )
        return {"order": order_id, "total_cents": total, "credited": purchase.credited}

    shop = QSCookies(api, secret_key=secret_key, redis_url=redis_url, **options)
    return shop


def main(port: int = 8000) -> None:
    """Serve the shop on http://127.0.0.1:*port* over an embedded Redis,
    until Ctrl-C."""
    with RedisServer() as redis:
        app = create_app(secret_key=secrets.token_urlsafe(32), redis_url=redis.url)
        uvicorn.run(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
