"""The key layout of :mod:`qscookies.keys`: every builder and the prefix rule."""

from __future__ import annotations

from typing import Any

import pytest

from qscookies.errors import ConfigurationError
from qscookies.keys import AGGREGATE_KINDS
from qscookies.keys import OTHER
from qscookies.keys import SITE
from qscookies.keys import KeySchema

CART_ID = "xjyZ9XJwVcwU-qD1c83yVw"


def test_default_prefix() -> None:
    assert KeySchema().prefix == "qs:"
    assert repr(KeySchema()) == "KeySchema('qs:')"


def test_builders() -> None:
    keys = KeySchema("qs:")
    assert keys.cart(CART_ID) == "qs:c:{xjyZ9XJwVcwU-qD1c83yVw}"
    assert keys.aggregate("SUMMER", "d", "20250615") == "qs:a:{SUMMER}:d:20250615"
    assert keys.aggregate(SITE, "u", "20250615") == "qs:a:{_site}:u:20250615"
    assert keys.aggregate(OTHER, "r", "20250615") == "qs:a:{other}:r:20250615"
    assert keys.day_index("20250615") == "qs:a:i:20250615"
    assert keys.order("ab" * 16) == "qs:o:{" + "ab" * 16 + "}"


def test_globs() -> None:
    keys = KeySchema("shop-1.eu:")
    assert keys.all_keys == "shop-1.eu:*"
    assert keys.aggregate_keys == "shop-1.eu:a:*"


def test_every_key_lives_under_the_prefix_and_its_globs() -> None:
    keys = KeySchema("app:qs:")
    day = "20250615"
    aggregates = [keys.aggregate("X", kind, day) for kind in AGGREGATE_KINDS]
    aggregates.append(keys.day_index(day))
    for key in [*aggregates, keys.cart(CART_ID), keys.order("0" * 32)]:
        assert key.startswith(keys.all_keys[:-1])
    for key in aggregates:
        assert key.startswith(keys.aggregate_keys[:-1])
    assert not keys.cart(CART_ID).startswith(keys.aggregate_keys[:-1])
    assert not keys.order("0" * 32).startswith(keys.aggregate_keys[:-1])


def test_one_promotion_shares_a_hash_tag_over_its_days_and_kinds() -> None:
    keys = KeySchema()
    tags = {
        keys.aggregate("SUMMER", kind, day).split("}")[0]
        for kind in AGGREGATE_KINDS
        for day in ("20250101", "20251231")
    }
    assert tags == {"qs:a:{SUMMER"}


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(":", id="colon-only"),
        pytest.param("qs:", id="default"),
        pytest.param("a:b:", id="nested"),
        pytest.param("A_z-0.9:", id="every-class"),
        pytest.param("x" * 31 + ":", id="32-chars"),
    ],
)
def test_good_prefixes(prefix: str) -> None:
    assert KeySchema(prefix).prefix == prefix


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("qs", id="no-colon"),
        pytest.param("", id="empty"),
        pytest.param("qs:x", id="not-ending-in-colon"),
        pytest.param("x" * 32 + ":", id="33-chars"),
        pytest.param("q s:", id="space"),
        pytest.param("qs*:", id="glob"),
        pytest.param("{qs}:", id="hash-tag"),
        pytest.param("qs:\n", id="newline"),
        pytest.param("caf\u00e9:", id="non-ascii"),
        pytest.param(b"qs:", id="bytes"),
        pytest.param(None, id="none"),
    ],
)
def test_bad_prefixes_are_refused(prefix: Any) -> None:
    with pytest.raises(ConfigurationError, match="key_prefix"):
        KeySchema(prefix)
