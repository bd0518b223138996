"""A replica for ``bench/requests.py --replica``: ``durable_writes=1`` needs one."""

from __future__ import annotations

from qscookies.embedded import HOST
from qscookies.embedded import Managed
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until


class Replica(Managed):
    """A private ``redis-server`` replicating *master* (a context manager).

    :param master: the private server to replicate.
    """

    def __init__(self, master: RedisServer) -> None:
        self.master = master
        self.server = RedisServer(args=["--replicaof", HOST, str(master.port)])

    def start(self) -> Replica:
        """Start it and wait until it is in sync (``WAIT`` answers at once)."""
        self.server.start()
        wait_until(self._synced, "the replica to sync", 10)
        return self

    def _synced(self) -> bool:
        with self.master.client() as admin:
            replica = admin.info("replication").get("slave0", {})
        return isinstance(replica, dict) and replica.get("state") == "online"

    def stop(self) -> None:
        """Stop it (idempotent)."""
        self.server.stop()
