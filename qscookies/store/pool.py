"""Connection pools that wait for a free connection, and say so when none comes.

redis-py 8's pools (sync and asyncio) hold at most 100 connections and fail at
once when all are in use (``MaxConnectionsError``): during a 200 ms stall, 150
concurrent requests got 50 ``503`` s and paused tracking though Redis answered
in time. The clients qscookies opens from ``redis_url`` use these instead: a
full pool waits up to ``socket_timeout`` for a connection, then raises
:class:`PoolTimeout`, which the store logs as a full pool (never as "Redis
unavailable") and which does not pause tracking.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import MaxConnectionsError


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
