"""Promotion codes: capture from links and validation.

Codes arrive in the query string (``promo`` and ``utm_campaign`` by default), must
match :data:`~qscookies.cookies.PROMOTION_CODE`, may be limited to an allow-list,
and are never card-number-like. Junk codes are dropped here, so they create no key.
"""

from __future__ import annotations

from collections.abc import Collection

from .cookies import PROMOTION_CODE
from .privacy import looks_like_card_number
from .privacy import split_query


def valid_code(code: str, allowed: Collection[str] | None) -> bool:
    """Tell whether *code* may be attributed and counted."""
    if not PROMOTION_CODE.fullmatch(code) or looks_like_card_number(code):
        return False
    return allowed is None or code in allowed


def capture(
    query_string: str, params: tuple[str, ...], allowed: Collection[str] | None
) -> tuple[str, bool, str | None]:
    """Find a promotion code in a query string.

    :return: the query string without the promotion parameters, whether any were
        present, and the first valid code among them (in *params* order) or
        ``None``.
    """
    clean, found = split_query(query_string, params)
    for name in params:
        code = found.get(name, "").strip()
        if code and valid_code(code, allowed):
            return clean, True, code
    return clean, bool(found), None
