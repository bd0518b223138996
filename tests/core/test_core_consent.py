"""The consent rules of :mod:`qscookies.core.consent`, by plain calls.

No Redis and no server: requests go into :class:`Rules` opened in each mode,
and the plans and cookies that come out are read as plain values.
"""

from __future__ import annotations

from typing import Any

import pytest

from qscookies import scripts
from qscookies.codec import Choice
from qscookies.codec import CookieCodec
from qscookies.codec import VisitorState
from qscookies.core.messages import Request
from qscookies.core.request import RequestState
from qscookies.core.request import Rules
from qscookies.errors import ConfigurationError
from qscookies.settings import DAY
from qscookies.settings import OPT_OUT_CHOICE_MAX_AGE
from qscookies.settings import THIRTEEN_MONTHS
from qscookies.settings import Settings

SECRET = "consent-test-secret-0123456789"
CODEC = CookieCodec(SECRET)
T = 1_750_000_000
VID = "EEHsskdGpUe4PncoNWU_3w"


def open_state(
    query: str = "", *, cookie: str | None = None, now: int = T, **fields: Any
) -> RequestState:
    options = {"consent": "opt-in", **fields.pop("options", {})}
    rules = Rules(Settings.from_options(**options), CODEC, clock=lambda: now)
    request = Request(
        method=fields.pop("method", "GET"),
        path="/",
        raw_path="/",
        query=query,
        https=False,
        cookie=cookie,
        host="shop.example",
        **fields,
    )
    return rules.open(request)


def chose(choice: str, made_at: int = T - 60) -> str:
    return f"qs_choice={CODEC.dump_choice(Choice(choice, made_at))}"


def visitor(first_seen: int, last_seen: int, visits: int = 2) -> str:
    state = VisitorState(VID, visits, first_seen, last_seen)
    return f"qs_visitor={CODEC.dump_visitor(state)}"


def set_cookies(state: RequestState) -> dict[str, str]:
    headers = state.finish(200, [])
    return {
        value.partition("=")[0]: value
        for name, value in headers
        if name.lower() == "set-cookie"
    }


def max_age(set_cookie: str) -> int:
    return int(set_cookie.partition("Max-Age=")[2].partition(";")[0])


# -- settings ------


@pytest.mark.parametrize("value", ["opt_in", "OPT-IN", "", None, True])
def test_a_bad_consent_mode_names_the_setting(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="consent") as raised:
        Settings.from_options(consent=value)
    assert raised.value.setting == "consent"


def test_the_visitor_lifetime_follows_the_mode() -> None:
    assert Settings().visitor_lifetime == 365 * DAY
    opt_in = Settings(consent="opt-in")
    assert opt_in.visitor_lifetime == THIRTEEN_MONTHS == opt_in.choice_max_age
    assert Settings(consent="opt-in", visitor_max_age=7 * DAY).visitor_lifetime == (
        7 * DAY
    )
    assert Settings().choice_max_age == OPT_OUT_CHOICE_MAX_AGE
    # the default stays the mode's after a change of mode
    assert Settings().replace(consent="opt-in").visitor_lifetime == THIRTEEN_MONTHS


def test_opt_in_mode_refuses_a_visitor_cookie_past_13_months() -> None:
    with pytest.raises(ConfigurationError, match="13 months") as raised:
        Settings.from_options(consent="opt-in", visitor_max_age=365 * DAY * 2)
    assert raised.value.setting == "visitor_max_age"


# -- the choice cookie ------


def test_the_choice_cookie_has_a_salt_of_its_own() -> None:
    state = VisitorState(VID, 1, T, T)
    assert CODEC.load_choice(CODEC.dump_visitor(state), T, DAY) is None
    value = CODEC.dump_choice(Choice("in", T))
    assert CODEC.load_choice(value, T + DAY, DAY) == Choice("in", T)
    assert CODEC.load_choice(value, T + DAY + 1, DAY) is None  # expired
    assert CODEC.load_promotion(value, T, DAY) is None
    assert CookieCodec("another-secret-0123456789").load_choice(value, T, DAY) is None


@pytest.mark.parametrize(
    ("cookie", "headers", "choice"),
    [
        pytest.param(None, {}, None, id="not-chosen"),
        pytest.param(chose("in"), {}, "in", id="in"),
        pytest.param(chose("out"), {}, "out", id="out"),
        pytest.param("qs_optout=1", {}, "out", id="legacy-opt-out-cookie"),
        pytest.param(chose("in"), {"sec_gpc": "1"}, "out", id="gpc-beats-a-yes"),
        pytest.param(chose("in"), {"dnt": "1"}, "out", id="dnt-beats-a-yes"),
        pytest.param(chose("in") + "x", {}, None, id="tampered"),
        pytest.param(chose("in", T - THIRTEEN_MONTHS - 1), {}, None, id="expired"),
    ],
)
def test_tracking_choice(
    cookie: str | None, headers: dict[str, str], choice: str | None
) -> None:
    state = open_state(cookie=cookie, **headers)
    assert state.tracking_choice == choice
    assert state.tracking_allowed == (choice == "in")


