"""Opening Redis clients, and the guard every command passes through.

:class:`Guard` is the one path from qscookies to a Redis client: it refuses any
command outside its role's allow-list before anything is sent, sends a plan's
commands in one round trip (scripts as functions or by SHA1, see
:mod:`~qscookies.store.scripting`),
and turns redis-py's exceptions into :class:`~qscookies.errors.StoreError`.
The raw client stays private: no public object hands it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from ..command import Command
from ..errors import CommandRefused
from ..errors import ConfigurationError
from . import cluster
from .faults import FAILURES
from .faults import checked
from .faults import lost_error
from .faults import translate
from .lane import Lane
from .lane import lean
from .pool import AsyncBlockingPool
from .pool import BlockingPool
from .scripting import Runner
from .scripting import Wire
from .scripting import sendable
from .scripting import wire


@dataclass(frozen=True, slots=True)
class Wait:
    """A ``WAIT`` sent after a write, on the write's connection.

    *replicas* must confirm every write of that connection within
    *timeout_ms*; on a cluster it goes to the node of *key*, the written key.
    """

    replicas: int
    timeout_ms: int
    key: str

    @property
    def command(self) -> Command:
        """The command: ``WAIT numreplicas timeout``."""
        return Command("WAIT", (), (self.replicas, self.timeout_ms))


def client_options(
    socket_timeout: float, *, asynchronous: bool = False
) -> dict[str, Any]:
    """The options of every client qscookies opens: fail fast, never retry.

    Connect and reply timeouts are *socket_timeout*; no retries (a retried
    ``HINCRBY`` could count twice), by a retry policy of the client's kind
    (*asynchronous*: redis-py 8.2 warns of a synchronous one given to an
    asyncio client); RESP2 and no client-name handshake, so a connection
    opened (or reopened) on a request's path sends only our own commands: no
    ``HELLO``, ``CLIENT SETINFO`` or ``CLIENT MAINT_NOTIFICATIONS`` (``AUTH``
    and ``SELECT`` only when the URL asks for them).
    """
    return dict(
        protocol=2,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=(AsyncRetry if asynchronous else Retry)(NoBackoff(), 0),
        decode_responses=True,
        driver_info=None,
    )


def connect(
    url: str,
    *,
    socket_timeout: float,
    cluster: bool = False,
    max_connections: int | None = None,
) -> Any:
    """Open a client for *url* that fails fast instead of hanging the shop.

    :param cluster: a ``redis.RedisCluster`` that finds the other nodes from
        the one in *url*, instead of a single-server ``redis.Redis``.
    :param max_connections: the size of a single server's pool, which then
        waits up to *socket_timeout* for a free connection (see
        :mod:`~qscookies.store.pool`); ``None``: redis-py's pool.
    """
    options = client_options(socket_timeout)
    if cluster:
        return RedisCluster.from_url(url, **options)
    if max_connections is None:
        return redis.Redis.from_url(url, **options)
    pool = BlockingPool.from_url(
        url, max_connections=max_connections, timeout=socket_timeout, **options
    )
    return redis.Redis.from_pool(pool)


def aconnect(url: str, *, socket_timeout: float, max_connections: int) -> Any:
    """:func:`connect` for the ASGI door: a ``redis.asyncio.Redis`` for *url*,
    on a pool of *max_connections* that waits for a free one."""
    pool = AsyncBlockingPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        **client_options(socket_timeout, asynchronous=True),
    )
    return redis.asyncio.Redis.from_pool(pool)


def open_client(
    redis_url: str | None,
    client: Any,
    *,
    socket_timeout: float,
    max_connections: int | None = None,
) -> tuple[Any, bool]:
    """The client for exactly one of *redis_url* and *client*, and whether we own it.

    :param max_connections: the pool size of a client opened from *redis_url*
        (see :func:`connect`).
    :raises ConfigurationError: both or neither given, or a malformed URL.
    """
    if (redis_url is None) == (client is None):
        raise ConfigurationError("pass exactly one of redis_url= and redis=")
    if client is not None:
        return client, False
    try:
        client = connect(
            str(redis_url),
            socket_timeout=socket_timeout,
            max_connections=max_connections,
        )
    except ValueError as error:
        raise ConfigurationError(
            f"bad Redis URL: {error}", setting="redis_url"
        ) from error
    return client, True


def is_cluster(client: Any) -> bool:
    """The client is a Redis Cluster client (sync or asyncio)."""
    return isinstance(client, (redis.RedisCluster, redis.asyncio.RedisCluster))


def describe(client: Any) -> str:
    """Where a client connects and as whom, never with its password."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", {}) if pool else {}
    where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
    if is_cluster(client):
        where = "a Redis Cluster"
    user = kwargs.get("username") or "default"
    return f"{where} as user {user!r}"


