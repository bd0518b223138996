"""The store's own command allow-list: refused commands never reach a socket."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import redis

import qscookies.scripts
from qscookies import CommandRefused
from qscookies import StoreUnavailable
from qscookies.command import Command
from qscookies.command import script
from qscookies.embedded import RedisServer
from qscookies.probes import EXPORT_PROBES
from qscookies.scripts import SCRIPT_COMMANDS
from qscookies.store.app import APP_COMMANDS
from qscookies.store.app import AppStore
from qscookies.store.client import Guard
from qscookies.store.client import connect
from qscookies.store.probe import PROBE_COMMANDS
from qscookies.store.probe import Prober
from qscookies.store.reader import REPORT_COMMANDS

#: The export-class commands, with arguments of valid arity. (GET and HGETALL
#: probe keys outside the prefix: the ACL refuses those, and a store with a
#: prefix too, see test_a_key_outside_the_prefix_never_reaches_redis.)
REFUSED_PROBES = [p for p in EXPORT_PROBES if p[0] not in ("GET", "HGETALL")]
EXPORT_COMMANDS = sorted({probe[0] for probe in REFUSED_PROBES} | {"EXEC", "GET"})


def _dead_port() -> int:
    """A port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dead_client() -> Iterator[redis.Redis]:
    client = connect(f"redis://127.0.0.1:{_dead_port()}/0", socket_timeout=0.5)
    yield client
    client.close()


@pytest.fixture
def dead_store(dead_client: redis.Redis) -> Guard:
    return Guard(dead_client, APP_COMMANDS)


@pytest.mark.parametrize("command", REFUSED_PROBES, ids=lambda c: " ".join(c[:2]))
def test_export_commands_are_refused_before_any_connection(
    dead_store: Guard, dead_client: redis.Redis, command: tuple[str, ...]
) -> None:
    name, *args = [arg.format(prefix="qs:") for arg in command]
    exported = Command(name, args=tuple(args))
    with pytest.raises(CommandRefused) as refused:
        dead_store.call(exported)
    assert refused.value.command == command[0]
    with pytest.raises(CommandRefused):
        dead_store.send([Command("HGETALL", ("qs:c:{x}",)), exported])
    with pytest.raises(CommandRefused):
        dead_store.call(exported._replace(name=name.lower()))  # case does not matter
    app_store = AppStore(dead_client, prefix="qs:", retry_interval=1)
    with pytest.raises(CommandRefused):  # a bug, never an outage
        app_store.send([exported])
    with pytest.raises(CommandRefused):
        app_store.track([exported])
    pool = dead_client.connection_pool
    assert pool._created_connections == 0  # nothing even tried to connect


def test_an_allowed_command_on_the_dead_port_is_a_connection_fault(
    dead_store: Guard,
) -> None:
    """The contrast: the refusal above is not a connection error in disguise."""
    with pytest.raises(StoreUnavailable):
        dead_store.call(Command("HGETALL", ("qs:c:{x}",)))


