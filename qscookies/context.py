"""The public face of a request: :class:`Context` (sync) and :class:`AsyncContext`.

Both are thin: every rule is in :mod:`qscookies.core.request`, which answers
plans; a context sends them to its store and hands back the result. What needs
no Redis is a plain attribute on both; what may call Redis is awaited on
:class:`AsyncContext`.
"""

from __future__ import annotations

from .cart import RAISE as RAISE
from .cart import AsyncCart
from .cart import Cart
from .core import accounts
from .core.checkout import Purchase
from .core.consent import Decision
from .core.request import RequestState
from .core.visits import Visitor
from .sending import arun
from .sending import atrack
from .sending import run
from .sending import track
from .store.aio import AsyncAppStore
from .store.app import AppStore

__all__ = [
    "AsyncCart",
    "AsyncContext",
    "Cart",
    "Context",
]


class _Facade:
    """What both contexts read without Redis."""

    __slots__ = ("_state",)
    #: The request's state, set by each context's ``__init__``.
    _state: RequestState

    @property
    def tracking_allowed(self) -> bool:
        """Tracking is on for this browser.

        ``consent="opt-out"``: unless it chose ``"out"``; ``consent="opt-in"``:
        only after it chose ``"in"``. ``Sec-GPC: 1`` (and ``DNT: 1`` while
        ``honor_dnt``) always turns it off.
        """
        return self._state.tracking_allowed

    @property
    def tracking_choice(self) -> Decision | None:
        """The browser's tracking choice: ``"in"``, ``"out"`` or ``None``.

        ``None``: not chosen yet, or the choice expired (13 months in
        ``"opt-in"`` mode): show the consent banner. ``Sec-GPC: 1`` (and
        ``DNT: 1`` while ``honor_dnt``) is ``"out"``, whatever was chosen; so
        is the opt-out cookie of earlier versions.
        """
        return self._state.tracking_choice

    @property
    def visitor(self) -> Visitor:
        """The visitor making this request (anonymous when not tracked)."""
        return self._state.visitor

    @property
    def promotion(self) -> str | None:
        """The promotion code attributed to this visitor, or ``None``."""
        return self._state.promotion

    @property
    def cross_site(self) -> bool:
        """A state-changing request another origin made (``Sec-Fetch-Site``
        ``cross-site`` or ``same-site``, i.e. a sibling subdomain, or a foreign
        ``Origin``): refuse it with a ``403`` in the views that change
        something. It tracks nothing and changes no cart."""
        return self._state.cross_site

    @property
    def signed_in(self) -> bool:
        """This browser's cart is a customer's cart (after :meth:`login`)."""
        return self._state.account.signed_in


