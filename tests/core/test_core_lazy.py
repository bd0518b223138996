"""``core.lazy``: an attribute built on first use, once, then a plain attribute."""

from __future__ import annotations

from qscookies.core.lazy import lazy


class Built:
    def __init__(self) -> None:
        self.builds = 0

    @lazy
    def value(self) -> list[int]:
        """Built once."""
        self.builds += 1
        return [self.builds]


def test_built_on_first_use_then_kept() -> None:
    first, second = Built(), Built()
    assert first.builds == 0  # nothing built before it is used
    assert first.value is first.value == [1]
    assert first.builds == 1 and vars(first)["value"] == [1]
    assert second.value == [1] and second.value is not first.value


def test_on_the_class_it_is_the_descriptor() -> None:
    assert isinstance(Built.value, lazy)
    assert Built.value.__doc__ == "Built once."
