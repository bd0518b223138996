"""The plan values of :mod:`qscookies.core.plan`: :func:`done` and :func:`text`."""

from __future__ import annotations

import pytest

from qscookies.core.plan import Plan
from qscookies.core.plan import done
from qscookies.core.plan import text


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
        plan.commands = (("DEL", "k"),)  # type: ignore[misc]


def test_a_plan_reads_its_replies_in_order() -> None:
    plan: Plan[int] = Plan((("GET", "a"), ("GET", "b")), lambda r: r[0] + r[1])
    assert plan.read([1, 2]) == 3


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
