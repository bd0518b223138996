"""Redis Cluster and Sentinel launchers for the scale tests.

They start real ``redis-server`` processes from the binary the suite uses (see
:func:`qscookies.embedded.find_redis_server`): a cluster of masters formed
without ``redis-cli``, and a master watched by a sentinel; :func:`frozen`
pauses one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from qscookies.embedded import HOST
from qscookies.embedded import START_TIMEOUT
from qscookies.embedded import Managed
from qscookies.embedded import RedisServer
from qscookies.embedded import find_redis_server
from qscookies.embedded import wait_until


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
    """A cluster of *size* masters sharing the 16384 slots, formed without
    ``redis-cli`` (a context manager).

    :param args: extra command line arguments for every node.
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        size: int = 3,
        args: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        binary = find_redis_server(binary)
        node_args: list[str | os.PathLike[str]]
        node_args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        node_args += ["--cluster-node-timeout", "2000", *args]
        self.nodes = [RedisServer(binary, args=node_args) for _ in range(size)]

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
        """Start the nodes, form the cluster and wait until it is ``ok`` everywhere."""
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
        size = len(self.nodes)
        for i, node in enumerate(self.nodes):
            first, last = i * 16384 // size, (i + 1) * 16384 // size - 1
            with node.client() as client:
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
                if node.version >= (7, 0, 0):
                    client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
                else:
                    client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        with self.nodes[0].client() as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER MEET", HOST, node._port)
        wait_until(self._ok, "the cluster to be formed", 4 * START_TIMEOUT)

    def _ok(self) -> bool:
        for node in self.nodes:
            with node.client() as client:
                info = client.execute_command("CLUSTER INFO")  # parsed into a dict
            known = int(info["cluster_known_nodes"])
            if info["cluster_state"] != "ok" or known != len(self.nodes):
                return False
        return True

    def stop(self) -> None:
        """Stop every node (idempotent)."""
        for node in self.nodes:
            node.stop()


class _SentinelProcess(RedisServer):
    def __init__(self, binary: str, master: RedisServer, name: str) -> None:
        super().__init__(binary)
        self.master, self.name = master, name

    def _command(self) -> list[str]:
        conf = self.directory / "sentinel.conf"  # sentinel needs to rewrite it
        if not conf.exists():
            monitor = f"monitor {self.name} {HOST} {self.master._port} 1"
            lines = [monitor, f"down-after-milliseconds {self.name} 1000"]
            lines.append(f"failover-timeout {self.name} 2000")
            conf.write_text("".join(f"sentinel {line}\n" for line in lines))
        return [self.binary, str(conf), "--sentinel", *super()._command()[1:]]


class SentinelServers(Managed):
    """A master and one sentinel monitoring it as :attr:`service_name`
    (a context manager).

    :param args: extra command line arguments for the master.
    """

    service_name = "mymaster"

    def __init__(
        self,
        binary: str | None = None,
        *,
        args: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        binary = find_redis_server(binary)
        self.master = RedisServer(binary, args=args)
        self.sentinel: RedisServer = _SentinelProcess(
            binary, self.master, self.service_name
        )

    @property
    def sentinel_address(self) -> tuple[str, int]:
        """``(host, port)`` of the sentinel."""
        return HOST, self.sentinel._port

    def master_client(self, **kwargs: Any) -> redis.Redis:
        """Return a client of the master found through the sentinel."""
        sentinel = Sentinel([self.sentinel_address], socket_timeout=5)
        client: redis.Redis = sentinel.master_for(self.service_name, **kwargs)
        return client

    def start(self) -> SentinelServers:
        """Start both and wait until the sentinel sees the master up."""
        try:
            self.master.start()
            self.sentinel.start()
            seen, what = self._master_seen, "the sentinel to see the master"
            wait_until(seen, what, START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def _master_seen(self) -> bool:
        with self.sentinel.client() as client:
            state = client.sentinel_master(self.service_name)
        return bool(state["is_master"] and not state["is_disconnected"])

    def stop(self) -> None:
        """Stop both (idempotent)."""
        self.sentinel.stop()
        self.master.stop()
