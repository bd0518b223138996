"""The sans-I/O account rules of :mod:`qscookies.core.accounts`, by plain calls.

No Redis: :func:`login` answers plans whose commands are checked as values, and
whose readers are fed the replies a store would give.
"""

from __future__ import annotations

import pytest
from test_core_request import CART
from test_core_request import CODEC
from test_core_request import MS30
from test_core_request import T
from test_core_request import cart
from test_core_request import dropped
from test_core_request import make_rules
from test_core_request import open_state
from test_core_request import set_cookies
from test_core_request import value_of

from qscookies import scripts
from qscookies.codec import CookieCodec
from qscookies.command import Command
from qscookies.command import script
from qscookies.core import accounts
from qscookies.core.cartwrite import MAX_WRITE_MARKERS
from qscookies.errors import AccountError
from qscookies.errors import HeadersSentError

ALICE = CODEC.customer_cart("alice@example.com")
#: A customer's cart lives customer_cart_max_age (90 days), in ms.
MS90 = 3 * MS30
LIMITS = (999, 200, MS90, MAX_WRITE_MARKERS, 1000)


def test_a_customer_cart_id_is_a_keyed_hash_never_the_id() -> None:
    assert ALICE == CODEC.customer_cart("alice@example.com")  # every device
    assert ALICE.startswith("u:") and len(ALICE) == 34
    assert "alice" not in ALICE
    assert ALICE != CODEC.customer_cart("bob@example.com")
    assert ALICE != CookieCodec("another-secret-0123456789").customer_cart(
        "alice@example.com"
    )


@pytest.mark.parametrize(
    "customer_id",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("alice\n", id="newline"),
        pytest.param("al\x00ice", id="nul"),
        pytest.param(42, id="not-text"),
        pytest.param(None, id="none"),
    ],
)
def test_a_bad_customer_id_is_refused_before_anything_is_sent(
    customer_id: object,
) -> None:
    state = open_state(cookie=cart())
    with pytest.raises(AccountError, match="customer_id"):
        state.account.login(customer_id, "add")  # type: ignore[arg-type]
    assert not state.cart.signed_in


@pytest.mark.parametrize("customer_id", ["a", "x" * 128, "Ålice Müller", "c-42 7"])
def test_good_customer_ids(customer_id: str) -> None:
    assert accounts.check_customer_id(customer_id) == customer_id


@pytest.mark.parametrize("merge", ["sum", "", "ADD", None, 1])
def test_an_unknown_merge_policy_is_refused(merge: object) -> None:
    with pytest.raises(AccountError, match="merge must be one of"):
        open_state().account.login("alice", merge)  # type: ignore[arg-type]


def test_an_account_error_is_a_qscookies_error() -> None:
    from qscookies import AccountError as Exported
    from qscookies import QSCookiesError

    assert Exported is AccountError and issubclass(AccountError, QSCookiesError)


#: The key of alice's sign-in generation.
GEN = f"qs:g:{{{ALICE}}}"
#: The anonymous cart, its lines and write markers; alice's, and her generation.
TAKEN = (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}", f"qs:w:{{{CART}}}")
MERGED = (f"qs:c:{{{ALICE}}}", f"qs:l:{{{ALICE}}}", f"qs:w:{{{ALICE}}}", GEN)


@pytest.mark.parametrize("policy", ["add", "replace", "keep"])
def test_single_redis_merges_in_one_script(policy: str) -> None:
    state = open_state(cookie=cart())
    plan = state.account.login("alice@example.com", policy)
    assert plan.commands == (script(scripts.LOGIN, (*TAKEN, *MERGED), policy, *LIMITS),)
    assert plan.read([["0", "A", "2", "B", "1"]]) is None
    assert state.cart.signed_in
    assert state.cart.items().read([]) == {"A": 2, "B": 1}  # cached: no Redis


def test_cluster_takes_then_merges_in_two_round_trips() -> None:
    state = open_state(rules=make_rules(cluster=True), cookie=cart())
    take = state.account.login("alice@example.com", "add")
    assert take.commands == (script(scripts.CART_TAKE, TAKEN),)
    merge = take.read([[["A", "2", ""], ["m1", "m2"]]])
    assert not state.cart.signed_in  # not before the merge is stored
    carried = (3, "A", "2", "", "m1", "m2")
    assert merge.commands == (  # type: ignore[union-attr]
        script(scripts.CART_MERGE, MERGED, "add", *LIMITS, *carried),
    )
    merge.read([["0", "A", "5"]])  # type: ignore[union-attr]
    assert state.cart.signed_in
    assert state.cart.items().read([]) == {"A": 5}


def test_cluster_keep_takes_the_anonymous_cart_and_carries_its_markers() -> None:
    state = open_state(rules=make_rules(cluster=True), cookie=cart())
    take = state.account.login("alice@example.com", "keep")
    assert take.commands == (script(scripts.CART_TAKE, TAKEN),)
    merge = take.read([[["A", "2", ""], ["m1"]]])
    assert merge.commands == (  # type: ignore[union-attr]
        script(scripts.CART_MERGE, MERGED, "keep", *LIMITS, 0, "m1"),
    )
    merge.read([["0", "C", "1"]])  # type: ignore[union-attr]
    assert state.cart.items().read([]) == {"C": 1}


