"""The middleware's store: runs the request core's commands, sync.

Two policies, one per kind of write:

- :meth:`AppStore.send` is for what the application asked for (cart reads and
  writes, purchases, ``forget``): every failure, an unreachable Redis or any
  error reply (``OOM``, ``NOPERM``, ``READONLY``, ``LOADING``, ``WRONGTYPE``…),
  raises :class:`~qscookies.errors.StoreUnavailable` after one log line that
  names the cause, so the visitor gets a ``503``, never a silent loss. With
  ``durable_writes``, a cart write also waits for that many replicas
  (``WAIT``, pipelined in the same round trip) and fewer is a failure too;
- :meth:`AppStore.track` is for tracking: it never raises. After a failure
  tracking pauses for ``retry_interval`` (a :class:`Breaker` on the injected
  clock; on a cluster, only on the node that failed: the commands for the
  other nodes are still sent), and the pause is logged once per interval.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any

from ..command import Command
from ..errors import CommandRefused
from ..errors import NotSent
from ..errors import StoreError
from ..errors import StoreUnavailable
from ..scripts.library import NAME
from .client import Guard
from .client import Wait
from .pool import without_retries
from .scripting import missing_library

log = logging.getLogger("qscookies")

#: Every command the middleware sends. Anything else is refused before sending.
APP_COMMANDS = frozenset(
    {
        "DEL",
        "EVAL",
        "EVALSHA",
        "EXPIRE",
        "HDEL",
        "HGETALL",
        "HINCRBY",
        "PFADD",
        "WAIT",
        "ZINCRBY",
    }
)

_COMMAND = re.compile(r"run the '([a-z_|]+)' command")


def cause(error: StoreError, prefix: str) -> str:
    """One line on why Redis failed a command, for an operator.

    ``NOPERM`` is a configuration error and names the missing ACL rule.
    """
    if error.reply == "NOPERM":
        command = _COMMAND.search(str(error))
        rule = f"+{command.group(1)}" if command else f"~{prefix}*"
        return (
            f"configuration error: the Redis user is refused ({rule} missing);"
            " apply the rules of `qscookies acl`"
        )
    if error.reply == "AUTH":
        return "configuration error: Redis refused the user name or password"
    if missing_library(error):
        return (
            f"configuration error: the function library {NAME} is not loaded on"
            " this server; load it with `qscookies functions`"
        )
    if error.reply == "WAIT":
        return f"{error} (durable_writes): the write may be on the master only"
    if error.reply == "POOL":
        return f"{error}: Redis was not asked; raise max_connections if it lasts"
    if error.reply == "OOM":
        return "Redis is full (OOM: maxmemory reached and nothing may be evicted)"
    if error.reply:
        return f"Redis answered {error.reply}: {error}"
    return str(error)


class Breaker:
    """Skips tracking for *retry_interval* seconds after a failure, per node.

    A full connection pool (``POOL``) is not Redis failing: nothing pauses.

    On a cluster each node (``host:port``) pauses on its own: a failing shard
    stops only the tracking writes and cart reads that need it. Off a cluster
    there is one nameless node. Reads time through *clock*, so tests move time
    instead of sleeping.
    """

    def __init__(
        self, retry_interval: float, clock: Callable[[], float], prefix: str
    ) -> None:
        self.retry_interval = retry_interval
        self._clock = clock
        self._prefix = prefix
        self._until: dict[str, float] = {}  # paused node -> end of its pause
        self._skipped = 0
        self._pool_logged = 0.0  # no pool-full line before then
        self._pool_drops = 0

    def paused(self, nodes: Collection[str]) -> frozenset[str]:
        """Those of *nodes* whose tracking is paused now (a request that skips
        some is counted for the log)."""
        if not self._until:
            return frozenset()
        now = self._clock()
        paused = frozenset(node for node in nodes if now < self._until.get(node, 0.0))
        if paused:
            self._skipped += 1
        return paused

    def failed(self, error: StoreError, nodes: Collection[str]) -> None:
        """A tracking write to *nodes* failed: pause the nodes that failed
        (those the error names, else all of *nodes*), and log once per interval."""
        if error.reply == "POOL":  # our pool was full: Redis is not at fault
            self._pool_full(error)
            return
        failed = error.nodes or nodes
        if not self._until:
            log.warning(
                "qscookies: tracking paused%s"
                " (cart reads with a default answer it): %s",
                _on(failed),
                cause(error, self._prefix),
            )
        elif self._skipped:
            log.warning(
                "qscookies: tracking still paused%s; %d page views not tracked",
                _on(self._until),
                self._skipped,
            )
            self._skipped = 0
        until = self._clock() + self.retry_interval
        self._until.update(dict.fromkeys(failed, until))

    def _pool_full(self, error: StoreError) -> None:
        """A tracking write found the connection pool full: no pause; logged
        once per ``retry_interval``, with the writes dropped since."""
        self._pool_drops += 1
        now = self._clock()
        if now >= self._pool_logged:
            log.warning(
                "qscookies: tracking write dropped (%d since the last line): %s",
                self._pool_drops,
                cause(error, self._prefix),
            )
            self._pool_logged, self._pool_drops = now + self.retry_interval, 0

    def succeeded(self, nodes: Collection[str]) -> None:
        """A tracking write to *nodes* went through: resume them, and forget
        the pauses that ran out (a node gone in a failover is never written
        to again)."""
        if not self._until:
            return
        now = self._clock()
        self._until = {
            node: until
            for node, until in self._until.items()
            if node not in nodes and now < until
        }
        if not self._until:
            log.warning(
                "qscookies: Redis back, tracking resumed; %d page views not tracked",
                self._skipped,
            )
            self._skipped = 0


def _on(nodes: Collection[str]) -> str:
    """`` on host:port, …`` for a log line; nothing off a cluster."""
    named = sorted(node for node in nodes if node)
    return f" on {', '.join(named)}" if named else ""


def unavailable(error: StoreError, prefix: str) -> StoreUnavailable:
    """Log one line naming the cause, and the error the application sees."""
    reason = cause(error, prefix)
    log.error("qscookies: a cart write or read failed: %s", reason)
    return StoreUnavailable(
        reason, original_error=error.original_error or error, reply=error.reply
    )


class _Route:
    """The commands of a tracking send that go out: the others' nodes are paused.

    :param sent: the positions of the commands sent.
    :param nodes: the nodes they go to.
    :param paused: the paused nodes of the others.
    """

    __slots__ = ("nodes", "paused", "sent")

    def __init__(
        self, sent: list[int], nodes: frozenset[str], paused: frozenset[str]
    ) -> None:
        self.sent, self.nodes, self.paused = sent, nodes, paused

    def pick(self, commands: Sequence[Command]) -> list[Command]:
        """The commands sent, in order."""
        if not self.paused:
            return list(commands)
        return [commands[index] for index in self.sent]

    def replies(self, count: int, replies: list[Any]) -> list[Any]:
        """The *count* replies of all the commands: the replies of those sent,
        and a :class:`~qscookies.errors.NotSent` for each of the others."""
        if not self.paused:
            return replies
        skipped = NotSent(f"tracking paused{_on(self.paused)}", nodes=self.paused)
        every: list[Any] = [skipped] * count
        for index, reply in zip(self.sent, replies, strict=True):
            every[index] = reply
        return every


class _AppStoreBase:
    """What the sync and the asyncio app stores share: the guard and the breaker.

    :param client: the Redis client, of the kind :attr:`_guard_class` guards;
        one that retries is not used as it is but through a client of the
        store's own without retries (:func:`~qscookies.store.pool.without_retries`).
    :param prefix: the key prefix: every key the store sends starts with it
        (else :class:`~qscookies.errors.CommandRefused`), and configuration
        errors name it.
    :param retry_interval: seconds tracking pauses after a failed write.
    :param clock: the clock of the breaker, Unix seconds.
    :param durable_writes: replicas that must confirm a cart write (0: none).
    :param wait_ms: how long a cart write waits for them, in milliseconds.
    :param owned: the store owns *client* (:meth:`close` closes it; a twin
        of its own it always closes).
    """

    _guard_class: Any

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        retry_interval: float,
        clock: Callable[[], float] = time.time,
        durable_writes: int = 0,
        wait_ms: int = 100,
        owned: bool = True,
    ) -> None:
        guarded = without_retries(client)
        # close() closes the guarded client: ours, or a twin of ours
        closes = owned or guarded is not client
        # its own pool (ours, or a twin of ours): the lane may hold a connection
        self._guard = self._guard_class(
            guarded, APP_COMMANDS, owned=closes, hold=closes, prefix=prefix
        )
        self._prefix = prefix
        self._breaker = Breaker(retry_interval, clock, prefix)
        self._replicas = durable_writes
        self._wait_ms = wait_ms

    def _wait(self, durable: str | None) -> Wait | None:
        """The ``WAIT`` after a write of the cart key *durable*, if any."""
        if durable is None or not self._replicas:
            return None
        return Wait(self._replicas, self._wait_ms, durable)

    def _confirmed(self, replies: list[Any], wait: Wait) -> list[Any]:
        """*replies* without the ``WAIT``'s, once enough replicas confirmed.

        :raises StoreUnavailable: fewer replicas confirmed in time.
        """
        confirmed = int(replies.pop())
        if confirmed < wait.replicas:
            error = StoreError(
                f"{confirmed} of {wait.replicas} replicas confirmed a cart write"
                f" within {wait.timeout_ms} ms",
                reply="WAIT",
            )
            raise unavailable(error, self._prefix)
        return replies

    def _unpaused(self, commands: Sequence[Command]) -> _Route | None:
        """Which of *commands* tracking may send now: ``None`` when none (all
        their nodes paused)."""
        nodes = self._guard.nodes(commands)
        paused = self._breaker.paused(nodes)
        if not paused:
            return _Route(list(range(len(commands))), frozenset(nodes), paused)
        sent = [index for index, node in enumerate(nodes) if node not in paused]
        if not sent:
            return None
        return _Route(sent, frozenset(nodes) - paused, paused)

    @property
    def is_cluster(self) -> bool:
        """The client is a Redis Cluster client."""
        return bool(self._guard.is_cluster)

    def use_functions(self, on: bool) -> None:
        """Call the scripts as the library's functions (``FCALL``, Redis 7.0
        on) if *on*, else by ``EVALSHA``: what the start-up check learnt of
        the server. Without it the store learns from the first replies (see
        :mod:`~qscookies.store.scripting`)."""
        self._guard.use_functions(on)

    def describe(self) -> str:
        """Where the store connects and as whom (no password)."""
        return str(self._guard.describe())


class AppStore(_AppStoreBase):
    """The middleware's access to Redis, limited to :data:`APP_COMMANDS`.

    Takes a ``redis.Redis``, ``redis.RedisCluster`` or Sentinel client; see
    :class:`_AppStoreBase` for the parameters.
    """

    _guard_class = Guard
    _guard: Guard

    def send(
        self, commands: Sequence[Command], durable: str | None = None
    ) -> list[Any]:
        """Send what the application needs, in one round trip.

        :param durable: the cart key the commands write: with
            ``durable_writes``, its replicas must confirm (``WAIT``).
        :raises StoreUnavailable: Redis failed it, whatever the reason, or too
            few replicas confirmed the write in time.
        """
        wait = self._wait(durable) if durable else None  # a read waits for none
        try:
            replies = self._guard.send(commands, wait=wait)
        except CommandRefused:
            raise  # a bug of ours, not an outage
        except StoreError as error:
            raise unavailable(error, self._prefix) from error
        return replies if wait is None else self._confirmed(replies, wait)

    def track(self, commands: Sequence[Command]) -> list[Any] | None:
        """Send tracking writes in one round trip; ``None`` when not stored
        (a node they need failed now, or all of them less than
        ``retry_interval`` ago).

        On a cluster only the commands for a paused node are skipped: their
        replies are a :class:`~qscookies.errors.NotSent`, the others' as sent.
        """
        route = self._unpaused(commands)
        if route is None:
            return None
        try:
            replies = self._guard.send(route.pick(commands))
        except CommandRefused:
            raise
        except StoreError as error:
            self._breaker.failed(error, route.nodes)
            return None
        self._breaker.succeeded(route.nodes)
        return route.replies(len(commands), replies)

    def close(self) -> None:
        """Close the client's connections if the store owns them."""
        self._guard.close()
