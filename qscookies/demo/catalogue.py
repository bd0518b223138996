"""Products and pages of the demo storefront, shared by every example shop.

Framework-free: the pages are built from the request's
:class:`~qscookies.Context` and returned as HTML text, so the plain-WSGI, Flask and
Django storefronts differ only in their routing and glue. Every storefront serves
the same paths:

========================  =========================================================
``GET /``                 the catalogue, with an add-to-cart form per product
``POST /cart/add``        form fields ``sku``, ``quantity`` and, for the mug,
                          ``engraving`` (a line option); ``303`` to the cart
``GET /cart``             the cart's lines and its checkout button
``POST /checkout``        takes the checkout snapshot, records the purchase paid
                          with its token, shows the order: the snapshot's lines
``POST /login``           form field ``name``: signs in (any name, no password: a
                          demo); ``303`` to the cart, which follows that name to
                          every browser signed in with it
``POST /logout``          signs out (a fresh, empty cart); ``303`` to the catalogue
``POST /privacy``         the middleware's privacy switch (``choice=out|in``)
``GET /static/shop.css``  the stylesheet every page links (:func:`stylesheet`),
                          served by the shop itself; an excluded path, so it costs
                          no Redis and sets no cookie
========================  =========================================================

Until the visitor chooses (``qs.tracking_choice is None``) every page shows
:func:`consent_banner`: a plain form posting ``choice=in`` or ``choice=out`` to
the privacy switch, no script, no dependency. With ``consent="opt-in"``
(``qscookies demo --consent opt-in``) nothing tracks before the yes.

A page view reads the visitor and the promotion, which cost no Redis round trip
inside a visit, and the cart badge of the layout (one round trip for a visitor
with a cart), which reads ``qs.cart.items(default=None)`` and is left out while
Redis is down: the catalogue renders; the cart page and cart writes answer
``503``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from importlib import resources

from ..context import Context
from ..core.checkout import CartSnapshot
from ..core.lines import CartLine
from ..errors import AccountError

#: The promotion the storefront advertises: ``/?promo=SUMMER24``.
PROMOTION = "SUMMER24"
#: Where the middleware's opt-out switch listens (its ``privacy_path``).
PRIVACY_PATH = "/privacy"
#: The :class:`~qscookies.QSCookies` options every storefront passes.
OPTIONS = {"privacy_path": PRIVACY_PATH}
#: Where every page finds its stylesheet (under the default ``excluded_paths``).
STYLESHEET_PATH = "/static/shop.css"
#: Largest quantity the add-to-cart form accepts at once.
MAX_ADD = 99


@dataclass(frozen=True)
class Product:
    """One product of the catalogue."""

    sku: str
    name: str
    price_cents: int
    #: The product takes an engraving (a line option: another text, another line).
    engravable: bool = False


#: The catalogue, by sku.
PRODUCTS = {
    product.sku: product
    for product in (
        Product("TEA-01", "Green tea, 100 g", 650),
        Product("MUG-02", "Stoneware mug", 1400, engravable=True),
        Product("POT-03", "Cast-iron teapot", 4900),
    )
}


def add_to_cart(qs: Context, form: Mapping[str, str]) -> None:
    """Add the add-to-cart form's line to the cart (:func:`parse_line`).

    :raises ValueError: a bad form (see :func:`parse_line`).
    :raises CartError: a bad engraving (say a card number) or a cart limit.
    """
    sku, quantity = parse_line(form)
    engraving = form.get("engraving", "").strip()
    options = {"engraving": engraving} if engraving else None
    if options and not PRODUCTS[sku].engravable:
        raise ValueError("This product takes no engraving.")
    qs.cart.add(sku, quantity, options=options)


def place_order(qs: Context) -> str | None:
    """Check out and record the purchase of what the snapshot holds.

    The purchase is paid with the snapshot's token, so it takes away only the
    snapshot's lines (a line added in another tab meanwhile stays); a shop
    with a payment provider would hand the token over and record the purchase
    on the provider's return.

    :return: the order page, or ``None`` for an empty cart.
    """
    snapshot = qs.cart.checkout()
    total = order_total(snapshot.details)
    if not total:
        return None
    order_id = new_order_id()
    qs.record_purchase(order_id, total_cents=total, paid=snapshot.token)
    return order_page(qs, order_id, total, snapshot)


def parse_line(form: Mapping[str, str]) -> tuple[str, int]:
    """Read and check the add-to-cart form: a known ``sku`` and a ``quantity``.

    :param form: the posted form fields.
    :return: the sku and the quantity (1 to :data:`MAX_ADD`, default 1).
    :raises ValueError: an unknown product or a bad quantity, with a message fit
        to show the visitor.
    """
    sku = form.get("sku", "")
    if sku not in PRODUCTS:
        raise ValueError("There is no such product.")
    try:
        quantity = int(form.get("quantity") or "1")
    except ValueError:
        raise ValueError("The quantity must be a whole number.") from None
    if not 1 <= quantity <= MAX_ADD:
        raise ValueError(f"The quantity must be from 1 to {MAX_ADD}.")
    return sku, quantity


def order_total(lines: Iterable[CartLine]) -> int:
    """The total in cents of cart lines (unknown skus: 0)."""
    return sum(
        PRODUCTS[line.sku].price_cents * line.quantity
        for line in lines
        if line.sku in PRODUCTS
    )


def sign_in(qs: Context, form: Mapping[str, str]) -> str | None:
    """Sign in as the form's ``name``: any name, no password (this is a demo).

    The browser's cart is added to that customer's cart, which every browser
    signed in with the same name shares.

    :return: ``None``, or why the name was refused, fit to show the visitor.
    """
    try:
        qs.login(form.get("name", "").strip(), merge="add")
    except AccountError as error:
        return f"Cannot sign in: {error}."
    return None


def new_order_id() -> str:
    """A fresh order id, as a shop's order system would hand out."""
    return "order-" + secrets.token_hex(8)


