"""Redis Cluster and Sentinel launchers for the scale tests.

They start real ``redis-server`` processes from the binary the suite uses (see
:func:`qscookies.embedded.find_redis_server`): a cluster of masters, with
replicas or not, formed without ``redis-cli``, and a master (with replicas or
not) watched by one or more sentinels; :func:`frozen` pauses a server,
:func:`kill` kills it (``kill -9``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Container
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from diagnosis import diagnosis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.sentinel import Sentinel

from qscookies.embedded import HOST
from qscookies.embedded import START_TIMEOUT
from qscookies.embedded import Managed
from qscookies.embedded import RedisServer
from qscookies.embedded import find_redis_server
from qscookies.embedded import wait_until
from qscookies.errors import EmbeddedRedisError

#: Replicas sync at once (Redis 7 waits 5 s for more replicas by default).
FAST_SYNC = ["--repl-diskless-sync-delay", "0"]


def kill(server: RedisServer) -> None:
    """``kill -9`` *server* and wait until it is gone (its data goes with it).

    :raises EmbeddedRedisError: it was still there after ``START_TIMEOUT``; the
        message says what the process was doing (see :func:`diagnosis.diagnosis`).
    """
    pid = server.pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    try:
        wait_until(lambda: dead(server, pid), f"{server!r} to die", START_TIMEOUT)
    except EmbeddedRedisError as error:
        raise EmbeddedRedisError(f"{error}\n{diagnosis(server, pid)}") from error


def dead(server: RedisServer, pid: int) -> bool:
    """Whether *server* (process *pid*, killed) runs no more of its code: reaped,
    or a zombie. A zombie whose last thread is still leaving the kernel cannot
    be reaped yet (seen for over 10 s on a loaded machine: ``State: Z``,
    ``Threads: 2``), but answers nothing; the server's stop reaps it."""
    if not server.running:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


@contextmanager
def frozen(server: RedisServer) -> Iterator[None]:
    """*server* stopped (``SIGSTOP``) inside the block."""
    assert server.pid
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


