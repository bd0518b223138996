"""The shopping cart of one request: validation, lazy loading, one round trip each.

The cart id lives in the signed cart cookie; the lines live in Redis. Nothing is
read before the application asks, and no cookie is set before the first write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import CartError
from .privacy import looks_like_card_number

if TYPE_CHECKING:
    from .context import Context

#: Longest sku accepted.
MAX_SKU_LENGTH = 128


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


class Cart:
    """The visitor's cart: ``sku -> quantity`` lines kept in Redis.

    Each read or write is one Redis round trip; reads are cached for the rest of
    the request. Writes are atomic in Redis, so concurrent requests never lose
    an update. The cart works for visitors who opted out of tracking.

    Use it through the request context::

        qs = context(environ)
        qs.cart.add("SKU-1", quantity=2)   # -> 2
        qs.cart.items()                    # -> {"SKU-1": 2}

    :raises CartError: a bad sku or quantity, or a limit reached.
    :raises StoreUnavailable: Redis could not store or read the cart.
    """

    def __init__(self, context: Context) -> None:
        self._context = context
        self._cache: dict[str, int] | None = None

    def items(self) -> dict[str, int]:
        """Return a copy of the lines (``HGETALL``; no Redis call for no cart)."""
        if self._cache is None:
            cart_id = self._context.cart_id()
            self._cache = self._context.store_call(
                lambda store: store.cart_items(cart_id) if cart_id else {}
            )
        return dict(self._cache)

    def add(self, sku: str, quantity: int = 1) -> int:
        """Add *quantity* of *sku* and return the line's new quantity.

        One round trip: a Lua script (``HGET``, ``HLEN``, ``HSET``, ``PEXPIRE``).

        :raises CartError: the line would exceed ``max_quantity``, or the cart
            already holds ``max_cart_lines`` lines.
        """
        return self._put(sku, quantity, add=True)

    def set(self, sku: str, quantity: int) -> int:
        """Set the quantity of *sku* (0 removes the line) and return it."""
        return self._put(sku, quantity, add=False)

    def remove(self, sku: str) -> None:
        """Remove the line of *sku*, if there is one (``HDEL``)."""
        check_sku(sku)
        cart_id = self._context.cart_id()
        if cart_id:
            self._context.store_call(lambda store: store.cart_remove(cart_id, sku))
        self._remember(sku, 0)

    def clear(self) -> None:
        """Remove every line (``DEL``); the cart id stays the same."""
        cart_id = self._context.cart_id()
        if cart_id:
            self._context.store_call(
                lambda store: store.delete([store.cart_key(cart_id)])
            )
        self._cache = {}

    def __len__(self) -> int:
        """Number of lines."""
        return len(self.items())

    def __iter__(self) -> Iterator[str]:
        """Iterate over the skus."""
        return iter(self.items())

    def __contains__(self, sku: object) -> bool:
        return sku in self.items()

    def __repr__(self) -> str:
        lines = "(not loaded)" if self._cache is None else self._cache
        return f"<Cart {lines}>"

    def _put(self, sku: str, quantity: int, *, add: bool) -> int:
        context = self._context
        settings = context.settings
        check_sku(sku)
        check_quantity(quantity, minimum=int(add), maximum=settings.max_quantity)
        is_new = context.cart_id() is None
        if is_new and quantity == 0:
            return 0
        cart_id = context.cart_id_for_write()
        # A cart started under a promotion moves its "carts" counter, in the
        # same round trip; a new cart id cannot fail the limits checked above.
        code = context.promotion if is_new and context.tracking_allowed else None
        result: int = context.store_call(
            lambda store: store.cart_put(
                cart_id,
                sku,
                quantity,
                add=add,
                max_quantity=settings.max_quantity,
                max_lines=settings.max_cart_lines,
                ttl=settings.cart_max_age,
                counters={"carts": code} if code else {},
                now=context.now,
                aggregate_ttl=settings.aggregate_max_age,
            )
        )
        if result == -1:
            raise CartError(
                f"a cart line holds at most {settings.max_quantity}", sku=sku
            )
        if result == -2:
            raise CartError(
                f"a cart holds at most {settings.max_cart_lines} lines", sku=sku
            )
        self._remember(sku, result)
        return result

    def _reset(self) -> None:
        self._cache = {}

    def _remember(self, sku: str, quantity: int) -> None:
        if self._cache is None:
            return
        if quantity:
            self._cache[sku] = quantity
        else:
            self._cache.pop(sku, None)