@pytest.mark.parametrize("cluster", [False, True], ids=["single", "cluster"])
def test_without_an_anonymous_cart_login_renews_the_customers_cart(
    cluster: bool,
) -> None:
    state = open_state(rules=make_rules(cluster=cluster))
    plan = state.account.login("alice@example.com")
    assert plan.commands == (script(scripts.CART_MERGE, MERGED, "add", *LIMITS, 0),)


def test_signed_in_as_another_customer_that_cart_is_never_merged() -> None:
    state = open_state(cookie=cart(CODEC.customer_cart("bob")))
    assert state.cart.signed_in
    plan = state.account.login("alice@example.com", "add")
    assert plan.commands == (script(scripts.CART_MERGE, MERGED, "add", *LIMITS, 0),)


def test_the_cart_cookie_after_login_is_new_and_names_the_customers_cart() -> None:
    state = open_state(cookie=cart())
    state.account.login("alice@example.com").read([["0"]])
    cookie = value_of(set_cookies(state.finish(200, []))["qs_cart"])
    assert CODEC.load_cart(cookie, T, 86400) == ALICE
    assert CODEC.load_cart(cart().partition("=")[2], T, 86400) == CART
    assert cookie != cart().partition("=")[2]


def test_a_customer_cart_id_cannot_be_forged_into_a_cookie() -> None:
    forged = f"qs_cart={ALICE}.{T}"  # unsigned
    state = open_state(cookie=forged)
    assert not state.cart.signed_in and state.cart.id() is None
    foreign = CookieCodec("another-secret-0123456789").dump_cart(ALICE, T)
    assert open_state(cookie=f"qs_cart={foreign}").cart.id() is None


def test_logout_drops_the_cart_cookie_and_sends_nothing() -> None:
    state = open_state(cookie=cart(ALICE))
    assert state.account.signed_in
    state.account.logout()
    assert not state.account.signed_in
    assert dropped(set_cookies(state.finish(200, []))["qs_cart"])


def test_login_then_logout_in_one_request_leaves_no_customer_cookie() -> None:
    state = open_state()
    state.account.login("alice").read([["0"]])
    state.account.logout()
    assert "qs_cart" not in set_cookies(state.finish(200, []))


def test_after_the_response_started_login_and_logout_refuse() -> None:
    state = open_state(cookie=cart())
    state.finish(200, [])
    with pytest.raises(HeadersSentError, match="signed in"):
        state.account.login("alice")
    with pytest.raises(HeadersSentError, match="signed out"):
        state.account.logout()


def test_a_purchase_while_signed_in_empties_the_customers_cart_and_stays() -> None:
    state = open_state(cookie=cart(ALICE))
    plan = state.purchases.record("order-1", 100)
    assert plan.commands == (
        Command("DEL", (f"qs:c:{{{ALICE}}}", f"qs:l:{{{ALICE}}}", f"qs:w:{{{ALICE}}}")),
    )
    plan.read([1])
    assert state.cart.signed_in
    assert state.cart.items().read([]) == {}
    assert "qs_cart" not in set_cookies(state.finish(200, []))


def test_forget_while_signed_in_erases_the_customers_cart_and_signs_out() -> None:
    state = open_state(cookie=cart(ALICE))
    plan = state.forget()
    assert plan.commands == (
        Command("DEL", (f"qs:c:{{{ALICE}}}", f"qs:l:{{{ALICE}}}", f"qs:w:{{{ALICE}}}")),
    )
    plan.read([1])
    assert not state.cart.signed_in
    assert dropped(set_cookies(state.finish(200, []))["qs_cart"])


def test_script_replies_as_lines() -> None:
    assert accounts.lines([]) == {}
    assert accounts.lines([b"A", b"2", "B", "10"]) == {"A": 2, "B": 10}


def test_a_signed_in_cookie_carries_the_generation_its_writes_check() -> None:
    state = open_state()
    state.account.login("alice").read([["3"]])
    cookie = value_of(set_cookies(state.finish(200, []))["qs_cart"])
    later = open_state(cookie=f"qs_cart={cookie}")
    (put,) = later.cart.put("A", 1, add=True).commands
    cart_id = later.cart.id()
    assert put.keys == (
        f"qs:c:{{{cart_id}}}",
        f"qs:l:{{{cart_id}}}",
        f"qs:g:{{{cart_id}}}",
    )
    assert put.args[-4:] == ("", "", 0, "3")  # no options, no write id; the generation
    read = later.cart.items()
    assert read.commands[0] == Command("HGETALL", (f"qs:g:{{{later.cart.id()}}}",))
    assert read.read([{"g": "4"}, {"A": "1"}]) == {}  # signed out everywhere since
    assert not later.cart.signed_in


def test_logout_everywhere_moves_the_generation_in_one_round_trip() -> None:
    state = open_state(cookie=cart(ALICE))
    plan = state.account.logout(everywhere=True)
    assert plan.commands == (
        Command("HINCRBY", (GEN,), ("g", 1)),
        Command("EXPIRE", (GEN,), (90 * 86400,)),  # customer_cart_max_age
    )
    assert not state.cart.signed_in
    assert open_state(cookie=cart()).account.logout(everywhere=True).commands == ()
