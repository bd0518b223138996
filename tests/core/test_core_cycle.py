"""The request cycle of :mod:`qscookies.core.cycle`: plain calls, no Redis."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from test_core_request import make_request
from test_core_request import make_rules
from test_core_request import visitor

from qscookies.core.cycle import WRAPPED_TWICE
from qscookies.core.cycle import Cycle
from qscookies.core.cycle import Head
from qscookies.core.cycle import Startup
from qscookies.core.cycle import Turn
from qscookies.core.messages import UNAVAILABLE_BODY
from qscookies.errors import ConfigurationError
from qscookies.errors import QSCookiesError
from qscookies.errors import StoreUnavailable


def turn(check: Any = None, query: str = "", **fields: Any) -> Turn:
    cycle = Cycle(make_rules(privacy_path="/privacy"), Startup(check))
    return cycle.open(make_request(query, **fields), wrapped=False)


def refuse() -> None:
    raise ConfigurationError("strict=True refuses to start: data exportable")


def test_a_double_wrap_is_refused_before_the_start_up_check() -> None:
    ran: list[int] = []
    cycle = Cycle(make_rules(), Startup(lambda: ran.append(1)))
    with pytest.raises(QSCookiesError) as raised:
        cycle.open(make_request(), wrapped=True)
    assert str(raised.value) == WRAPPED_TWICE
    assert ran == []


def test_the_start_up_check_runs_once_however_many_threads_ask() -> None:
    ran: list[int] = []

    def slow() -> None:
        ran.append(1)
        time.sleep(0.05)

    startup = Startup(slow)
    threads = [threading.Thread(target=startup.run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    startup.run(explicit=True)
    assert ran == [1] and startup.done and startup.refusal is None


def test_a_refusal_raises_from_the_hook_and_every_request_answers_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    startup = Startup(refuse)
    with pytest.raises(ConfigurationError, match="refuses to start"):
        startup.run(explicit=True)
    with pytest.raises(ConfigurationError, match="refuses to start"):
        startup.run(explicit=True)  # checked once: the refusal stays
    cycle = Cycle(make_rules(), startup)
    for _ in range(2):
        state = cycle.open(
            make_request("promo=SUMMER", cookie=visitor()), wrapped=False
        )
        assert state.begin(lambda: None).commands == ()  # nothing tracked
        head = state.ours()
        assert head is not None and (head.status, head.body) == (503, UNAVAILABLE_BODY)
        assert ("Retry-After", "5") in head.headers
    assert caplog.records == []  # raised to the hook: not logged


def test_a_refusal_found_at_the_first_request_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "qscookies")
    startup = Startup(refuse)
    cycle = Cycle(make_rules(), startup)
    for _ in range(3):
        answer = cycle.open(make_request(), wrapped=False)
        answer.begin(lambda: None)
        head = answer.ours()
        assert head is not None and head.status == 503
    (record,) = caplog.records
    assert record.getMessage().startswith("qscookies: strict=True refuses to start")


def test_the_landing_answer_carries_the_cookies_of_its_plan() -> None:
    landing = turn(query="promo=SUMMER&a=1")
    plan = landing.begin(lambda: None)
    assert plan.commands  # the visit start and the landing, one round trip
    head = landing.ours()
    assert head is not None
    assert (head.status, head.line) == (303, "303 See Other")
    assert ("Location", "/?a=1") in head.headers
    assert any(value.startswith("qs_visitor=") for _, value in head.headers)


@pytest.mark.parametrize(
    ("method", "fields", "status"),
    [
        pytest.param("GET", {}, 405, id="get"),
        pytest.param("POST", {}, 403, id="no-origin"),
        pytest.param("POST", {"fetch_site": "same-origin"}, 303, id="same-origin"),
    ],
)
def test_the_privacy_route_is_answered_without_the_app(
    method: str, fields: dict[str, str], status: int
) -> None:
    route = turn(path="/privacy", method=method, **fields)
    assert route.reads_form is (method == "POST")
    assert route.begin(lambda: "out").commands == ()
    head = route.ours()
    assert head is not None and head.status == status


def test_a_page_is_the_apps_own() -> None:
    page = turn(cookie=visitor())
    page.begin(lambda: None)
    assert page.ours() is None
    headers = page.respond(200, [("Content-Type", "text/html")])
    assert headers[0] == ("Content-Type", "text/html")
    assert ("Referrer-Policy", "same-origin") in headers
    assert page.started and page.replacement is None


def test_only_a_500_after_a_failed_store_call_becomes_the_503() -> None:
    page = turn()
    page.respond(500, [])
    assert page.replacement is None
    failed = turn()
    failed.state.store_failed = True
    failed.respond(404, [])
    assert failed.replacement is None
    failed = turn()
    failed.state.store_failed = True
    headers = failed.respond(500, [("Content-Type", "text/html")])
    head = failed.replacement
    assert head is not None and headers is head.headers
    assert (head.line, head.body) == ("503 Service Unavailable", UNAVAILABLE_BODY)
    assert ("Retry-After", "5") in headers
    assert ("Content-Type", "text/html") not in headers  # the 500's: not ours
    assert failed.failed(StoreUnavailable("down")) is None  # it went already


def test_a_store_failure_the_app_lets_out() -> None:
    error = StoreUnavailable("down")
    before = turn()
    head = before.failed(error)
    assert isinstance(head, Head) and head.status == 503
    started = turn()
    started.respond(200, [])
    with pytest.raises(StoreUnavailable):
        started.failed(error)  # ASGI: a second response start cannot be sent
    restarted = turn()
    restarted.respond(200, [])
    head = restarted.failed(error, restart=True)  # WSGI: with exc_info
    assert head is not None and head.status == 503


def test_caught_is_the_503_for_a_store_failure_only() -> None:
    answer = turn().caught(StoreUnavailable("down"))
    assert answer is not None and answer.status == 503
    assert turn().caught(ValueError("a bug")) is None
