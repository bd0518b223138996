"""The sans-I/O checkout rules of :mod:`qscookies.core.checkout`, by plain calls.

The plans are checked as values and fed the replies a store would give; the
journeys on a real Redis are in ``test_checkout.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_core_request import CART
from test_core_request import CODEC
from test_core_request import DAY
from test_core_request import T
from test_core_request import cart
from test_core_request import make_rules
from test_core_request import open_state
from test_core_request import promo

from qscookies import CartSnapshot
from qscookies import PaidTokenError
from qscookies import Purchase
from qscookies import PurchaseError
from qscookies import scripts
from qscookies.command import script
from qscookies.core import checkout
from qscookies.core.campaigns import ORDER_MEMORY
from qscookies.core.cart import CrossSiteError
from qscookies.settings import TWENTY_FIVE_MONTHS


def flat(fields: dict[str, str]) -> list[str]:
    return [value for item in fields.items() for value in item]


def reply(lines: dict[str, str], details: dict[str, str] | None = None) -> list[Any]:
    """What the lines script answers: the quantities and the lines' hash."""
    return [flat(lines), flat(details or {})]


def snapshot(lines: dict[str, str], **options: object) -> CartSnapshot:
    state = open_state(rules=make_rules(**options), cookie=f"{cart()}; {promo()}")
    return state.purchases.checkout().read([reply(lines)])  # type: ignore[return-value]


def test_a_checkout_reads_the_cart_once_and_signs_its_lines() -> None:
    state = open_state(cookie=f"{cart()}; {promo()}")
    plan = state.purchases.checkout()
    lines = script(scripts.CART_LINES, (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}"))
    assert plan.commands == (lines,)
    details = {"B": "1:", "A": "2:", "": "2"}  # B first added
    taken = plan.read([reply({"A": "2", "B": "1"}, details)])
    assert isinstance(taken, CartSnapshot)
    assert taken.lines == {"A": 2, "B": 1}
    assert [line.line_id for line in taken.details] == ["B", "A"]
    paid = open_state().purchases.load_token(taken.token)
    assert (paid.cart_id, paid.issued, paid.lines) == (CART, T, (("B", 1), ("A", 2)))
    assert paid.attribution is not None and paid.attribution.code == "SUMMER"
    with pytest.raises(AttributeError):
        taken.token = "another"  # type: ignore[misc]


def test_a_read_cart_checks_out_without_redis() -> None:
    state = open_state(cookie=cart())
    state.cart.lines().read([reply({"A": "1"}, {"A": "1:"})])
    plan = state.purchases.checkout()
    assert plan.commands == ()
    assert plan.read([]).lines == {"A": 1}  # type: ignore[union-attr]


def test_a_cross_site_request_has_nothing_to_check_out() -> None:
    state = open_state(method="POST", fetch_site="cross-site")
    with pytest.raises(CrossSiteError):
        state.purchases.checkout().read([])


def test_the_token_is_small_and_names_no_line_in_clear() -> None:
    lines = {f"TEA-{number:03d}": str(number % 5 + 1) for number in range(10)}
    token = snapshot(lines).token
    assert len(token) < 260  # a URL's query or a form field, with room to spare
    assert "TEA" not in token and "SUMMER" not in token and CART not in token


def test_a_token_never_verifies_as_a_cookie_nor_a_cookie_as_a_token() -> None:
    token = snapshot({"A": "1"}).token
    assert CODEC.load_cart(token, T, 86400) is None
    assert CODEC.load_promotion(token, T, 86400) is None
    with pytest.raises(PaidTokenError, match="not a checkout token"):
        open_state().purchases.load_token(cart().partition("=")[2])


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1], id="signature-cut"),
        pytest.param(lambda t: "x" + t, id="payload-changed"),
        pytest.param(lambda t: t.replace(".", ""), id="no-signature"),
        pytest.param(lambda t: t + "é", id="not-ascii"),
        pytest.param(lambda t: "a" * (checkout.MAX_TOKEN + 1), id="too-long"),
        pytest.param(lambda t: None, id="not-text"),
        pytest.param(lambda t: CODEC.checkout.sign("bm90LWpzb24"), id="signed-junk"),
    ],
)
def test_a_forged_token_is_refused(mangle: object) -> None:
    token = snapshot({"A": "1"}).token
    with pytest.raises(PaidTokenError):
        open_state().purchases.load_token(mangle(token))  # type: ignore[operator]


def test_a_token_expires_after_checkout_max_age() -> None:
    token = snapshot({"A": "1"}, checkout_max_age=600).token
    at_end = open_state(rules=make_rules(now=T + 600, checkout_max_age=600))
    assert at_end.purchases.load_token(token).cart_id == CART
    late = open_state(rules=make_rules(now=T + 601, checkout_max_age=600))
    with pytest.raises(PaidTokenError, match="expired"):
        late.purchases.load_token(token)


def test_a_token_of_another_cart_is_refused_before_anything_is_sent() -> None:
    token = snapshot({"A": "1"}).token
    other = open_state(cookie=cart("yyyZ9XJwVcwU-qD1c83yVw"))
    with pytest.raises(PaidTokenError, match="another cart"):
        other.purchases.record("o-1", 100, paid=token)
    assert issubclass(PaidTokenError, PurchaseError)


def test_a_cookieless_return_pays_in_one_script_credited_to_the_token() -> None:
    token = snapshot({"A": "2", "B": "1"}).token
    state = open_state(method="POST", fetch_site="cross-site")  # no cookie
    plan = state.purchases.record("o-1", 500, paid=token)
    marker = f"qs:o:{{{CODEC.order_hash('o-1')}}}"
    counters = f"qs:a:{{SUMMER}}:d:{DAY}"
    cart_keys = (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}", f"qs:w:{{{CART}}}")
    paid = plan.commands[0]
    assert paid.script == scripts.PAID
    assert paid.keys == (marker, *cart_keys, counters)
    assert paid.args[:7] == (ORDER_MEMORY, TWENTY_FIVE_MONTHS, 4, "A", 2, "B", 1)
    assert paid.args[7:9] == ("purchases", 1)
    assert plan.read([1] * len(plan.commands)) == Purchase("SUMMER", duplicate=False)
    headers = state.finish(200, [])
    assert not [value for name, value in headers if name == "Set-Cookie"]


def test_on_a_cluster_the_take_follows_the_orders_marker() -> None:
    token = snapshot({"A": "2"}).token
    state = open_state(rules=make_rules(cluster=True), cookie=cart())
    plan = state.purchases.record("o-1", 500, paid=token)
    assert [command.script for command in plan.commands] == [scripts.ORDER_MARK]
    assert plan.read([0]).commands == ()  # type: ignore[union-attr]
    then = plan.read([1])
    keys = (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}", f"qs:w:{{{CART}}}")
    take = script(scripts.CART_PAY, keys, "A", 2)
    assert then.commands[0] == take  # type: ignore[union-attr]
