"""The cluster survey of ``qscookies check --cluster``: shards and settings.

Its own role, apart from the middleware's: the app store refuses ``CONFIG``
and ``CLUSTER`` (they are not in :data:`~qscookies.store.APP_COMMANDS`), and
nothing here changes that. A :class:`Surveyor` may ask only
:data:`QUESTIONS` (the shard map and two settings, all reads) and only the
``qscookies check`` command opens one, on the client it built itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from ..command import Command
from ..errors import CommandRefused
from ..errors import ConfigurationError
from .client import Guard
from .client import is_cluster
from .faults import FAILURES
from .faults import translate

#: The commands a :class:`Surveyor` sends, by name: each only as in :data:`QUESTIONS`.
SURVEY_COMMANDS = frozenset({"CLUSTER", "CONFIG"})

#: The settings a :class:`Surveyor` may read, on every node.
SETTINGS = ("cluster-require-full-coverage", "cluster-node-timeout")

#: Everything a :class:`Surveyor` may ask: reads, never ``CONFIG SET``.
QUESTIONS: frozenset[tuple[str, ...]] = frozenset(
    {
        ("CLUSTER", "SHARDS"),
        ("CLUSTER", "SLOTS"),
        *(("CONFIG", "GET", name) for name in SETTINGS),
    }
)


@dataclass(frozen=True)
class Shard:
    """One master of a cluster and its replicas, as the cluster reports them."""

    #: ``host:port`` of the master.
    master: str
    #: The slot ranges it serves, each ``(first, last)``, both included.
    slots: tuple[tuple[int, int], ...]
    #: How many of its replicas are online (``CLUSTER SHARDS``: ``health``
    #: ``online``; ``CLUSTER SLOTS`` lists only replicas not marked failing).
    replicas: int
    #: The master is online; ``None`` when the reply does not say (``SLOTS``).
    online: bool | None = None


class Surveyor:
    """Reads a Redis Cluster's shard map and failover settings.

    :param client: a ``redis.RedisCluster`` (sync).
    :raises ConfigurationError: *client* is not a cluster client.
    """

    def __init__(self, client: Any) -> None:
        if not is_cluster(client):
            raise ConfigurationError("the survey needs a Redis Cluster client")
        self._client = client
        self._guard = Guard(client, SURVEY_COMMANDS)

    def shards(self) -> tuple[str, list[Shard]]:
        """The masters and their online replicas, and the command that said so.

        ``CLUSTER SHARDS`` (Redis 7), else ``CLUSTER SLOTS`` (Redis 6.2, or a
        user allowed only ``cluster|slots``, as ``qscookies acl --cluster``
        gives), one round trip each, to one node.

        :raises StoreError: both refused, or Redis unreachable.
        """
        try:
            return "CLUSTER SHARDS", list(_from_shards(self._ask("CLUSTER", "SHARDS")))
        except redis.ResponseError:  # 6.2: no such subcommand; or NOPERM
            pass
        except FAILURES as error:
            raise translate(error) from error
        try:
            return "CLUSTER SLOTS", _from_slots(self._ask("CLUSTER", "SLOTS"))
        except FAILURES as error:
            raise translate(error) from error

    def settings(self) -> dict[str, dict[str, str | None]]:
        """Each of :data:`SETTINGS` on each node the client knows, by ``host:port``.

        ``None`` for a node that would not say (``CONFIG`` refused to the user,
        or the node unreachable). One ``CONFIG GET`` per setting and node.
        """
        found: dict[str, dict[str, str | None]] = {}
        for name in SETTINGS:
            found[name] = {}
            for node in self._client.get_nodes():
                try:
                    reply = self._ask("CONFIG", "GET", name, target_nodes=node)
                except FAILURES:
                    reply = None
                found[name][node.name] = _config_value(reply)
        return found

    def _ask(self, *question: str, **routing: Any) -> Any:
        """Send one of :data:`QUESTIONS`; refuse anything else before sending."""
        self._guard.check([Command(question[0], args=question[1:])])
        if question not in QUESTIONS:
            raise CommandRefused(" ".join(question))
        return self._client.execute_command(*question, **routing)


def _from_shards(reply: Any) -> Iterator[Shard]:
    """:class:`Shard` records from a ``CLUSTER SHARDS`` reply.

    Sent as two words, the command gets no redis-py reply callback: each shard
    is the server's own ``slots``, ``[first, last, ...]``, ``nodes``, and each
    node a flat list of names and values (RESP2).
    """
    for entry in reply:
        shard = _pairs(entry)
        nodes = [_pairs(node) for node in shard["nodes"]]
        masters = [node for node in nodes if node.get("role") == "master"]
        if not masters:
            continue
        master = masters[0]
        replicas = [n for n in nodes if n.get("role") == "replica"]
        bounds = [int(slot) for slot in shard["slots"]]
        yield Shard(
            f"{master.get('endpoint') or master['ip']}:{master['port']}",
            tuple(zip(bounds[::2], bounds[1::2], strict=True)),
            sum(1 for n in replicas if n.get("health") == "online"),
            master.get("health") == "online",
        )


def _from_slots(reply: Any) -> list[Shard]:
    """:class:`Shard` records from a ``CLUSTER SLOTS`` reply (no callback):
    each range is ``[first, last, master, replica...]``, each node
    ``[ip, port, id, ...]``."""
    by_master: dict[str, list[tuple[int, int]]] = {}
    replicas: dict[str, int] = {}
    for first, last, (host, port, *_), *others in sorted(reply):
        master = f"{host}:{port}"
        by_master.setdefault(master, []).append((int(first), int(last)))
        replicas[master] = max(replicas.get(master, 0), len(others))
    return [Shard(m, tuple(s), replicas[m]) for m, s in by_master.items()]


def _pairs(reply: Any) -> dict[str, Any]:
    """A flat ``[name, value, ...]`` reply as a dict."""
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _config_value(reply: Any) -> str | None:
    """The value of a ``CONFIG GET name`` reply (a list or a dict), if any."""
    if isinstance(reply, dict):
        values = list(reply.values())
    elif isinstance(reply, list):
        values = reply[1::2]
    else:
        return None
    return str(values[0]) if values else None
