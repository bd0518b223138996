"""Promotion capture of :mod:`qscookies.core.promotions`: which code a link names."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from qscookies.core.promotions import find_code
from qscookies.core.promotions import valid_code

PARAMS = ("promo", "utm_campaign")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("promo=SUMMER", "SUMMER", id="promo"),
        pytest.param("utm_campaign=SPRING", "SPRING", id="utm"),
        pytest.param("utm_campaign=A&promo=B", "B", id="params-order-wins"),
        pytest.param("promo=A&promo=B", "A", id="first-value-of-a-name"),
        pytest.param("promo=%21%21&promo=B&utm_campaign=C", "C", id="first-bad"),
        pytest.param("promo=&utm_campaign=C", "C", id="empty-then-next"),
        pytest.param("promo=+SUMMER+", "SUMMER", id="stripped-plus"),
        pytest.param("promo=%20SUMMER%09", "SUMMER", id="stripped-escapes"),
        pytest.param("utm%5Fcampaign=ENC", "ENC", id="encoded-name"),
        pytest.param("a=1&promo=x.y-z_1&b=2", "x.y-z_1", id="punctuation"),
        pytest.param("promo=" + "A" * 64, "A" * 64, id="64-chars"),
        pytest.param("promo=" + "A" * 65, None, id="65-chars"),
        pytest.param("promo=_site", None, id="underscore-first"),
        pytest.param("promo=-X", None, id="dash-first"),
        pytest.param("promo=%3Cscript%3E", None, id="markup"),
        pytest.param("promo=a%7Bb%7D", None, id="hash-tag"),
        pytest.param("promo=a*", None, id="glob"),
        pytest.param("promo=caf%C3%A9", None, id="non-ascii"),
        pytest.param("promo", None, id="no-value"),
        pytest.param("", None, id="empty-query"),
        pytest.param("promotion=SUMMER", None, id="other-param"),
        pytest.param("Promo=SUMMER", None, id="name-is-case-sensitive"),
    ],
)
def test_find_code(query: str, expected: str | None) -> None:
    assert find_code(query, PARAMS, None) == expected


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("4111111111111111", id="plain"),
        pytest.param("4111.1111.1111.1111", id="dots"),
        pytest.param("4111-1111-1111-1111", id="dashes"),
        pytest.param("4111_1111_1111_1111", id="underscores"),
        pytest.param("4111+1111+1111+1111", id="spaces-as-plus"),
        pytest.param("4111%201111%201111%201111", id="spaces-escaped"),
        pytest.param("X-4111-1111-1111-1111", id="inside-a-code"),
    ],
)
def test_card_like_codes_are_refused(code: str) -> None:
    assert find_code("promo=" + code, PARAMS, None) is None
    assert find_code(f"promo={code}&utm_campaign=OK", PARAMS, None) == "OK"


def test_luhn_invalid_digits_are_a_code() -> None:
    assert find_code("promo=4111111111111112", PARAMS, None) == "4111111111111112"


@pytest.mark.parametrize(
    ("query", "allowed", "expected"),
    [
        pytest.param("promo=SUMMER", {"SUMMER"}, "SUMMER", id="allowed"),
        pytest.param("promo=WINTER", {"SUMMER"}, None, id="not-allowed"),
        pytest.param("promo=summer", {"SUMMER"}, None, id="case-sensitive"),
        pytest.param("promo=X&utm_campaign=SUMMER", {"SUMMER"}, "SUMMER", id="next"),
        pytest.param("promo=SUMMER", set(), None, id="empty-allow-list"),
        pytest.param("promo=+SUMMER", {"SUMMER"}, "SUMMER", id="stripped-first"),
    ],
)
def test_allow_list(query: str, allowed: Collection[str], expected: str | None) -> None:
    assert find_code(query, PARAMS, frozenset(allowed)) == expected


def test_custom_params_in_their_order() -> None:
    assert find_code("promo=A&ref=B", ("ref", "promo"), None) == "B"
    assert find_code("promo=A", ("ref",), None) is None


@pytest.mark.parametrize(
    ("code", "allowed", "valid"),
    [
        pytest.param("SUMMER", None, True, id="any"),
        pytest.param("SUMMER", ["SUMMER"], True, id="listed"),
        pytest.param("SUMMER", ["OTHER"], False, id="unlisted"),
        pytest.param("", None, False, id="empty"),
        pytest.param(" SUMMER", None, False, id="not-stripped-here"),
        pytest.param("4111111111111111", ["4111111111111111"], False, id="card"),
    ],
)
def test_valid_code(code: str, allowed: Collection[str] | None, valid: bool) -> None:
    assert valid_code(code, allowed) is valid
