"""A test client for an ASGI shop wrapped in :class:`qscookies.asgi.QSCookies`.

:class:`ASGIShopClient` is Starlette's ``TestClient`` (so it needs
``starlette`` and ``httpx2``, both test extras of qscookies, and both there
with FastAPI) that reads its own cart, visitor and promotion through the
middleware's codec and store, and moves the middleware's clock, as
:class:`qscookies.testing.ShopClient` does for WSGI. Use it with the plugin's
``qscookies_asgi_wrap`` or ``qscookies_asgi_rebind`` fixtures::

    from qscookies.testclient import ASGIShopClient
    from myshop import app  # app = qscookies.asgi.QSCookies(fastapi_app, ...)

    def test_cart(qscookies_asgi_rebind):
        client = ASGIShopClient(qscookies_asgi_rebind(app))
        client.post("/cart/TEA-01")
        assert client.cart_items() == {"TEA-01": 1}
        client.advance(3600)  # past the visit gap, without sleeping
        client.get("/")
        assert client.visitor().is_returning

Requests work with or without ``with client:`` (which runs the app's
lifespan); each may run on an event loop of its own, and the middleware opens a
connection pool per loop. State is read on a short-lived loop of its own.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

import anyio.from_thread
from starlette.testclient import TestClient

from .asgi import QSCookies
from .asgi import Scope
from .context import AsyncContext
from .testing import _expect
from .teststate import Clock
from .teststate import StateReaders
from .teststate import our_cookies

__all__ = ["ASGIShopClient"]

_T = TypeVar("_T")


class ASGIShopClient(StateReaders, TestClient, Clock):
    """Starlette's ``TestClient`` for a shop wrapped in the ASGI door.

    Reading state sends no cookie and changes nothing: a visit is not started,
    nothing is counted.

    :param app: the wrapped shop (what ``qscookies_asgi_wrap`` or
        ``qscookies_asgi_rebind`` returns).
    :param base_url: the URL requests go to; ``https://…`` makes the middleware
        use ``Secure`` ``__Host-`` cookies.
    :param kwargs: more ``TestClient`` arguments (``follow_redirects`` is
        ``True`` by default there, as in Starlette).
    """

    def __init__(
        self, app: QSCookies, *, base_url: str = "http://testserver", **kwargs: Any
    ) -> None:
        middleware = _expect(app, QSCookies, "ASGIShopClient", "ShopClient")
        TestClient.__init__(self, middleware, base_url=base_url, **kwargs)
        Clock.__init__(self)
        #: The middleware the client talks to.
        self.qscookies = middleware
        middleware.clock = self.now

    def cart_items(self) -> dict[str, int]:
        """The lines of this client's cart, ``{sku: quantity}`` (one ``HGETALL``)."""
        return self._run(lambda qs: qs.cart.items())

    def _run(self, read: Callable[[AsyncContext], Awaitable[_T]]) -> _T:
        """Await *read* of this client's context on a loop of its own."""
        qs = self._context()

        async def main() -> _T:
            return await read(qs)

        with anyio.from_thread.start_blocking_portal(**self.async_backend) as portal:
            return portal.call(main)

    def _context(self) -> AsyncContext:
        """A request context built from the cookies only, without a request."""
        url = urlsplit(str(self.base_url))
        secure = self.qscookies.settings.secure
        https = url.scheme == "https" if secure is None else secure
        found = our_cookies(self.qscookies.settings, https, self._cookie)
        cookie = "; ".join(f"{name}={value}" for name, value in found.items())
        scope: Scope = {
            "type": "http",
            "method": "GET",
            "scheme": url.scheme,
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": [
                (b"host", (url.hostname or "testserver").encode("latin-1")),
                *([(b"cookie", cookie.encode("latin-1"))] if cookie else []),
            ],
        }
        return self.qscookies.context_for(scope)

    def _cookie(self, name: str) -> str | None:
        """This client's cookie *name*, whatever host the jar filed it under."""
        for cookie in self.cookies.jar:
            if cookie.name == name:
                value: str | None = cookie.value
                return value
        return None