def catalogue_page(qs: Context) -> str:
    """The catalogue: every product with an add-to-cart form."""
    rows = "".join(
        f"<li>{escape(p.name)} &mdash; {_money(p.price_cents)}"
        f'<form method="post" action="/cart/add">'
        f'<input type="hidden" name="sku" value="{escape(p.sku)}">'
        f'<input type="number" name="quantity" value="1" min="1" max="{MAX_ADD}">'
        + (
            '<input name="engraving" maxlength="128" placeholder="Engraving"'
            ' aria-label="Engraving (optional)">'
            if p.engravable
            else ""
        )
        + "<button>Add to cart</button></form></li>"
        for p in PRODUCTS.values()
    )
    return _layout(qs, "Catalogue", f"<ul>{rows}</ul>")


def cart_page(qs: Context) -> str:
    """The cart's lines, its total and the checkout button (one Redis round trip)."""
    lines = qs.cart.lines()
    if not lines:
        return _layout(qs, "Your cart", "<p>Your cart is empty.</p>")
    body = (
        f"<ul>{_rows(lines)}</ul><p>Total: {_money(order_total(lines))}</p>"
        '<form method="post" action="/checkout"><button>Check out</button></form>'
    )
    return _layout(qs, "Your cart", body)


def order_page(
    qs: Context, order_id: str, total_cents: int, snapshot: CartSnapshot
) -> str:
    """The thank-you page of a placed order: the checkout snapshot's lines."""
    body = (
        f"<p>Thank you! Order <code>{escape(order_id)}</code>"
        f" of {_money(total_cents)} is on its way:</p>"
        f"<ul>{_rows(snapshot.details)}</ul>"
    )
    return _layout(qs, "Order placed", body)


#: Why a form another site posted is refused (``qs.cross_site``, a ``403``):
#: the shops' same-origin check against cross-site request forgery.
CROSS_SITE = "Refused: this form was sent from another site."


def error_page(qs: Context, message: str) -> str:
    """A page explaining why a request was refused (for a ``400``)."""
    return _layout(qs, "Sorry", f"<p>{escape(message)}</p>")


