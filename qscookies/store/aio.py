"""The middleware's store on ``redis.asyncio``: the same commands, awaited.

The request core plans the same commands for both; only the sending differs.
See :mod:`qscookies.store.app` for the two failure policies.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from functools import partial
from typing import Any

import redis

from ..command import Command
from ..errors import CommandRefused
from ..errors import StoreError
from . import cluster
from .app import _AppStoreBase
from .app import unavailable
from .client import Wait
from .client import _GuardBase
from .faults import FAILURES
from .faults import checked
from .faults import lost_error
from .faults import translate
from .lane import AsyncLane
from .lane import lean
from .loops import LoopClients
from .scripting import Wire
from .scripting import sendable
from .scripting import wire


class AsyncGuard(_GuardBase):
    """:class:`~qscookies.store.client.Guard` for a ``redis.asyncio`` client,
    on whichever event loop runs (see :mod:`~qscookies.store.loops`).

    :param owned: :meth:`close` closes *client* (the twins it opens for other
        loops it always closes).
    :param hold: as for ``Guard``: the lane of *client* may hold connections
        of its pool between commands (those of the twins opened for other
        loops, ours, always may).
    :param prefix: as for ``Guard``: the key namespace.
    """

    __slots__ = ("_hold", "_lane", "_lanes", "_loops")

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
        self._loops = LoopClients(client, owned=owned)
        self._hold = hold
        #: Each loop's client's lean lane (``None``: it has none), kept while
        #: the client lives: the connections a lane holds are its client's.
        self._lanes: weakref.WeakKeyDictionary[Any, AsyncLane | None] = (
            weakref.WeakKeyDictionary()
        )
        #: The last loop's client and its lane, looked up without the dict.
        self._lane: tuple[Any, AsyncLane | None] | None = None

    async def call(self, command: Command) -> Any:
        """Send one command and return its reply (see ``Guard.call``)."""
        if self._cluster:
            return (await self.send([command]))[0]
        self.check((command,))  # as planned; the lane checks the form sent
        client = self._loops.current()
        lane = self._lane_of(client)
        send = lane.call if lane is not None else partial(self._execute, client)
        try:
            sent = self._runner.form(command)
            try:
                return await send(sent)
            except redis.ResponseError as error:
                first: Any = error
            attempts = self._runner.attempts([command], [sent])
            replies = [first]
            while attempts.again(replies):
                replies = [await _reply(send, attempts.sent[0])]
        except FAILURES as error:
            raise translate(error) from error
        return checked(attempts.settle(replies))[0]

    async def _execute(self, client: Any, sent: Wire) -> Any:
        """*sent* by redis-py's own path (off the lane)."""
        return await client.execute_command(*sent)

    def _lane_of(self, client: Any) -> AsyncLane | None:
        """The lean lane of the running loop's *client*, if it can take one."""
        kept = self._lane
        if kept is not None and kept[0] is client:
            return kept[1]
        if client in self._lanes:
            lane = self._lanes[client]
        else:
            hold = self._hold or client is not self._client  # a twin is ours
            allowed = sendable(self.allowed)
            lane = AsyncLane(client, allowed, hold=hold) if lean(client) else None
            self._lanes[client] = lane
        self._lane = (client, lane)
        return lane

    async def send(
        self, commands: Sequence[Command], *, wait: Wait | None = None
    ) -> list[Any]:
        """Send *commands* in one round trip (see ``Guard.send``)."""
        if len(commands) == 1 and wait is None and not self._cluster:
            return [await self.call(commands[0])]
        self.check_all(commands, wait)
        attempts = self._runner.attempts(commands)
        replies = await self._pipeline(attempts.sent, commands, wait)
        again = attempts.again(replies)
        while again:
            sent = [attempts.sent[i] for i in again]
            resent = await self._pipeline(sent, [commands[i] for i in again], wait)
            attempts.merge(replies, again, resent)
            again = attempts.again(replies)
        return checked(attempts.settle(replies))

    async def _pipeline(
        self, sent: Sequence[Wire], planned: Sequence[Command], wait: Wait | None
    ) -> list[Any]:
        """*sent* (the forms of *planned*), then the ``WAIT``, in one round
        trip (see ``Guard._pipeline``)."""
        queued = [*sent, wire(wait.command)] if wait else list(sent)
        try:
            if self._cluster:
                keys = self._keys(planned, wait)
                replies, lost = await cluster.asend(self._client, queued, keys)
                if lost:  # named, for tracking's pause per node
                    raise lost_error(lost)
                return replies
            pipe = self._loops.current().pipeline(transaction=False)
            for command in queued:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))
        except FAILURES as error:
            raise translate(error) from error

    async def close(self) -> None:
        """Hand back the connections the last loop's lane holds, and close the
        running loop's client, if it is ours (see
        :meth:`~qscookies.store.loops.LoopClients.close`)."""
        kept, self._lane = self._lane, None
        if kept is not None and kept[1] is not None:
            await kept[1].close()
        await self._loops.close()


class AsyncAppStore(_AppStoreBase):
    """:class:`~qscookies.store.app.AppStore` on a ``redis.asyncio`` client."""

    _guard_class = AsyncGuard
    _guard: AsyncGuard

    async def send(
        self, commands: Sequence[Command], durable: str | None = None
    ) -> list[Any]:
        """Send what the application needs (see ``AppStore.send``)."""
        wait = self._wait(durable) if durable else None  # a read waits for none
        try:
            replies = await self._guard.send(commands, wait=wait)
        except CommandRefused:
            raise
        except StoreError as error:
            raise unavailable(error, self._prefix) from error
        return replies if wait is None else self._confirmed(replies, wait)

    async def track(self, commands: Sequence[Command]) -> list[Any] | None:
        """Send tracking writes (see ``AppStore.track``); never raises."""
        route = self._unpaused(commands)
        if route is None:
            return None
        try:
            replies = await self._guard.send(route.pick(commands))
        except CommandRefused:
            raise
        except StoreError as error:
            self._breaker.failed(error, route.nodes)
            return None
        self._breaker.succeeded(route.nodes)
        return route.replies(len(commands), replies)

    async def close(self) -> None:
        """Close the running loop's connections if the store owns them (those
        of other loops close with their loop)."""
        await self._guard.close()


async def _reply(send: Any, command: Wire) -> Any:
    """*send* of *command*: its reply, or its error reply as the exception."""
    try:
        return await send(command)
    except redis.ResponseError as error:
        return error
