"""Cart rules: what a valid sku and quantity are."""

from __future__ import annotations

from ..errors import CartError
from ..privacy import looks_like_card_number

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
