"""Views that use ``request.qs``: sync ones, and async ones for the ASGI handler."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseForbidden
from django.http import JsonResponse
from django.urls import path

from qscookies import CrossSiteError
from qscookies import context

from shop import options_of
from shop import snapshot_of


def page(request: HttpRequest) -> JsonResponse:
    qs = request.qs
    return JsonResponse(
        {
            "visits": qs.visitor.visits,
            "returning": qs.visitor.is_returning,
            "promotion": qs.promotion,
            "badge": qs.cart.items(default=None),
            "same_as_environ": context(request.META) is qs,
        }
    )


def add(request: HttpRequest) -> HttpResponse:
    """``?sku=&q=``, and ``opt.<key>=`` for the line's options; another
    origin's form is a ``403``."""
    sku, options = request.GET["sku"], options_of(request.GET)
    quantity = int(request.GET.get("q", 1))
    try:
        added = request.qs.cart.add(sku, quantity, options=options)
    except CrossSiteError as error:
        return HttpResponseForbidden(str(error))
    return JsonResponse(added, safe=False)


def lines(request: HttpRequest) -> JsonResponse:
    return JsonResponse([asdict(line) for line in request.qs.cart.lines()], safe=False)


def cart(request: HttpRequest) -> JsonResponse:
    return JsonResponse(request.qs.cart.items())


def buy(request: HttpRequest) -> JsonResponse:
    counted = request.qs.record_purchase(request.GET["order"], total_cents=500).counted
    return JsonResponse(counted, safe=False)


def checkout(request: HttpRequest) -> JsonResponse:
    return JsonResponse(snapshot_of(request.qs.cart.checkout()))


def pay(request: HttpRequest) -> JsonResponse:
    """A payment provider's return (a POST, with or without our cookies)."""
    order, paid = request.GET["order"], request.POST["paid"]
    counted = request.qs.record_purchase(order, total_cents=500, paid=paid).counted
    return JsonResponse(counted, safe=False)


async def async_checkout(request: HttpRequest) -> JsonResponse:
    snapshot = await request.qs.cart.checkout()
    return JsonResponse({"lines": snapshot.lines, "token": snapshot.token})


async def async_pay(request: HttpRequest) -> JsonResponse:
    order, paid = request.GET["order"], request.POST["paid"]
    purchase = await request.qs.record_purchase(order, total_cents=500, paid=paid)
    counted = purchase.counted
    return JsonResponse(counted, safe=False)


async def async_add(request: HttpRequest) -> HttpResponse:
    try:
        added = await request.qs.cart.add(request.GET["sku"])
    except CrossSiteError as error:
        return HttpResponseForbidden(str(error))
    return JsonResponse(added, safe=False)


async def async_cart(request: HttpRequest) -> JsonResponse:
    return JsonResponse(await request.qs.cart.items())


async def async_page(request: HttpRequest) -> JsonResponse:
    qs: Any = request.qs
    return JsonResponse({"visits": qs.visitor.visits, "promotion": qs.promotion})


urlpatterns = [
    path("", page),
    path("add", add),
    path("cart", cart),
    path("lines", lines),
    path("buy", buy),
    path("checkout", checkout),
    path("pay", pay),
    path("async/checkout", async_checkout),
    path("async/pay", async_pay),
    path("async/add", async_add),
    path("async/cart", async_cart),
    path("async/", async_page),
]