class _GuardBase:
    """The parts of a guard that do no I/O: the allow-list, the key namespace
    and the client's kind."""

    __slots__ = ("_client", "_cluster", "_runner", "allowed", "prefix")

    def __init__(
        self, client: Any, allowed: frozenset[str], prefix: str | None = None
    ) -> None:
        self._client = client
        self._cluster = is_cluster(client)
        self._runner = Runner()
        #: The commands this guard lets through.
        self.allowed = allowed
        #: The prefix every key of a command must have (``None``: any key).
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {sorted(self.allowed)}>"

    @property
    def is_cluster(self) -> bool:
        """The client is a Redis Cluster client."""
        return self._cluster

    def use_functions(self, on: bool) -> None:
        """Send scripts as ``FCALL`` (*on*) or ``EVALSHA`` from now on."""
        self._runner.use_functions(on)

    @staticmethod
    def _key_of(command: Command) -> str | None:
        """The key a command is bound to (a cluster's slot): its first."""
        return command.keys[0] if command.keys else None

    def _keys(self, commands: Sequence[Command], wait: Wait | None) -> list[str | None]:
        """The key of each of *commands*, then the ``WAIT``'s (the written key)."""
        return [*map(self._key_of, commands), *([wait.key] if wait else [])]

    def nodes(self, commands: Sequence[Command]) -> list[str]:
        """The name (``host:port``) of the node each of *commands* goes to;
        off a cluster, or before a cluster's slot map is read, ``""`` (one
        nameless node) for all."""
        if not self._cluster:
            return [""] * len(commands)
        try:
            found = cluster.nodes_of(self._client, list(map(self._key_of, commands)))
        except FAILURES:
            return [""] * len(commands)
        return [node.name if node else "" for node in found]

    def check_all(self, commands: Sequence[Command], wait: Wait | None) -> None:
        """:meth:`check` *commands* and the ``WAIT`` after them, if any."""
        self.check([*commands, wait.command] if wait else commands)

    def describe(self) -> str:
        """Where the client connects and as whom (no password)."""
        return describe(self._client)

    def check(self, commands: Sequence[Command]) -> None:
        """Refuse any command outside the allow-list, or with a key outside
        the namespace (:attr:`prefix`), before anything is sent.

        :raises CommandRefused: a command is not in :attr:`allowed`, or names
            a key without the prefix.
        """
        allowed, prefix = self.allowed, self.prefix
        for command in commands:
            name = command.name
            if name not in allowed:  # as planned, else in any case
                name = str(name).upper()
                if name not in allowed:
                    raise CommandRefused(name)
            if prefix is None:
                continue
            for key in command.keys:
                if not (type(key) is str and key.startswith(prefix)):
                    raise CommandRefused(name, key=key, prefix=prefix)


