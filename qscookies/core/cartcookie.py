"""Which cart a request's cart cookies name, when a browser sends several, and
how long a cart lives."""

from __future__ import annotations

from ..codec import CUSTOMER_CART
from ..codec import CartCookie
from ..codec import CookieCodec
from ..codec import fresh
from ..settings import Settings


def choose_cart(
    codec: CookieCodec,
    values: list[str],
    now: int,
    max_age: int,
    customer_max_age: int | None = None,
) -> tuple[CartCookie | None, list[str]]:
    """The cart a browser's cart cookies name, among the valid values present.

    The browser holds one cart cookie of ours (host-only, ``Path=/``), so a
    second value means one was planted beside it (cookie tossing from a
    sibling subdomain with ``Domain=``, or under a longer ``Path``, over plain
    HTTP where there is no ``__Host-`` prefix), and the browser's first value
    is not to be trusted. One valid value is the cart (planted junk is ignored).
    Of several, the cart is the one whose cookie was issued *beside* all the
    others (each of them among its :attr:`~qscookies.codec.CartCookie.rivals`):
    only qscookies issues such a value, on a response to a request that carried
    those others. Without one, the cart is ambiguous and none is used: nothing
    is read from, written to or merged at sign-in out of a planted cart, and
    the next write starts a fresh cart. Every cookie qscookies issues names the
    valid values present as its rivals, so it outranks whichever was planted.

    :param max_age: the lifetime of an anonymous cart's cookie.
    :param customer_max_age: that of a customer's cart, at least *max_age*
        (default *max_age*).
    :return: the cart's cookie (``None``: no cart, or an ambiguous one) and the
        valid values present.
    """
    longest = customer_max_age or max_age  # never shorter (see Settings)
    if len(values) < 2:  # the common case, without a dict: one value, or none
        cookie = _load(codec, values[0], now, max_age, longest) if values else None
        return cookie, [] if cookie is None else values
    loaded = {
        value: cookie
        for value in values
        if (cookie := _load(codec, value, now, max_age, longest)) is not None
    }
    if len(loaded) < 2:  # the common case: one value, or none
        return next(iter(loaded.values()), None), list(loaded)
    hashes = {value: codec.rival_hash(value) for value in loaded}
    winners = [
        cookie
        for value, cookie in loaded.items()
        if all(hashes[other] in cookie.rivals for other in loaded if other != value)
    ]
    return (winners[0] if len(winners) == 1 else None), list(loaded)


def _load(
    codec: CookieCodec, value: str, now: int, max_age: int, longest: int
) -> CartCookie | None:
    """A valid cart cookie: unexpired by its kind's lifetime (a customer's
    cart lives *longest*, an anonymous one *max_age*)."""
    cookie = codec.load_cart_cookie(value, now, longest)
    if cookie is None or longest == max_age or cookie.cart_id.startswith(CUSTOMER_CART):
        return cookie
    return cookie if fresh(cookie.issued, now, max_age) else None


def lifetime(settings: Settings, cart_id: str) -> int:
    """The lifetime of the cart *cart_id*, seconds: a customer's, or an anonymous
    one's (its cookie's ``Max-Age`` and its keys' TTL)."""
    if cart_id.startswith(CUSTOMER_CART):
        return settings.customer_cart_max_age
    return settings.cart_max_age
