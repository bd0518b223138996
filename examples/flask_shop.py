"""A Flask storefront with the qscookies extension, configured by ``app.config``.

``QSCookies(app)`` reads ``SECRET_KEY`` and the ``QSCOOKIES_*`` keys; views read
the cart, visitor and promotion from the ``qs`` proxy. Run it with::

    python examples/flask_shop.py

It runs over an embedded Redis (see :func:`qscookies.demo.run.serve`). Its forms are
protected against cross-site request forgery by a same-origin check: a POST that
another site made (``qs.cross_site``) is refused with a ``403``; a shop with
Flask-WTF's tokens keeps them too.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import redirect
from flask import request
from werkzeug.wrappers import Response

from qscookies import CartError
from qscookies.demo.catalogue import CROSS_SITE
from qscookies.demo.catalogue import OPTIONS
from qscookies.demo.catalogue import STYLESHEET_PATH
from qscookies.demo.catalogue import add_to_cart
from qscookies.demo.catalogue import cart_page
from qscookies.demo.catalogue import catalogue_page
from qscookies.demo.catalogue import error_page
from qscookies.demo.catalogue import place_order
from qscookies.demo.catalogue import sign_in
from qscookies.demo.catalogue import stylesheet
from qscookies.demo.run import serve
from qscookies.flask import QSCookies
from qscookies.flask import qs


def create_app(*, secret_key: str, redis_url: str, **options: Any) -> Flask:
    """Build the Flask storefront with the qscookies extension.

    :param secret_key: Flask's ``SECRET_KEY``; qscookies derives its keys from it.
    :param redis_url: where Redis is.
    :param options: more settings (``QSCOOKIES_<NAME>`` in ``app.config``).
    """
    app = Flask(__name__, static_folder=None)  # the shop serves its stylesheet
    app.config.update(SECRET_KEY=secret_key, QSCOOKIES_REDIS_URL=redis_url)
    for name, value in {**OPTIONS, **options}.items():
        app.config[f"QSCOOKIES_{name.upper()}"] = value
    QSCookies(app)

    @app.get(STYLESHEET_PATH)  # an excluded path: no qs here
    def shop_css() -> Response:
        return Response(stylesheet(), mimetype="text/css")

    @app.before_request
    def same_origin_only() -> tuple[str, int] | None:
        if (
            request.path != STYLESHEET_PATH and qs.cross_site
        ):  # CSRF: a form another site posted
            return error_page(qs, CROSS_SITE), 403
        return None

    @app.get("/")
    def catalogue() -> str:
        return catalogue_page(qs)

    @app.get("/cart")
    def cart() -> str:
        return cart_page(qs)

    @app.post("/cart/add")
    def add() -> Response | tuple[str, int]:
        try:
            add_to_cart(qs, request.form)
        except (ValueError, CartError) as error:
            return error_page(qs, str(error)), 400
        return redirect("/cart", code=303)

    @app.post("/checkout")
    def checkout() -> Response | str:
        page = place_order(qs)
        return redirect("/cart", code=303) if page is None else page

    @app.post("/login")
    def login() -> Response | tuple[str, int]:
        refused = sign_in(qs, request.form)
        if refused:
            return error_page(qs, refused), 400
        return redirect("/cart", code=303)

    @app.post("/logout")
    def logout() -> Response:
        qs.logout()
        return redirect("/", code=303)

    return app


if __name__ == "__main__":
    serve(create_app)
