"""The plain-WSGI storefront: no framework, only werkzeug's request and response.

The shop itself knows nothing of cookies or Redis: it asks the request's
:func:`~qscookies.context` for the cart, the visitor and the promotion, and
:func:`create_app` wraps it in :class:`~qscookies.QSCookies` in one line. A cart
write that Redis cannot store raises :class:`~qscookies.StoreUnavailable`, which
the middleware answers with a ``503``; the shop does not catch it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from ..errors import CartError
from ..wsgi import QSCookies
from ..wsgi import context
from .catalogue import CROSS_SITE
from .catalogue import OPTIONS
from .catalogue import STYLESHEET_PATH
from .catalogue import add_to_cart
from .catalogue import cart_page
from .catalogue import catalogue_page
from .catalogue import error_page
from .catalogue import place_order
from .catalogue import sign_in
from .catalogue import stylesheet

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment


class Storefront:
    """The shop as a WSGI application; wrap it in :class:`~qscookies.QSCookies`."""

    url_map = Map(
        [
            Rule("/", endpoint="catalogue", methods=["GET"]),
            Rule("/cart", endpoint="cart", methods=["GET"]),
            Rule("/cart/add", endpoint="add", methods=["POST"]),
            Rule("/checkout", endpoint="checkout", methods=["POST"]),
            Rule("/login", endpoint="login", methods=["POST"]),
            Rule("/logout", endpoint="logout", methods=["POST"]),
        ]
    )

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STYLESHEET_PATH:  # excluded: no context
            css = Response(stylesheet(), mimetype="text/css")
            return css(environ, start_response)
        request = Request(environ)
        qs = context(environ)
        if qs.cross_site:  # CSRF: a form another site posted is refused
            return _html(error_page(qs, CROSS_SITE), 403)(environ, start_response)
        try:
            endpoint, _ = self.url_map.bind_to_environ(environ).match()
            response: Response = getattr(self, f"on_{endpoint}")(request)
        except HTTPException as error:
            response = error.get_response(environ)
        return response(environ, start_response)

    def on_catalogue(self, request: Request) -> Response:
        return _html(catalogue_page(context(request.environ)))

    def on_cart(self, request: Request) -> Response:
        return _html(cart_page(context(request.environ)))

    def on_add(self, request: Request) -> Response:
        qs = context(request.environ)
        try:
            add_to_cart(qs, request.form)
        except (ValueError, CartError) as error:
            return _html(error_page(qs, str(error)), status=400)
        return redirect("/cart", code=303)

    def on_checkout(self, request: Request) -> Response:
        page = place_order(context(request.environ))
        return redirect("/cart", code=303) if page is None else _html(page)

    def on_login(self, request: Request) -> Response:
        qs = context(request.environ)
        refused = sign_in(qs, request.form)
        if refused:
            return _html(error_page(qs, refused), status=400)
        return redirect("/cart", code=303)

    def on_logout(self, request: Request) -> Response:
        context(request.environ).logout()
        return redirect("/", code=303)


def _html(page: str, status: int = 200) -> Response:
    return Response(page, status=status, mimetype="text/html")


def create_app(
    *,
    secret_key: str,
    redis_url: str | None = None,
    redis: Any = None,
    **options: Any,
) -> QSCookies:
    """Build the storefront, wrapped in the middleware.

    :param secret_key: the key that signs the cookies.
    :param redis_url: where Redis is (or pass a ready client as *redis*).
    :param options: more :class:`~qscookies.QSCookies` settings.
    """
    return QSCookies(
        Storefront(),
        secret_key=secret_key,
        redis_url=redis_url,
        redis=redis,
        **{**OPTIONS, **options},
    )