class RedisClusterServers(Managed):
    """A cluster of *size* masters sharing the 16384 slots, each with *replicas*
    replicas, formed without ``redis-cli`` (a context manager).

    :attr:`nodes` lists every node, the masters first (as started: after a
    failover, :meth:`master_of` says who holds a key).

    :param replicas: replicas per master (``CLUSTER REPLICATE``).
    :param node_timeout: ``cluster-node-timeout`` in ms: how soon a master that
        stopped answering is failed over.
    :param args: extra command line arguments for every node.
    :param functions: each node loads qscookies's function library at start
        (see :class:`~qscookies.embedded.RedisServer`); ``False``: none does,
        for a test that loads it as an operator would.
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        size: int = 3,
        replicas: int = 0,
        node_timeout: int = 2000,
        args: Sequence[str | os.PathLike[str]] = (),
        functions: bool = True,
    ) -> None:
        binary = find_redis_server(binary)
        node_args: list[str | os.PathLike[str]]
        node_args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        node_args += ["--cluster-node-timeout", str(node_timeout)]
        if replicas:
            node_args += FAST_SYNC
        node_args += args
        self.size, self.replicas_per_master = size, replicas
        count = size * (1 + replicas)
        self.nodes = [
            RedisServer(binary, args=node_args, functions=functions)
            for _ in range(count)
        ]

    @property
    def masters(self) -> list[RedisServer]:
        """The nodes started as masters (slots assigned at formation)."""
        return self.nodes[: self.size]

    @property
    def replicas(self) -> list[RedisServer]:
        """The nodes started as replicas; replica ``j`` of master ``i`` is
        ``replicas[i * replicas_per_master + j]``."""
        return self.nodes[self.size :]

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        """The nodes, for :class:`~redis.cluster.RedisCluster`'s ``startup_nodes``."""
        return [ClusterNode(HOST, node._port) for node in self.nodes]

    @property
    def url(self) -> str:
        """A URL for :meth:`redis.cluster.RedisCluster.from_url`."""
        return f"redis://{HOST}:{self.nodes[0]._port}"

    def client(self, **kwargs: Any) -> RedisCluster:
        """Return a new cluster client; the caller closes it."""
        return RedisCluster(startup_nodes=self.startup_nodes, **kwargs)

    def start(self) -> RedisClusterServers:
        """Start the nodes, form the cluster and wait until it is ``ok`` everywhere
        and every master has its replicas online."""
        try:
            for node in self.nodes:
                node.start()
            if not self._ok():
                self._form()
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self) -> None:
        size = self.size
        for i, node in enumerate(self.masters):
            first, last = i * 16384 // size, (i + 1) * 16384 // size - 1
            with node.client() as client:
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
                if node.version >= (7, 0, 0):
                    client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
                else:
                    client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        self._meet()
        wait_until(self._met, "every node to know every other", 40)
        if self.replicas:
            ids = [_node_id(master) for master in self.masters]
            for k, replica in enumerate(self.replicas):
                with replica.client() as client:
                    master_id = ids[k // self.replicas_per_master]
                    client.execute_command("CLUSTER REPLICATE", master_id)
        wait_until(self._ok, "the cluster to be formed", 4 * START_TIMEOUT)

    def _meet(self, known: Container[int] = ()) -> None:
        """Node 0 meets every other node but those in *known* (ports)."""
        with self.nodes[0].client() as client:
            for node in self.nodes[1:]:
                if node._port not in known:
                    client.execute_command("CLUSTER MEET", HOST, node._port)

    def _met(self) -> bool:
        """Whether every node knows every other; if not, node 0 meets again the
        nodes it does not know. Redis drops a handshake that got no answer
        within the node timeout and never retries it, so on a starved machine a
        node met once may never join (seen: "every node to know every other"
        timing out after 40 s); a node in handshake is left to finish it."""
        if self._all_known():
            return True
        with self.nodes[0].client() as client:
            self._meet({port for _, _, port, _ in _cluster_nodes(client)})
        return False

    def _all_known(self) -> bool:
        for node in self.nodes:
            with node.client() as client:
                lines = _cluster_nodes(client)
            if len(lines) != len(self.nodes) or any(
                "handshake" in flags or "noaddr" in flags for _, flags, *_ in lines
            ):
                return False
        return True

    def _ok(self) -> bool:
        for node in self.nodes:
            with node.client() as client:
                info = client.execute_command("CLUSTER INFO")  # parsed into a dict
                lines = _cluster_nodes(client)
            known = int(info["cluster_known_nodes"])
            if info["cluster_state"] != "ok" or known != len(self.nodes):
                return False
            replicas = [flags for _, flags, *_ in lines if "slave" in flags]
            if len(replicas) != len(self.replicas) or any(
                "fail" in flags for _, flags, *_ in lines
            ):
                return False
        for master in self.masters:
            if _online_replicas(master) != self.replicas_per_master:
                return False
        return True

    def master_of(self, key: str) -> RedisServer:
        """The running node that serves *key*'s slot as a master now."""
        slot = key_slot(key.encode())
        for node in self.nodes:
            if not node.running:
                continue
            try:
                with node.client(socket_timeout=1.0) as client:
                    for _, flags, port, slots in _cluster_nodes(client):
                        if "master" in flags and "fail" not in flags and slot in slots:
                            return self._by_port(port)
            except redis.RedisError:
                continue
        raise LookupError(f"no master serves slot {slot} of {key!r}")

    def _by_port(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node._port == port)

    def stop(self) -> None:
        """Stop every node (idempotent)."""
        for node in self.nodes:
            node.stop()


def _node_id(server: RedisServer) -> str:
    with server.client() as client:
        return str(client.execute_command("CLUSTER MYID"), "ascii")


def _cluster_nodes(client: redis.Redis) -> list[tuple[str, str, int, set[int]]]:
    """``CLUSTER NODES`` as ``(id, flags, port, slots)`` rows, read raw (redis-py's
    parsed form differs between versions)."""
    client.set_response_callback("CLUSTER NODES", lambda response, **_: response)
    raw = client.execute_command("CLUSTER NODES")
    if isinstance(raw, bytes):
        raw = raw.decode()
    rows = []
    for line in raw.splitlines():
        fields = line.split()
        address = fields[1].split("@")[0]
        slots: set[int] = set()
        for item in fields[8:]:
            if item.startswith("["):
                continue  # a slot being migrated
            first, _, last = item.partition("-")
            slots.update(range(int(first), int(last or first) + 1))
        rows.append((fields[0], fields[2], int(address.rsplit(":", 1)[1]), slots))
    return rows


def _online_replicas(server: RedisServer) -> int:
    with server.client() as client:
        info = client.info("replication")
    return sum(
        1
        for name, value in info.items()
        if name.startswith("slave")
        and isinstance(value, dict)
        and value.get("state") == "online"
    )


class _SentinelProcess(RedisServer):
    def __init__(
        self,
        binary: str,
        master: RedisServer,
        name: str,
        *,
        quorum: int = 1,
        down_after: int = 1000,
        failover_timeout: int = 2000,
    ) -> None:
        super().__init__(binary)
        self.master, self.name = master, name
        self.quorum, self.down_after = quorum, down_after
        self.failover_timeout = failover_timeout

    def _command(self) -> list[str]:
        conf = self.directory / "sentinel.conf"  # sentinel needs to rewrite it
        if not conf.exists():
            monitor = f"monitor {self.name} {HOST} {self.master._port} {self.quorum}"
            lines = [monitor, f"down-after-milliseconds {self.name} {self.down_after}"]
            lines.append(f"failover-timeout {self.name} {self.failover_timeout}")
            conf.write_text("".join(f"sentinel {line}\n" for line in lines))
        return [self.binary, str(conf), "--sentinel", *super()._command()[1:]]


class SentinelServers(Managed):
    """A master, *replicas* replicas of it (``--replicaof``) and *sentinels*
    sentinels monitoring it as :attr:`service_name` (a context manager).

    :param quorum: sentinels that must agree the master is down (default: a
        majority of them).
    :param down_after: ``down-after-milliseconds``: how soon a silent master is
        down.
    :param failover_timeout: ``failover-timeout`` in ms.
    :param args: extra command line arguments for the master and the replicas.
    """

    service_name = "mymaster"

    def __init__(
        self,
        binary: str | None = None,
        *,
        replicas: int = 0,
        sentinels: int = 1,
        quorum: int | None = None,
        down_after: int = 1000,
        failover_timeout: int = 2000,
        args: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        binary = find_redis_server(binary)
        if replicas:
            args = [*FAST_SYNC, *args]
        self.master = RedisServer(binary, args=args)
        replica_args = [*args, "--replicaof", HOST, str(self.master._port)]
        self.replicas = [
            RedisServer(binary, args=replica_args) for _ in range(replicas)
        ]
        quorum = sentinels // 2 + 1 if quorum is None else quorum
        self.sentinels: list[RedisServer] = [
            _SentinelProcess(
                binary,
                self.master,
                self.service_name,
                quorum=quorum,
                down_after=down_after,
                failover_timeout=failover_timeout,
            )
            for _ in range(sentinels)
        ]
        self.sentinel = self.sentinels[0]

    @property
    def servers(self) -> list[RedisServer]:
        """The master and the replicas (as started)."""
        return [self.master, *self.replicas]

    @property
    def sentinel_address(self) -> tuple[str, int]:
        """``(host, port)`` of the first sentinel."""
        return HOST, self.sentinel._port

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``(host, port)`` of every sentinel."""
        return [(HOST, sentinel._port) for sentinel in self.sentinels]

    def master_client(self, **kwargs: Any) -> redis.Redis:
        """Return a client of the master found through the sentinels."""
        sentinel = Sentinel(self.sentinel_addresses, socket_timeout=5)
        client: redis.Redis = sentinel.master_for(self.service_name, **kwargs)
        return client

    def current_master(self) -> RedisServer:
        """The server the first sentinel that answers names as the master now."""
        for sentinel in self.sentinels:
            if not sentinel.running:
                continue
            with sentinel.client(socket_timeout=1.0) as client:
                try:
                    _, port = client.sentinel_get_master_addr_by_name(self.service_name)
                except redis.RedisError:
                    continue
            return next(s for s in self.servers if s._port == int(port))
        raise LookupError("no sentinel answers")

    def start(self) -> SentinelServers:
        """Start them all and wait until the replicas are in sync and every
        sentinel sees the master up, its replicas and the other sentinels."""
        try:
            self.master.start()
            for replica in self.replicas:
                replica.start()
            online, what = self._replicas_online, "the replicas to sync"
            wait_until(online, what, 4 * START_TIMEOUT)
            for sentinel in self.sentinels:
                sentinel.start()
            seen, what = self._master_seen, "the sentinels to see the master"
            wait_until(seen, what, 4 * START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def _replicas_online(self) -> bool:
        return _online_replicas(self.master) == len(self.replicas)

    def _master_seen(self) -> bool:
        for sentinel in self.sentinels:
            with sentinel.client() as client:
                state = client.sentinel_master(self.service_name)
            if not (state["is_master"] and not state["is_disconnected"]):
                return False
            if state["num-slaves"] != len(self.replicas):
                return False
            if state["num-other-sentinels"] != len(self.sentinels) - 1:
                return False
        return True

    def stop(self) -> None:
        """Stop them all (idempotent)."""
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in reversed(self.servers):
            server.stop()
