"""The same storefront on the peers: Beaker (redis ext) and Flask-Session (redis).

Each keeps the visitor's session server-side in Redis, as qscookies keeps the
cart, and answers the bench's three requests:

- ``/``: a known visitor's page view that reads the session (``visits``);
- ``/add``: one more of ``SKU-1`` in the session's cart;
- ``/cart``: the cart's lines read back;
- ``/seed``: a five-line cart, once before measuring.

Bench-only: ``pip install -e '.[bench]'`` brings Beaker and Flask-Session.
"""

from __future__ import annotations

from typing import Any

from beaker.middleware import SessionMiddleware
from flask import Flask
from flask import request
from flask import session
from flask_session import Session

#: The lines of the seeded cart, as in the qscookies storefront.
SKUS = [f"SKU-{n}" for n in range(1, 6)]
PAGE = [b"<h1>shop</h1>"]


def _answer(start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return PAGE


def _shop(data: Any, path: str) -> None:
    """What every storefront does with its session (a dict-like), by path."""
    if path == "/add":
        cart = data.setdefault("cart", {})
        cart["SKU-1"] = cart.get("SKU-1", 0) + 1
        data["cart"] = cart  # a changed value, for sessions that track writes
    elif path == "/cart":
        dict(data.get("cart", {}))
    elif path == "/seed":
        data["cart"] = dict.fromkeys(SKUS, 1)
        data["visits"] = 1
    else:
        data.get("visits")  # a page that greets returning visitors


def bare_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The floor: a WSGI storefront page without any session."""
    return _answer(start_response)


def beaker(client: Any) -> Any:
    """A WSGI storefront in Beaker's ``SessionMiddleware`` on *client*."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        data = environ["beaker.session"]
        _shop(data, environ["PATH_INFO"])
        if environ["PATH_INFO"] in ("/add", "/seed"):
            data.save()
        return _answer(start_response)

    return SessionMiddleware(
        app,
        {
            "session.type": "ext:redis",
            "session.url": client,
            "session.key": "shop",
            "session.timeout": 30 * 86400,
            "session.secret": "bench-secret-key-0123456789abcdef",
        },
    )


def flask_app(client: Any = None) -> Flask:
    """A Flask storefront; with *client*, its session lives in Redis (Flask-Session).

    Without, it is the Flask floor: the same routing and response, no session.
    """
    app = Flask("shop")
    if client is not None:
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=client)
        Session(app)

    @app.route("/")
    @app.route("/add")
    @app.route("/cart")
    @app.route("/seed")
    def page() -> tuple[bytes, int, dict[str, str]]:
        if client is not None:
            _shop(session, request.path)
        return PAGE[0], 200, {"Content-Type": "text/html"}

    return app
