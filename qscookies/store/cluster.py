"""Pipelines on a Redis Cluster that never re-send a command that may have run.

redis-py's cluster pipeline re-sends, one by one, every command whose node
timed out or dropped the connection: a paused master then holds the request a
timeout per command, and a write it runs when it wakes is applied twice.
:func:`send` re-sends only redirects (``MOVED``, ``ASK``, ``TRYAGAIN``: not
run), and after a lost reply reads the slot map again, asking the failed node
last, so the next request follows a failover.
"""

from __future__ import annotations

from collections.abc import Sequence
from inspect import signature
from typing import Any

import redis
from redis.cluster import NodesManager
from redis.cluster import PipelineCommand

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
    client: Any, commands: Sequence[tuple[Any, ...]], keys: Sequence[str | None]
) -> tuple[list[Any], dict[str, BaseException]]:
    """Send *commands* in one round trip on the ``RedisCluster`` *client*.

    Each command goes to the node of its key (*keys*; ``None``: redis-py
    routes it), which spares redis-py a ``COMMAND GETKEYS`` per script.

    :returns: the replies in order (error replies as exceptions), and the
        replies lost with their node, by node name (``host:port``).
    """
    nodes = nodes_of(client, keys)
    routed = enumerate(zip(commands, nodes, strict=True))
    stack = [
        PipelineCommand(command, {"target_nodes": node} if node else {}, position)
        for position, (command, node) in routed
    ]
    pipe = client.pipeline(transaction=False)
    sent = pipe.send_cluster_commands(
        stack, raise_on_error=False, allow_redirections=False
    )
    replies = list(sent)
    for index, reply in enumerate(replies):
        if isinstance(reply, _REDIRECTS):
            replies[index] = _resend(client, commands[index])
    failed = lost(replies, nodes)
    if failed:
        reread_slots(client.nodes_manager, sorted(failed))
    return replies, failed


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


def _resend(client: Any, command: tuple[Any, ...]) -> Any:
    """A redirected command sent again, redis-py following the redirect; its
    error, if any, as the reply."""
    try:
        return client.execute_command(*command)
    except redis.RedisError as error:
        return error


def reread_slots(manager: NodesManager, failed: Sequence[str]) -> None:
    """Read a cluster's slot map again, asking the *failed* nodes last, so a
    paused node costs no second timeout."""
    for name in failed:
        manager.move_node_to_end_of_cached_nodes(name)
    if _NAMES_FAILED_NODE:
        manager.initialize(last_failed_node_name=failed[0])
    else:
        manager.initialize()