def test_dnt_is_not_a_choice_without_honor_dnt() -> None:
    state = open_state(cookie=chose("in"), dnt="1", options={"honor_dnt": False})
    assert state.tracking_choice == "in" and state.tracking_allowed


def test_opt_out_mode_tracks_until_out_and_is_not_chosen_meanwhile() -> None:
    state = open_state(options={"consent": "opt-out"})
    assert state.tracking_choice is None and state.tracking_allowed


# -- before a yes ------


def test_before_a_yes_no_visitor_cookie_is_read_or_set() -> None:
    state = open_state(cookie=visitor(T - DAY, T - 3600))
    plan, answer = state.begin()
    assert plan.commands == () and answer is None
    assert state.visitor.visits == 0 and state.promotion is None
    cookies = set_cookies(state)
    assert cookies.keys() == {"qs_visitor"} and "Max-Age=0" in cookies["qs_visitor"]


def test_before_a_yes_a_landing_counts_in_landings_only() -> None:
    state = open_state("promo=SUMMER")
    plan, answer = state.begin()
    assert answer is not None and answer.status == 303
    (landing,) = plan.commands
    assert (landing.script, len(landing.keys)) == (scripts.LANDING, 16)
    # no member; landings take half of each bound (the rest: admitted by evidence)
    assert landing.args == ("SUMMER", 100, "", 758 * DAY, 0, "/", 25)
    assert plan.read([["SUMMER", "/"]]) is None
    assert state.promotion is None  # attributed to nothing
    assert set_cookies(state) == {}


def test_before_a_yes_a_landing_on_a_cluster_writes_no_sketch() -> None:
    options = {"consent": "opt-in"}
    rules = Rules(
        Settings.from_options(**options), CODEC, cluster=True, clock=lambda: T
    )
    state = rules.open(Request("GET", "/", "/", "promo=SUMMER", False, host="h"))
    plan, _ = state.begin()
    follow = plan.read([["SUMMER", "/"]])  # landings and landings@/, no PFADD
    assert [command.name for command in follow.commands] == [
        "HINCRBY",
        "HINCRBY",
        "EXPIRE",
    ]


def test_after_an_out_a_landing_counts_nothing() -> None:
    plan, answer = open_state("promo=SUMMER", cookie=chose("out")).begin()
    assert plan.commands == () and answer is not None


# -- the yes ------


def test_a_yes_starts_tracking_on_that_response() -> None:
    state = open_state()
    state.begin()
    plan = state.opt_in()
    assert state.tracking_choice == "in" and state.visitor.visits == 1
    assert [command.name for command in plan.commands] == [
        "HINCRBY", "EXPIRE", "PFADD", "EXPIRE"
    ]  # fmt: skip
    cookies = set_cookies(state)
    assert max_age(cookies["qs_choice"]) == THIRTEEN_MONTHS
    assert max_age(cookies["qs_visitor"]) == THIRTEEN_MONTHS


def test_a_yes_under_gpc_is_recorded_but_tracks_nothing() -> None:
    state = open_state(sec_gpc="1")
    assert state.opt_in().commands == ()
    assert state.tracking_choice == "out" and not state.tracking_allowed
    assert set_cookies(state).keys() == {"qs_choice"}


def test_a_yes_again_keeps_its_date() -> None:
    state = open_state(cookie=chose("in", T - 100 * DAY))
    assert state.opt_in().commands == ()
    assert set_cookies(state) == {}  # the consent is not stretched


# -- lifetimes ------


def test_later_visits_do_not_extend_the_visitor_cookie() -> None:
    consented = T - 200 * DAY
    cookie = "; ".join([chose("in", consented), visitor(consented, T - DAY)])
    state = open_state(cookie=cookie)
    state.begin()
    assert state.visitor.visits == 3  # a new visit of the same visitor
    left = max_age(set_cookies(state)["qs_visitor"])
    assert left == THIRTEEN_MONTHS - 200 * DAY


def test_the_visitor_cookie_ends_with_visitor_max_age_after_consent() -> None:
    consented = T - 31 * DAY
    cookie = "; ".join([chose("in", consented), visitor(consented, T - DAY)])
    state = open_state(cookie=cookie, options={"visitor_max_age": 30 * DAY})
    state.begin()
    assert state.visitor.visits == 1  # expired: a new visitor, still consented
    assert max_age(set_cookies(state)["qs_visitor"]) == 30 * DAY


def test_no_visitor_cookie_outlives_the_consent() -> None:
    consented = T - 100 * DAY
    cookie = "; ".join([chose("in", consented), visitor(T - DAY, T - DAY)])
    state = open_state(cookie=cookie)
    state.begin()
    assert max_age(set_cookies(state)["qs_visitor"]) == THIRTEEN_MONTHS - 100 * DAY


def test_opt_out_mode_renews_the_visitor_cookie() -> None:
    cookie = visitor(T - 300 * DAY, T - DAY)
    state = open_state(cookie=cookie, options={"consent": "opt-out"})
    state.begin()
    assert max_age(set_cookies(state)["qs_visitor"]) == 365 * DAY