def _rows(lines: Iterable[CartLine]) -> str:
    """The list items of cart lines: quantity, product and engraving."""
    return "".join(
        f"<li>{line.quantity} &times; {escape(PRODUCTS[line.sku].name)}"
        + "".join(
            f", engraved &ldquo;{escape(text)}&rdquo;" for text in line.options.values()
        )
        + "</li>"
        for line in lines
        if line.sku in PRODUCTS
    )


def _money(cents: int) -> str:
    return f"&euro;{cents // 100}.{cents % 100:02d}"


def _badge(qs: Context) -> str:
    """The cart link's text: ``Cart (3)``, or ``Cart`` while Redis is down."""
    lines = qs.cart.items(default=None)
    return "Cart" if lines is None else f"Cart ({sum(lines.values())})"


def _account(qs: Context) -> str:
    """Sign-out while signed in, else a sign-in form (any name)."""
    if qs.signed_in:
        return (
            '<form method="post" action="/logout">Signed in: your cart follows'
            " you to every browser signed in with your name."
            " <button>Sign out</button></form>"
        )
    return (
        '<form method="post" action="/login">'
        '<input name="name" placeholder="any name" maxlength="128" required>'
        " <button>Sign in</button> (no password: this is a demo)</form>"
    )


def consent_banner(qs: Context, privacy_path: str = PRIVACY_PATH) -> str:
    """The consent banner: two buttons posting to the privacy switch.

    Empty once the visitor chose (or its browser said no by ``Sec-GPC``): show
    it on every page while ``qs.tracking_choice is None``, which is again the
    case when a choice expires (13 months after it was made, with
    ``consent="opt-in"``). Plain HTML, no script: it works under any
    ``Content-Security-Policy``.

    :param privacy_path: the middleware's ``privacy_path``.
    """
    if qs.tracking_choice is not None:
        return ""
    purpose = "recognise your return visits and see which promotion brought you"
    if qs.tracking_allowed:  # consent="opt-out": a notice, and the way out
        ask, yes, no = f"We use cookies to {purpose}.", "OK", "Opt out"
    else:  # consent="opt-in": nothing tracks before a yes
        ask, yes, no = f"May we use cookies to {purpose}?", "Allow", "Refuse"
    return (
        f'<form class=consent method="post" action="{escape(privacy_path)}">'
        f"<p>{ask} For this shop only, never shared; your cart works either"
        f' way.</p><button name="choice" value="in">{yes}</button>'
        f' <button name="choice" value="out">{no}</button></form>'
    )


def stylesheet() -> bytes:
    """The storefront's stylesheet (``text/css``), from the package: what every
    storefront answers at :data:`STYLESHEET_PATH`."""
    return resources.files(__package__).joinpath("static/shop.css").read_bytes()


def _greeting(qs: Context) -> str:
    if not qs.tracking_allowed:
        return "Tracking is off for this browser. Your cart still works."
    visitor = qs.visitor
    if visitor.is_returning:
        return f"Welcome back! This is visit {visitor.visits}."
    return "Welcome! This is your first visit."


def _layout(qs: Context, title: str, body: str) -> str:
    promotion = qs.promotion
    banner = (
        f"<p class=promo>Promotion {escape(promotion)} applied.</p>"
        if promotion
        else ""
    )
    choice, label = (
        ("out", "Opt out of tracking")
        if qs.tracking_allowed
        else ("in", "Allow tracking")
    )
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} - Tea shop</title>"
        f'<link rel="stylesheet" href="{STYLESHEET_PATH}"></head><body>'
        f'<nav><a href="/">Shop</a> | <a href="/cart">{_badge(qs)}</a> |'
        f' <a href="/?promo={PROMOTION}">Summer sale</a></nav>{_account(qs)}'
        f"{consent_banner(qs)}<p class=greeting>{escape(_greeting(qs))}</p>{banner}"
        f"<h1>{escape(title)}</h1>{body}"
        f'<footer><form method="post" action="{PRIVACY_PATH}">'
        f'<input type="hidden" name="choice" value="{choice}">'
        f"<button>{label}</button></form></footer></body></html>\n"
    )
