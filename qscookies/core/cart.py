"""Cart rules: what a valid sku and quantity are, and the plans of one cart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..codec import CUSTOMER_CART
from ..codec import Attribution
from ..codec import CartCookie
from ..codec import CookieCodec
from ..codec import new_id
from ..errors import CartError
from ..errors import CrossSiteError
from ..errors import PurchaseError
from ..keys import KeySchema
from ..privacy import looks_like_card_number
from ..settings import Settings
from . import scripts
from .aggregates import Day
from .campaigns import credit
from .jar import CookieJar
from .plan import NOTHING
from .plan import Command
from .plan import Plan
from .plan import done
from .plan import lines_of
from .plan import text

_UNSET: Any = object()

#: Longest sku accepted.
MAX_SKU_LENGTH = 128

#: Write markers kept per cart: past this, the oldest is forgotten (a write
#: re-sent after that many later ones would apply again).
MAX_WRITE_MARKERS = 64


def check_sku(sku: object) -> str:
    """Return *sku* when it is a valid sku, else raise :class:`CartError`.

    A sku is non-empty printable text of at most 128 characters, without
    surrounding white space, that does not look like a payment card number.
    """
    if not isinstance(sku, str):
        raise CartError(f"sku must be text, not {type(sku).__name__}")
    if not sku or len(sku) > MAX_SKU_LENGTH:
        raise CartError(f"sku must be 1 to {MAX_SKU_LENGTH} characters", sku=sku[:32])
    if not sku.isprintable() or sku != sku.strip():
        raise CartError("sku must be printable text without surrounding spaces")
    if looks_like_card_number(sku):
        raise CartError("sku looks like a payment card number; refused")
    return sku


def check_quantity(quantity: object, *, minimum: int, maximum: int) -> int:
    """Return *quantity* when it is a whole number in range, else raise."""
    if type(quantity) is not int:
        raise CartError(f"quantity must be an int, not {type(quantity).__name__}")
    if not minimum <= quantity <= maximum:
        raise CartError(f"quantity must be from {minimum} to {maximum}")
    return quantity


def check_write_id(write_id: object) -> str:
    """Return *write_id* when it is 1-128 printable characters, else raise
    :class:`CartError`."""
    if not isinstance(write_id, str) or not 0 < len(write_id) <= 128:
        raise CartError("write_id must be 1 to 128 characters")
    if not write_id.isprintable():
        raise CartError("write_id must be printable text")
    return write_id


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


def choose_cart(
    codec: CookieCodec, values: list[str], now: int, max_age: int
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

    :return: the cart's cookie (``None``: no cart, or an ambiguous one) and the
        valid values present.
    """
    loaded = {
        value: cookie
        for value in values
        if (cookie := codec.load_cart_cookie(value, now, max_age)) is not None
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


class CartState:
    """The cart of one request: its id (from the signed cookie) and its lines.

    Each method answers a :class:`~qscookies.core.plan.Plan`; the lines are
    read once per request and kept up to date by the writes. The cart cookie is
    set only once Redis stored a line (see :meth:`put` for its renewal).

    :param settings: the limits and the cart cookie's name and lifetime.
    :param codec: signs and verifies the cart cookie.
    :param keys: the key layout.
    :param jar: the request's cookies.
    :param now: Unix time of the request.
    :param day: the aggregate writes of the request's day.
    :param promotion: the attribution (code, source, medium) a new cart is
        credited to, if any.
    :param cross_site: the request is a cross-site unsafe one: it starts no
        cart and gives no cart id (see :class:`~qscookies.errors.CrossSiteError`).
    """

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        keys: KeySchema,
        jar: CookieJar,
        now: int,
        day: Day,
        promotion: Callable[[], Attribution | None],
        *,
        cross_site: bool = False,
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._keys = keys
        self._jar = jar
        self._now = now
        self._day = day
        self._promotion = promotion
        self._cross_site = cross_site
        self._id: str | None = _UNSET
        self._present: list[str] = []
        self._new = False
        self._generation = "0"
        self._lines: dict[str, int] | None = None

    def id(self) -> str | None:
        """The cart id from a valid cart cookie, or ``None`` (no cart yet, or
        an ambiguous one: see :func:`choose_cart`)."""
        if self._id is _UNSET:
            settings = self._settings
            cookie, self._present = choose_cart(
                self._codec,
                self._jar.get_all(settings.cart_cookie),
                self._now,
                settings.cart_max_age,
            )
            self._id = None if cookie is None else cookie.cart_id
            self._new = cookie is not None and cookie.new
            self._generation = "0" if cookie is None else cookie.generation
        self._jar.accessed = True
        return self._id

    def items(self) -> Plan[dict[str, int]]:
        """The lines: ``HGETALL`` once per request; nothing sent without a cart.

        A browser without a cart is given its cart id here (a cookie, nothing
        in Redis): the page that shows the cart badge, and the add buttons
        beside it, hands the id to every add it sends, so two adds fired at
        once from it land in one cart.
        """
        if self._lines is not None:
            return done(dict(self._lines))
        cart_id = self.id()
        if cart_id is None:
            self._lines = {}
            if not (self._jar.sent or self._cross_site):
                self._keep(new_id(), new=True)
            return done({})

        key = self._keys.cart(cart_id)
        if not self.signed_in:

            def read(replies: list[Any]) -> dict[str, int]:
                self._lines = lines_of(replies[0])
                return dict(self._lines)

            return Plan((("HGETALL", key),), read)

        def checked(replies: list[Any]) -> dict[str, int]:
            generation = {text(k): text(v) for k, v in replies[0].items()}
            if generation.get("g", "0") != self._generation:
                self.drop()  # signed out everywhere since: signed out here
                return {}
            self._lines = lines_of(replies[1])
            return dict(self._lines)

        generation = ("HGETALL", self._keys.generation(cart_id))
        return Plan((generation, ("HGETALL", key)), checked)

    def put(
        self, sku: str, quantity: int, *, add: bool, write_id: str | None = None
    ) -> Plan[int]:
        """Add to (or set) one line, atomically: one script.

        A cart started under a promotion moves its ``carts`` counter (and its
        pair's) in the same round trip. With *write_id*, the same script sets
        its marker (in the cart's bounded hash of markers, in its slot) and a
        write re-sent with that id for that sku changes nothing and answers
        the line's quantity. Signed in, the script checks the cookie's
        generation first: signed out everywhere since, the browser is signed
        out and the write goes to a fresh
        anonymous cart (a second round trip, only then).

        The cart cookie is set by the write that starts a cart, never renewed
        by later writes: a write that started before a sign-in or sign-out and
        answers after it cannot put the old cookie back. The cookie's signed
        issue time bounds it (``cart_max_age`` from the cart's first line, or
        from the sign-in), while the key's TTL is renewed by each write.

        :raises CartError: a bad sku or quantity (before anything is sent), or,
            when read, a line or cart limit reached.
        :raises HeadersSentError: a new cart is needed after the headers went.
        :raises CrossSiteError: a new cart is needed on a cross-site unsafe
            request (which arrives without the browser's cart cookie).
        """
        settings = self._settings
        check_sku(sku)
        check_quantity(quantity, minimum=int(add), maximum=settings.max_quantity)
        if write_id is not None:
            check_write_id(write_id)
        cart_id = self.id()
        if cart_id is None and quantity == 0:
            return done(0)
        started = cart_id is None or self._new
        if cart_id is None:
            self.check_unsent("first written")
            if self._cross_site:
                raise CrossSiteError(
                    "a cross-site form cannot start a cart: the browser's own cart"
                    " cookie was not sent with it and would be overwritten",
                    sku=sku,
                )
        attribution = self._promotion() if started else None
        cart_id = cart_id or new_id()
        key = self._keys.cart(cart_id)
        keys: list[str] = [key]
        extra: list[int | str] = []
        if write_id is not None:  # the markers: a second key, ARGV 7 and 8
            keys.append(self._keys.writes(cart_id))
            extra += [self._codec.write_hash(sku, write_id), MAX_WRITE_MARKERS]
        if self.signed_in:  # the generation: the last key, ARGV 9
            keys.append(self._keys.generation(cart_id))
            extra = [*(extra or ["", 0]), self._generation]
        put: Command = (
            "EVAL",
            scripts.CART_PUT,
            len(keys),
            *keys,
            sku,
            quantity,
            "add" if add else "set",
            settings.max_quantity,
            settings.max_cart_lines,
            settings.cart_max_age * 1000,
            *extra,
        )
        commands: list[Command] = [put]
        if attribution:
            commands += credit(settings, self._day, attribution, "carts")

        def read(replies: list[Any]) -> int | Plan[int]:
            result = int(replies[0])
            if result == scripts.OVER_QUANTITY:
                raise CartError(
                    f"a cart line holds at most {settings.max_quantity}", sku=sku
                )
            if result == scripts.OVER_LINES:
                raise CartError(
                    f"a cart holds at most {settings.max_cart_lines} lines", sku=sku
                )
            if result == scripts.REVOKED:  # signed out everywhere since:
                self.drop()  # signed out here, and written to a fresh cart
                return self.put(sku, quantity, add=add, write_id=write_id)
            if started:
                self._keep(cart_id)
            self._remember(sku, result)
            return result

        return Plan(tuple(commands), read, durable=key)

    def remove(self, sku: str) -> Plan[None]:
        """Remove one line (``HDEL``; signed in, :meth:`put` of 0, which checks
        the customer's generation); nothing to send without a cart."""
        check_sku(sku)
        cart_id = self.id()
        if cart_id is None:
            return NOTHING
        key = self._keys.cart(cart_id)
        if self.signed_in:  # the script, which checks the generation
            put = self.put(sku, 0, add=False)

            def removed(replies: list[Any]) -> None:
                put.read(replies)  # revoked: signed out, nothing to remove

            return Plan(put.commands, removed, durable=key)

        def read(_replies: list[Any]) -> None:
            self._remember(sku, 0)

        return Plan((("HDEL", key, sku),), read, durable=key)

    def clear(self) -> Plan[None]:
        """Remove every line (``DEL``; signed in, a script that checks the
        customer's generation first); the cart id stays the same."""
        cart_id = self.id()
        if cart_id is None:
            return NOTHING

        key = self._keys.cart(cart_id)
        command: Command = ("DEL", key)
        if self.signed_in:
            generation = self._keys.generation(cart_id)
            command = ("EVAL", scripts.CART_CLEAR, 2, key, generation, self._generation)

        def read(replies: list[Any]) -> None:
            if replies[0] == scripts.REVOKED:
                self.drop()  # signed out everywhere since: signed out here
            self._lines = {}

        return Plan((command,), read, durable=key)

    @property
    def signed_in(self) -> bool:
        """The cart is a customer's cart (the browser signed in)."""
        cart_id = self.id()
        return cart_id is not None and cart_id.startswith(CUSTOMER_CART)

    def check_unsent(self, what: str) -> None:
        """Refuse a change of cart id the browser could no longer learn.

        :param what: what happened to the cart, for the message.
        :raises HeadersSentError: the response headers went out.
        """
        self._jar.check_unsent(f"the cart was {what}")

    def adopt(self, cart_id: str, lines: dict[str, int], generation: str) -> None:
        """Use the cart *cart_id* from now on (at sign-in): its cookie is set.

        :param generation: the customer's sign-in generation, signed into the
            cookie and checked by every read and write of the cart.
        """
        self._id = None  # a new id: _keep sets the cookie and forgets the lines
        self._generation = generation
        self._keep(cart_id)
        self._lines = lines

    def bought(self) -> None:
        """The cart was bought and erased: a customer's stays, emptied.

        An anonymous cart is dropped (a new id from the next write on); a
        signed-in browser keeps its customer's cart.
        """
        if self.signed_in:
            self._lines = {}
        else:
            self.drop()

    def paid(self) -> None:
        """Lines of the cart were paid for (and taken away): read them again."""
        self._lines = None

    def drop(self) -> None:
        """Forget the cart: a new id from the next write on, its cookie dropped.

        When a planted cart cookie came beside ours (see :func:`choose_cart`),
        ours is not dropped, which would leave the planted one to be read: it
        names a fresh, empty cart instead, outranking the planted one.
        """
        self.id()  # the values present
        self._id = None
        self._lines = {}
        if len(self._present) > 1:
            self._keep(new_id())
        else:
            self._jar.drop(self._settings.cart_cookie)

    def _keep(self, cart_id: str, *, new: bool = False) -> None:
        if self._id != cart_id:
            self._id = cart_id
            self._lines = {}
        self._new = new
        if not self._jar.sent:  # renewed on the next write otherwise
            rivals = [self._codec.rival_hash(v) for v in self._present]
            generation = self._generation if cart_id.startswith(CUSTOMER_CART) else "0"
            value = self._codec.dump_cart(
                cart_id, self._now, rivals, new=new, generation=generation
            )
            self._jar.set(self._settings.cart_cookie, value)

    def _remember(self, sku: str, quantity: int) -> None:
        if self._lines is None:
            return
        if quantity:
            self._lines[sku] = quantity
        else:
            self._lines.pop(sku, None)
