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
    ("allowed", "count", "summary"),
    [
        (None, 1, "not verified: Redis would not say for 1 command"),
        (None, 2, "not verified: Redis would not say for 2 commands"),
        (False, 1, "locked in: all 1 export command refused"),
        (False, 2, "locked in: all 2 export commands refused"),
    ],
)
def test_check_summary_counts_commands_in_the_right_number(
    allowed: bool | None, count: int, summary: str
) -> None:
    verdicts = tuple(Verdict(f"DUMP key{n}", allowed) for n in range(count))
    result = CheckResult(user="u", method="ACL DRYRUN", verdicts=verdicts)
    assert result.summary() == summary