def test_refused_commands_leave_the_server_untouched(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    redis_client.set("qs:keep", "1")
    redis_client.config_resetstat()
    with connect(redis_server.url, socket_timeout=1) as client:
        store = Guard(client, APP_COMMANDS)
        for command in EXPORT_COMMANDS:
            with pytest.raises(CommandRefused):
                store.call(Command(command, ("qs:keep",)))
        with pytest.raises(CommandRefused):
            store.send(
                [Command("HGETALL", ("qs:keep-not",)), Command("KEYS", args=("*",))]
            )
        stats = redis_client.info("commandstats")
    sent = {name for name, stat in stats.items() if stat["calls"]}
    assert sent <= {"cmdstat_config|resetstat", "cmdstat_config"}  # ours only
    assert redis_client.get("qs:keep") == b"1"


OUTSIDE = [
    pytest.param(Command("HGETALL", ("shop:c:{x}",)), id="another-prefix"),
    pytest.param(Command("DEL", ("qs:c:{x}", "keep")), id="second-key"),
    pytest.param(Command("EXPIRE", ("qsc:{x}",), (9,)), id="prefix-without-colon"),
    pytest.param(script(qscookies.scripts.CART_LINES, ("keep", "qs:l")), id="script"),
]


@pytest.mark.parametrize("outside", OUTSIDE)
def test_a_key_outside_the_prefix_is_refused_before_any_connection(
    dead_client: redis.Redis, outside: Command
) -> None:
    guard = Guard(dead_client, APP_COMMANDS, prefix="qs:")
    with pytest.raises(CommandRefused, match="outside 'qs:'") as refused:
        guard.call(outside)
    assert (refused.value.command, refused.value.key) == (
        outside.name,
        next(key for key in outside.keys if not key.startswith("qs:")),
    )
    app_store = AppStore(dead_client, prefix="qs:", retry_interval=1)
    inside = Command("HGETALL", ("qs:c:{x}",))
    for send in (app_store.send, app_store.track, guard.send):
        with pytest.raises(CommandRefused):  # a bug, never an outage
            send([inside, outside])
    assert dead_client.connection_pool._created_connections == 0  # type: ignore[attr-defined]


def test_a_key_outside_the_prefix_never_reaches_redis(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    redis_client.set("keep", "1")
    redis_client.config_resetstat()
    with connect(redis_server.url, socket_timeout=1) as client:
        store = AppStore(client, prefix="qs:", retry_interval=1, owned=False)
        with pytest.raises(CommandRefused):
            store.send(
                [Command("HINCRBY", ("qs:a:{x}",), ("n", 1)), Command("DEL", ("keep",))]
            )
        with pytest.raises(CommandRefused):
            store.send(
                [
                    script(
                        qscookies.scripts.CART_CLEAR,
                        ("qs:c:{x}", "qs:l:{x}", "keep"),
                        "0",
                    )
                ]
            )
        assert store.send([Command("HINCRBY", ("qs:a:{x}",), ("n", 1))]) == [1]
        stats = redis_client.info("commandstats")
    sent = {name for name, stat in stats.items() if stat["calls"]}
    assert sent <= {"cmdstat_config|resetstat", "cmdstat_config", "cmdstat_hincrby"}
    assert stats["cmdstat_hincrby"]["calls"] == 1  # the one inside, alone
    assert redis_client.get("keep") == b"1"


def test_the_allow_lists_hold_no_export_command() -> None:
    for allowed in (APP_COMMANDS, REPORT_COMMANDS, SCRIPT_COMMANDS):
        assert not allowed & set(EXPORT_COMMANDS)
    assert REPORT_COMMANDS == {"HGETALL", "PFCOUNT", "ZRANGE"}


def test_script_commands_are_exactly_what_the_scripts_call() -> None:
    scripts = [
        value
        for value in vars(qscookies.scripts).values()
        if isinstance(value, str) and "redis.call(" in value
    ]
    called = {
        name.upper()
        for script in scripts
        for name in re.findall(r"redis\.call\('(\w+)'", script)
    }
    assert len(scripts) >= 2
    assert called == SCRIPT_COMMANDS


def test_the_probe_may_not_read_or_write_data(dead_client: redis.Redis) -> None:
    probe_guard = Guard(dead_client, PROBE_COMMANDS)
    for command in ("HGETALL", "HSET", "DEL", "EVAL", "DUMP"):
        with pytest.raises(CommandRefused):
            probe_guard.call(Command(command, ("qs:c:{x}",)))


@pytest.mark.parametrize("command", ["EXEC", "exec", "DISCARD", "MULTI", "RESET"])
def test_a_probe_never_queues_what_would_run_the_transaction(
    dead_client: redis.Redis, command: str
) -> None:
    with pytest.raises(CommandRefused):
        Prober(dead_client).probe([("DUMP", "qs:x"), (command,)])
    assert dead_client.connection_pool._created_connections == 0


def test_a_probe_on_a_dead_port_is_unavailable(dead_client: redis.Redis) -> None:
    with pytest.raises(StoreUnavailable):
        Prober(dead_client).probe([("DUMP", "qs:x")])


def test_no_public_object_hands_out_the_raw_client(redis_client: redis.Redis) -> None:
    from qscookies import PromotionReport

    from shop import wrap

    for owner in (wrap(redis_client), PromotionReport(redis=redis_client)):
        public = {name for name in dir(owner) if not name.startswith("_")}
        for name in public:
            value = getattr(owner, name)
            assert not isinstance(value, redis.Redis), name
            for inner in dir(value):
                if not inner.startswith("_"):
                    assert not isinstance(getattr(value, inner, None), redis.Redis)
