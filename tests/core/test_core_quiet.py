"""The quiet page views of :mod:`qscookies.core.quiet`.

A ``Cookie`` header whose page view changed nothing is remembered, with the
span of request times over which it goes on changing nothing, so the next page
views of that header verify nothing. What is remembered must never change an
outcome: each test here runs the same requests on rules that remembered the
header (warm) and on rules that never saw it (cold), at every second around
each bound, and asks for the same answer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from qscookies.codec import Choice
from qscookies.codec import CookieCodec
from qscookies.codec import VisitorState
from qscookies.core.jar import REMEMBERED_HEADER
from qscookies.core.messages import Request
from qscookies.core.quiet import QUIET_MAX
from qscookies.core.quiet import Quiet
from qscookies.core.request import Rules
from qscookies.settings import Settings

SECRET = "quiet-test-secret-0123456789"
CODEC = CookieCodec(SECRET)
T = 1_750_000_000
VID = "EEHsskdGpUe4PncoNWU_3w"
HASH = re.compile(r"[0-9a-f]{32}")
GAP = 1800  # the default visit gap: a visitor cookie is renewed after 60 s


class Clock:
    """A clock the test moves (whole seconds)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rules(clock: Clock, **options: Any) -> Rules:
    return Rules(Settings.from_options(**options), CODEC, clock=clock)


def request(
    cookie: str | None, query: str = "", *, https: bool = False, **fields: Any
) -> Request:
    return Request("GET", "/", "/", query, https, cookie, "shop.example", **fields)


def visitor(last_seen: int = T - 10, first_seen: int = T - 86400) -> str:
    state = VisitorState(VID, 3, first_seen, last_seen)
    return f"qs_visitor={CODEC.dump_visitor(state)}"


def choice(decision: str, made_at: int) -> str:
    return f"qs_choice={CODEC.dump_choice(Choice(decision, made_at))}"


def member(arg: object) -> object:
    """A visitor's keyed hash named as such (a new visitor's is random)."""
    return "member" if isinstance(arg, str) and HASH.fullmatch(arg) else arg


def outcome(rules: Rules, req: Request) -> tuple[Any, ...]:
    """All a request's outcome says, a new visitor's random id left out."""
    state = rules.open(req)
    plan, answer = state.begin()
    cookies = []
    for name, value in state.finish(200, []):
        if name == "Set-Cookie":
            cookie, _, attributes = value.partition(";")
            base, _, signed = cookie.partition("=")
            if base.endswith("qs_visitor") and signed:
                loaded = CODEC.load_visitor(signed, rules.open(req).now, 10**9)
                assert loaded is not None
                signed = str(loaded[1:])  # visits, first and last seen
            cookies.append((base, signed, attributes))
    commands = [(c.name, c.keys, tuple(map(member, c.args))) for c in plan.commands]
    return (
        commands,
        answer,
        cookies,
        state.visitor,
        state.tracking_allowed,
        state.tracking_choice,
    )


def same_at_every_second(
    cookie: str, seen_at: int, times: range, **options: Any
) -> Rules:
    """Warm rules remember *cookie* at *seen_at*; at each of *times*, they and
    cold rules answer the same. Answers the warm rules."""
    clock = Clock(seen_at)
    warm = rules(clock, **options)
    outcome(warm, request(cookie))
    for now in times:
        clock.now = now
        for req in (
            request(cookie),
            request(cookie, https=True),
            request(cookie, sec_gpc="1"),
            request(cookie, "utm_campaign=SUMMER"),
        ):
            cold = rules(clock, **options)  # each request its own: none remembered
            assert outcome(warm, req) == outcome(cold, req), (now, req)
    return warm


