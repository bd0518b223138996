"""Start-up findings once per server, not once per worker process.

A real gunicorn with 3 sync workers on a private Redis: as the default user (who
could export the data) its combined log holds the warning once, with
``--preload`` too (the app built once in the master, its workers serving carts);
as the locked-down app user of ``qscookies acl`` it holds no qscookies line but
the server's version against the 2025 Lua fixes (once too: the user may not
``INFO``, its ``HELLO`` tells). The marker itself
(:func:`~qscookies.startup.logged_by`, a claim file in the temp dir, nothing in
Redis) is tested with sibling processes: a live sibling's claim silences the line,
a dead one's does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from qscookies.advisories import lua_advisory
from qscookies.embedded import RedisServer
from qscookies.ops.acl import app_rules
from qscookies.startup import CLAIM_TTL

from gunicorn_server import gunicorn

pytestmark = pytest.mark.slow  # starts processes of its own

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
from qscookies.startup import claim_path, logged_by
print("ready", flush=True)
sys.stdin.readline()  # the test's go: every sibling asks at once
print(logged_by(sys.argv[1]), claim_path(sys.argv[1]), flush=True)
sys.stdin.read()  # alive until the test closes stdin
"""


def _siblings(line: str, count: int) -> list[tuple[subprocess.Popen[str], str]]:
    """*count* processes of the same parent (this one), started first and
    told to check at once: each and its answer."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SIBLING, line],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    answers = []
    for process in processes:
        assert process.stdout is not None
        said, _claim = process.stdout.readline().split()
        answers.append((process, said))
    return answers


def _sibling(line: str) -> tuple[subprocess.Popen[str], str]:
    """A process of the same parent (this one) that checks: it and its answer."""
    ((process, said),) = _siblings(line, 1)
    return process, said


def _claim_of(line: str) -> Path:
    """The claim file of *line* for this process's children (their parent: us)."""
    process = subprocess.run(
        [sys.executable, "-c", _SIBLING.replace("logged_by(sys.argv[1])", "0"), line],
        input="",
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(process.stdout.split()[-1])


def _end(process: subprocess.Popen[str]) -> None:
    process.communicate("", timeout=30)


def test_a_live_siblings_claim_silences_the_line_a_dead_ones_does_not(
    redis_client: redis.Redis,
) -> None:
    line = f"qscookies: a finding of {os.getpid()}"  # this run's own claim
    claim = _claim_of(line)
    claim.unlink(missing_ok=True)
    first, said = _sibling(line)
    assert said == "None"  # first: it logs
    try:
        second, said = _sibling(line)
        assert said == str(first.pid)  # a live sibling logged it: DEBUG only
        _end(second)
    finally:
        _end(first)
    assert claim.read_text() == str(first.pid)
    assert 0 <= time.time() - claim.stat().st_mtime <= CLAIM_TTL
    # the process of the claim is gone now: a restart logs again
    restarted, said = _sibling(line)
    _end(restarted)
    assert said == "None"
    claim.unlink()
    assert redis_client.dbsize() == 0  # nothing of it reaches Redis


def test_siblings_that_ask_at_once_log_the_line_once() -> None:
    """Workers forked together (``gunicorn --preload``) check in the same
    millisecond: one logs, the others name it, in every round."""
    for round_ in range(3):
        line = f"qscookies: a finding of {os.getpid()} asked at once, {round_}"
        claim = _claim_of(line)
        claim.unlink(missing_ok=True)
        answers = _siblings(line, 8)
        for process, _said in answers:
            _end(process)
        said = [said for _process, said in answers]
        (logger,) = [process.pid for process, said in answers if said == "None"]
        assert said.count(str(logger)) == 7, said
        assert claim.read_text() == str(logger)
        claim.unlink()


def test_a_stale_or_planted_claim_never_silences_the_line(tmp_path: Path) -> None:
    """A claim older than its TTL, a live process that is no sibling, a symlink
    or a hard link is no claim. Each names a live sibling's pid, which a fresh
    claim of the line's own would be silenced by (the control)."""
    line = f"qscookies: another finding of {os.getpid()}"
    claim = _claim_of(line)
    holder_line = f"{line}, held"
    holder, said = _sibling(holder_line)  # a live sibling: same parent, program
    try:
        assert said == "None"
        claim.write_text(str(holder.pid))
        first, said = _sibling(line)
        _end(first)
        assert said == str(holder.pid)  # the control: a fresh sibling's claim
        old = time.time() - CLAIM_TTL - 1
        os.utime(claim, (old, old))
        first, said = _sibling(line)
        _end(first)
        assert said == "None" and claim.read_text() == str(first.pid)
        target = tmp_path / "elsewhere"
        target.write_text(str(holder.pid))
        claim.unlink()
        claim.symlink_to(target)
        first, said = _sibling(line)
        _end(first)
        assert said == "None" and target.read_text() == str(holder.pid)  # untouched
        claim.unlink()
        os.link(target, claim)  # a hard link to a file of the user's: not written to
        first, said = _sibling(line)
        _end(first)
        assert said == "None" and target.read_text() == str(holder.pid)
        claim.unlink()
    finally:
        _end(holder)
        _claim_of(holder_line).unlink(missing_ok=True)
    # fresh, but its pid (reused, as on a busy host) names the siblings' parent
    claim.write_text(str(os.getpid()))
    first, said = _sibling(line)
    _end(first)
    assert said == "None" and claim.read_text() == str(first.pid)
    # a child of the same parent, but another program: a server started since
    other = subprocess.Popen(["sleep", "60"])
    try:
        claim.write_text(str(other.pid))
        first, said = _sibling(line)
        _end(first)
    finally:
        other.kill()
        other.wait()
    assert said == "None" and claim.read_text() == str(first.pid)
    claim.unlink()
