"""The public carts of a request: :class:`Cart` (sync) and :class:`AsyncCart`.

Thin, as the contexts that hold them (:mod:`qscookies.context`): every rule is
in :mod:`qscookies.core.cart` and :mod:`qscookies.core.lines`, which answer
plans; a cart sends them to its store and hands back the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import TypeVar
from typing import overload

from .core.checkout import CartSnapshot
from .core.lines import CartLine
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
    """The visitor's cart: lines (a sku and its options) and their quantities,
    kept in Redis.

    Each read or write is one Redis round trip; reads are cached for the rest of
    the request. Writes are atomic in Redis, so concurrent requests never lose
    an update. The cart works for visitors who opted out of tracking::

        qs.cart.add("SKU-1", quantity=2)                    # -> 2
        qs.cart.add("MUG-01", options={"engraving": "Ada"})  # -> 1
        qs.cart.items()    # -> {"SKU-1": 2, "MUG-01~k3f9a2xq": 1}
        qs.cart.lines()    # -> [CartLine("SKU-1", "SKU-1", 2, {}), ...]

    A line's id is its sku when it has no options, so a cart without options
    reads as ``{sku: quantity}``.

    :raises CartError: a bad sku, line id, option or quantity, or a limit
        reached (``max_quantity``, ``max_cart_lines``, ``max_cart_items``,
        ``max_line_options``).
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
        """Return ``{line_id: quantity}`` (``HGETALL``; no Redis call for no cart).

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

    def lines(self) -> list[CartLine]:
        """The lines, with sku and options, in the order first added.

        One round trip (a script: ``HGETALL`` of the quantities and of the
        lines' hash, atomically); none when read before in this request.

        .. versionadded:: 0.2
        """
        return run(self._state, self._store, self._state.cart.lines())

    def add(
        self,
        sku: str,
        quantity: int = 1,
        *,
        options: Mapping[str, str] | None = None,
        write_id: str | None = None,
    ) -> int:
        """Add *quantity* of *sku* with *options* and return the line's quantity.

        The same sku with the same options (in any key order) is the same
        line; other options make another line. One round trip: a script
        (``HGET``, ``HLEN``, ``HVALS``, ``HSET``, ``PEXPIRE``; the write id's
        marker).

        :param options: at most ``max_line_options`` keys of 1-32 ``a-z0-9_-``,
            each to printable text of at most 128 characters (no card number).
        :param write_id: an id of this add (say a token the shop's form
            carries): an add re-sent with it within a day, after a ``503`` whose
            write was in fact stored, is not applied twice.
        :raises CartError: a bad sku, option or quantity; the line would exceed
            ``max_quantity``, the cart ``max_cart_items``, or it already holds
            ``max_cart_lines`` lines.

        .. versionchanged:: 0.2
            *options*.
        """
        state = self._state
        plan = state.cart.put(
            sku, quantity, add=True, options=options, write_id=write_id
        )
        return run(state, self._store, plan)

    def set(self, line_id: str, quantity: int) -> int:
        """Set the quantity of a line (0 removes it) and return it.

        :param line_id: a :attr:`CartLine.line_id`; a sku starts its line
            without options if not there, a line with options is only changed
            while it is there (else 0 is answered and nothing changes).
        """
        plan = self._state.cart.put(line_id, quantity, add=False)
        return run(self._state, self._store, plan)

    def remove(self, line_id: str) -> None:
        """Remove the line *line_id*, if there is one (a script)."""
        run(self._state, self._store, self._state.cart.remove(line_id))

    def clear(self) -> None:
        """Remove every line (``DEL``); the cart id stays the same."""
        run(self._state, self._store, self._state.cart.clear())

    def checkout(self) -> CartSnapshot:
        """The lines the customer is about to pay for, and their signed token.

        One round trip (as :meth:`lines`; none when they were read before).
        Give ``snapshot.token`` to the payment provider (the return URL or a
        form field) and back to :meth:`~qscookies.Context.record_purchase` as
        ``paid=``: that takes away only these quantities, so a line added in
        another tab meanwhile stays. The token names the cart, its line ids
        and quantities and the promotion attribution at checkout, and expires
        after ``checkout_max_age``; it holds no personal or financial data.

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
        """Iterate over the line ids."""
        return iter(self.items())

    def __contains__(self, line_id: object) -> bool:
        return line_id in self.items()

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

    async def lines(self) -> list[CartLine]:
        """See :meth:`Cart.lines` (``await qs.cart.lines()``)."""
        return await arun(self._state, self._store, self._state.cart.lines())

    async def add(
        self,
        sku: str,
        quantity: int = 1,
        *,
        options: Mapping[str, str] | None = None,
        write_id: str | None = None,
    ) -> int:
        """See :meth:`Cart.add`."""
        state = self._state
        plan = state.cart.put(
            sku, quantity, add=True, options=options, write_id=write_id
        )
        return await arun(state, self._store, plan)

    async def set(self, line_id: str, quantity: int) -> int:
        """See :meth:`Cart.set`."""
        plan = self._state.cart.put(line_id, quantity, add=False)
        return await arun(self._state, self._store, plan)

    async def remove(self, line_id: str) -> None:
        """See :meth:`Cart.remove`."""
        await arun(self._state, self._store, self._state.cart.remove(line_id))

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
