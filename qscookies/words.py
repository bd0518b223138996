"""Words for people: a count with its noun in the right number."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """*count* and *noun*, the noun plural unless the count is one.

    >>> plural(1, "promotion"), plural(2, "promotion"), plural(0, "day")
    ('1 promotion', '2 promotions', '0 days')
    >>> plural(3, "unique visitor")
    '3 unique visitors'

    :param nouns: the plural, where adding an ``s`` is wrong.
    """
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