class Guard(_GuardBase):
    """A client limited to an allow-list of commands.

    :param client: a ``redis.Redis``, ``redis.RedisCluster`` or Sentinel client.
    :param allowed: the commands this role may send; others raise
        :class:`~qscookies.errors.CommandRefused` without touching the socket.
    :param owned: :meth:`close` closes *client*.
    :param hold: the lane may hold a connection of *client*'s pool between
        commands (see :mod:`~qscookies.store.lane`): only for a pool no one
        else uses, whose guard is closed with it.
    :param prefix: every key of a command must start with it (the app's key
        namespace), else the command is refused as one outside *allowed*;
        ``None``: any key.
    """

    __slots__ = ("_lane", "_owned")

    def __init__(
        self,
        client: Any,
        allowed: frozenset[str],
        *,
        owned: bool = True,
        hold: bool = False,
        prefix: str | None = None,
    ) -> None:
        super().__init__(client, allowed, prefix)
        self._owned = owned
        #: The lean lane of a single server's single commands, else ``None``.
        self._lane = (
            None
            if self._cluster or not lean(client)
            else Lane(client, sendable(allowed), hold=hold)
        )

    def call(self, command: Command) -> Any:
        """Send one command (no pipeline object) and return its reply.

        :raises CommandRefused: it is refused (:meth:`check`); nothing is sent.
        :raises StoreError: Redis answered with an error, or was unreachable.
        """
        if self._cluster:  # cluster.send: never the cluster client's retries
            return self.send([command])[0]
        self.check((command,))  # as planned; the lane checks the form sent
        send = self._lane.call if self._lane else self._execute
        try:
            sent = self._runner.form(command)
            try:
                return send(sent)
            except redis.ResponseError as error:
                first: Any = error  # a script's way may be closed here: learn
            attempts = self._runner.attempts([command], [sent])
            replies = [first]
            while attempts.again(replies):
                replies = [_reply(send, attempts.sent[0])]
        except FAILURES as error:
            raise translate(error) from error
        return checked(attempts.settle(replies))[0]

    def _execute(self, sent: Wire) -> Any:
        """*sent* by redis-py's own path (off the lane)."""
        return self._client.execute_command(*sent)

    def send(
        self, commands: Sequence[Command], *, wait: Wait | None = None
    ) -> list[Any]:
        """Send *commands* in one round trip and return their replies in order.

        Not a transaction (a cluster cannot run one across slots); the atomic
        steps are single commands or scripts. Scripts go as functions or by
        SHA1 (see :mod:`~qscookies.store.scripting`); a script whose way is
        closed on this server goes again in the other, in a second round trip.

        :param wait: a ``WAIT`` pipelined after the commands (and again after
            a script re-sent); its reply comes last.
        :raises StoreError: Redis answered one of them with an error, or was
            unreachable.
        """
        if len(commands) == 1 and wait is None and not self._cluster:
            return [self.call(commands[0])]
        self.check_all(commands, wait)
        attempts = self._runner.attempts(commands)
        replies = self._pipeline(attempts.sent, commands, wait)
        again = attempts.again(replies)
        while again:  # that way did not run them, so sending them is exact
            sent = [attempts.sent[index] for index in again]
            resent = self._pipeline(sent, [commands[index] for index in again], wait)
            attempts.merge(replies, again, resent)
            again = attempts.again(replies)
        return checked(attempts.settle(replies))

    def _pipeline(
        self, sent: Sequence[Wire], planned: Sequence[Command], wait: Wait | None
    ) -> list[Any]:
        """*sent* (the forms of *planned*), then the ``WAIT``, in one round
        trip; error replies in place.

        On a cluster nothing that may have run is re-sent (see
        :mod:`~qscookies.store.cluster`); a lost reply raises an error that
        names the nodes that failed.
        """
        queued = [*sent, wire(wait.command)] if wait else list(sent)
        try:
            if self._cluster:
                keys = self._keys(planned, wait)
                replies, lost = cluster.send(self._client, queued, keys)
                if lost:
                    raise lost_error(lost)
                return replies
            if self._lane:
                return self._lane.pipeline(queued)
            pipe = self._client.pipeline(transaction=False)
            for command in queued:
                pipe.execute_command(*command)
            return list(pipe.execute(raise_on_error=False))
        except FAILURES as error:
            raise translate(error) from error

    def close(self) -> None:
        """Hand the lane's connections back, and close the client's, if it is ours."""
        if self._lane:
            self._lane.close()
        if self._owned:
            self._client.close()


def _reply(send: Any, command: Wire) -> Any:
    """*send* of *command*: its reply, or its error reply as the exception."""
    try:
        return send(command)
    except redis.ResponseError as error:
        return error