def test_a_page_view_that_changes_nothing_is_remembered_until_the_renewal() -> None:
    header = visitor(last_seen=T - 10)
    clock = Clock(T)
    warm = rules(clock)
    assert outcome(warm, request(header))[0:3] == ([], None, [])
    # Remembered from its last-seen time until the renewal (60 s after it).
    assert warm.quiet[header] == Quiet(
        False, T - 10, T + 50, VisitorState(VID, 3, T - 86400, T - 10)
    )


def test_a_remembered_header_answers_as_a_new_one_around_every_bound() -> None:
    # Back in time past the skew, inside the visit, at the renewal, past the gap.
    last = T - 10
    times = range(last - 62, last + GAP + 3)
    same_at_every_second(visitor(last_seen=last), T, times[:200])
    same_at_every_second(visitor(last_seen=last), T, times[-5:])


def test_a_choice_cookie_bounds_what_is_remembered() -> None:
    # An "in" that expires 20 s from now: opt-in tracking stops then (the
    # deadline of the opt-in visitor cookie).
    max_age = Settings(consent="opt-in").choice_max_age
    header = f"{visitor()}; {choice('in', T - max_age + 20)}"
    warm = same_at_every_second(header, T, range(T - 15, T + 60), consent="opt-in")
    assert warm.quiet[header].until == T + 21
    # Made after the visitor was last seen: remembered from then on only (a
    # clock set back past the skew finds the choice not made yet).
    made = f"{visitor(last_seen=T - 100)}; {choice('in', T)}"
    warm = same_at_every_second(made, T, range(T - 100, T + 5), consent="opt-in")
    assert warm.quiet[made].since == T


def test_the_opt_in_deadline_bounds_what_is_remembered() -> None:
    lifetime = Settings(consent="opt-in").visitor_lifetime
    header = f"{visitor(first_seen=T - lifetime + 30)}; {choice('in', T - 100)}"
    warm = same_at_every_second(header, T, range(T - 15, T + 60), consent="opt-in")
    assert warm.quiet[header].until == T + 31


@pytest.mark.parametrize(
    "others",
    [
        pytest.param([choice("out", T - 5)], id="opted-out"),
        pytest.param(["qs_optout=1"], id="legacy-opt-out"),
        pytest.param([choice("in", T - 5), choice("out", T - 6)], id="two-choices"),
        pytest.param([choice("in", T + 3600)], id="choice-from-the-future"),
        pytest.param(["qs_choice=junk"], id="junk-choice"),
    ],
)
def test_headers_whose_meaning_is_not_bounded_are_not_remembered(
    others: list[str],
) -> None:
    header = "; ".join([visitor(), *others])
    warm = same_at_every_second(header, T, range(T - 5, T + 5))
    assert header not in warm.quiet


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"sec_gpc": "1"}, id="sec-gpc"),
        pytest.param({"query": "utm_campaign=SUMMER"}, id="landing"),
    ],
)
def test_a_signal_or_a_landing_is_not_remembered(fields: dict[str, Any]) -> None:
    warm = rules(Clock(T))
    query = fields.pop("query", "")
    outcome(warm, request(visitor(), query, **fields))
    assert visitor() not in warm.quiet


def test_a_renewal_or_a_new_visit_is_not_remembered() -> None:
    warm = rules(Clock(T))
    for last_seen in (T - 60, T - GAP - 1):
        outcome(warm, request(visitor(last_seen=last_seen)))
        assert visitor(last_seen=last_seen) not in warm.quiet
    outcome(warm, request(None))
    assert len(warm.quiet) == 0


def test_the_memo_is_bounded_in_entries_and_header_length() -> None:
    warm = rules(Clock(T))
    long = f"{visitor()}; other={'x' * REMEMBERED_HEADER}"
    assert outcome(warm, request(long))[0:3] == ([], None, [])
    assert len(warm.quiet) == 0
    for n in range(QUIET_MAX + 10):  # a client varying a cookie of its own
        outcome(warm, request(f"{visitor()}; other={n}"))
        assert 0 < len(warm.quiet) <= QUIET_MAX
