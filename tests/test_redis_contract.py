"""The redis-py internals :mod:`qscookies.store.cluster` relies on, pinned.

qscookies sends cluster pipelines itself (so nothing that may have run is
re-sent): it builds redis-py's ``PipelineCommand`` stack, calls the cluster
pipeline's ``send_cluster_commands`` without redirections, and reads the slot
map again through the ``NodesManager``. None of that is redis-py's public API,
so a release that changes it must fail here, not in a shop; ``pyproject.toml``
bounds redis-py to the majors this file was run on.
"""

from __future__ import annotations

import asyncio
import re
from inspect import signature
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.cluster import ClusterPipeline
from redis.cluster import NodesManager
from redis.cluster import PipelineCommand

from qscookies.embedded import HOST
from qscookies.store import cluster
from qscookies.store.client import client_options

from launchers import RedisClusterServers

#: The redis-py majors the suite has been run on (the bound of pyproject.toml).
TESTED_MAJORS = (7, 8)


def test_redis_py_is_bounded_to_the_majors_tested() -> None:
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    [bound] = re.findall(r'"redis\[hiredis\] >= (\d+)\.\d+, < (\d+)"', pyproject)
    assert tuple(map(int, bound)) == (TESTED_MAJORS[0], TESTED_MAJORS[-1] + 1)
    assert int(redis.__version__.split(".")[0]) in TESTED_MAJORS


def test_the_signatures_qscookies_calls() -> None:
    assert list(signature(PipelineCommand).parameters)[:3] == [
        "args",
        "options",
        "position",
    ]
    sends = signature(ClusterPipeline.send_cluster_commands).parameters
    assert {"stack", "raise_on_error", "allow_redirections"} <= set(sends)
    assert (
        "node_name"
        in signature(NodesManager.move_node_to_end_of_cached_nodes).parameters
    )
    initialize = signature(NodesManager.initialize).parameters
    assert cluster._NAMES_FAILED_NODE == ("last_failed_node_name" in initialize)
    for name in ("MovedError", "AskError", "TryAgainError", "MaxConnectionsError"):
        assert issubclass(getattr(redis.exceptions, name), redis.RedisError)


def test_send_cluster_commands_answers_in_order_with_errors_in_place(
    redis_cluster: RedisClusterServers,
) -> None:
    """One reply per command, in the stack's order, error replies as
    exceptions; each command goes to its ``target_nodes``; a node's name is
    ``host:port``; the slot map can be read again naming the failed node."""
    client = redis_cluster.client(**client_options(1.0))
    keys = [f"contract:{{{n}}}" for n in range(6)]
    client.set(keys[0], "a string")
    nodes = cluster.nodes_of(client, [*keys, None])
    assert {node.name for node in nodes[:-1]} <= {
        f"{HOST}:{server.port}" for server in redis_cluster.masters
    }
    assert len({node.name for node in nodes[:-1]}) > 1 and nodes[-1] is None
    commands = [("HINCRBY", key, "n", 1) for key in keys]
    replies, lost = cluster.send(client, commands, keys)
    assert isinstance(replies[0], redis.ResponseError)  # WRONGTYPE, in place
    assert replies[1:] == [1] * 5 and lost == {}
    stack = [
        PipelineCommand(command, {"target_nodes": node}, position)
        for position, (command, node) in enumerate(zip(commands, nodes, strict=False))
    ]
    pipe = client.pipeline(transaction=False)
    sent = pipe.send_cluster_commands(
        stack, raise_on_error=False, allow_redirections=False
    )
    assert list(sent)[1:] == [2] * 5
    cluster.reread_slots(client.nodes_manager, [nodes[1].name])
    assert client.get_node_from_key(keys[1]).name == nodes[1].name
    client.delete(*keys)
    client.close()


def test_the_asyncio_cluster_pipeline_keeps_errors_in_place(
    redis_cluster: RedisClusterServers,
) -> None:
    """What :class:`~qscookies.store.aio.AsyncGuard` reads: replies in order,
    errors in place with ``raise_on_error=False``, ``target_nodes`` honoured."""

    async def run() -> list[object]:
        client = redis.asyncio.RedisCluster.from_url(
            redis_cluster.url, **client_options(1.0)
        )
        await client.initialize()
        await client.set("contract:{a}", "a string")
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("HINCRBY", "contract:{a}", "n", 1)
        node = client.get_node_from_key("contract:{b}")
        pipe.execute_command("HINCRBY", "contract:{b}", "n", 1, target_nodes=node)
        replies = list(await pipe.execute(raise_on_error=False))
        await client.delete("contract:{a}", "contract:{b}")
        await client.aclose()
        return replies

    first, second = asyncio.run(run())
    assert isinstance(first, redis.ResponseError) and second == 1


@pytest.mark.parametrize("client_class", [redis.Redis, redis.asyncio.Redis])
def test_the_client_options_are_accepted(client_class: type) -> None:
    """``client_options`` names keywords both clients take (``driver_info``,
    ``protocol``, ``retry``); no connection is opened."""
    client_class(host=HOST, port=1, **client_options(0.25))
