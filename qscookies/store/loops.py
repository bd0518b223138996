"""One ``redis.asyncio`` client per event loop.

A ``redis.asyncio`` connection belongs to the event loop that opened it: used
from another loop it fails ("attached to a different loop", "Event loop is
closed"). Yet one ASGI app may be served by several loops, one after the other
or side by side: Starlette's ``TestClient(app)`` runs each request on a loop of
its own unless used in a ``with`` block, and two TestClients of one app run two
loops at once. :class:`LoopClients` hands each running loop a client of its own:
the first loop gets the client the store was given, every other loop a
:func:`~qscookies.store.pool.twin` of it (same server, settings and pool size).

Each loop's client is closed with its loop: a suspended async generator,
registered with the loop, runs ``aclose()`` when the loop finalises its async
generators (``asyncio.run``, ``asyncio.Runner`` and anyio do, and so uvicorn
and Starlette's ``TestClient``). A loop closed without that leaves its
connections to the garbage collector, as with redis-py itself.

A Redis Cluster client is used as it is, on the loop that first used it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator
from typing import Any

import redis.asyncio

from .pool import twin


class LoopClients:
    """The client of the running loop, opened on the loop's first command.

    :param client: the client of the first loop (a ``redis.asyncio`` client).
    :param owned: *client* is ours to close (the twins always are).
    """

    __slots__ = (
        "_by_loop",
        "_client",
        "_cluster",
        "_given",
        "_loop",
        "_owned",
        "_template",
    )

    def __init__(self, client: Any, *, owned: bool) -> None:
        self._template = client
        self._owned = owned
        self._given = False  # the first loop has got *client*
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Any, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        #: A cluster client is used as it is, on whichever loop runs.
        self._cluster = isinstance(client, redis.asyncio.RedisCluster)

    def current(self) -> Any:
        """The client of the running loop (opened now if the loop has none).

        :raises RuntimeError: no event loop is running.
        """
        if self._cluster:
            return self._template
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return self._client
        entry = self._by_loop.get(loop) or self._open(loop)
        self._loop, self._client = loop, entry[0]
        return entry[0]

    async def close(self) -> None:
        """Close the running loop's client if it is ours; the next command on
        this loop opens a new one."""
        if self._cluster:
            if self._owned:
                await self._template.aclose()
            return
        entry = self._by_loop.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()

    def _open(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[Any, AsyncGenerator[None, None]]:
        """The client of *loop*, and the keeper that closes it with the loop."""
        if self._given:
            client, owned = twin(self._template), True
        else:
            client, owned, self._given = self._template, self._owned, True
        keeper = self._keeper(loop, client, owned)
        try:  # run it to its yield: registered with the loop, suspended there
            keeper.asend(None).send(None)
        except StopIteration:
            pass
        entry = self._by_loop[loop] = (client, keeper)
        return entry

    async def _keeper(
        self, loop: asyncio.AbstractEventLoop, client: Any, owned: bool
    ) -> AsyncGenerator[None, None]:
        """Suspended until *loop* finalises it (or :meth:`close`): then forget
        *client*, and close it if it is ours."""
        try:
            yield
        finally:
            self._by_loop.pop(loop, None)
            if self._loop is loop:
                self._loop = self._client = None
            if owned:
                await client.aclose()
