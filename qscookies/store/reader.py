"""The report's reader: aggregate keys only, in a bounded number of round trips.

It may send only :data:`REPORT_COMMANDS`; it never sees a visitor id, a cart or
an order: only counters and HyperLogLog sketches (layout: :mod:`qscookies.keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..command import Command
from ..keys import KeySchema
from .client import Guard

#: Every command the promotion report sends.
REPORT_COMMANDS = frozenset({"HGETALL", "PFCOUNT", "ZRANGE"})


class Reader:
    """Reads the aggregate keys of one shop.

    :param client: a ``redis.Redis``, ``redis.RedisCluster`` or Sentinel client.
    :param prefix: the shop's key prefix.
    """

    def __init__(self, client: Any, *, prefix: str = "qs:") -> None:
        self._guard = Guard(client, REPORT_COMMANDS, prefix=prefix)
        #: The key layout read.
        self.keys = KeySchema(prefix)

    def close(self) -> None:
        """Close the client's connections."""
        self._guard.close()

    @property
    def is_cluster(self) -> bool:
        """The client is a Redis Cluster client (codes live in different slots)."""
        return self._guard.is_cluster

    def indexes(
        self, days: Sequence[str], *, pairs: bool = False
    ) -> tuple[list[dict[str, int]], list[dict[str, dict[str, int]]]]:
        """Each day's promotion index (code -> landings that day) and, with
        *pairs*, its pair index (code -> pair -> landings; else empty).

        One pipelined round trip: ``ZRANGE qs:a:i:<day> 0 -1 WITHSCORES`` per
        day (*days* as ``YYYYMMDD``) and ``ZRANGE qs:a:k:<day> 0 -1`` (codes
        only credited that day, with 0 landings), and ``HGETALL`` of each
        day's pair index.
        """
        if not days:
            return [], []
        count = len(days)
        keys = self.keys
        commands = [
            Command("ZRANGE", (keys.day_index(day),), (0, -1, "WITHSCORES"))
            for day in days
        ]
        commands += [
            Command("ZRANGE", (keys.credit_index(day),), (0, -1)) for day in days
        ]
        if pairs:
            commands += [Command("HGETALL", (keys.pair_index(day),)) for day in days]
        replies = self._guard.send(commands)
        indexes = [
            {**dict.fromkeys(map(_text, credited), 0), **_scores(landed)}
            for landed, credited in zip(
                replies[:count], replies[count : 2 * count], strict=True
            )
        ]
        named = [_pairs(reply) for reply in replies[2 * count :]]
        return indexes, named or [{} for _ in days]

    def send(self, commands: Sequence[Command]) -> list[Any]:
        """Send report commands (:data:`REPORT_COMMANDS` only, on keys of the
        prefix only) in one round trip.

        :raises CommandRefused: any other command, before anything is sent.
        :raises StoreError: Redis answered with an error, or was unreachable.
        """
        return self._guard.send(commands) if commands else []


def _scores(reply: Any) -> dict[str, int]:
    """``ZRANGE … WITHSCORES`` as a dict: a flat RESP2 list or RESP3 pairs."""
    if reply and isinstance(reply[0], (list, tuple)):
        pairs = [(member, score) for member, score in reply]
    else:
        pairs = list(zip(reply[::2], reply[1::2], strict=True))
    return {_text(member): int(float(score)) for member, score in pairs}


def _pairs(reply: Any) -> dict[str, dict[str, int]]:
    """A pair index as code -> pair -> landings (its per-code tallies left out)."""
    pairs: dict[str, dict[str, int]] = {}
    for name, value in (reply or {}).items():
        code, at, pair = _text(name).partition("@")
        if at:
            pairs.setdefault(code, {})[pair] = int(value)
    return pairs


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
