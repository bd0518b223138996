"""The report's reader: aggregate keys only, in a bounded number of round trips.

It may send only :data:`REPORT_COMMANDS`; it never sees a visitor id, a cart or
an order: only counters and HyperLogLog sketches (layout: :mod:`qscookies.keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..keys import KeySchema
from .client import Guard

#: Every command the promotion report sends.
REPORT_COMMANDS = frozenset({"HGETALL", "PFCOUNT", "ZRANGE"})

#: Kinds of aggregate counter in the per-day hash.
COUNTERS = ("landings", "carts", "purchases", "revenue_cents")


class Reader:
    """Reads the aggregate keys of one shop.

    :param client: a ``redis.Redis``, ``redis.RedisCluster`` or Sentinel client.
    :param prefix: the shop's key prefix.
    """

    def __init__(self, client: Any, *, prefix: str = "qs:") -> None:
        self._guard = Guard(client, REPORT_COMMANDS)
        #: The key layout read.
        self.keys = KeySchema(prefix)

    def close(self) -> None:
        """Close the client's connections."""
        self._guard.close()

    @property
    def is_cluster(self) -> bool:
        """The client is a Redis Cluster client (codes live in different slots)."""
        return self._guard.is_cluster

    def day_indexes(self, days: Sequence[str]) -> list[dict[str, int]]:
        """Each day's promotion index: code -> landings that day.

        One pipelined round trip: ``ZRANGE qs:a:i:<day> 0 -1 WITHSCORES`` per
        day (*days* as ``YYYYMMDD``).
        """
        if not days:
            return []
        replies = self._guard.send(
            [("ZRANGE", self.keys.day_index(day), 0, -1, "WITHSCORES") for day in days]
        )
        return [_scores(reply) for reply in replies]

    def send(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send report commands (:data:`REPORT_COMMANDS` only) in one round trip.

        :raises CommandRefused: any other command, before anything is sent.
        :raises StoreError: Redis answered with an error, or was unreachable.
        """
        return self._guard.send(commands) if commands else []

    def promotion_codes(self, days: Sequence[str]) -> list[str]:
        """The codes in the indexes of *days* (``YYYYMMDD``), sorted.

        One pipelined round trip: a ``ZRANGE`` per day.
        """
        replies = self._guard.send(
            [("ZRANGE", self.keys.day_index(day), 0, -1) for day in days]
        )
        return sorted({_text(code) for codes in replies for code in codes})

    def read_aggregates(
        self, spans: Sequence[tuple[str, Sequence[str]]]
    ) -> list[dict[str, int]]:
        """Read aggregate figures, all in one pipelined round trip.

        Each span is a promotion code and the days (``YYYYMMDD``) it covers. Its
        figures are the :data:`COUNTERS` summed over the days' hashes
        (``HGETALL``), and ``visitors`` and ``returning``: one ``PFCOUNT`` over
        all the span's sketches, so a visitor seen on several days counts once.
        The keys of one code share a hash tag, so this works on Redis Cluster.

        :param spans: ``(code, days)`` pairs, each with at least one day.
        :return: one figures dict per span, in order.
        """
        commands: list[tuple[str, ...]] = []
        for code, days in spans:
            for day in days:
                commands.append(("HGETALL", self.keys.aggregate(code, "d", day)))
            for kind in ("u", "r"):
                keys = [self.keys.aggregate(code, kind, day) for day in days]
                commands.append(("PFCOUNT", *keys))
        replies = iter(self._guard.send(commands) if commands else [])
        figures = []
        for _code, days in spans:
            sums = dict.fromkeys(COUNTERS, 0)
            for _day in days:
                for name, value in next(replies).items():
                    if _text(name) in sums:
                        sums[_text(name)] += int(value)
            sums["visitors"] = int(next(replies))
            sums["returning"] = int(next(replies))
            figures.append(sums)
        return figures

    def count_unique(
        self, spans: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[int, int] | None:
        """Unique ``(visitors, returning)`` over the sketches of every span.

        One round trip, one ``PFCOUNT`` for each. A visitor who landed on two
        promotions counts once. A cluster cannot do this (the codes live in
        different slots), so there nothing is sent and ``None`` returned.

        :param spans: ``(code, days)`` pairs, each with at least one day.
        """
        if self._guard.is_cluster:
            return None
        if not spans:
            return (0, 0)
        visitors, returning = self._guard.send(
            [
                (
                    "PFCOUNT",
                    *(
                        self.keys.aggregate(code, kind, day)
                        for code, days in spans
                        for day in days
                    ),
                )
                for kind in ("u", "r")
            ]
        )
        return int(visitors), int(returning)


def _scores(reply: Any) -> dict[str, int]:
    """``ZRANGE … WITHSCORES`` as a dict: a flat RESP2 list or RESP3 pairs."""
    if reply and isinstance(reply[0], (list, tuple)):
        pairs = [(member, score) for member, score in reply]
    else:
        pairs = list(zip(reply[::2], reply[1::2], strict=True))
    return {_text(member): int(float(score)) for member, score in pairs}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
