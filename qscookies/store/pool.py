"""Connection pools: ours from ``redis_url``, and ours beside a client passed in.

redis-py 8's pools (sync and asyncio) hold at most 100 connections and fail at
once when all are in use (``MaxConnectionsError``): during a 200 ms stall, 150
concurrent requests got 50 ``503`` s and paused tracking though Redis answered
in time. The clients qscookies opens from ``redis_url`` use these instead: a
full pool waits up to ``socket_timeout`` for a connection, then raises
:class:`PoolTimeout`, which the store logs as a full pool (never as "Redis
unavailable") and which does not pause tracking.

A single-server client passed in (``redis.Redis``, a Sentinel ``master_for``
client, sync or asyncio) retries by default: redis-py re-sends a command whose
reply timed out, and retries a connect and its handshake, so a frozen master
held a request several timeouts and an add could apply twice.
:func:`without_retries` gives the store a client of its own on the same
server, with the same settings but no retries (a cluster client needs none:
:mod:`~qscookies.store.cluster` sends its commands itself).
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import MaxConnectionsError
from redis.retry import Retry


class PoolTimeout(MaxConnectionsError):
    """No connection of the pool came free within the pool's timeout."""

    def __init__(self, size: int, timeout: float | None) -> None:
        super().__init__(
            f"all {size} connections of the pool (max_connections) stayed in use"
            f" for {timeout} s (socket_timeout)"
        )


class BlockingPool(redis.BlockingConnectionPool):
    """A sync pool of ``max_connections`` that waits ``timeout`` seconds."""

    def get_connection(self, *args: Any, **options: Any) -> Any:
        """A free connection, waiting for one up to ``timeout`` seconds.

        :raises PoolTimeout: none came free in time.
        """
        try:
            return super().get_connection(*args, **options)  # type: ignore[no-untyped-call]
        except redis.ConnectionError as error:
            if isinstance(error.__context__, queue.Empty):
                raise PoolTimeout(self.max_connections, self.timeout) from error
            raise


class AsyncBlockingPool(redis.asyncio.BlockingConnectionPool):
    """:class:`BlockingPool` for ``redis.asyncio``."""

    async def get_connection(self, *args: Any, **options: Any) -> Any:
        """A free connection, waiting for one up to ``timeout`` seconds.

        :raises PoolTimeout: none came free in time.
        """
        try:
            connection = super().get_connection(*args, **options)  # type: ignore[no-untyped-call]
            return await connection
        except redis.ConnectionError as error:
            if isinstance(error.__cause__, asyncio.TimeoutError):
                raise PoolTimeout(self.max_connections, self.timeout) from error
            raise


#: What a pool adds to its connections' settings itself: left out when a pool
#: of the same kind is made from them.
_POOL_OWN = frozenset(
    {
        "connection_pool",
        "himport_registry",
        "maint_notifications_pool_handler",
        "orig_host_address",
        "orig_socket_timeout",
        "orig_socket_connect_timeout",
    }
)


def retries(client: Any) -> int:
    """How many times a single-server client's connections retry (redis-py's
    default when its settings name no ``retry``)."""
    retry = client.connection_pool.connection_kwargs.get("retry")
    return 3 if retry is None else int(retry.get_retries())


def without_retries(client: Any) -> Any:
    """*client*, or when it is a single-server client that retries, its
    :func:`twin` with ``retry=Retry(NoBackoff(), 0)``; the caller closes it."""
    if isinstance(client, (redis.RedisCluster, redis.asyncio.RedisCluster)):
        return client
    if retries(client) == 0:
        return client
    asynchronous = isinstance(client, redis.asyncio.Redis)
    return twin(client, retry=(AsyncRetry if asynchronous else Retry)(NoBackoff(), 0))


def twin(client: Any, **changes: Any) -> Any:
    """A single-server client of the same kind as *client*, on a new pool of
    the same kind and size, with the same connection settings but *changes*;
    the caller closes it.

    A Sentinel client's pool keeps its service and sentinels, so the new
    client follows a failover as the old one does.
    """
    pool = client.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k not in _POOL_OWN}
    kwargs |= dict(connection_class=pool.connection_class, **changes)
    if hasattr(pool, "service_name"):  # a Sentinel pool
        kwargs |= dict(is_master=pool.is_master, check_connection=pool.check_connection)
        ours = type(pool)(pool.service_name, pool.sentinel_manager, **kwargs)
    else:
        kwargs["max_connections"] = pool.max_connections
        if hasattr(pool, "timeout"):  # a blocking pool waits as long
            kwargs["timeout"] = pool.timeout
        ours = type(pool)(**kwargs)
    return type(client).from_pool(ours)
