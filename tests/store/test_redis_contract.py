"""The redis-py internals :mod:`qscookies.store.cluster` relies on, pinned.

qscookies sends cluster pipelines itself (so nothing that may have run is
re-sent): on the sync client it writes each node's commands on a connection
of that node's ``redis_connection`` and reads them with its
``parse_response``; on the asyncio client it fills ``PipelineCommand`` objects
and runs ``ClusterNode.execute_pipeline``; both read the slot map again
through the ``NodesManager``. For a single-server client that retries it
makes a pool of the same kind from the client's. None of that is redis-py's
public API, so a release that changes it must fail here, not in a shop;
``pyproject.toml`` bounds redis-py to the majors this file was run on.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from inspect import signature
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import NodesManager as AsyncNodesManager
from redis.asyncio.cluster import PipelineCommand as AsyncPipelineCommand
from redis.cluster import NodesManager
from redis.sentinel import SentinelConnectionPool

from qscookies import QSCookies
from qscookies.embedded import HOST
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.store import cluster
from qscookies.store.client import client_options
from qscookies.store.pool import without_retries

from launchers import RedisClusterServers
from launchers import SentinelServers
from shop import SECRET
from shop import shop

#: A shop's client: timeouts set, redis-py's retries left on.
DEFAULT_TIMEOUTS = dict(socket_timeout=1.0, socket_connect_timeout=1.0)

#: The redis-py majors the suite has been run on (the bound of pyproject.toml).
TESTED_MAJORS = (7, 8)


def test_redis_py_is_bounded_to_the_majors_tested() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    [bound] = re.findall(r'"redis\[hiredis\] >= (\d+)\.\d+, < (\d+)"', pyproject)
    assert tuple(map(int, bound)) == (TESTED_MAJORS[0], TESTED_MAJORS[-1] + 1)
    assert int(redis.__version__.split(".")[0]) in TESTED_MAJORS


def test_the_signatures_qscookies_calls() -> None:
    assert list(signature(AsyncPipelineCommand).parameters)[:2] == ["position", "args"]
    assert "commands" in signature(AsyncClusterNode.execute_pipeline).parameters
    for manager in (NodesManager, AsyncNodesManager):
        moved = signature(manager.move_node_to_end_of_cached_nodes).parameters
        assert "node_name" in moved
    initialize = signature(NodesManager.initialize).parameters
    assert cluster._NAMES_FAILED_NODE == ("last_failed_node_name" in initialize)
    for name in ("MovedError", "AskError", "TryAgainError", "MaxConnectionsError"):
        assert issubclass(getattr(redis.exceptions, name), redis.RedisError)
    sentinel_pool = signature(SentinelConnectionPool).parameters
    assert list(sentinel_pool)[:2] == ["service_name", "sentinel_manager"]


def test_the_sync_cluster_send_answers_in_order_with_errors_in_place(
    redis_cluster: RedisClusterServers,
) -> None:
    """One reply per command, in order, error replies as exceptions; each
    command goes to its key's node, whose name is ``host:port``; the slot
    map can be read again naming the failed node."""
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
    server = client.get_redis_connection(nodes[1])
    connection = server.connection_pool.get_connection()
    connection.send_packed_command(connection.pack_commands([commands[1]]))
    assert server.parse_response(connection, "HINCRBY") == 2
    server.connection_pool.release(connection)
    cluster.reread_slots(client.nodes_manager, [nodes[1].name])
    assert client.get_node_from_key(keys[1]).name == nodes[1].name
    client.delete(*keys)
    client.close()


def test_the_asyncio_cluster_pipeline_keeps_errors_in_place(
    redis_cluster: RedisClusterServers,
) -> None:
    """What :class:`~qscookies.store.aio.AsyncGuard` reads: replies in order,
    errors in place, from ``ClusterNode.execute_pipeline`` per node."""

    async def run() -> tuple[list[object], dict[str, BaseException]]:
        client = redis.asyncio.RedisCluster.from_url(
            redis_cluster.url, **client_options(1.0, asynchronous=True)
        )
        await client.set("contract:{a}", "a string")
        keys = ["contract:{a}", "contract:{b}"]
        commands = [("HINCRBY", key, "n", 1) for key in keys]
        sent = await cluster.asend(client, commands, keys)
        await cluster.areread_slots(client.nodes_manager, ["127.0.0.1:1"])
        await client.delete(*keys)
        await client.aclose()
        return sent

    (first, second), lost = asyncio.run(run())
    assert isinstance(first, redis.ResponseError) and second == 1 and lost == {}


def test_a_retrying_client_gets_a_twin_without_retries(
    redis_sentinel: SentinelServers,
) -> None:
    """The pool kinds and settings a twin is made from (Sentinel's included)."""
    retrying = redis_sentinel.master_client(socket_timeout=1.0)
    twin = without_retries(retrying)
    assert twin is not retrying and type(twin) is type(retrying)
    pool = twin.connection_pool
    assert type(pool) is type(retrying.connection_pool)
    assert pool.connection_kwargs["retry"].get_retries() == 0
    assert pool.connection_kwargs["socket_timeout"] == 1.0
    assert twin.ping() and without_retries(twin) is twin
    twin.close()
    retrying.close()


@pytest.mark.parametrize(
    ("client_class", "asynchronous"),
    [(redis.Redis, False), (redis.asyncio.Redis, True)],
)
def test_the_client_options_are_accepted(
    client_class: type, asynchronous: bool
) -> None:
    """``client_options`` names keywords each client takes (``driver_info``,
    ``protocol``, a ``retry`` of its kind), without a warning (redis-py 8.2 warns
    of a synchronous retry given to an asyncio client); no connection is opened."""
    options = client_options(0.25, asynchronous=asynchronous)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client_class(host=HOST, port=1, **options)


def test_the_middleware_closes_its_twin_and_leaves_the_shops_client(
    redis_server: RedisServer,
) -> None:
    """``close()`` closes the twin made for a retrying client, never the
    client the shop passed in (which goes on working)."""
    shops = redis.Redis.from_url(redis_server.url, **DEFAULT_TIMEOUTS)
    app = QSCookies(shop, secret_key=SECRET, redis=shops)
    twin = app._store._guard._client
    assert twin is not shops
    twin_id, shops_id = twin.client_id(), shops.client_id()
    with redis_server.client() as admin:

        def ids() -> set[str]:
            return {client["id"] for client in admin.client_list()}

        assert {str(twin_id), str(shops_id)} <= ids()
        app.close()
        # the server drops the twin's connection once it reads its close
        wait_until(lambda: str(twin_id) not in ids(), "the twin's close", 5)
        assert str(shops_id) in ids()
    assert shops.ping()
    shops.close()
