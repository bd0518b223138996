"""``qscookies check --cluster``: the failover section, on real clusters.

The session's ``redis_cluster`` (3 masters, no replica) is only read. A private
cluster of 2 masters, one with a replica, is built here (module scope) for
what needs a replica, ``CONFIG SET`` or ACL users.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from qscookies.advisories import lua_advisory
from qscookies.embedded import HOST
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.errors import CommandRefused
from qscookies.errors import ConfigurationError
from qscookies.guard import CLIENT_SETTINGS
from qscookies.ops.acl import acl_lines
from qscookies.ops.cli import main
from qscookies.ops.topology import client_findings
from qscookies.ops.topology import shard_findings
from qscookies.store.client import connect
from qscookies.store.survey import Shard
from qscookies.store.survey import Surveyor

from launchers import RedisClusterServers

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

NO_REPLICA = (
    "no replica online: a kill -9 of it loses its carts' writes not yet"
    " replicated and stops cart writes until it is back"
)
CLIENT_LINES = [
    "ok       this command's client: no retries, timeouts set",
    f"note     a client passed to QSCookies(redis=...) needs {CLIENT_SETTINGS}",
]
#: A replica is listed once it has synced and been pinged: no 5 s diskless
#: sync delay, a ping each second (Redis 7 lists a replica with offset 0 as
#: not available).
FAST_REPLICATION = [
    "--repl-diskless-sync-delay",
    "0",
    "--repl-ping-replica-period",
    "1",
]
APP_PASSWORD = "app-cluster-check-password"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _failover(out: str) -> list[str]:
    """The lines after the failover heading."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("failover ("))
    return lines[start:]


def _name(node: RedisServer) -> str:
    return f"{HOST}:{node.port}"


@pytest.fixture(scope="module")
def private_clusters() -> Iterator[dict[str, dict[str, Any]]]:
    """The clusters of :func:`replicated`, one per binary, stopped at the end."""
    with ExitStack() as stack:
        yield {"stack": {"stack": stack}}


@pytest.fixture
def replicated(
    redis_binary: str, private_clusters: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """2 masters, the first with one replica online; the users of ``qscookies
    acl --cluster`` on every node (built once per binary)."""
    if redis_binary not in private_clusters:
        stack = private_clusters["stack"]["stack"]
        private_clusters[redis_binary] = _replicated(redis_binary, stack)
    return private_clusters[redis_binary]


def _replicated(binary: str, stack: ExitStack) -> dict[str, Any]:
    cluster = stack.enter_context(
        RedisClusterServers(binary, size=2, args=FAST_REPLICATION)
    )
    node_args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
    node_args += ["--cluster-node-timeout", "2000", *FAST_REPLICATION]
    replica = stack.enter_context(RedisServer(binary, args=node_args))
    master = cluster.nodes[0]
    with master.client() as admin:
        master_id = admin.execute_command("CLUSTER MYID").decode()
    with replica.client() as admin:
        admin.execute_command("CLUSTER MEET", HOST, master.port)
        wait_until(
            lambda: master_id in str(admin.execute_command("CLUSTER NODES")),
            "the replica to meet the cluster",
            10,
        )
        admin.execute_command("CLUSTER REPLICATE", master_id)

    def listed() -> bool:
        with master.client() as admin:
            slots = admin.execute_command("CLUSTER SLOTS")
        return any(len(entry) > 3 for entry in slots)

    wait_until(listed, "the replica to be listed", 20)
    nodes = [*cluster.nodes, replica]
    lines, _ = acl_lines(
        app_password=APP_PASSWORD,
        report_password="report-cluster-check-password",
        version="7" if replica.version >= (7, 0, 0) else "6.2",
        cluster=True,
    )
    for node in nodes:
        with node.client() as admin:
            for line in lines:
                admin.execute_command(*line.split())
    return {"cluster": cluster, "replica": replica, "nodes": nodes}


def _set_coverage(nodes: list[RedisServer], value: str) -> None:
    for node in nodes:
        with node.client() as admin:
            admin.execute_command(
                "CONFIG", "SET", "cluster-require-full-coverage", value
            )


def test_check_cluster_reports_masters_without_replicas(
    redis_cluster: RedisClusterServers, capsys: pytest.CaptureFixture[str]
) -> None:
    """The session cluster: 3 masters, none with a replica, the default
    ``cluster-require-full-coverage yes``; read as the default user (who may
    export: exit 1, the export verdict's)."""
    code, out, err = _run(
        capsys, "check", "--cluster", "--redis-url", redis_cluster.url
    )
    assert (code, err) == (1, "")
    lines = _failover(out)
    version = redis_cluster.nodes[0].version
    method = "CLUSTER SHARDS" if version >= (7, 0, 0) else "CLUSTER SLOTS"
    assert lines[0] == f"failover (the cluster's shards from {method}):"
    names = sorted(_name(node) for node in redis_cluster.nodes)
    assert lines[1:4] == [
        f"WARNING  master {_name(node)} (slots {slots}): {NO_REPLICA}"
        for node, slots in zip(
            redis_cluster.nodes, ["0-5460", "5461-10921", "10922-16383"], strict=True
        )
    ]
    assert lines[4:] == [
        "ok       all 16384 slots served",
        f"WARNING  cluster-require-full-coverage yes on {', '.join(names)}: carts on"
        " healthy masters answer 503 while one shard fails over; set"
        " cluster-require-full-coverage no on every node",
        "note     cluster-node-timeout 2000 ms: a failover starts that long after a"
        " master fails, and its carts answer 503 until a replica takes over",
        *CLIENT_LINES,
    ]


def test_check_without_cluster_has_no_failover_section(
    redis_cluster: RedisClusterServers, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://{HOST}:{redis_cluster.nodes[0].port}"
    code, out, _ = _run(capsys, "check", "--redis-url", url)
    assert code == 1 and "failover" not in out


def test_check_cluster_with_a_replica_and_full_coverage_no(
    replicated: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, nodes = replicated["cluster"], replicated["nodes"]
    first, second = cluster.nodes
    _set_coverage(nodes, "no")
    code, out, _ = _run(capsys, "check", "--cluster", "--redis-url", cluster.url)
    assert code == 1  # the default user: data exportable
    assert _failover(out)[1:] == [
        f"ok       master {_name(first)} (slots 0-8191): 1 replica online",
        f"WARNING  master {_name(second)} (slots 8192-16383): {NO_REPLICA}",
        "ok       all 16384 slots served",
        "ok       cluster-require-full-coverage no on 3 nodes read",
        "note     cluster-node-timeout 2000 ms: a failover starts that long after a"
        " master fails, and its carts answer 503 until a replica takes over",
        *CLIENT_LINES,
    ]


def test_check_cluster_names_each_node_with_full_coverage_yes(
    replicated: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the replica says ``yes``: it is named (it would apply it as master)."""
    nodes, replica = replicated["nodes"], replicated["replica"]
    _set_coverage(nodes, "no")
    _set_coverage([replica], "yes")
    try:
        _, out, _ = _run(
            capsys, "check", "--cluster", "--redis-url", replicated["cluster"].url
        )
    finally:
        _set_coverage(nodes, "no")
    assert (
        f"WARNING  cluster-require-full-coverage yes on {_name(replica)}: carts on"
        " healthy masters answer 503 while one shard fails over; set"
        " cluster-require-full-coverage no on every node"
    ) in _failover(out)


def test_check_cluster_as_the_app_user_cannot_read_config(
    replicated: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The user of ``qscookies acl --cluster``: locked in (exit 0), the shard
    map from ``CLUSTER SLOTS`` (it has ``cluster|slots`` only), ``CONFIG``
    refused on every node: the line says what the settings should be."""
    cluster, nodes = replicated["cluster"], replicated["nodes"]
    first, second = cluster.nodes
    url = cluster.url.replace("redis://", f"redis://qs-app:{APP_PASSWORD}@")
    code, out, err = _run(capsys, "check", "--cluster", "--redis-url", url)
    assert err == ""
    names = ", ".join(sorted(_name(node) for node in nodes))
    lines = _failover(out)
    assert lines == [
        "failover (the cluster's shards from CLUSTER SLOTS):",
        f"ok       master {_name(first)} (slots 0-8191): 1 replica online",
        f"WARNING  master {_name(second)} (slots 8192-16383): {NO_REPLICA}",
        "ok       all 16384 slots served",
        "unknown  could not read cluster-require-full-coverage and"
        f" cluster-node-timeout on 3 nodes (CONFIG GET refused, or no answer:"
        f" {names}): set cluster-require-full-coverage no on every node; a"
        " failover starts after cluster-node-timeout",
        *CLIENT_LINES,
    ]
    if nodes[0].version >= (7, 0, 0):  # 6.2: a cluster user cannot be asked
        lua = lua_advisory({"redis_version": ".".join(map(str, nodes[0].version))})
        assert code == int(lua.needs_fix) and "locked in" in out
    else:
        assert code == 1 and "not verified" in out


def test_the_surveyor_asks_only_its_questions(
    redis_cluster: RedisClusterServers,
) -> None:
    with connect(redis_cluster.url, socket_timeout=2, cluster=True) as client:
        surveyor = Surveyor(client)
        for command in [
            ("CONFIG", "SET", "cluster-require-full-coverage", "no"),
            ("CONFIG", "GET", "requirepass"),
            ("CLUSTER", "RESET"),
            ("KEYS", "*"),
        ]:
            with pytest.raises(CommandRefused):
                surveyor._ask(*command)
        assert surveyor.settings()["cluster-require-full-coverage"] == {
            _name(node): "yes" for node in redis_cluster.nodes
        }
    with pytest.raises(ConfigurationError):
        Surveyor(object())


def test_slots_served_by_no_master_are_a_warning() -> None:
    shards = [Shard("10.0.0.1:7000", ((0, 99), (200, 16000)), 1, True)]
    findings = [str(f) for f in shard_findings(shards)]
    assert findings == [
        "ok       master 10.0.0.1:7000 (slots 0-99, 200-16000): 1 replica online",
        "WARNING  483 of 16384 slots served by no master (100-199, 16001-16383):"
        " cart writes to them fail",
    ]
    down = Shard("10.0.0.2:7000", ((0, 16383),), 2, False)
    assert [str(f) for f in shard_findings([down])][0] == (
        "WARNING  master 10.0.0.2:7000 (slots 0-16383): not online"
    )


def test_a_cluster_client_that_retries_is_a_warning(
    redis_cluster: RedisClusterServers,
) -> None:
    """The same verdict as the start-up warning's, for a client redis-py's way."""
    with redis_cluster.client() as client:
        assert str(client_findings(client)[0]) == (
            "WARNING  this command's client retries 10 times and has no socket_timeout"
        )
