"""Cart rules: the plans of one cart (the commands of its writes: :mod:`.cartwrite`)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from .. import scripts
from ..codec import CUSTOMER_CART
from ..codec import Attribution
from ..codec import CookieCodec
from ..codec import new_id
from ..command import Command
from ..command import script
from ..errors import CartError
from ..errors import CrossSiteError
from ..keys import KeySchema
from ..settings import Settings
from .aggregates import Day
from .campaigns import credit
from .cartcookie import choose_cart
from .cartcookie import lifetime
from .cartwrite import CartWrites
from .cartwrite import check_write
from .jar import CookieJar
from .lines import CartLine
from .lines import read_lines
from .plan import NOTHING
from .plan import Plan
from .plan import done
from .plan import lines_of
from .plan import pairs
from .plan import text

_UNSET: Any = object()
T = TypeVar("T")


class CartState:
    """The cart of one request: its id (from the signed cookie) and its lines.

    Each method answers a :class:`~qscookies.core.plan.Plan`; the lines are
    read once per request and kept up to date by the writes. The cart cookie is
    set only once Redis stored a line (see :meth:`put` for its renewal).

    :param settings: the limits and the cart cookie's name and lifetime.
    :param codec: signs and verifies the cart cookie.
    :param keys: the key layout.
    :param writes: the commands of the cart's writes (one per app, as *keys*).
    :param jar: the request's cookies.
    :param now: Unix time of the request.
    :param promotion: the attribution (code, source, medium) a new cart is
        credited to, if any.
    :param cross_site: the request is a cross-site unsafe one: it starts no
        cart and gives no cart id (see :class:`~qscookies.errors.CrossSiteError`).
    """

    __slots__ = (
        "_codec",
        "_cross_site",
        "_details",
        "_generation",
        "_id",
        "_jar",
        "_keys",
        "_lines",
        "_new",
        "_now",
        "_present",
        "_promotion",
        "_settings",
        "_writes",
    )

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        keys: KeySchema,
        writes: CartWrites,
        jar: CookieJar,
        now: int,
        promotion: Callable[[], Attribution | None],
        *,
        cross_site: bool = False,
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._keys = keys
        self._jar = jar
        self._now = now
        self._promotion = promotion
        self._cross_site = cross_site
        self._writes = writes
        self._id: str | None = _UNSET
        self._present: list[str] = []
        self._new = False
        self._generation = "0"
        self._lines: dict[str, int] | None = None
        self._details: dict[str, str] | None = None

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
                settings.customer_cart_max_age,
            )
            self._id = None if cookie is None else cookie.cart_id
            self._new = cookie is not None and cookie.new
            self._generation = "0" if cookie is None else cookie.generation
        self._jar.accessed = True
        return self._id

    def items(self) -> Plan[dict[str, int]]:
        """The quantities by line id: ``HGETALL`` once per request; nothing
        sent without a cart.

        A browser without a cart is given its cart id here (a cookie, nothing
        in Redis): the page that shows the cart badge, and the add buttons
        beside it, hands the id to every add it sends, so two adds fired at
        once from it land in one cart.
        """
        if self._lines is not None:
            return done(dict(self._lines))

        def keep(reply: Any) -> dict[str, int]:
            self._lines = lines_of(reply)
            return dict(self._lines)

        key = self._keys.cart
        return self._read(lambda cart_id: Command("HGETALL", (key(cart_id),)), keep, {})

    def lines(self) -> Plan[list[CartLine]]:
        """The lines with their sku and options, in the order first added: one
        script reading the quantities and the lines' hash atomically
        (:data:`~qscookies.scripts.CART_LINES`), once per request."""
        if self._lines is not None and self._details is not None:
            return done(read_lines(self._lines, self._details))
        keys = self._keys

        def command(cart_id: str) -> Command:
            return script(scripts.CART_LINES, (keys.cart(cart_id), keys.lines(cart_id)))

        def keep(reply: Any) -> list[CartLine]:
            quantities, details = (pairs(part) for part in reply)
            self._lines = {line: int(n) for line, n in quantities.items()}
            self._details = details
            return read_lines(self._lines, details)

        return self._read(command, keep, ([], []))

    def _read(
        self, command: Callable[[str], Command], keep: Callable[[Any], T], empty: Any
    ) -> Plan[T]:
        """One read of the cart (*command*), its reply passed through *keep*
        (*empty*: the reply of no cart); signed in, the customer's generation
        is checked in the same round trip."""
        cart_id = self.id()
        if cart_id is None:
            if not (self._jar.sent or self._cross_site):
                self._keep(new_id(), new=True)
            return done(keep(empty))
        if not self.signed_in:
            return Plan((command(cart_id),), lambda replies: keep(replies[0]))

        def checked(replies: list[Any]) -> T:
            generation = {text(k): text(v) for k, v in replies[0].items()}
            if generation.get("g", "0") != self._generation:
                self.drop()  # signed out everywhere since: signed out here
                return keep(empty)
            return keep(replies[1])

        generation = Command("HGETALL", (self._keys.generation(cart_id),))
        return Plan((generation, command(cart_id)), checked)

    def put(
        self,
        line: str,
        quantity: int,
        *,
        add: bool,
        options: Mapping[str, str] | None = None,
        write_id: str | None = None,
    ) -> Plan[int]:
        """Add to (or set) one line, atomically: one script.

        With *add*, *line* is a sku and the line is the one of that sku and
        *options* (started when not there); without, *line* is a line id
        (:mod:`~qscookies.core.lines`): a sku's line without options is
        started as before, a line with options only changes while it is there
        (else the answer is 0). A cart started under a promotion moves its
        ``carts`` counter (and its pair's) in the same round trip. With
        *write_id*, the same script sets its marker (in the cart's bounded
        hash of markers, in its slot) and a write re-sent with that id for
        that line changes nothing and answers the line's quantity. Signed in,
        the script checks the cookie's generation first: signed out
        everywhere since, the browser is signed out and the write goes to a
        fresh anonymous cart (a second round trip, only then).

        The cart cookie is set by the write that starts a cart, never renewed
        by later writes: a write that started before a sign-in or sign-out and
        answers after it cannot put the old cookie back. The cookie's signed
        issue time bounds it (``cart_max_age`` from the cart's first line, or
        ``customer_cart_max_age`` from the sign-in), while the keys' TTL is
        renewed by each write.

        :raises CartError: a bad sku, line id, option or quantity (before
            anything is sent), or, when read, a line, item or cart limit
            reached.
        :raises HeadersSentError: a new cart is needed after the headers went.
        :raises CrossSiteError: on a cross-site unsafe request (a sibling
            subdomain's included), whether its cart cookie came or not.
        """
        settings = self._settings
        line, mode, canonical = check_write(
            settings, line, quantity, add=add, options=options, write_id=write_id
        )
        self._refuse_cross_site(line)
        cart_id = self.id()
        if cart_id is None and (quantity == 0 or mode == "edit"):
            return done(0)
        started = cart_id is None or self._new
        if cart_id is None:
            self.check_unsent("first written")
        attribution = self._promotion() if started else None
        cart_id = cart_id or new_id()
        generation = self._generation if self.signed_in else None
        put = self._writes.put(
            cart_id, line, quantity, mode, canonical, write_id, generation
        )
        commands: list[Command] = [put]
        if attribution:
            # The day's writes, made here: a cart read needs none.
            day = Day(self._keys, self._now, settings.aggregate_max_age)
            commands += credit(settings, day, attribution, "carts")

        def read(replies: list[Any]) -> int | Plan[int]:
            result = int(replies[0])
            if result == scripts.REVOKED:  # signed out everywhere since:
                self.drop()  # signed out here, and written to a fresh cart
                return self.put(
                    line, quantity, add=add, options=options, write_id=write_id
                )
            if result < 0:
                raise CartError(self._writes.refusal(result), sku=line)
            if started and (result or mode != "edit"):
                self._keep(cart_id)
            self._remember(line, result)
            return result

        return Plan(tuple(commands), read, durable=self._keys.cart(cart_id))

    def remove(self, line: str) -> Plan[None]:
        """Remove one line by its id (:meth:`put` of 0: the script drops its
        quantity and its entry in the lines' hash); nothing to send without a
        cart."""
        put = self.put(line, 0, add=False)

        def removed(replies: list[Any]) -> None:
            put.read(replies)  # signed in and revoked: signed out, nothing left

        return Plan(put.commands, removed, durable=put.durable)

    def clear(self) -> Plan[None]:
        """Remove every line (``DEL`` of the quantities and the lines' hash;
        signed in, a script that checks the customer's generation first); the
        cart id stays the same.

        :raises CrossSiteError: on a cross-site unsafe request.
        """
        self._refuse_cross_site()
        cart_id = self.id()
        if cart_id is None:
            return NOTHING

        generation = self._generation if self.signed_in else None
        command = self._writes.clear(cart_id, generation)

        def read(replies: list[Any]) -> None:
            if replies[0] == scripts.REVOKED:
                self.drop()  # signed out everywhere since: signed out here
            self._forget_lines()

        return Plan((command,), read, durable=self._keys.cart(cart_id))

    def _refuse_cross_site(self, line: str | None = None) -> None:
        """No cart write on a cross-site unsafe request (:class:`CrossSiteError`)."""
        if self._cross_site:
            message = (
                "a cross-site form cannot change the cart: another origin posted it"
            )
            raise CrossSiteError(message, sku=line)

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
        self._lines, self._details = lines, None

    def bought(self) -> None:
        """The cart was bought and erased: a customer's stays, emptied.

        An anonymous cart is dropped (a new id from the next write on); a
        signed-in browser keeps its customer's cart.
        """
        if self.signed_in:
            self._forget_lines()
        else:
            self.drop()

    def paid(self) -> None:
        """Lines of the cart were paid for (and taken away): read them again."""
        self._lines = self._details = None

    def drop(self) -> None:
        """Forget the cart: a new id from the next write on, its cookie dropped.

        When a planted cart cookie came beside ours (see :func:`choose_cart`),
        ours is not dropped, which would leave the planted one to be read: it
        names a fresh, empty cart instead, outranking the planted one.
        """
        self.id()  # the values present
        self._id = None
        self._forget_lines()
        if len(self._present) > 1:
            self._keep(new_id())
        else:
            self._jar.drop(self._settings.cart_cookie)

    def _keep(self, cart_id: str, *, new: bool = False) -> None:
        if self._id != cart_id:
            self._id = cart_id
            self._forget_lines()
        self._new = new
        if not self._jar.sent:  # renewed on the next write otherwise
            rivals = [self._codec.rival_hash(v) for v in self._present]
            generation = self._generation if cart_id.startswith(CUSTOMER_CART) else "0"
            value = self._codec.dump_cart(
                cart_id, self._now, rivals, new=new, generation=generation
            )
            self._jar.set(
                self._settings.cart_cookie, value, lifetime(self._settings, cart_id)
            )

    def _forget_lines(self) -> None:
        """The cart is empty (a new one, or emptied)."""
        self._lines, self._details = {}, {}

    def _remember(self, line: str, quantity: int) -> None:
        if self._lines is None:
            return
        if quantity:
            if line not in self._lines:
                self._details = None  # a new line: its place is read again
            self._lines[line] = quantity
        else:
            self._lines.pop(line, None)
            if self._details is not None:
                self._details.pop(line, None)
