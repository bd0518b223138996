"""Start-up findings once per server, not once per worker process.

A real gunicorn with 3 sync workers on a private Redis: as the default user (who
could export the data) its combined log holds the warning once, with
``--preload`` too (the app built once in the master, its workers serving carts);
as the locked-down app user of ``qscookies acl`` it holds no qscookies line but
the server's version against the 2025 Lua fixes (once too: the user may not
``INFO``, its ``HELLO`` tells). The marker itself
(:func:`~qscookies.store.startup.logged_by`) is tested with sibling processes: a
live sibling's marker silences the line, a dead one's does not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from qscookies.acl import app_rules
from qscookies.advisories import lua_advisory
from qscookies.embedded import RedisServer
from qscookies.store.startup import MARKER_TTL

from gunicorn_server import gunicorn

EXPORTABLE = "qscookies: Redis user default: data exportable: "
APP_PASSWORD = "app-Secret-1-long-enough"


def _qscookies_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("qscookies")]


def _lua_lines(server: RedisServer) -> list[str]:
    """The start-up lines about *server*'s version: none for a fixed release
    with functions; else the verdict (and the 6.2 note), each once."""
    advisory = lua_advisory({"redis_version": ".".join(map(str, server.version))})
    if not (advisory.needs_fix or advisory.scripts_open):
        return []
    return [f"qscookies: {line}" for line in advisory.lines()]


def _split(log: str, server: RedisServer) -> list[str]:
    """The qscookies lines of *log* after the version's, which it checks: once,
    first, worded as :mod:`qscookies.advisories` says."""
    lines, lua = _qscookies_lines(log), _lua_lines(server)
    assert [line.partition(" (pid ")[0] for line in lines[: len(lua)]] == lua, log
    return lines[len(lua) :]


@pytest.mark.parametrize("preload", [False, True], ids=["workers", "preload"])
def test_three_workers_warn_once(
    tmp_path: Path, fresh_redis_server: RedisServer, preload: bool
) -> None:
    with (
        gunicorn(
            tmp_path, fresh_redis_server.url, workers=3, preload=preload
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as shopper,
    ):
        assert [shopper.get("/add?sku=A").json() for _ in range(3)] == [1, 2, 3]
        log = server.log
    (line,) = _split(log, fresh_redis_server)
    assert line.startswith(EXPORTABLE), log
    assert line.endswith(
        f"logged once for the worker processes of parent pid {server.pid})"
        if not preload
        else ")"
    )
    assert "Traceback" not in log


def test_a_locked_down_user_gets_only_the_version_warning(
    tmp_path: Path, fresh_redis_server: RedisServer
) -> None:
    version = "7" if fresh_redis_server.version >= (7,) else "6.2"
    with fresh_redis_server.client() as admin:
        admin.execute_command(
            "ACL", "SETUSER", "qs-app", "on", f">{APP_PASSWORD}",
            *app_rules("qs:", version),
        )  # fmt: skip
    url = fresh_redis_server.url.replace("redis://", f"redis://qs-app:{APP_PASSWORD}@")
    with (
        gunicorn(tmp_path, url, workers=3) as server,
        httpx.Client(base_url=server.url, timeout=10) as shopper,
    ):
        assert shopper.get("/add?sku=A").json() == 1
        log = server.log
    assert _split(log, fresh_redis_server) == [], log


_SIBLING = """
import sys
from qscookies.store.client import connect
from qscookies.store.startup import logged_by
with connect(sys.argv[1], socket_timeout=2) as client:
    print(logged_by(client, "qs:", "qscookies: a finding"), flush=True)
sys.stdin.read()  # alive until the test closes stdin
"""


def _sibling(url: str) -> tuple[subprocess.Popen[str], str]:
    """A process of the same parent (this one) that checks: it and its answer."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SIBLING, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _end(process: subprocess.Popen[str]) -> None:
    process.communicate("", timeout=30)


def test_a_live_siblings_marker_silences_the_line_a_dead_ones_does_not(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    first, said = _sibling(redis_server.url)
    assert said == "None"  # first: it logs
    try:
        second, said = _sibling(redis_server.url)
        assert said == str(first.pid)  # a live sibling logged it: DEBUG only
        _end(second)
    finally:
        _end(first)
    (key,) = redis_client.keys("qs:s:*")
    assert 0 < redis_client.ttl(key) <= MARKER_TTL
    # the last to check holds the marker; it is gone now: a restart logs again
    restarted, said = _sibling(redis_server.url)
    _end(restarted)
    assert said == "None"
