"""A Flask storefront: ``app.wsgi_app`` wrapped by ``QSCookies`` in one line.

Views read the cart, visitor and promotion from ``context(request.environ)``.
Run it with::

    python examples/flask_shop.py

It runs over an embedded Redis (see :func:`qscookies.demo.serve`). A real shop
keeps its CSRF protection (e.g. Flask-WTF) on the forms; it is left out here.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import redirect
from flask import request
from werkzeug.wrappers import Response

from qscookies import CartError
from qscookies import QSCookies
from qscookies import context
from qscookies.demo import serve
from qscookies.demoshop.catalogue import OPTIONS
from qscookies.demoshop.catalogue import cart_page
from qscookies.demoshop.catalogue import catalogue_page
from qscookies.demoshop.catalogue import error_page
from qscookies.demoshop.catalogue import new_order_id
from qscookies.demoshop.catalogue import order_page
from qscookies.demoshop.catalogue import order_total
from qscookies.demoshop.catalogue import parse_line
from qscookies.demoshop.catalogue import sign_in


def create_app(*, secret_key: str, redis_url: str, **options: Any) -> Flask:
    """Build the Flask storefront with qscookies around its WSGI app.

    :param secret_key: the key that signs the qscookies cookies.
    :param redis_url: where Redis is.
    :param options: more :class:`~qscookies.QSCookies` settings.
    """
    app = Flask(__name__)
    app.wsgi_app = QSCookies(  # type: ignore[method-assign]
        app.wsgi_app,
        secret_key=secret_key,
        redis_url=redis_url,
        **{**OPTIONS, **options},
    )

    @app.get("/")
    def catalogue() -> str:
        return catalogue_page(context(request.environ))

    @app.get("/cart")
    def cart() -> str:
        return cart_page(context(request.environ))

    @app.post("/cart/add")
    def add() -> Response | tuple[str, int]:
        qs = context(request.environ)
        try:
            sku, quantity = parse_line(request.form)
            qs.cart.add(sku, quantity)
        except (ValueError, CartError) as error:
            return error_page(qs, str(error)), 400
        return redirect("/cart", code=303)

    @app.post("/checkout")
    def checkout() -> Response | str:
        qs = context(request.environ)
        total = order_total(qs.cart.items())
        if not total:
            return redirect("/cart", code=303)
        order_id = new_order_id()
        qs.record_purchase(order_id, total_cents=total)
        return order_page(qs, order_id, total)

    @app.post("/login")
    def login() -> Response | tuple[str, int]:
        qs = context(request.environ)
        refused = sign_in(qs, request.form)
        if refused:
            return error_page(qs, refused), 400
        return redirect("/cart", code=303)

    @app.post("/logout")
    def logout() -> Response:
        context(request.environ).logout()
        return redirect("/", code=303)

    return app


if __name__ == "__main__":
    serve(create_app)
