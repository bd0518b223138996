"""The carts of a request's context: :class:`Cart` (sync) and :class:`AsyncCart`.

Thin, as the contexts are: every rule is in :class:`~qscookies.core.cart.CartState`,
which answers plans; a cart sends them to its store and hands back the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from typing import TypeVar
from typing import overload

from .core.checkout import CartSnapshot
from .core.request import RequestState
from .sending import aattempt
from .sending import arun
from .sending import attempt
from .sending import run
from .store.aio import AsyncAppStore
from .store.app import AppStore

D = TypeVar("D")

#: The default of ``context()`` and ``Cart.items()``: raise, answer no default.
RAISE: Any = object()


class Cart:
    """The visitor's cart: ``sku -> quantity`` lines kept in Redis.

    Each read or write is one Redis round trip; reads are cached for the rest of
    the request. Writes are atomic in Redis, so concurrent requests never lose
    an update. The cart works for visitors who opted out of tracking::

        qs.cart.add("SKU-1", quantity=2)   # -> 2
        qs.cart.items()                    # -> {"SKU-1": 2}

    :raises CartError: a bad sku or quantity, or a limit reached.
    :raises StoreUnavailable: Redis could not store or read the cart.
    """

    __slots__ = ("_state", "_store")

    def __init__(self, state: RequestState, store: AppStore) -> None:
        self._state = state
        self._store = store

    @overload
    def items(self) -> dict[str, int]: ...
    @overload
    def items(self, default: D) -> dict[str, int] | D: ...
    def items(self, default: Any = RAISE) -> Any:
        """Return a copy of the lines (``HGETALL``; no Redis call for no cart).

        :param default: answered instead of raising when Redis cannot be read,
            for what may degrade, such as a cart badge in the page layout
            (``qs.cart.items(default=None)``). Such reads pause with tracking
            for ``retry_interval`` after a failure, so pages do not wait on a
            dead Redis; the cart page itself should read without a default.
        :raises StoreUnavailable: Redis could not be read, and no *default*.
        """
        plan = self._state.cart.items()
        if default is RAISE:
            return run(self._state, self._store, plan)
        return attempt(self._store, plan, default)

    def add(self, sku: str, quantity: int = 1, *, write_id: str | None = None) -> int:
        """Add *quantity* of *sku* and return the line's new quantity.

        One round trip: a script (``HGET``, ``HLEN``, ``HSET``, ``PEXPIRE``;
        ``SET NX`` of the write id's marker).

        :param write_id: an id of this add (say a token the shop's form
            carries): an add re-sent with it within a day, after a ``503`` whose
            write was in fact stored, is not applied twice.
        :raises CartError: the line would exceed ``max_quantity``, or the cart
            already holds ``max_cart_lines`` lines.
        """
        plan = self._state.cart.put(sku, quantity, add=True, write_id=write_id)
        return run(self._state, self._store, plan)

    def set(self, sku: str, quantity: int) -> int:
        """Set the quantity of *sku* (0 removes the line) and return it."""
        plan = self._state.cart.put(sku, quantity, add=False)
        return run(self._state, self._store, plan)

    def remove(self, sku: str) -> None:
        """Remove the line of *sku*, if there is one (``HDEL``)."""
        run(self._state, self._store, self._state.cart.remove(sku))

    def clear(self) -> None:
        """Remove every line (``DEL``); the cart id stays the same."""
        run(self._state, self._store, self._state.cart.clear())

    def checkout(self) -> CartSnapshot:
        """The lines the customer is about to pay for, and their signed token.

        One round trip (``HGETALL``; none when the cart was read before). Give
        ``snapshot.token`` to the payment provider (the return URL or a form
        field) and back to :meth:`Context.record_purchase` as ``paid=``: that
        takes away only these quantities, so a line added in another tab
        meanwhile stays. The token names the cart, its lines and the
        promotion attribution at checkout, and expires after
        ``checkout_max_age``; it holds no personal or financial data.

        :raises CrossSiteError: a cross-site unsafe request (it has no cart).

        .. versionadded:: 0.2
        """
        return run(self._state, self._store, self._state.purchases.checkout())

    @property
    def quantity(self) -> int:
        """Items in the cart, all lines summed (``len(cart)`` counts lines)."""
        return sum(self.items().values())

    def __len__(self) -> int:
        """Number of lines."""
        return len(self.items())

    def __iter__(self) -> Iterator[str]:
        """Iterate over the skus."""
        return iter(self.items())

    def __contains__(self, sku: object) -> bool:
        return sku in self.items()

    def __repr__(self) -> str:
        return "<Cart>"


class AsyncCart:
    """:class:`Cart` for ASGI: every method that may call Redis is awaited."""

    __slots__ = ("_state", "_store")

    def __init__(self, state: RequestState, store: AsyncAppStore) -> None:
        self._state = state
        self._store = store

    @overload
    async def items(self) -> dict[str, int]: ...
    @overload
    async def items(self, default: D) -> dict[str, int] | D: ...
    async def items(self, default: Any = RAISE) -> Any:
        """See :meth:`Cart.items` (``await qs.cart.items(default=None)``)."""
        plan = self._state.cart.items()
        if default is RAISE:
            return await arun(self._state, self._store, plan)
        return await aattempt(self._store, plan, default)

    async def add(
        self, sku: str, quantity: int = 1, *, write_id: str | None = None
    ) -> int:
        """See :meth:`Cart.add`."""
        plan = self._state.cart.put(sku, quantity, add=True, write_id=write_id)
        return await arun(self._state, self._store, plan)

    async def set(self, sku: str, quantity: int) -> int:
        """See :meth:`Cart.set`."""
        plan = self._state.cart.put(sku, quantity, add=False)
        return await arun(self._state, self._store, plan)

    async def remove(self, sku: str) -> None:
        """See :meth:`Cart.remove`."""
        await arun(self._state, self._store, self._state.cart.remove(sku))

    async def clear(self) -> None:
        """See :meth:`Cart.clear`."""
        await arun(self._state, self._store, self._state.cart.clear())

    async def checkout(self) -> CartSnapshot:
        """See :meth:`Cart.checkout` (``await qs.cart.checkout()``)."""
        return await arun(self._state, self._store, self._state.purchases.checkout())

    async def quantity(self) -> int:
        """Items in the cart, all lines summed."""
        return sum((await self.items()).values())

    def __repr__(self) -> str:
        return "<AsyncCart>"
