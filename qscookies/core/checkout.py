"""Checkout and purchase: a snapshot of the cart, and the token that pays for it.

No I/O: :meth:`Purchases.checkout` and :meth:`Purchases.record` answer plans,
the facades send them. A checkout reads the cart (one round trip) and answers
its lines and a signed *token* naming the cart, the lines it held and the
browser's promotion attribution at checkout. The shop hands the token to its
payment provider (in the return URL or a form field) and gives it back to
:meth:`~qscookies.context.Context.record_purchase` as ``paid=``: the purchase
script then takes away only the quantities paid for, on a request with or
without our cookies (a provider's cross-site return carries none).

The token is ``payload.signature``: the payload is the JSON of the cart id,
the checkout time, the lines and the signed promotion cookie value of the
attribution, deflated and in base64url; the signature is the codec's, under a
salt of its own (``qscookies.checkout``), so a token never verifies as a cookie.
It holds no personal or financial data, and grows with the lines (a few dozen
characters per line).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..codec import Attribution
from ..codec import CookieCodec
from ..codec import fresh
from ..command import Command
from ..errors import CrossSiteError
from ..errors import PaidTokenError
from ..errors import PurchaseError
from ..keys import KeySchema
from ..privacy import looks_like_card_number
from ..settings import Settings
from . import campaigns
from .aggregates import Day
from .cart import CartState
from .jar import CookieJar
from .lines import CartLine
from .plan import Plan
from .plan import both
from .plan import done
from .plan import then

#: Longest token accepted (characters), checked before its signature.
MAX_TOKEN = 64 * 1024


@dataclass(frozen=True)
class CartSnapshot:
    """What the customer pays for: the cart at checkout, and its token.

    .. versionadded:: 0.2
    """

    #: The cart's lines at checkout, ``{line_id: quantity}`` (as
    #: :meth:`~qscookies.context.Cart.items`).
    lines: dict[str, int]
    #: Signed, for ``record_purchase(..., paid=token)``; expires after
    #: ``checkout_max_age``.
    token: str
    #: The same lines with their sku and options, in the order first added
    #: (as :meth:`~qscookies.context.Cart.lines`).
    details: tuple[CartLine, ...] = ()


@dataclass(frozen=True)
class Purchase:
    """What :meth:`~qscookies.Context.record_purchase` did with an order.

    A purchase no promotion is credited with is no failure: the order is
    recorded (the cart emptied) all the same. Its truth value is
    :attr:`counted`, what ``record_purchase`` answered before 0.2.

    .. versionadded:: 0.2
    """

    #: The promotion code credited with this purchase and its revenue (the
    #: code counted under: ``other`` past a day's bound); ``None``: none is
    #: attributed, or the order was recorded before.
    credited: str | None
    #: The order id was recorded by an earlier call: nothing was counted or
    #: taken from the cart again. (An order without a promotion and without
    #: a ``paid`` token leaves no record, so it is never a duplicate.)
    duplicate: bool

    @property
    def counted(self) -> bool:
        """This call counted the purchase for a promotion (:attr:`credited`)."""
        return self.credited is not None

    def __bool__(self) -> bool:
        return self.counted


#: The purchase of an order credited to no promotion and paid by no token.
UNCREDITED = Purchase(credited=None, duplicate=False)


@dataclass(frozen=True)
class Paid:
    """What a valid token says: the cart, when it was checked out, the lines
    paid for and the attribution at checkout."""

    cart_id: str
    issued: int
    lines: tuple[tuple[str, int], ...]
    attribution: Attribution | None


def check_order(order_id: object, total_cents: object) -> None:
    """Refuse a bad order id (1-128 printable characters, no card number) or
    total (an int from 0 to 10**12 - 1) with :class:`PurchaseError`."""
    if (
        not isinstance(order_id, str)
        or not 0 < len(order_id) <= 128
        or not order_id.isprintable()
        or looks_like_card_number(order_id)
    ):
        raise PurchaseError("order_id must be 1-128 printable characters")
    if type(total_cents) is not int or not 0 <= total_cents < 10**12:
        raise PurchaseError("total_cents must be an int from 0 to 10**12 - 1")


class Purchases:
    """Checkout and purchases of one request's browser.

    A component of :class:`~qscookies.core.request.RequestState`, as the cart
    is; each method answers a plan, the facades send it.

    :param settings: the validated settings.
    :param codec: the cookie codec (it signs tokens and hashes order ids).
    :param keys: the key schema.
    :param jar: the request's cookies.
    :param cart: the request's cart.
    :param day: the aggregate writes of the request's UTC day.
    :param attribution: reads the browser's promotion attribution.
    :param now: Unix time of the request, whole seconds.
    :param cluster: the store is a Redis Cluster.
    """

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        keys: KeySchema,
        jar: CookieJar,
        cart: CartState,
        day: Day,
        attribution: Callable[[], Attribution | None],
        now: int,
        *,
        cluster: bool,
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._keys = keys
        self._jar = jar
        self._cart = cart
        self._day = day
        self._attribution = attribution
        self._now = now
        self._cluster = cluster

    def checkout(self) -> Plan[CartSnapshot]:
        """The cart's lines (:meth:`~qscookies.core.cart.CartState.lines`: one
        round trip, none when read before) and a token that pays for them.

        :raises CrossSiteError: a cross-site unsafe request, which has no cart.
        """
        cart = self._cart

        def snapshot(lines: list[CartLine]) -> CartSnapshot:
            cart_id = cart.id()
            if cart_id is None:
                raise CrossSiteError("a cross-site request has no cart to check out")
            attribution = self._attribution()
            quantities = {line.line_id: line.quantity for line in lines}
            paid = Paid(cart_id, self._now, tuple(quantities.items()), attribution)
            return CartSnapshot(quantities, self.dump_token(paid), tuple(lines))

        return then(cart.lines(), snapshot)

    def dump_token(self, paid: Paid) -> str:
        """Sign *paid* into a token."""
        codec = self._codec
        promotion = codec.dump_promotion(paid.attribution) if paid.attribution else ""
        lines = [list(line) for line in paid.lines]
        body = [paid.cart_id, paid.issued, lines, promotion]
        data = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 9)
        return codec.checkout.sign(base64.urlsafe_b64encode(data).rstrip(b"=").decode())

    def load_token(self, token: object) -> Paid:
        """What a token made by :meth:`dump_token` says.

        :raises PaidTokenError: not a token of ours (forged, damaged, of another
            purpose) or expired (``checkout_max_age``).
        """
        settings = self._settings
        payload = None
        if isinstance(token, str) and len(token) <= MAX_TOKEN:
            payload = self._codec.checkout.unsign(token)
        if payload is None:
            raise PaidTokenError("paid is not a checkout token of this shop")
        try:
            data = zlib.decompress(base64.urlsafe_b64decode(payload + "=" * 3))
            cart_id, issued, lines, promotion = json.loads(data)
            paid = tuple((str(sku), int(quantity)) for sku, quantity in lines)
            if not (isinstance(cart_id, str) and isinstance(promotion, str)):
                raise TypeError("not the fields of a token")
            issued = int(issued)
        except (binascii.Error, zlib.error, ValueError, TypeError) as error:
            raise PaidTokenError("paid is a damaged checkout token") from error
        if not fresh(issued, self._now, settings.checkout_max_age):
            raise PaidTokenError("the checkout token expired (checkout_max_age)")
        # The attribution as it stood at checkout, in its window then.
        attribution = self._codec.load_promotion(
            promotion, issued, settings.promotion_max_age
        )
        return Paid(cart_id, issued, paid, attribution)

    def record(
        self,
        order_id: str,
        total_cents: int,
        currency: str | None = None,
        paid: str | None = None,
    ) -> Plan[Purchase]:
        """Count a purchase for the attributed promotion and pair, once per order.

        One round trip: the purchase script (``SET NX`` on the order's marker,
        a keyed hash of the order id whatever promotion it is credited to;
        ``HINCRBY`` of purchases and of the revenue in *currency*) and, without
        *paid*, ``DEL`` of the cart; two on Redis Cluster (see
        :func:`~qscookies.core.campaigns.count_purchase`). Without *paid* an
        anonymous cart is dropped and a new cart id is used from then on; a
        signed-in browser keeps its (emptied) customer's cart.

        With *paid* (a :meth:`checkout` token), the order's marker is set
        whether or not a promotion is credited, and the same script takes away
        only the quantities paid for from the token's cart (lines added
        meanwhile stay), once per order; the promotion credited is the token's
        attribution (else the browser's). The browser's cart cookie is left as
        it is.

        :param currency: an active ISO 4217 code; default the ``currency``
            setting.
        :raises PurchaseError: a bad order id, total or currency (nothing sent).
        :raises PaidTokenError: *paid* is forged, damaged, expired, or a
            checkout of another cart than the browser's (nothing sent).
        """
        check_order(order_id, total_cents)
        currency = campaigns.check_currency(
            self._settings.currency if currency is None else currency
        )
        token = None if paid is None else self.load_token(paid)
        self._jar.accessed = True
        cart = self._cart
        cart_id = cart.id()
        if token is not None and cart_id not in (None, token.cart_id):
            raise PaidTokenError("the checkout token is of another cart")
        attribution = (token and token.attribution) or self._attribution()
        keys = self._keys
        emptied: tuple[Command, ...] = ()
        paying = None
        if token is not None:
            lines = tuple(value for line in token.lines for value in line)
            paying = (keys.cart_keys(token.cart_id), lines)
        elif cart_id:
            emptied = (Command("DEL", keys.cart_keys(cart_id)),)
        plan: Plan[Purchase] = done(UNCREDITED)
        if attribution or paying:
            fields = (
                campaigns.purchase_fields(attribution, total_cents, currency)
                if attribution
                else {}
            )
            counted = campaigns.count_purchase(
                self._day,
                attribution,
                keys.order(self._codec.order_hash(order_id)),
                fields,
                cluster=self._cluster,
                paying=paying,
            )
            code = attribution.code if attribution else None
            plan = then(counted, lambda new: Purchase(code if new else None, not new))

        def settle(_replies: list[Any]) -> None:
            if token is None:
                cart.bought()
            elif cart_id is not None:
                cart.paid()

        return then(both(Plan(emptied, settle), plan), lambda joined: joined[1])
