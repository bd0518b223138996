"""The sans-I/O line rules of :mod:`qscookies.core.lines`, by plain calls."""

from __future__ import annotations

import pytest

from qscookies import CartError
from qscookies import CartLine
from qscookies import ConfigurationError
from qscookies.core.lines import OPTION_LINE
from qscookies.core.lines import canonical_options
from qscookies.core.lines import check_line_id
from qscookies.core.lines import check_sku
from qscookies.core.lines import line_id
from qscookies.core.lines import read_lines
from qscookies.settings import Settings


def test_the_same_options_in_any_order_have_one_canonical_form_and_id() -> None:
    one = canonical_options({"wrap": "gift", "engraving": "Ada"}, 5)
    other = canonical_options({"engraving": "Ada", "wrap": "gift"}, 5)
    assert one == other == '{"engraving":"Ada","wrap":"gift"}'
    assert line_id("MUG", one) == line_id("MUG", other)
    assert OPTION_LINE.fullmatch(line_id("MUG", one))
    assert line_id("MUG", one) != line_id("MUG", canonical_options({"wrap": "x"}, 5))
    assert line_id("MUG", one) != line_id("CUP", one)  # the sku is hashed too


def test_no_options_is_the_sku_itself() -> None:
    assert canonical_options(None, 5) == canonical_options({}, 5) == ""
    assert line_id("MUG", "") == "MUG"


def test_a_line_id_is_stable_across_processes_and_keys() -> None:
    # A plain BLAKE2b, no secret: the same after a key rotation.
    assert line_id("MUG-01", '{"engraving":"Ada"}') == "MUG-01~4erzftqj"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(["engraving"], "must be a dict", id="not-a-dict"),
        pytest.param({"a": "1", "b": "2", "c": "3"}, "at most 2", id="too-many"),
        pytest.param({"": "x"}, "option key", id="empty-key"),
        pytest.param({"A": "x"}, "option key", id="capital"),
        pytest.param({"a b": "x"}, "option key", id="space"),
        pytest.param({"a:b": "x"}, "option key", id="colon"),
        pytest.param({"k" * 33: "x"}, "option key", id="key-too-long"),
        pytest.param({1: "x"}, "option key", id="key-not-text"),
        pytest.param({"a": 1}, "must be text", id="value-not-text"),
        pytest.param({"a": "x" * 129}, "at most 128", id="value-too-long"),
        pytest.param({"a": "x\ty"}, "printable", id="tab"),
        pytest.param({"a": "4111 1111 1111 1111"}, "card", id="card-number"),
        pytest.param({"a": "5500.0000.0000.0004"}, "card", id="card-dots"),
    ],
)
def test_bad_options_are_a_cart_error(options: object, message: str) -> None:
    with pytest.raises(CartError, match=message):
        canonical_options(options, 2)


def test_good_options() -> None:
    assert canonical_options({"k" * 32: "x" * 128}, 1)
    assert canonical_options({"gift_wrap-2": "Für Ada ♥"}, 1)
    assert canonical_options({"note": ""}, 1) == '{"note":""}'


def test_a_sku_shaped_like_a_line_id_is_refused_and_line_ids_are_checked() -> None:
    with pytest.raises(CartError, match="line id"):
        check_sku("MUG~abcdefgh")
    assert check_sku("MUG~abc") == "MUG~abc"  # a tilde alone is fine
    assert check_line_id("MUG") is False
    assert check_line_id("MUG~abcdefgh") is True
    for bad in ("", " MUG~abcdefgh", "4111111111111111~abcdefgh", 7):
        with pytest.raises(CartError):
            check_line_id(bad)


def test_a_sku_is_checked_once_within_a_bound_and_a_bad_one_every_time() -> None:
    from qscookies.core import lines

    for sku in ("MUG", "MUG"):  # the second from the memo
        assert check_sku(sku) == "MUG"
    assert "MUG" in lines._VALID_SKUS
    for _ in range(2):  # a refused sku is never remembered
        with pytest.raises(CartError, match="card number"):
            check_sku("4111 1111 1111 1111")
        with pytest.raises(CartError, match="printable"):
            check_sku(" MUG")
    for n in range(lines._VALID_SKUS.most + 10):  # a flood of valid skus
        check_sku(f"SKU-{n}")
    assert len(lines._VALID_SKUS) <= lines._VALID_SKUS.most

    class Sly(str):  # equal to a remembered sku, whatever it holds
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("MUG")

    check_sku("MUG")
    with pytest.raises(CartError, match="card number"):
        check_sku(Sly("4111 1111 1111 1111"))


def test_lines_come_in_the_order_first_added_with_their_options() -> None:
    mug = line_id("MUG", '{"engraving":"Ada"}')
    quantities = {"TEA": 2, mug: 1, "OLD": 4}
    details = {mug: '1:{"engraving":"Ada"}', "TEA": "2:", "": "2"}
    assert read_lines(quantities, details) == [
        CartLine(mug, "MUG", 1, {"engraving": "Ada"}),
        CartLine("TEA", "TEA", 2, {}),
        CartLine("OLD", "OLD", 4, {}),  # stored before lines had a place: last
    ]


def test_a_cart_line_is_frozen() -> None:
    line = CartLine("A", "A", 1, {})
    with pytest.raises(AttributeError):
        line.quantity = 2  # type: ignore[misc]


def test_the_new_settings_and_their_defaults() -> None:
    settings = Settings()
    assert (settings.max_line_options, settings.max_cart_items) == (5, 1000)
    assert (settings.cart_max_age, settings.customer_cart_max_age) == (
        30 * 86400,
        90 * 86400,
    )
    for bad in (
        {"max_cart_items": 0},
        {"max_line_options": 0},
        {"customer_cart_max_age": 0},
        {"customer_cart_max_age": 86400},  # shorter than an anonymous cart's
    ):
        with pytest.raises(ConfigurationError):
            Settings.from_options(**bad)


def test_an_items_bound_the_lines_cannot_reach_is_not_checked() -> None:
    assert Settings().items_bound == 1000
    huge = Settings(max_cart_lines=100_000, max_cart_items=10**9)
    assert huge.items_bound == 0  # 999 x 100,000 < 10**9: no HVALS per write
