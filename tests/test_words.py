"""plural: the noun in the right number, wherever a count is printed."""

from __future__ import annotations

import pytest

from qscookies.check import CheckResult
from qscookies.check import Verdict
from qscookies.words import plural


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (0, "promotion", "0 promotions"),
        (1, "promotion", "1 promotion"),
        (2, "promotion", "2 promotions"),
        (1, "unique visitor", "1 unique visitor"),
        (21, "unique visitor", "21 unique visitors"),
    ],
)
def test_plural(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


def test_plural_of_an_irregular_noun() -> None:
    assert plural(1, "child", "children") == "1 child"
    assert plural(3, "child", "children") == "3 children"


@pytest.mark.parametrize(
    ("verdicts", "summary"),
    [
        pytest.param(
            [Verdict("DUMP k", None)],
            "not verified: Redis would not say for 1 command",
            id="one-unknown",
        ),
        pytest.param(
            [Verdict("DUMP k", None), Verdict("SCAN 0", None)],
            "not verified: Redis would not say for 2 commands",
            id="two-unknown",
        ),
        pytest.param(
            [Verdict("DUMP k", False)],
            "locked in: all 1 export command refused",
            id="one-refused",
        ),
        pytest.param(
            [Verdict("DUMP k", False), Verdict("SCAN 0", False)],
            "locked in: all 2 export commands refused",
            id="two-refused",
        ),
    ],
)
def test_check_summary_counts_commands_in_the_right_number(
    verdicts: list[Verdict], summary: str
) -> None:
    result = CheckResult(user="u", method="ACL DRYRUN", verdicts=tuple(verdicts))
    assert result.summary() == summary
