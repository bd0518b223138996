"""Promotion codes: capture from links and validation.

Codes arrive in the query string (``promo`` and ``utm_campaign`` by default), must
match :data:`~qscookies.codec.PROMOTION_CODE`, may be limited to an allow-list,
and are never card-number-like. Junk codes are dropped here, so they create no key.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import parse_qsl

from ..codec import PROMOTION_CODE
from ..privacy import looks_like_card_number


def valid_code(code: str, allowed: Collection[str] | None) -> bool:
    """Tell whether *code* may be attributed and counted."""
    if not PROMOTION_CODE.fullmatch(code) or looks_like_card_number(code):
        return False
    return allowed is None or code in allowed


def first_values(query: str, names: Collection[str]) -> dict[str, str]:
    """The first value of each of *names* in a raw query string."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in names:
            found.setdefault(name, value)
    return found


def find_code(
    query: str,
    params: tuple[str, ...],
    allowed: Collection[str] | None,
    found: dict[str, str] | None = None,
) -> str | None:
    """The first valid promotion code of a query string, in *params* order.

    :param query: the raw query string (percent-encoded).
    :param found: its values already parsed (:func:`first_values`), if at hand.
    :return: the code, or ``None`` when no parameter holds a valid one.
    """
    if found is None:
        found = first_values(query, params)
    for name in params:
        code = found.get(name, "").strip()
        if code and valid_code(code, allowed):
            return code
    return None
