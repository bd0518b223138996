"""Redis down: one log line per failed request, on every door and server.

The README promises that every failed cart call logs one line naming the cause
and that nothing else logs that request (no traceback from the framework or the
server), and that skipped tracking is logged once per ``retry_interval``. Each
door is run on a private Redis that is then stopped: the WSGI door in process
and under werkzeug's threaded server, the ASGI door (Starlette and bare) under
uvicorn, with every log record of the process kept (``caplog`` at the root);
and the WSGI door under a real gunicorn, whose combined log is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from qscookies import QSCookies as WSGIQSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.embedded import RedisServer

from asgi_server import ASGIServer
from asgi_server import WSGIServer
from asgi_shop import Events
from asgi_shop import make_app
from gunicorn_server import gunicorn
from shop import SECRET
from shop import shop

pytestmark = pytest.mark.slow  # starts processes of its own

NOW = 1_800_000_000
RETRY = 5.0  # retry_interval
DOORS = ["wsgi-in-process", "wsgi-werkzeug", "asgi-starlette", "asgi-bare"]
CART_FAILED = "qscookies: a cart write or read failed: "


class _InProcess:
    """werkzeug's test client with the interface of ``httpx.Client`` used here."""

    def __init__(self, app: WSGIQSCookies) -> None:
        self._client = Client(app)

    def get(self, path: str) -> Any:
        return self._client.get(path)

    def close(self) -> None:
        pass


@dataclass
class Door:
    """A shop behind one door, on a private Redis that the test stops."""

    middleware: WSGIQSCookies | ASGIQSCookies
    browser: Callable[[], Any]  # a new browser (its own cookies)

    def at(self, now: float) -> None:
        self.middleware.clock = lambda: now


@pytest.fixture(params=DOORS)
def door(
    request: pytest.FixtureRequest, fresh_redis_server: RedisServer
) -> Iterator[Door]:
    settings: dict[str, Any] = {
        "secret_key": SECRET,
        "redis_url": fresh_redis_server.url,
        "socket_timeout": 0.5,
        "retry_interval": RETRY,
    }
    with ExitStack() as stack:
        if request.param.startswith("wsgi"):
            app: Any = WSGIQSCookies(shop, **settings)
            app.startup_check()  # the server's start-up hook, Redis still up
            stack.callback(app.close)
            if request.param == "wsgi-in-process":
                yield Door(app, lambda: _InProcess(app))
                return
            url = stack.enter_context(WSGIServer(app)).url
        else:
            app = ASGIQSCookies(make_app(request.param[5:], Events()), **settings)
            app.startup_check()
            url = stack.enter_context(ASGIServer(app, cleanup=[app.aclose])).url

        def browser() -> httpx.Client:
            return stack.enter_context(httpx.Client(base_url=url, timeout=10))

        yield Door(app, browser)


def _kept(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The warnings and errors of every logger (the servers' included)."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def _no_traceback(records: list[logging.LogRecord]) -> None:
    for record in records:
        assert record.exc_info is None, (record.name, record.getMessage())
        assert "Traceback" not in record.getMessage(), record.getMessage()


def test_a_cart_write_with_redis_down_is_one_log_line(
    door: Door, fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)  # the root: every logger, servers' too
    door.at(NOW)
    shopper = door.browser()
    assert shopper.get("/add?sku=A").status_code == 200  # the visit has begun
    fresh_redis_server.stop()
    for _ in range(3):
        caplog.clear()
        assert shopper.get("/add?sku=B").status_code == 503
        (line,) = _kept(caplog)  # one line for this request, and only one
        assert line.name == "qscookies", line.getMessage()
        assert line.getMessage().startswith(CART_FAILED + "Redis unavailable")
        _no_traceback([line])


def test_tracking_skipped_with_redis_down_is_logged_once_per_interval(
    door: Door, fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    door.at(NOW)
    fresh_redis_server.stop()

    def page_views(count: int) -> list[str]:
        caplog.clear()
        for _ in range(count):  # new visitors: each visit is tracked
            assert door.browser().get("/").status_code == 200
        _no_traceback(_kept(caplog))
        return [r.getMessage() for r in _kept(caplog)]

    (paused,) = page_views(1)
    assert paused.startswith("qscookies: tracking paused (cart reads with a default")
    assert page_views(3) == []  # skipped during the pause: not logged
    door.at(NOW + RETRY + 1)  # the pause ran out: tried again, failed again
    assert page_views(1) == [
        "qscookies: tracking still paused; 3 page views not tracked"
    ]
    assert page_views(3) == []


def test_redis_down_under_gunicorn_is_one_line_per_failed_request(
    tmp_path: Path, fresh_redis_server: RedisServer
) -> None:
    """The combined log of a real gunicorn (2 workers): no traceback, no
    second line, whichever worker answers."""
    with (
        gunicorn(
            tmp_path, fresh_redis_server.url, workers=2, socket_timeout="0.5"
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as shopper,
    ):
        assert shopper.get("/add?sku=A").status_code == 200
        fresh_redis_server.stop()
        before = server.log.splitlines()
        for _ in range(4):
            assert shopper.get("/add?sku=B").status_code == 503
        for _ in range(2):
            assert httpx.get(server.url + "/", timeout=10).status_code == 200
        lines = server.log.splitlines()[len(before) :]
    assert "Traceback" not in "\n".join(lines)
    assert [line for line in lines if "[ERROR]" in line] == []
    failed = [line for line in lines if line.startswith(CART_FAILED)]
    assert len(failed) == 4, lines
    others = [line for line in lines if line not in failed]
    # tracking: at most once per worker (each worker pauses on its own)
    assert all(line.startswith("qscookies: tracking paused") for line in others)
    assert 1 <= len(others) <= 2, lines
