"""A Django storefront in one module, served by Django's own WSGI handler.

qscookies comes in through settings only: ``qscookies.django`` in
``INSTALLED_APPS``, its middleware in ``MIDDLEWARE``, and ``QSCOOKIES``; views
read the cart, visitor and promotion from ``request.qs``. An uncaught
:class:`~qscookies.StoreUnavailable` becomes a ``503`` with ``Retry-After``.
Run it with::

    python examples/django_shop/shop.py

It runs over an embedded Redis (see :func:`qscookies.demo.run.serve`). Its forms are
protected against cross-site request forgery by a same-origin check
(:func:`same_origin`: a POST another site made, ``request.qs.cross_site``, gets a
``403``); a real project keeps Django's ``CsrfViewMiddleware`` and
``{% csrf_token %}`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseBadRequest
from django.http import HttpResponseRedirect
from django.urls import path
from django.views.decorators.http import require_http_methods

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

View = Callable[[HttpRequest], HttpResponse]


def see_other(url: str) -> HttpResponse:
    """A ``303``: after a POST, the browser fetches the next page with GET."""
    response: HttpResponse = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def allow(method: str) -> Callable[[View], View]:
    """Django's ``require_http_methods([method])``, typed (Django ships no
    types, so its decorators are untyped to mypy)."""
    decorator: Callable[[View], View] = require_http_methods([method])
    return decorator


def same_origin(view: Callable[[HttpRequest], HttpResponse]) -> Any:
    """Refuse a POST another site made (CSRF) with a ``403``."""

    def checked(request: HttpRequest) -> HttpResponse:
        if request.qs.cross_site:
            return HttpResponse(error_page(request.qs, CROSS_SITE), status=403)
        return view(request)

    return checked


@allow("GET")
def shop_css(request: HttpRequest) -> HttpResponse:
    return HttpResponse(stylesheet(), content_type="text/css")  # excluded: no qs


@allow("GET")
def catalogue(request: HttpRequest) -> HttpResponse:
    return HttpResponse(catalogue_page(request.qs))


@allow("GET")
def cart(request: HttpRequest) -> HttpResponse:
    return HttpResponse(cart_page(request.qs))


@allow("POST")
@same_origin
def add(request: HttpRequest) -> HttpResponse:
    qs = request.qs
    try:
        add_to_cart(qs, request.POST)
    except (ValueError, CartError) as error:
        return HttpResponseBadRequest(error_page(qs, str(error)))
    return see_other("/cart")


@allow("POST")
@same_origin
def checkout(request: HttpRequest) -> HttpResponse:
    qs = request.qs
    page = place_order(qs)
    return see_other("/cart") if page is None else HttpResponse(page)


@allow("POST")
@same_origin
def login(request: HttpRequest) -> HttpResponse:
    qs = request.qs
    refused = sign_in(qs, request.POST)
    if refused:
        return HttpResponseBadRequest(error_page(qs, refused))
    return see_other("/cart")


@allow("POST")
@same_origin
def logout(request: HttpRequest) -> HttpResponse:
    request.qs.logout()
    return see_other("/")


urlpatterns = [
    path(STYLESHEET_PATH.lstrip("/"), shop_css),
    path("", catalogue),
    path("cart", cart),
    path("cart/add", add),
    path("checkout", checkout),
    path("login", login),
    path("logout", logout),
]


def create_app(*, secret_key: str, redis_url: str, **options: Any) -> WSGIHandler:
    """Configure Django (once per process) and return its own WSGI handler.

    :param secret_key: Django's ``SECRET_KEY``; qscookies derives its keys from it.
    :param redis_url: where Redis is.
    :param options: more ``QSCOOKIES`` settings.
    """
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
            INSTALLED_APPS=["qscookies.django"],
            MIDDLEWARE=["qscookies.django.QSCookiesMiddleware"],
            USE_TZ=True,
        )
    # Read when the handler loads its middleware, below.
    settings.SECRET_KEY = secret_key
    settings.QSCOOKIES = {"redis_url": redis_url, **OPTIONS, **options}
    return get_wsgi_application()


if __name__ == "__main__":
    serve(create_app)
