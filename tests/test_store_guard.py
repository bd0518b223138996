"""The store's own command allow-list: refused commands never reach a socket."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import redis

import qscookies.store
from qscookies import CommandRefused
from qscookies import StoreUnavailable
from qscookies.acl import EXPORT_PROBES
from qscookies.embedded import RedisServer
from qscookies.store import APP_COMMANDS
from qscookies.store import PROBE_COMMANDS
from qscookies.store import REPORT_COMMANDS
from qscookies.store import SCRIPT_COMMANDS
from qscookies.store import Store
from qscookies.store import connect

#: The export-class commands, with arguments of valid arity. (GET and HGETALL
#: probe keys outside the prefix: keys are the ACL's job, not the store's.)
REFUSED_PROBES = [p for p in EXPORT_PROBES if p[0] not in ("GET", "HGETALL")]
EXPORT_COMMANDS = sorted({probe[0] for probe in REFUSED_PROBES} | {"EXEC", "GET"})


def _dead_port() -> int:
    """A port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dead_store() -> Iterator[Store]:
    client = connect(f"redis://127.0.0.1:{_dead_port()}/0", socket_timeout=0.5)
    yield Store(client)
    client.close()


@pytest.mark.parametrize("command", REFUSED_PROBES, ids=lambda c: " ".join(c[:2]))
def test_export_commands_are_refused_before_any_connection(
    dead_store: Store, command: tuple[str, ...]
) -> None:
    args = [arg.format(prefix="qs:") for arg in command]
    with pytest.raises(CommandRefused) as refused:
        dead_store.call(*args)
    assert refused.value.command == command[0]
    with pytest.raises(CommandRefused):
        dead_store.batch().add(*args)
    with pytest.raises(CommandRefused):
        dead_store.call(command[0].lower(), *args[1:])  # case does not matter
    pool = dead_store.client.connection_pool
    assert pool._created_connections == 0  # nothing even tried to connect


def test_an_allowed_command_on_the_dead_port_is_a_connection_fault(
    dead_store: Store,
) -> None:
    """The contrast: the refusal above is not a connection error in disguise."""
    with pytest.raises(StoreUnavailable):
        dead_store.call("HGETALL", "qs:c:{x}")


def test_refused_commands_leave_the_server_untouched(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    redis_client.set("qs:keep", "1")
    redis_client.config_resetstat()
    with connect(redis_server.url, socket_timeout=1) as client:
        store = Store(client)
        for command in EXPORT_COMMANDS:
            with pytest.raises(CommandRefused):
                store.call(command, "qs:keep")
        batch = store.batch()
        batch.add("HGETALL", "qs:keep-not")
        with pytest.raises(CommandRefused):
            batch.add("KEYS", "*")
        stats = redis_client.info("commandstats")
    sent = {name for name, stat in stats.items() if stat["calls"]}
    assert sent <= {"cmdstat_config|resetstat", "cmdstat_config"}  # ours only
    assert redis_client.get("qs:keep") == b"1"


def test_the_allow_lists_hold_no_export_command() -> None:
    for allowed in (APP_COMMANDS, REPORT_COMMANDS, SCRIPT_COMMANDS):
        assert not allowed & set(EXPORT_COMMANDS)
    assert REPORT_COMMANDS == {"HGETALL", "PFCOUNT", "ZRANGE"}


def test_script_commands_are_exactly_what_the_scripts_call() -> None:
    scripts = [
        value
        for value in vars(qscookies.store).values()
        if isinstance(value, str) and "redis.call(" in value
    ]
    called = {
        name.upper()
        for script in scripts
        for name in re.findall(r"redis\.call\('(\w+)'", script)
    }
    assert len(scripts) >= 2
    assert called == SCRIPT_COMMANDS


def test_the_probe_store_may_not_read_or_write_data(dead_store: Store) -> None:
    probe_store = Store(dead_store.client, allowed=PROBE_COMMANDS)
    for command in ("HGETALL", "HSET", "DEL", "EVAL", "DUMP"):
        with pytest.raises(CommandRefused):
            probe_store.call(command, "qs:c:{x}")


@pytest.mark.parametrize("command", ["EXEC", "exec", "DISCARD", "MULTI", "RESET"])
def test_a_probe_never_queues_what_would_run_the_transaction(
    dead_store: Store, command: str
) -> None:
    probe_store = Store(dead_store.client, allowed=PROBE_COMMANDS)
    with pytest.raises(CommandRefused):
        probe_store.probe([("DUMP", "qs:x"), (command,)])
    assert dead_store.client.connection_pool._created_connections == 0


def test_a_probe_on_a_dead_port_is_unavailable(dead_store: Store) -> None:
    probe_store = Store(dead_store.client, allowed=PROBE_COMMANDS)
    with pytest.raises(StoreUnavailable):
        probe_store.probe([("DUMP", "qs:x")])


def test_an_app_store_cannot_probe(dead_store: Store) -> None:
    with pytest.raises(CommandRefused):
        dead_store.probe([("DUMP", "qs:x")])
