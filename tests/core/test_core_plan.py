"""The plan values of :mod:`qscookies.core.plan`: commands, done, both, then, text."""

from __future__ import annotations

import pytest

from qscookies.command import Command
from qscookies.command import script
from qscookies.core.plan import Plan
from qscookies.core.plan import both
from qscookies.core.plan import done
from qscookies.core.plan import text
from qscookies.core.plan import then


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param(0, id="zero"),
        pytest.param({"a": 1}, id="dict"),
        pytest.param(False, id="false"),
    ],
)
def test_done_sends_nothing_and_answers_the_value(value: object) -> None:
    plan = done(value)
    assert isinstance(plan, Plan)
    assert plan.commands == ()
    assert plan.read([]) is value


def test_done_ignores_any_replies() -> None:
    assert done(7).read(["ignored", 1]) == 7


def test_a_plan_is_frozen() -> None:
    plan = done(1)
    with pytest.raises(AttributeError):
        plan.commands = (Command("DEL", ("k",)),)  # type: ignore[misc]


def test_a_command_names_its_parts() -> None:
    command = Command("HINCRBY", ("qs:a",), ("landings", 1))
    assert (command.name, command.keys, command.args) == (
        "HINCRBY",
        ("qs:a",),
        ("landings", 1),
    )
    assert command.script is None
    lua = script("return 1", ("qs:a", "qs:b"), "x")
    assert (lua.name, lua.keys, lua.args, lua.script) == (
        "EVAL",
        ("qs:a", "qs:b"),
        ("x",),
        "return 1",
    )
    with pytest.raises(AttributeError):
        command.name = "DEL"  # type: ignore[misc]


def test_a_plan_reads_its_replies_in_order() -> None:
    plan: Plan[int] = Plan((GET_A, GET_B), lambda r: r[0] + r[1])
    assert plan.read([1, 2]) == 3


GET_A, GET_B, GET_C = (Command("GET", (key,)) for key in ("qs:a", "qs:b", "qs:c"))


def test_both_sends_the_commands_of_two_plans_and_splits_the_replies() -> None:
    first: Plan[list[int]] = Plan((GET_A, GET_B), list)
    second: Plan[list[int]] = Plan((GET_C,), list)
    joined = both(first, second)
    assert joined.commands == (GET_A, GET_B, GET_C)
    assert joined.read([1, 2, 3]) == ([1, 2], [3])


def test_both_with_a_plan_that_sends_nothing() -> None:
    joined = both(done("x"), Plan((GET_A,), list))
    assert joined.commands == (GET_A,)
    assert joined.read([1]) == ("x", [1])
    assert both(done(1), done(2)).read([]) == (1, 2)


def test_both_keeps_the_durable_key() -> None:
    durable: Plan[None] = Plan((GET_A,), lambda _: None, durable="qs:c:{x}")
    assert both(done(1), durable).durable == "qs:c:{x}"
    assert both(durable, done(1)).durable == "qs:c:{x}"


def test_both_refuses_two_durable_keys() -> None:
    """One round trip waits for the replicas of one key's server: two plans
    writing two cart keys never share it (the same key may)."""
    cart: Plan[None] = Plan((GET_A,), lambda _: None, durable="qs:c:{x}")
    other: Plan[None] = Plan((GET_B,), lambda _: None, durable="qs:c:{y}")
    assert both(cart, cart).durable == "qs:c:{x}"
    with pytest.raises(ValueError, match="one cart key"):
        both(cart, other)


def test_the_plans_two_plans_lead_to_follow_together() -> None:
    """Nested: the second round trip holds both follow-ups, split again."""
    leads: Plan[int] = Plan((GET_A,), lambda r: Plan((GET_B,), lambda s: r[0] + s[0]))
    plain: Plan[int] = Plan((GET_C,), lambda r: r[0] * 10)
    joined = both(leads, plain)
    assert joined.commands == (GET_A, GET_C)
    after = joined.read([1, 2])
    assert isinstance(after, Plan)
    assert after.commands == (GET_B,)  # only the follow-up that sends
    assert after.read([5]) == (6, 20)
    nested = both(joined, both(plain, leads))
    assert nested.commands == (GET_A, GET_C, GET_C, GET_A)
    second = nested.read([1, 2, 3, 4])
    assert isinstance(second, Plan)
    assert second.commands == (GET_B, GET_B)
    assert second.read([10, 20]) == ((11, 20), (30, 24))


def test_then_after_both() -> None:
    joined = then(both(Plan((GET_A,), list), done(2)), lambda pair: pair[1])
    assert joined.read([1]) == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(b"SUMMER", "SUMMER", id="bytes"),
        pytest.param("SUMMER", "SUMMER", id="str"),
        pytest.param(b"", "", id="empty-bytes"),
        pytest.param("", "", id="empty-str"),
        pytest.param("caf\u00e9".encode(), "caf\u00e9", id="utf8-bytes"),
        pytest.param("caf\u00e9", "caf\u00e9", id="non-ascii-str"),
    ],
)
def test_text(reply: str | bytes, expected: str) -> None:
    assert text(reply) == expected
