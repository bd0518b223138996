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


def _scores(reply: Any) -> dict[str, int]:
    """``ZRANGE … WITHSCORES`` as a dict: a flat RESP2 list or RESP3 pairs."""
    if reply and isinstance(reply[0], (list, tuple)):
        pairs = [(member, score) for member, score in reply]
    else:
        pairs = list(zip(reply[::2], reply[1::2], strict=True))
    return {_text(member): int(float(score)) for member, score in pairs}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
