"""The commands that move one UTC day's aggregates: counters, sketches, index."""

from __future__ import annotations

import time

from ..command import Command
from ..keys import KeySchema


def utc_day(timestamp: float) -> str:
    """The UTC day of a Unix time, as ``YYYYMMDD``."""
    return time.strftime("%Y%m%d", time.gmtime(timestamp))


class Day:
    """Builds the aggregate writes of one UTC day; every key gets its TTL.

    :param keys: the key layout.
    :param now: a Unix time of the day.
    :param ttl: seconds the aggregates are kept (``aggregate_max_age``).
    """

    __slots__ = ("_day", "_now", "keys", "ttl")

    def __init__(self, keys: KeySchema, now: float, ttl: int) -> None:
        self.keys = keys
        self.ttl = ttl
        self._now = now
        self._day = ""

    @property
    def day(self) -> str:
        """The day, ``YYYYMMDD`` (worked out on first use: most requests write
        nothing)."""
        if not self._day:
            self._day = utc_day(self._now)
        return self._day

    def count(self, code: str, counter: str, by: int = 1) -> list[Command]:
        """Move one counter of *code*'s day hash."""
        key = self.keys.aggregate(code, "d", self.day)
        return [
            Command("HINCRBY", (key,), (counter, by)),
            Command("EXPIRE", (key,), (self.ttl,)),
        ]

    def counts(self, code: str, fields: dict[str, int]) -> list[Command]:
        """Move several fields of *code*'s day hash (one ``EXPIRE``)."""
        key = self.keys.aggregate(code, "d", self.day)
        keys = (key,)
        moves = [Command("HINCRBY", keys, (f, by)) for f, by in fields.items()]
        return [*moves, Command("EXPIRE", keys, (self.ttl,))]

    def sketch(
        self, code: str, kind: str, member: str, pair: str | None = None
    ) -> list[Command]:
        """Add a keyed visitor hash to *code*'s ``u`` or ``r`` sketch (of one
        *pair*, when given)."""
        key = (
            self.keys.aggregate(code, kind, self.day)
            if pair is None
            else self.keys.pair_sketch(code, kind, self.day, pair)
        )
        return [
            Command("PFADD", (key,), (member,)),
            Command("EXPIRE", (key,), (self.ttl,)),
        ]

    def indexed(self, code: str, pair: str | None = None) -> list[Command]:
        """Name an attributed code in the day's credit index (score 0).

        A cart, purchase or returning visit counted on a day without a landing
        of that code must still be found by a report of that day; so must its
        *pair* in the pair index (``HINCRBY … 0``). Never the day's index:
        only a counted landing admits a code there, so credits never use up
        ``max_promotions_per_day``. Both come from a signed cookie, set only
        by a counted landing: this adds no unbounded input.
        """
        key = self.keys.credit_index(self.day)
        named = [
            Command("ZINCRBY", (key,), (0, code)),
            Command("EXPIRE", (key,), (self.ttl,)),
        ]
        if pair is None:
            return named
        pairs = self.keys.pair_index(self.day)
        return [
            *named,
            Command("HINCRBY", (pairs,), (f"{code}@{pair}", 0)),
            Command("EXPIRE", (pairs,), (self.ttl,)),
        ]
