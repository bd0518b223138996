"""Pipelines on a Redis Cluster that never re-send a command that may have run.

redis-py's cluster pipeline re-sends, one by one, every command whose node
timed out or dropped the connection, and the cluster client retries a whole
pipeline or command (3 times by default): a paused master then holds the
request a timeout per try, and a write it runs when it wakes is applied twice.
:func:`send` (sync) and :func:`asend` (asyncio) send each command once, with
no retry whatever the client passed in was given (redis-py's node connections
never retry on their own); they re-send only redirects (``MOVED``, ``ASK``,
``TRYAGAIN``: not run), to the key's node, and after a lost reply read the
slot map again, asking the failed node last, so the next request follows a
failover.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from inspect import signature
from typing import Any

import redis
from redis.asyncio.cluster import PipelineCommand as AsyncPipelineCommand
from redis.cluster import NodesManager

from .scripting import Wire

#: Replies of a node that did not run the command: safe to re-send.
_REDIRECTS = (
    redis.exceptions.MovedError,
    redis.exceptions.AskError,
    redis.exceptions.TryAgainError,
)

#: Replies lost with the node: the command may have run.
_LOST = (redis.ConnectionError, redis.TimeoutError)

#: redis-py 8 asks the nodes for the slot map in random order unless told
#: which one failed; redis-py 7 asks them in order.
_NAMES_FAILED_NODE = "last_failed_node_name" in (
    signature(NodesManager.initialize).parameters
)


def send(
    client: Any, commands: Sequence[Wire], keys: Sequence[str | None]
) -> tuple[list[Any], dict[str, BaseException]]:
    """Send *commands* in one round trip on the ``RedisCluster`` *client*.

    Each command goes to the node of its key (*keys*; ``None``: the default
    node): the commands of each node are written on one of its connections,
    every node's before any reply is read, so a paused node costs one timeout.
    A connection that cannot be opened fails its node's commands, nothing
    else (redis-py's pipeline would read the slot map there, from the first
    node it knows: maybe the paused one).

    :returns: the replies in order (error replies as exceptions), and the
        replies lost with their node, by node name (``host:port``).
    """
    nodes = [node or client.get_default_node() for node in nodes_of(client, keys)]
    replies: list[Any] = [None] * len(commands)
    by_node: dict[str, tuple[Any, list[int]]] = {}
    for index, node in enumerate(nodes):
        by_node.setdefault(node.name, (node, []))[1].append(index)
    written = []
    for node, indexes in by_node.values():
        server = client.get_redis_connection(node)  # its connections never retry
        try:
            connection = server.connection_pool.get_connection()
        except (redis.RedisError, OSError) as error:
            replies = _fail(replies, indexes, error)
            continue
        try:
            connection.send_packed_command(
                connection.pack_commands(commands[index] for index in indexes)
            )
        except (redis.RedisError, OSError) as error:
            _release(server, connection, error)
            replies = _fail(replies, indexes, error)
            continue
        written.append((server, connection, indexes))
    for server, connection, indexes in written:
        failure: BaseException | None = None
        for index in indexes:
            try:
                replies[index] = server.parse_response(connection, commands[index][0])
            except redis.ResponseError as error:
                replies[index] = error
            except (redis.RedisError, OSError) as error:
                replies[index] = failure = error
        _release(server, connection, failure)
    for index, reply in enumerate(replies):
        if isinstance(reply, _REDIRECTS):
            replies[index] = _resend(client, commands[index], keys[index])
    failed = lost(replies, nodes)
    if failed:
        reread_slots(client.nodes_manager, sorted(failed))
    return replies, failed


def _fail(
    replies: list[Any], indexes: Sequence[int], error: BaseException
) -> list[Any]:
    """*replies* with *error* as the reply of each of *indexes*."""
    for index in indexes:
        replies[index] = error
    return replies


def _release(server: Any, connection: Any, failure: BaseException | None) -> None:
    """Give *connection* back to its pool, closed after a *failure* (a reply
    still on its way must never be read as the next command's)."""
    if failure is not None:
        connection.disconnect()
    server.connection_pool.release(connection)


async def asend(
    client: Any, commands: Sequence[Wire], keys: Sequence[str | None]
) -> tuple[list[Any], dict[str, BaseException]]:
    """:func:`send` on a ``redis.asyncio.RedisCluster``: the commands of each
    node pipelined on one of its connections (``ClusterNode.execute_pipeline``),
    the nodes at once."""
    await client.initialize()  # the slot map, read once
    nodes = [node or client.get_default_node() for node in nodes_of(client, keys)]
    stack = [AsyncPipelineCommand(i, *command) for i, command in enumerate(commands)]
    by_node: dict[str, tuple[Any, list[AsyncPipelineCommand]]] = {}
    for command, node in zip(stack, nodes, strict=True):
        by_node.setdefault(node.name, (node, []))[1].append(command)
    await asyncio.gather(*(_run(node, queued) for node, queued in by_node.values()))
    replies = [command.result for command in stack]
    for index, reply in enumerate(replies):
        if isinstance(reply, _REDIRECTS):
            replies[index] = await _aresend(client, commands[index], keys[index])
    failed = lost(replies, nodes)
    if failed:
        await areread_slots(client.nodes_manager, sorted(failed))
    return replies, failed


async def _run(node: Any, queued: list[AsyncPipelineCommand]) -> None:
    """One node's commands, once; a failure is the reply of each one not
    answered by then."""
    # What a command holds before its reply: None up to redis-py 8.1, a private
    # marker since 8.2 (read here, never named: it is redis-py's own).
    unanswered = [command.result for command in queued]
    try:
        await node.execute_pipeline(queued)
    except (redis.RedisError, OSError) as error:
        for command, before in zip(queued, unanswered, strict=True):
            if command.result is before:
                command.result = error


def nodes_of(client: Any, keys: Sequence[str | None]) -> list[Any]:
    """The node of each key in the slot map of the (sync or asyncio) cluster
    *client*; ``None`` for no key."""
    return [client.get_node_from_key(key) if key else None for key in keys]


def lost(replies: Sequence[Any], nodes: Sequence[Any]) -> dict[str, BaseException]:
    """The *replies* lost with their node (the command may have run), by the
    name (``host:port``) of the node in *nodes* it went to."""
    return {
        node.name if node else "?": reply
        for reply, node in zip(replies, nodes, strict=True)
        if isinstance(reply, _LOST)
    }


def _resend(client: Any, command: Wire, key: str | None) -> Any:
    """A redirected command sent again to its key's node (redis-py follows a
    further redirect, and retries nothing when told the node); its error, if
    any, as the reply."""
    try:
        return client.execute_command(*command, **_target(client, key))
    except redis.RedisError as error:
        return error


async def _aresend(client: Any, command: Wire, key: str | None) -> Any:
    """:func:`_resend` on the asyncio cluster client."""
    try:
        return await client.execute_command(*command, **_target(client, key))
    except redis.RedisError as error:
        return error


def _target(client: Any, key: str | None) -> dict[str, Any]:
    """``target_nodes``: the node of *key*, or the default node."""
    node = client.get_node_from_key(key) if key else client.get_default_node()
    return {"target_nodes": node}


def reread_slots(manager: NodesManager, failed: Sequence[str]) -> None:
    """Read a cluster's slot map again, asking the *failed* nodes last, so a
    paused node costs no second timeout."""
    for name in failed:
        manager.move_node_to_end_of_cached_nodes(name)
    if _NAMES_FAILED_NODE:
        manager.initialize(last_failed_node_name=failed[0])
    else:
        manager.initialize()


async def areread_slots(manager: Any, failed: Sequence[str]) -> None:
    """:func:`reread_slots` on the asyncio cluster client's nodes manager."""
    for name in failed:
        manager.move_node_to_end_of_cached_nodes(name)
    named = "last_failed_node_name" in signature(manager.initialize).parameters
    await manager.initialize(**({"last_failed_node_name": failed[0]} if named else {}))