class Context(_Facade):
    """Cart, visitor and promotion of one request, and the privacy switches.

    Get it with :func:`qscookies.context` (or ``environ["qscookies.context"]``)::

        qs = context(environ)
        if qs.visitor.is_returning: ...
        qs.cart.add("SKU-1", quantity=2)
        qs.record_purchase("order-42", total_cents=1999)
    """

    __slots__ = ("_cart", "_store")

    def __init__(self, state: RequestState, store: AppStore) -> None:
        self._state = state  # the facade's, set here: one call less a request
        self._store = store
        self._cart: Cart | None = None

    @property
    def cart(self) -> Cart:
        """The cart; each read or write is one Redis round trip (the facade is
        made on first use: a page view that never reads it makes none)."""
        cart = self._cart
        if cart is None:
            cart = self._cart = Cart(self._state, self._store)
        return cart

    def record_purchase(
        self,
        order_id: str,
        total_cents: int,
        currency: str | None = None,
        *,
        paid: str | None = None,
    ) -> Purchase:
        """Count a purchase (and its revenue) for the attributed promotion.

        Credited to the promotion and to the source and medium of the landing
        it is attributed to. Revenue is kept per currency, never added across
        currencies. Idempotent per *order_id*: calling it again for the same
        order counts nothing. The cart is emptied and a new cart id is used
        from now on. One round trip: a script (``SET NX`` on a marker holding a
        keyed hash of the order id, ``HINCRBY``) and ``DEL`` of the cart.

        With *paid*, the token of :meth:`Cart.checkout`, only the quantities
        paid for leave the token's cart (in the same script, once per order),
        and the purchase is credited to the promotion the browser had at
        checkout: a payment provider's return, a cross-site request without
        our cookies, records it too. Call it only once the payment is
        verified; the token is the bearer's.

        :param order_id: the shop's order id, 1-128 printable characters.
        :param total_cents: the order total in cents (an int, at least 0).
        :param currency: the ISO 4217 code of *total_cents* (``"USD"``);
            default the ``currency`` setting (``"EUR"`` unless set).
        :param paid: a checkout's token (``snapshot.token``).
        :return: what was done: the promotion credited, if any, and whether
            the order was recorded before (see :class:`~qscookies.Purchase`; its truth
            value is whether a promotion was credited now).

        .. versionchanged:: 0.2
            Answers a :class:`~qscookies.Purchase`, not a bool.
        :raises PurchaseError: a bad order id, total or currency (nothing sent).
        :raises PaidTokenError: *paid* is forged, expired, or a checkout of
            another cart than the browser's (nothing sent).
        :raises StoreUnavailable: Redis could not record it.

        .. versionchanged:: 0.2
            *paid*.
        """
        state = self._state
        plan = state.purchases.record(order_id, total_cents, currency, paid)
        return run(state, self._store, plan)

    def login(self, customer_id: str, merge: accounts.Merge = "add") -> None:
        """Sign the browser in: its cart becomes the customer's cart.

        The same cart on every device where the customer signed in. The
        anonymous cart is merged by *merge* and deleted: ``"add"`` sums the
        quantities (within ``max_quantity`` and ``max_cart_lines``),
        ``"replace"`` puts a non-empty anonymous cart in place of the
        customer's, ``"keep"`` keeps the customer's and drops the anonymous
        one. The cart cookie gets a new signed value, so a cart cookie from
        before the sign-in reaches nothing of the customer's. Redis keeps only
        a keyed hash of the customer id. One round trip (a script); two on
        Redis Cluster when there is an anonymous cart to merge.

        :param customer_id: the shop's id of the customer, 1-128 printable
            characters.
        :param merge: ``"add"``, ``"replace"`` or ``"keep"``.
        :raises AccountError: a bad customer id or policy (nothing is sent).
        :raises HeadersSentError: the response already started.
        :raises StoreUnavailable: Redis could not merge the carts.
        """
        run(self._state, self._store, self._state.account.login(customer_id, merge))

    def logout(self, everywhere: bool = False) -> None:
        """Sign the browser out: a fresh, empty anonymous cart (no Redis call).

        The customer's cart stays in Redis for the next sign-in. A copy of
        the signed-in cookie works until ``cart_max_age`` after the sign-in.

        :param everywhere: sign the customer out on every device, copies
            included (one round trip: the customer's sign-in generation moves;
            every cart read or write checks it).
        :raises HeadersSentError: the response already started.
        :raises StoreUnavailable: *everywhere*, and Redis could not record it.
        """
        run(self._state, self._store, self._state.account.logout(everywhere))

    def opt_out(self) -> None:
        """Record "out" in the choice cookie and stop tracking this browser.

        The visitor and promotion cookies are dropped; the cart keeps working.
        Nothing is kept per visitor in Redis, so nothing is left behind.

        :raises HeadersSentError: the response already started (a streamed
            body): the cookies could no longer change.
        """
        self._state.opt_out()

    def opt_in(self) -> None:
        """Record "in" in the choice cookie; tracking starts on this response.

        Unless ``Sec-GPC: 1`` (or an honoured ``DNT: 1``) says out. When
        tracking was off, a fresh visitor cookie is set and its first visit
        counted: one round trip, which never raises (as a page view's
        tracking). A yes already recorded keeps its date: asking again never
        extends it.

        :raises HeadersSentError: the response already started.
        """
        track(self._store, self._state.opt_in())

    def forget(self) -> None:
        """Erase the cart (``DEL``) and drop the visitor, promotion and cart cookies.

        Signed in, that is the customer's cart (on every device), and the
        browser is signed out. Aggregate counts and order markers stay: they
        hold no per-visitor data (a marker is a keyed hash of an order id).

        :raises HeadersSentError: the response already started (nothing is
            erased: the cookies could no longer be dropped).
        :raises StoreUnavailable: Redis could not erase the cart.
        """
        run(self._state, self._store, self._state.forget())


class AsyncContext(_Facade):
    """The context of an ASGI request: as :class:`Context`, Redis calls awaited.

    Get it with :func:`qscookies.asgi.context` (``context(request.scope)`` in
    Starlette)::

        qs = context(scope)
        qs.visitor.is_returning              # plain: no Redis
        await qs.cart.add("SKU-1", quantity=2)
        await qs.record_purchase("order-42", total_cents=1999)
    """

    __slots__ = ("_cart", "_store")

    def __init__(self, state: RequestState, store: AsyncAppStore) -> None:
        self._state = state  # the facade's, set here: one call less a request
        self._store = store
        self._cart: AsyncCart | None = None

    @property
    def cart(self) -> AsyncCart:
        """The cart; each read or write is one Redis round trip, awaited (the
        facade is made on first use)."""
        cart = self._cart
        if cart is None:
            cart = self._cart = AsyncCart(self._state, self._store)
        return cart

    async def record_purchase(
        self,
        order_id: str,
        total_cents: int,
        currency: str | None = None,
        *,
        paid: str | None = None,
    ) -> Purchase:
        """See :meth:`Context.record_purchase`."""
        state = self._state
        plan = state.purchases.record(order_id, total_cents, currency, paid)
        return await arun(state, self._store, plan)

    async def login(self, customer_id: str, merge: accounts.Merge = "add") -> None:
        """See :meth:`Context.login` (``await qs.login("c-42")``)."""
        plan = self._state.account.login(customer_id, merge)
        await arun(self._state, self._store, plan)

    async def logout(self, everywhere: bool = False) -> None:
        """See :meth:`Context.logout`."""
        await arun(self._state, self._store, self._state.account.logout(everywhere))

    async def opt_out(self) -> None:
        """See :meth:`Context.opt_out` (awaitable, for one shape of API)."""
        self._state.opt_out()

    async def opt_in(self) -> None:
        """See :meth:`Context.opt_in`."""
        await atrack(self._store, self._state.opt_in())

    async def forget(self) -> None:
        """See :meth:`Context.forget`."""
        await arun(self._state, self._store, self._state.forget())
