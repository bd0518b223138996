"""A bounded memo: what a request would compute again, remembered within a limit.

A browser sends the same cookie values on every request of a visit, so what
they say (verified, parsed) is worth remembering between requests; but what a
client sends must never grow memory without bound, so a memo holds at most
its limit of entries and forgets all of them when it is full. Forgetting all
at once costs one ``clear`` instead of the bookkeeping of a least-recently-used
order on every read: reads stay one dict lookup, and under a flood of values
never seen again the memo only misses, as if there were none.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict of at most *most* entries (read it with ``get``, fill it with
    :meth:`keep`); safe to share between threads (each call is one dict
    operation).

    Hold only immutable values in it: every reader gets the same object.

    :param most: the most entries it holds before it forgets them all.
    """

    __slots__ = ("most",)

    def __init__(self, most: int) -> None:
        super().__init__()
        #: The most entries it holds.
        self.most = most

    def keep(self, key: K, value: V) -> V:
        """Remember *value* under *key* (forgetting all first when full); answer it."""
        if len(self) >= self.most:
            self.clear()
        self[key] = value
        return value
