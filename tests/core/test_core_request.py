"""The sans-I/O request rules of :mod:`qscookies.core.request`, by plain calls.

No Redis and no server: a :class:`Request` goes in, :class:`Plan` commands come
out, and ``read()`` is fed the replies a store would give, as plain values.
Time is the clock handed to :class:`Rules`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from qscookies import Purchase
from qscookies import scripts
from qscookies.codec import Attribution
from qscookies.codec import Choice
from qscookies.codec import CookieCodec
from qscookies.codec import VisitorState
from qscookies.command import Command
from qscookies.command import script
from qscookies.core.aggregates import utc_day
from qscookies.core.campaigns import ORDER_MEMORY
from qscookies.core.messages import EMPTY
from qscookies.core.messages import UNAVAILABLE_BODY
from qscookies.core.messages import Answer
from qscookies.core.messages import Headers
from qscookies.core.messages import Request
from qscookies.core.plan import Plan
from qscookies.core.request import RequestState
from qscookies.core.request import Rules
from qscookies.core.visits import ANONYMOUS
from qscookies.errors import CartError
from qscookies.errors import HeadersSentError
from qscookies.errors import NotSent
from qscookies.errors import QSCookiesError
from qscookies.setcookie import cookie_name
from qscookies.settings import OPT_OUT_CHOICE_MAX_AGE
from qscookies.settings import Settings

SECRET = "core-test-secret-0123456789"
CODEC = CookieCodec(SECRET)
T = 1_750_000_000  # 2025-06-15 15:06:40 UTC
DAY = "20250615"
HOST = "shop.example"
TTL = 758 * 86400  # aggregate_max_age: 25 months
MS30 = 30 * 86400 * 1000
VID = "EEHsskdGpUe4PncoNWU_3w"
CART = "xjyZ9XJwVcwU-qD1c83yVw"
MEMBER = CODEC.visitor_hash(VID)
ID = re.compile(r"[A-Za-z0-9_\-]{22}")

# -- helpers -----------------------------------------------------------------------


def make_rules(*, cluster: bool = False, now: int = T, **options: Any) -> Rules:
    settings = Settings.from_options(**options)
    return Rules(settings, CODEC, cluster=cluster, clock=lambda: now)


def make_request(
    query: str = "",
    *,
    method: str = "GET",
    path: str = "/",
    https: bool = False,
    cookie: str | None = None,
    **fields: str,
) -> Request:
    return Request(
        method=method,
        path=path,
        raw_path=path,
        query=query,
        https=https,
        cookie=cookie,
        host=HOST,
        **fields,
    )


def open_state(
    query: str = "", *, rules: Rules | None = None, **fields: Any
) -> RequestState:
    return (rules or make_rules()).open(make_request(query, **fields))


def visitor(visits: int = 2, last_seen: int = T - 10, *, secure: bool = False) -> str:
    state = VisitorState(VID, visits, T - 30 * 86400, last_seen)
    return f"{cookie_name('qs_visitor', secure)}={CODEC.dump_visitor(state)}"


def promo(code: str = "SUMMER", landed_at: int = T - 86400) -> str:
    return f"qs_promo={CODEC.dump_promotion(Attribution(code, landed_at))}"


def cart(cart_id: str = CART, issued: int = T - 60, *, secure: bool = False) -> str:
    return f"{cookie_name('qs_cart', secure)}={CODEC.dump_cart(cart_id, issued)}"


def jar(*pairs: str) -> str:
    return "; ".join(pairs)


def set_cookies(headers: Headers) -> dict[str, str]:
    """``{cookie name: whole Set-Cookie value}`` of a response."""
    found = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            found[value.partition("=")[0]] = value
    return found


def value_of(set_cookie: str) -> str:
    return set_cookie.partition(";")[0].partition("=")[2]


def dropped(set_cookie: str) -> bool:
    return "Max-Age=0" in set_cookie and value_of(set_cookie) == ""


def header(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def agg(code: str, kind: str) -> str:
    return f"qs:a:{{{code}}}:{kind}:{DAY}"


def visit_commands(member: str, *, returning: bool = False) -> list[Command]:
    commands: list[Command] = [
        Command("HINCRBY", (agg("_site", "d"),), ("visits", 1)),
        Command("EXPIRE", (agg("_site", "d"),), (TTL,)),
        Command("PFADD", (agg("_site", "u"),), (member,)),
        Command("EXPIRE", (agg("_site", "u"),), (TTL,)),
    ]
    if returning:
        commands += [
            Command("PFADD", (agg("_site", "r"),), (member,)),
            Command("EXPIRE", (agg("_site", "r"),), (TTL,)),
        ]
    return commands


PAIRS = f"qs:a:j:{{qs:a:i:{DAY}}}"


def indexed(code: str, pair: str | None = "/") -> list[Command]:
    """The day's credit and pair indexes naming an attributed code (and its
    pair) without a landing (score 0); never the day's index."""
    index = f"qs:a:k:{DAY}"
    named = [
        Command("ZINCRBY", (index,), (0, code)),
        Command("EXPIRE", (index,), (TTL,)),
    ]
    if pair is None:
        return named
    return [
        *named,
        Command("HINCRBY", (PAIRS,), (f"{code}@{pair}", 0)),
        Command("EXPIRE", (PAIRS,), (TTL,)),
    ]


def pair_agg(code: str, kind: str, pair: str = "/") -> str:
    return f"qs:a:{{{code}}}:{kind}:{DAY}:{pair}"


def cart_put(key: str, sku: str, quantity: int, mode: str) -> Command:
    lines = key.replace(":c:", ":l:", 1)
    limits = (999, 200, 1000, MS30)
    return script(scripts.CART_PUT, (key, lines), sku, quantity, mode, *limits)


def landing(
    code: str, member: str, *, returning: bool, bound: int = 200, pair: str = "/"
) -> Command:
    keys = [
        key
        for c in (code, "other")
        for key in (
            agg(c, "d"),
            agg(c, "u"),
            agg(c, "r"),
            pair_agg(c, "u", pair),
            pair_agg(c, "r", pair),
            pair_agg(c, "u", "other/other"),
            pair_agg(c, "r", "other/other"),
        )
    ]
    # Landings may take all but half of each bound: the rest is kept for
    # codes and pairs with evidence (a cart, a returning visit).
    args = (code, bound - bound // 2, member, TTL, int(returning), pair, 25)
    return script(scripts.LANDING, (f"qs:a:i:{DAY}", PAIRS, *keys), *args)


def new_visitor_member(state: RequestState) -> tuple[str, VisitorState]:
    """The keyed hash and state of the visitor cookie the response sets."""
    cookies = set_cookies(state.finish(200, []))
    loaded = CODEC.load_visitor(value_of(cookies["qs_visitor"]), T, 365 * 86400)
    assert loaded is not None
    return CODEC.visitor_hash(loaded.visitor_id), loaded


def resolve(plan: Plan[Any], *replies: list[Any]) -> Any:
    """Read a plan (and the plan its reader answers) with the given replies."""
    result: Any = plan
    for reply in replies:
        assert isinstance(result, Plan)
        result = result.read(reply)
    return result


# -- the rules ---------------------------------------------------------------------


def test_utc_day() -> None:
    assert utc_day(T) == DAY
    assert utc_day(1_750_031_999) == "20250615"  # 23:59:59 UTC
    assert utc_day(1_750_032_000) == "20250616"


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        pytest.param("/static/app.css", True, id="static"),
        pytest.param("/favicon.ico", True, id="favicon"),
        pytest.param("/robots.txt", True, id="robots"),
        pytest.param("/static", False, id="prefix-needs-slash"),
        pytest.param("/shop/static/x", False, id="not-at-start"),
        pytest.param("/", False, id="root"),
    ],
)
def test_excluded(path: str, excluded: bool) -> None:
    assert make_rules().excluded(path) is excluded


def test_unavailable() -> None:
    answer = make_rules(retry_after=7).unavailable()
    assert answer.status == 503
    assert answer.body == UNAVAILABLE_BODY
    assert ("Retry-After", "7") in answer.headers
    assert ("Cache-Control", "no-store") in answer.headers
    assert ("Content-Length", str(len(UNAVAILABLE_BODY))) in answer.headers


def test_the_clock_is_read_once_per_request_in_whole_seconds() -> None:
    ticks = iter([T + 0.9, T + 5000.0])
    rules = Rules(Settings(), CODEC, clock=lambda: next(ticks))
    assert rules.open(make_request()).now == T
    assert rules.open(make_request()).now == T + 5000


# -- begin(): visits ---------------------------------------------------------------


def test_a_new_visitor_gets_the_site_counts_and_a_cookie() -> None:
    state = open_state()
    plan, answer = state.begin()
    assert answer is None
    member, loaded = new_visitor_member(state)
    assert loaded == VisitorState(loaded.visitor_id, 1, T, T)
    assert ID.fullmatch(loaded.visitor_id)
    assert list(plan.commands) == visit_commands(member)
    assert plan.read([1, 1, 1, 1]) is None
    seen = state.visitor
    assert (seen.visits, seen.is_returning) == (1, False)


def test_a_known_visitor_inside_the_visit_costs_nothing() -> None:
    state = open_state(cookie=visitor(visits=2, last_seen=T - 30))
    plan, answer = state.begin()
    assert (plan.commands, answer) == ((), None)
    assert plan.read([]) is None
    assert state.finish(200, []) == [("Referrer-Policy", "same-origin")]
    assert state.visitor.visits == 2


def test_a_known_visitor_is_renewed_every_thirtieth_of_the_gap() -> None:
    state = open_state(cookie=visitor(visits=2, last_seen=T - 600))
    plan, _ = state.begin()
    assert plan.commands == ()
    cookies = set_cookies(state.finish(200, []))
    loaded = CODEC.load_visitor(value_of(cookies["qs_visitor"]), T, 86400)
    assert loaded == VisitorState(VID, 2, T - 30 * 86400, T)


@pytest.mark.parametrize(
    ("visits", "idle", "new_visit"),
    [
        pytest.param(1, 1800, False, id="gap-exactly"),
        pytest.param(1, 1801, True, id="past-gap-second-visit"),
        pytest.param(5, 86400, True, id="past-gap-sixth-visit"),
    ],
)
def test_past_the_gap_a_visit_is_counted_as_returning(
    visits: int, idle: int, new_visit: bool
) -> None:
    state = open_state(cookie=visitor(visits=visits, last_seen=T - idle))
    plan, _ = state.begin()
    if new_visit:
        assert list(plan.commands) == visit_commands(MEMBER, returning=True)
        assert state.visitor.visits == visits + 1
        assert state.visitor.is_returning
    else:
        assert plan.commands == ()
        assert state.visitor.visits == visits


def test_a_returning_visit_counts_for_the_attributed_promotion() -> None:
    state = open_state(cookie=jar(visitor(visits=1, last_seen=T - 7200), promo()))
    plan, _ = state.begin()
    assert list(plan.commands) == [
        *visit_commands(MEMBER, returning=True),
        Command("PFADD", (agg("SUMMER", "r"),), (MEMBER,)),
        Command("EXPIRE", (agg("SUMMER", "r"),), (TTL,)),
        Command("PFADD", (pair_agg("SUMMER", "r"),), (MEMBER,)),
        Command("EXPIRE", (pair_agg("SUMMER", "r"),), (TTL,)),
        *indexed("SUMMER"),
    ]
    assert set_cookies(state.finish(200, [])).keys() == {"qs_visitor"}


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(
            jar(visitor(visits=1, last_seen=T - 7200), promo(landed_at=T - 31 * 86400)),
            id="attribution-expired",
        ),
        pytest.param(promo(), id="new-visitor-with-promotion"),
        pytest.param(
            jar(visitor(visits=1, last_seen=T - 7200), "qs_promo=SUMMER~1"),
            id="unsigned-promotion",
        ),
    ],
)
def test_no_promotion_sketch_without_a_valid_attribution(cookie: str) -> None:
    plan, _ = open_state(cookie=cookie).begin()
    assert not any("{SUMMER}" in str(command) for command in plan.commands)


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("qs_visitor=" + "x" * 30, id="garbage"),
        pytest.param(
            "qs_visitor="
            + CookieCodec("another-secret-0123456789").dump_visitor(
                VisitorState(VID, 3, T - 100, T - 10)
            ),
            id="other-key",
        ),
        pytest.param(visitor(last_seen=T - 366 * 86400), id="expired"),
        pytest.param(cart(), id="cart-cookie-only"),
    ],
)
def test_an_invalid_visitor_cookie_makes_a_new_visitor(cookie: str) -> None:
    state = open_state(cookie=cookie)
    plan, _ = state.begin()
    member, loaded = new_visitor_member(state)
    assert loaded.visitor_id != VID and loaded.visits == 1
    assert list(plan.commands) == visit_commands(member)


# -- begin(): landings -------------------------------------------------------------


def test_a_landing_counts_the_code_and_redirects_to_the_clean_url() -> None:
    state = open_state("promo=SUMMER&color=red", path="/shoes")
    plan, answer = state.begin()
    assert answer == Answer(303, EMPTY + [("Location", "/shoes?color=red")])
    member, _ = new_visitor_member(state)
    assert list(plan.commands) == [
        *visit_commands(member),
        landing("SUMMER", member, returning=False),
    ]
    assert plan.read([1, 1, 1, 1, [b"SUMMER", b"/"]]) is None
    assert state.promotion == "SUMMER"


def test_the_landing_script_gets_sixteen_keys() -> None:
    query = "promo=SUMMER&utm_source=news&utm_medium=email"
    plan, _ = open_state(query, cookie=visitor(last_seen=T - 5)).begin()
    (command,) = plan.commands
    assert command.script == scripts.LANDING
    assert command.keys == (
        f"qs:a:i:{DAY}",
        PAIRS,
        *(
            key
            for code in ("SUMMER", "other")
            for key in (
                agg(code, "d"),
                agg(code, "u"),
                agg(code, "r"),
                pair_agg(code, "u", "news/email"),
                pair_agg(code, "r", "news/email"),
                pair_agg(code, "u", "other/other"),
                pair_agg(code, "r", "other/other"),
            )
        ),
    )
    # Landings may take 100 of the 200 codes and 25 of the 50 pairs.
    assert command.args == ("SUMMER", 100, MEMBER, TTL, 1, "news/email", 25)


def test_the_promotion_cookie_names_the_code_landed_on() -> None:
    state = open_state("promo=SUMMER", cookie=visitor(last_seen=T - 5))
    plan, _ = state.begin()
    assert plan.read([["SUMMER", "/"]]) is None
    cookies = set_cookies(state.finish(303, []))
    assert CODEC.load_promotion(
        value_of(cookies["qs_promo"]), T, 30 * 86400
    ) == Attribution("SUMMER", T)


def test_the_promotion_cookie_is_decided_from_the_reply() -> None:
    """Counted under ``other`` (past the day's bound): the cookie says so;
    not counted (tracking paused on the node): no cookie at all."""
    counted = open_state("promo=SUMMER", cookie=visitor(last_seen=T - 5))
    plan, _ = counted.begin()
    assert plan.read([["other", "other/other"]]) is None
    cookies = set_cookies(counted.finish(303, []))
    promotion = CODEC.load_promotion(value_of(cookies["qs_promo"]), T, 30 * 86400)
    assert promotion is not None and promotion.code == "other"
    skipped = open_state("promo=SUMMER", cookie=visitor(last_seen=T - 5))
    plan, _ = skipped.begin()
    assert plan.read([NotSent("tracking paused")]) is None
    assert "qs_promo" not in set_cookies(skipped.finish(303, []))


@pytest.mark.parametrize(
    "reply",
    [pytest.param("other", id="str"), pytest.param(b"other", id="bytes")],
)
def test_a_landing_past_the_days_bound_is_credited_to_other(reply: str | bytes) -> None:
    """Counted (and credited) under ``other``; the application still reads
    the code landed on, which the cookie keeps."""
    state = open_state(
        "promo=SUMMER", cookie=jar(visitor(last_seen=T - 5), promo("OLD"))
    )
    plan, _ = state.begin()
    plan.read([[reply, "/"]])
    assert state.promotion == "SUMMER"
    cookies = set_cookies(state.finish(200, []))
    loaded = CODEC.load_promotion(value_of(cookies["qs_promo"]), T, 86400)
    assert loaded == Attribution("other", T, landing=("SUMMER", None, None))


def test_a_new_landing_replaces_the_attribution() -> None:
    state = open_state("promo=WINTER", cookie=jar(visitor(last_seen=T - 5), promo()))
    plan, _ = state.begin()
    plan.read([["WINTER", "/"]])
    assert state.promotion == "WINTER"


def test_an_allow_list_unbinds_the_day() -> None:
    rules = make_rules(allowed_promotions=["SUMMER"])
    plan, _ = open_state(
        "promo=SUMMER", rules=rules, cookie=visitor(last_seen=T - 5)
    ).begin()
    (command,) = plan.commands
    assert command == landing("SUMMER", MEMBER, returning=True, bound=0)


def test_a_code_off_the_allow_list_is_not_counted_but_stripped() -> None:
    rules = make_rules(allowed_promotions=["SUMMER"])
    state = open_state("promo=WINTER", rules=rules, cookie=visitor(last_seen=T - 5))
    plan, answer = state.begin()
    assert plan.commands == ()
    assert answer is not None and ("Location", "/") in answer.headers
    assert "qs_promo" not in set_cookies(state.finish(200, []))


def test_landings_take_all_but_half_of_max_promotions_per_day() -> None:
    rules = make_rules(max_promotions_per_day=3)
    plan, _ = open_state(
        "promo=X", rules=rules, cookie=visitor(last_seen=T - 5)
    ).begin()
    assert plan.commands[0].args[1] == 2  # the third is kept for evidence


# -- begin(): landings on Redis Cluster --------------------------------------------


@pytest.mark.parametrize(
    ("reply", "chosen"),
    [
        pytest.param("SUMMER", "SUMMER", id="admitted"),
        pytest.param(b"SUMMER", "SUMMER", id="admitted-bytes"),
        pytest.param("other", "other", id="day-full"),
        pytest.param(b"other", "other", id="day-full-bytes"),
    ],
)
def test_a_cluster_landing_takes_two_round_trips(
    reply: str | bytes, chosen: str
) -> None:
    state = open_state("promo=SUMMER", rules=make_rules(cluster=True))
    plan, answer = state.begin()
    assert answer is not None
    member, _ = new_visitor_member(state)
    index = f"qs:a:i:{DAY}"
    assert list(plan.commands) == [
        *visit_commands(member),
        script(scripts.LANDING, (index, PAIRS), "SUMMER", 100, member, TTL, 0, "/", 25),
    ]
    second = plan.read([1, 1, 1, 1, [reply, b"/"]])
    assert isinstance(second, Plan)
    assert list(second.commands) == [
        Command("HINCRBY", (agg(chosen, "d"),), ("landings", 1)),
        Command("HINCRBY", (agg(chosen, "d"),), ("landings@/", 1)),
        Command("EXPIRE", (agg(chosen, "d"),), (TTL,)),
        Command("PFADD", (agg(chosen, "u"),), (member,)),
        Command("EXPIRE", (agg(chosen, "u"),), (TTL,)),
        Command("PFADD", (pair_agg(chosen, "u"),), (member,)),
        Command("EXPIRE", (pair_agg(chosen, "u"),), (TTL,)),
    ]
    assert second.read([1, 1, 1, 1]) is None
    assert state.promotion == "SUMMER"  # the code landed on, wherever counted
    assert state.landing.attribution().code == chosen  # type: ignore[union-attr]


def test_a_cluster_landing_reads_the_reply_after_the_visit_commands() -> None:
    cookie = visitor(visits=1, last_seen=T - 7200)
    state = open_state("promo=SUMMER", rules=make_rules(cluster=True), cookie=cookie)
    plan, _ = state.begin()
    assert len(plan.commands) == 7 and len(plan.commands[6].keys) == 2
    second = resolve(plan, [1, 1, 1, 1, 1, 1, ["other", "other/other"]])
    assert isinstance(second, Plan)
    other = "other/other"
    assert list(second.commands) == [
        Command("HINCRBY", (agg("other", "d"),), ("landings", 1)),
        Command("HINCRBY", (agg("other", "d"),), (f"landings@{other}", 1)),
        Command("EXPIRE", (agg("other", "d"),), (TTL,)),
        Command("PFADD", (agg("other", "u"),), (MEMBER,)),
        Command("EXPIRE", (agg("other", "u"),), (TTL,)),
        Command("PFADD", (pair_agg("other", "u", other),), (MEMBER,)),
        Command("EXPIRE", (pair_agg("other", "u", other),), (TTL,)),
        Command("PFADD", (agg("other", "r"),), (MEMBER,)),
        Command("EXPIRE", (agg("other", "r"),), (TTL,)),
        Command("PFADD", (pair_agg("other", "r", other),), (MEMBER,)),
        Command("EXPIRE", (pair_agg("other", "r", other),), (TTL,)),
    ]
    assert state.landing.attribution() is None  # not before the counts are stored
    assert second.read([1] * 11) is None
    assert state.landing.attribution() == Attribution(
        "other", T, "other", "other", ("SUMMER", None, None)
    )


# -- begin(): junk, methods, opt-out -----------------------------------------------


@pytest.mark.parametrize(
    ("query", "location"),
    [
        pytest.param("promo=%3Cscript%3E", "/", id="markup"),
        pytest.param("promo=4111.1111.1111.1111", "/", id="card-dots"),
        pytest.param("promo=4111-1111-1111-1111", "/", id="card-dashes"),
        pytest.param("promo=4111111111111111", "/", id="card-plain"),
        pytest.param("promo=4111+1111+1111+1111&a=1", "/?a=1", id="card-spaces"),
        pytest.param("utm_campaign=_site", "/", id="site-row"),
        pytest.param("promo=" + "A" * 65, "/", id="too-long"),
        pytest.param("promo=&utm_campaign=a%7Bb%7D", "/", id="empty-and-tag"),
        pytest.param("x=1&promo=a*b&y", "/?x=1&y", id="glob"),
    ],
)
def test_junk_codes_are_not_counted_but_still_stripped(
    query: str, location: str
) -> None:
    state = open_state(query, cookie=visitor(last_seen=T - 5))
    plan, answer = state.begin()
    assert plan.commands == ()
    assert answer == Answer(303, EMPTY + [("Location", location)])
    headers = state.finish(303, [])
    assert set_cookies(headers) == {}
    assert state.promotion is None


def test_a_junk_code_from_a_new_visitor_counts_the_visit_only() -> None:
    state = open_state("promo=4111.1111.1111.1111")
    plan, _ = state.begin()
    member, _ = new_visitor_member(state)
    assert list(plan.commands) == visit_commands(member)


@pytest.mark.parametrize(
    ("method", "options", "redirects"),
    [
        pytest.param("GET", {}, True, id="get"),
        pytest.param("HEAD", {}, True, id="head"),
        pytest.param("POST", {}, False, id="post"),
        pytest.param("PUT", {}, False, id="put"),
        pytest.param("GET", {"strip_promotion_params": False}, False, id="no-strip"),
    ],
)
def test_only_get_and_head_landings_redirect(
    method: str, options: dict[str, Any], redirects: bool
) -> None:
    rules = make_rules(**options)
    state = open_state("promo=SUMMER", rules=rules, method=method, cookie=visitor())
    plan, answer = state.begin()
    assert (answer is not None) is redirects
    assert plan.commands == (landing("SUMMER", MEMBER, returning=True),)


def test_the_redirect_keeps_the_raw_path_and_one_leading_slash() -> None:
    request = Request(
        method="GET", path="/a/b", raw_path="/a%2Fb", query="flag&promo=X&q=caf%E9",
        https=False, host=HOST,
    )  # fmt: skip
    _, answer = make_rules().open(request).begin()
    assert answer is not None and ("Location", "/a%2Fb?flag&q=caf%E9") in answer.headers
    request = Request(
        method="GET", path="//evil.example/", raw_path="//evil.example/",
        query="promo=X", https=False, host=HOST,
    )  # fmt: skip
    _, answer = make_rules().open(request).begin()
    assert answer is not None and ("Location", "/evil.example/") in answer.headers


def test_a_query_naming_no_promotion_param_is_left_alone() -> None:
    plan, answer = open_state("promotional=1", cookie=visitor()).begin()
    assert (plan.commands, answer) == ((), None)


OPTED_OUT = [
    pytest.param({"cookie_extra": "qs_optout=1"}, {}, id="opt-out-cookie"),
    pytest.param({"sec_gpc": "1"}, {}, id="sec-gpc"),
    pytest.param({"sec_gpc": " 1 "}, {}, id="sec-gpc-spaces"),
    pytest.param({"dnt": "1"}, {}, id="dnt"),
    pytest.param({"dnt": "1"}, {"honor_dnt": True}, id="dnt-honored"),
    pytest.param({"sec_gpc": "1"}, {"honor_dnt": False}, id="gpc-without-dnt"),
]


@pytest.mark.parametrize(("signal", "options"), OPTED_OUT)
def test_opted_out_visitors_are_not_tracked_and_lose_their_cookies(
    signal: dict[str, str], options: dict[str, Any]
) -> None:
    fields = dict(signal)
    cookie = jar(visitor(), promo(), *filter(None, [fields.pop("cookie_extra", "")]))
    state = open_state(
        "promo=SUMMER&a=1", rules=make_rules(**options), cookie=cookie, **fields
    )
    assert not state.tracking_allowed
    plan, answer = state.begin()
    assert plan.commands == ()
    assert plan.read([]) is None
    assert answer == Answer(303, EMPTY + [("Location", "/?a=1")])
    cookies = set_cookies(state.finish(200, []))
    assert cookies.keys() == {"qs_visitor", "qs_promo"}
    assert all(dropped(value) for value in cookies.values())
    assert state.visitor == ANONYMOUS
    assert state.promotion is None


@pytest.mark.parametrize(("signal", "options"), OPTED_OUT)
def test_opted_out_without_cookies_sets_none(
    signal: dict[str, str], options: dict[str, Any]
) -> None:
    fields = dict(signal)
    cookie = fields.pop("cookie_extra", None)
    state = open_state(rules=make_rules(**options), cookie=cookie, **fields)
    plan, _ = state.begin()
    assert plan.commands == ()
    assert set_cookies(state.finish(200, [])) == {}


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        pytest.param({"dnt": "1"}, {"honor_dnt": False}, id="dnt-not-honored"),
        pytest.param({"sec_gpc": "0"}, {}, id="gpc-0"),
        pytest.param({"dnt": "0"}, {}, id="dnt-0"),
        pytest.param({"cookie": "qs_optout=0"}, {}, id="opt-out-cookie-0"),
    ],
)
def test_tracked_despite(fields: dict[str, Any], options: dict[str, Any]) -> None:
    state = open_state(rules=make_rules(**options), **fields)
    assert state.tracking_allowed
    plan, _ = state.begin()
    assert len(plan.commands) == 4


def test_on_https_the_cookies_are_secure_and_host_prefixed() -> None:
    state = open_state(https=True, cookie=visitor())  # the plain name is not ours
    plan, _ = state.begin()
    assert len(plan.commands) == 4
    cookies = set_cookies(state.finish(200, []))
    (value,) = cookies.values()
    assert value.startswith("__Host-qs_visitor=")
    assert "; Secure" in value and "Domain" not in value


def test_on_https_the_host_prefixed_cookie_is_read() -> None:
    state = open_state(https=True, cookie=visitor(secure=True))
    plan, _ = state.begin()
    assert plan.commands == ()


def test_the_secure_setting_overrides_the_scheme() -> None:
    state = open_state(https=True, rules=make_rules(secure=False))
    state.begin()
    (value,) = set_cookies(state.finish(200, [])).values()
    assert value.startswith("qs_visitor=") and "Secure" not in value
    state = open_state(https=False, rules=make_rules(secure=True))
    state.begin()
    (value,) = set_cookies(state.finish(200, [])).values()
    assert value.startswith("__Host-qs_visitor=") and "; Secure" in value


# -- the cart ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "quantity", "add"),
    [
        pytest.param("", 1, True, id="empty-sku"),
        pytest.param("x" * 129, 1, True, id="long-sku"),
        pytest.param(" sku", 1, True, id="spaced-sku"),
        pytest.param("sku\n", 1, True, id="newline-sku"),
        pytest.param("a\x00b", 1, True, id="nul-sku"),
        pytest.param(123, 1, True, id="int-sku"),
        pytest.param("4111 1111 1111 1111", 1, True, id="card-sku"),
        pytest.param("4111.1111.1111.1111", 1, True, id="card-dots-sku"),
        pytest.param("sku", 0, True, id="add-zero"),
        pytest.param("sku", -1, False, id="negative"),
        pytest.param("sku", 1000, False, id="over-max"),
        pytest.param("sku", True, True, id="bool"),
        pytest.param("sku", 1.0, True, id="float"),
        pytest.param("sku", "1", True, id="str"),
    ],
)
def test_bad_cart_writes_raise_before_any_plan(
    sku: Any, quantity: Any, add: bool
) -> None:
    state = open_state()
    with pytest.raises(CartError):
        state.cart.put(sku, quantity, add=add)
    assert set_cookies(state.finish(200, [])) == {}


def cart_key_of(plan: Plan[Any]) -> str:
    return plan.commands[0].keys[0]


def test_a_new_cart_is_written_then_its_cookie_set() -> None:
    state = open_state()
    plan = state.cart.put("sku-1", 2, add=True)
    key = cart_key_of(plan)
    match = re.fullmatch(r"qs:c:\{(.{22})\}", key)
    assert match and ID.fullmatch(match[1])
    assert plan.commands == (cart_put(key, "sku-1", 2, "add"),)
    assert state.cart.id() is None  # not before Redis stored the line
    assert plan.read([2]) == 2
    assert state.cart.id() == match[1]
    cookies = set_cookies(state.finish(200, []))
    assert CODEC.load_cart(value_of(cookies["qs_cart"]), T, 86400) == match[1]


def test_no_cart_cookie_before_the_write_is_read() -> None:
    state = open_state()
    state.cart.put("sku-1", 2, add=True)
    assert set_cookies(state.finish(200, [])) == {}


def test_an_existing_cart_is_written_under_its_key() -> None:
    state = open_state(cookie=cart())
    plan = state.cart.put("sku-1", 5, add=False)
    assert plan.commands == (cart_put(f"qs:c:{{{CART}}}", "sku-1", 5, "set"),)
    assert plan.read([5]) == 5
    # not renewed: a write answering after a sign-in or sign-out must not
    # put the old cookie back
    assert "qs_cart" not in set_cookies(state.finish(200, []))


def test_cart_limits_apply_to_the_settings() -> None:
    rules = make_rules(
        max_quantity=5, max_cart_lines=3, max_cart_items=7, cart_max_age=60
    )
    plan = open_state(rules=rules, cookie=cart()).cart.put("s", 5, add=True)
    assert plan.commands[0].args[-4:] == (5, 3, 7, 60_000)
    with pytest.raises(CartError):
        open_state(rules=rules).cart.put("s", 6, add=True)


def test_a_new_cart_under_a_promotion_counts_a_cart() -> None:
    state = open_state(cookie=promo())
    plan = state.cart.put("sku-1", 1, add=True)
    assert list(plan.commands[1:]) == [
        Command("HINCRBY", (agg("SUMMER", "d"),), ("carts", 1)),
        Command("HINCRBY", (agg("SUMMER", "d"),), ("carts@/", 1)),
        Command("EXPIRE", (agg("SUMMER", "d"),), (TTL,)),
        *indexed("SUMMER"),
    ]
    assert plan.read([1, 1, 1, 1, 0, 1, 0, 1]) == 1


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"cookie": jar(promo(), cart())}, id="existing-cart"),
        pytest.param({"cookie": promo(), "sec_gpc": "1"}, id="opted-out"),
        pytest.param({"cookie": promo(landed_at=T - 31 * 86400)}, id="expired"),
        pytest.param({}, id="no-promotion"),
    ],
)
def test_no_cart_counter_without_a_new_attributed_cart(fields: dict[str, Any]) -> None:
    plan = open_state(**fields).cart.put("sku-1", 1, add=True)
    assert len(plan.commands) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(scripts.OVER_QUANTITY, "at most 999", id="over-quantity"),
        pytest.param(scripts.OVER_LINES, "at most 200 lines", id="over-lines"),
    ],
)
def test_limits_reached_raise_when_read(reply: int, message: str) -> None:
    state = open_state()
    plan = state.cart.put("sku-1", 1, add=True)
    with pytest.raises(CartError, match=message) as raised:
        plan.read([reply])
    assert raised.value.sku == "sku-1"
    assert state.cart.id() is None
    assert set_cookies(state.finish(200, [])) == {}


def test_setting_zero_without_a_cart_sends_nothing() -> None:
    state = open_state()
    plan = state.cart.put("sku-1", 0, add=False)
    assert plan.commands == ()
    assert plan.read([]) == 0
    assert set_cookies(state.finish(200, [])) == {}


def test_a_new_cart_after_the_headers_went_raises() -> None:
    state = open_state()
    state.finish(200, [])
    with pytest.raises(HeadersSentError):
        state.cart.put("sku-1", 1, add=True)
    assert state.cart.put("sku-1", 0, add=False).commands == ()


@pytest.mark.parametrize("change", ["opt_out", "opt_in", "forget"])
def test_a_privacy_change_after_the_headers_went_raises(change: str) -> None:
    """A streamed response already sent its cookies: the choice (or the
    erasure) would be silently lost, so it is refused before anything else."""
    state = open_state(cookie=cart())
    state.finish(200, [])
    with pytest.raises(HeadersSentError, match="before responding"):
        getattr(state, change)()
    assert state.tracking_choice is None
    assert state.cart.id() is not None  # forget() erased nothing


def test_an_existing_cart_may_be_written_after_the_headers_went() -> None:
    state = open_state(cookie=cart())
    assert state.finish(200, []) is not None
    plan = state.cart.put("sku-1", 1, add=True)
    assert plan.read([1]) == 1
    assert "qs_cart" not in set_cookies(state.finish(200, []))


def test_cart_items_without_a_cart() -> None:
    state = open_state()
    plan = state.cart.items()
    assert plan.commands == ()
    assert plan.read([]) == {}
    assert state.jar.accessed


def test_cart_items_are_read_once() -> None:
    state = open_state(cookie=cart())
    plan = state.cart.items()
    assert plan.commands == (Command("HGETALL", (f"qs:c:{{{CART}}}",)),)
    items = plan.read([{b"sku-1": b"2", "sku-2": "10"}])
    assert items == {"sku-1": 2, "sku-2": 10}
    items["sku-1"] = 99  # a copy: the cache stays
    again = state.cart.items()
    assert again.commands == ()
    assert again.read([]) == {"sku-1": 2, "sku-2": 10}


def test_cart_writes_keep_the_cached_lines() -> None:
    state = open_state(cookie=cart())
    state.cart.items().read([{b"a": b"1", b"b": b"2"}])
    state.cart.put("c", 3, add=True).read([3])
    state.cart.put("a", 0, add=False).read([0])
    remove = state.cart.remove("b")
    assert remove.commands == (cart_put(f"qs:c:{{{CART}}}", "b", 0, "set"),)
    remove.read([0])
    assert resolve(state.cart.items(), []) == {"c": 3}
    clear = state.cart.clear()
    assert clear.commands == (Command("DEL", (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}")),)
    clear.read([1])
    assert resolve(state.cart.items(), []) == {}
    assert state.cart.id() == CART


def test_a_new_cart_starts_with_only_its_line() -> None:
    state = open_state()
    assert resolve(state.cart.items(), []) == {}
    state.cart.put("a", 2, add=True).read([2])
    assert resolve(state.cart.items(), []) == {"a": 2}


def test_remove_and_clear_without_a_cart_send_nothing() -> None:
    state = open_state()
    assert state.cart.remove("a").commands == ()
    assert state.cart.clear().commands == ()
    with pytest.raises(CartError):
        state.cart.remove("")


def test_an_invalid_cart_cookie_is_no_cart() -> None:
    for cookie in (cart(issued=T - 31 * 86400), "qs_cart=" + CART, cart(secure=True)):
        assert open_state(cookie=cookie).cart.id() is None


# -- purchases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "total"),
    [
        pytest.param("", 100, id="empty"),
        pytest.param("x" * 129, 100, id="too-long"),
        pytest.param("A-1\x00", 100, id="nul"),
        pytest.param("A-1\n", 100, id="newline"),
        pytest.param("4111 1111 1111 1111", 100, id="card-spaces"),
        pytest.param("4111.1111.1111.1111", 100, id="card-dots"),
        pytest.param("order 4111111111111111", 100, id="card-inside"),
        pytest.param(1001, 100, id="int-order-id"),
        pytest.param("A-1", -1, id="negative"),
        pytest.param("A-1", 10**12, id="too-much"),
        pytest.param("A-1", 1.5, id="float"),
        pytest.param("A-1", True, id="bool"),
    ],
)
def test_bad_purchases_raise(order_id: Any, total: Any) -> None:
    with pytest.raises(QSCookiesError):
        open_state(cookie=promo()).purchases.record(order_id, total)


def test_a_purchase_under_a_promotion_is_counted_once_by_a_keyed_hash() -> None:
    state = open_state(cookie=jar(promo(), cart()))
    plan = state.purchases.record("A-1001", 4599)
    marker = f"qs:o:{{{CODEC.order_hash('A-1001')}}}"
    day = agg("SUMMER", "d")
    assert list(plan.commands) == [
        Command("DEL", (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}", f"qs:w:{{{CART}}}")),
        script(
            scripts.PURCHASE,
            (marker, day),
            *(ORDER_MEMORY, TTL),
            *("purchases", 1, "purchases:EUR", 1, "revenue_cents:EUR", 4599),
            *("purchases@/", 1, "purchases:EUR@/", 1, "revenue_cents:EUR@/", 4599),
        ),
        *indexed("SUMMER"),
    ]
    digest = hashlib.sha256(b"A-1001").hexdigest()
    order_hash = marker[len("qs:o:{") : -1]
    assert len(order_hash) == 32 and order_hash not in digest
    other_codec = CookieCodec("another-secret-0123456789")
    assert other_codec.order_hash("A-1001") != order_hash
    assert plan.read([1, 1, 0, 1]) == Purchase("SUMMER", duplicate=False)
    cookies = set_cookies(state.finish(200, []))
    assert cookies.keys() == {"qs_cart"} and dropped(cookies["qs_cart"])
    assert state.cart.id() is None


def test_a_repeated_purchase_is_not_counted() -> None:
    plan = open_state(cookie=promo()).purchases.record("A-1001", 4599)
    assert plan.commands[1:] == tuple(indexed("SUMMER"))
    assert plan.read([0, 0, 1]) == Purchase(None, duplicate=True)


@pytest.mark.parametrize(
    ("cookie", "commands"),
    [
        pytest.param(
            cart(),
            (
                Command(
                    "DEL", (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}", f"qs:w:{{{CART}}}")
                ),
            ),
            id="cart-only",
        ),
        pytest.param(None, (), id="nothing"),
    ],
)
def test_a_purchase_without_a_promotion_only_drops_the_cart(
    cookie: str | None, commands: tuple[Command, ...]
) -> None:
    state = open_state(cookie=cookie)
    plan = state.purchases.record("A-1001", 100)
    assert plan.commands == commands
    assert plan.read([1] * len(commands)) == Purchase(None, duplicate=False)


def test_after_a_purchase_a_new_cart_is_used() -> None:
    state = open_state(cookie=cart())
    state.purchases.record("A-1", 1).read([1])
    plan = state.cart.put("a", 1, add=True)
    assert cart_key_of(plan) != f"qs:c:{{{CART}}}"
    plan.read([1])
    cookies = set_cookies(state.finish(200, []))
    assert not dropped(cookies["qs_cart"])
    assert CODEC.load_cart(value_of(cookies["qs_cart"]), T, 60) not in (None, CART)


def test_a_cart_started_and_bought_in_one_request_sets_no_cookie() -> None:
    state = open_state()
    state.cart.put("a", 1, add=True).read([1])
    state.purchases.record("A-1", 1).read([1])
    assert set_cookies(state.finish(200, [])) == {}


# -- opt-out, opt-in, forget -------------------------------------------------------


def test_forget_erases_the_cart_and_drops_the_cookies() -> None:
    state = open_state(cookie=jar(visitor(), promo(), cart()))
    state.begin()
    plan = state.forget()
    assert plan.commands == (
        Command("DEL", (f"qs:c:{{{CART}}}", f"qs:l:{{{CART}}}", f"qs:w:{{{CART}}}")),
    )
    assert plan.read([1]) is None
    cookies = set_cookies(state.finish(200, []))
    assert cookies.keys() == {"qs_visitor", "qs_promo", "qs_cart"}
    assert all(dropped(value) for value in cookies.values())
    assert state.cart.id() is None


def test_forget_a_new_visitor_sets_no_cookie() -> None:
    state = open_state()
    state.begin()
    plan = state.forget()
    assert plan.commands == ()
    plan.read([])
    assert set_cookies(state.finish(200, [])) == {}


def test_opt_out_drops_the_tracking_cookies_and_records_the_choice() -> None:
    state = open_state(cookie=jar(visitor(), promo(), cart()))
    state.begin()
    state.opt_out()
    assert not state.tracking_allowed and state.tracking_choice == "out"
    assert state.visitor == ANONYMOUS and state.promotion is None
    cookies = set_cookies(state.finish(200, []))
    assert cookies.keys() == {"qs_visitor", "qs_promo", "qs_choice"}
    assert dropped(cookies["qs_visitor"]) and dropped(cookies["qs_promo"])
    assert CODEC.load_choice(value_of(cookies["qs_choice"]), T, 1) == Choice("out", T)
    assert f"Max-Age={OPT_OUT_CHOICE_MAX_AGE}" in cookies["qs_choice"]


def test_the_choice_cookie_is_sent_on_a_shared_cacheable_response() -> None:
    state = open_state()
    state.opt_out()
    headers = state.finish(200, [("Cache-Control", "public, max-age=60")])
    assert set_cookies(headers).keys() == {"qs_choice"}


def test_opt_in_replaces_the_opt_out_cookie_and_tracks_at_once() -> None:
    state = open_state(cookie="qs_optout=1")
    assert not state.tracking_allowed and state.tracking_choice == "out"
    plan = state.opt_in()
    assert state.tracking_allowed and state.tracking_choice == "in"
    assert state.visitor.visits == 1
    assert [command[0] for command in plan.commands] == [
        "HINCRBY", "EXPIRE", "PFADD", "EXPIRE"
    ]  # fmt: skip
    cookies = set_cookies(state.finish(200, []))
    assert cookies.keys() == {"qs_optout", "qs_choice", "qs_visitor"}
    assert dropped(cookies["qs_optout"])
    assert value_of(cookies["qs_choice"]).startswith("in.")


def test_the_last_choice_of_a_request_wins() -> None:
    state = open_state()
    state.opt_out()
    assert state.opt_in().commands  # tracked afresh: a new visitor
    cookies = set_cookies(state.finish(200, []))
    assert cookies.keys() == {"qs_choice", "qs_visitor"}
    assert value_of(cookies["qs_choice"]).startswith("in.")


# -- the privacy switch ------------------------------------------------------------


def never() -> str | None:
    raise AssertionError("the form must not be read")


@pytest.mark.parametrize(
    "method", [pytest.param("GET", id="get"), pytest.param("HEAD", id="head")]
)
def test_the_switch_wants_post(method: str) -> None:
    _, answer = open_state(method=method, fetch_site="same-origin").privacy_switch(
        never
    )
    assert answer.status == 405
    assert ("Allow", "POST") in answer.headers


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"fetch_site": "cross-site"}, id="fetch-cross-site"),
        pytest.param({"fetch_site": "same-site"}, id="fetch-same-site"),
        pytest.param({"origin": "https://evil.example"}, id="origin-other-host"),
        pytest.param({"origin": "null"}, id="origin-null"),
        pytest.param({"referer": "https://evil.example/x"}, id="referer-other-host"),
        pytest.param({}, id="no-origin-no-referer"),
    ],
)
def test_the_switch_refuses_other_sites(fields: dict[str, Any]) -> None:
    state = open_state(method="POST", cookie=visitor(), **fields)
    _, answer = state.privacy_switch(never)
    assert answer.status == 403
    assert state.consent.recorded is None  # nothing recorded


@pytest.mark.parametrize(
    "choice",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("OUT", id="upper"),
        pytest.param("maybe", id="other"),
    ],
)
def test_the_switch_refuses_a_bad_choice(choice: str | None) -> None:
    state = open_state(method="POST", fetch_site="same-origin")
    _, answer = state.privacy_switch(lambda: choice)
    assert answer.status == 400
    assert set_cookies(state.finish(200, [])) == {}


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        pytest.param(
            {"fetch_site": "same-origin", "referer": f"https://{HOST}/p?x=1#f"},
            "/p?x=1",
            id="back-to-referer",
        ),
        pytest.param({"referer": f"http://{HOST}/cart"}, "/cart", id="referer-only"),
        pytest.param({"origin": f"https://{HOST}"}, "/", id="no-referer"),
        pytest.param(
            {"origin": f"https://{HOST}", "referer": "https://evil.example/x"},
            "/",
            id="referer-other-host",
        ),
        pytest.param(
            {"origin": f"https://{HOST}", "referer": f"https://{HOST}//evil.example/"},
            "/evil.example/",
            id="never-scheme-relative",
        ),
        pytest.param(
            {"origin": f"https://{HOST}", "referer": f"https://{HOST}/\\evil.example/"},
            "/evil.example/",
            id="never-backslash-host",
        ),
    ],
)
def test_the_switch_opts_out_and_goes_back(
    fields: dict[str, Any], location: str
) -> None:
    state = open_state(method="POST", cookie=visitor(), **fields)
    plan, answer = state.privacy_switch(lambda: "out")
    assert answer == Answer(303, EMPTY + [("Location", location)])
    assert not state.tracking_allowed and plan.commands == ()
    cookies = set_cookies(state.finish(answer.status, answer.headers))
    assert value_of(cookies["qs_choice"]).startswith("out.")
    assert dropped(cookies["qs_visitor"])


def test_the_switch_opts_in() -> None:
    state = open_state(method="POST", cookie="qs_optout=1", fetch_site="same-origin")
    plan, answer = state.privacy_switch(lambda: "in")
    assert answer.status == 303
    assert state.tracking_allowed and plan.commands  # the visit starts now
    cookies = set_cookies(state.finish(answer.status, answer.headers))
    assert dropped(cookies["qs_optout"]) and "qs_visitor" in cookies


# -- finish() ----------------------------------------------------------------------


def new_visitor_state(**fields: Any) -> RequestState:
    state = open_state(**fields)
    state.begin()
    return state


def test_cookie_attributes() -> None:
    headers = new_visitor_state().finish(200, [])
    (value,) = set_cookies(headers).values()
    parts = {part.strip() for part in value.split(";")}
    assert {"HttpOnly", "SameSite=Lax", "Path=/", f"Max-Age={365 * 86400}"} <= parts
    assert "Secure" not in parts
    assert not any(part.lower().startswith("domain") for part in parts)


def test_secure_cookie_attributes() -> None:
    headers = new_visitor_state(https=True).finish(200, [])
    (value,) = set_cookies(headers).values()
    parts = {part.strip() for part in value.split(";")}
    assert value.startswith("__Host-qs_visitor=")
    assert {"HttpOnly", "SameSite=Lax", "Path=/", "Secure"} <= parts


@pytest.mark.parametrize(
    ("app", "vary"),
    [
        pytest.param([], ["Cookie"], id="added"),
        pytest.param([("Vary", "Accept")], ["Accept, Cookie"], id="merged"),
        pytest.param([("vary", "Cookie, Origin")], ["Cookie, Origin"], id="already"),
        pytest.param([("VARY", "accept, cookie")], ["accept, cookie"], id="case"),
        pytest.param([("Vary", "*")], ["*"], id="star"),
    ],
)
def test_vary_cookie(app: Headers, vary: list[str]) -> None:
    headers = new_visitor_state().finish(200, app)
    assert header(headers, "vary") == vary


def test_vary_when_the_app_only_read_our_state() -> None:
    state = open_state(cookie=visitor())
    state.begin()
    assert header(state.finish(200, []), "vary") == []
    state = open_state(cookie=visitor())
    state.begin()
    assert state.promotion is None
    headers = state.finish(200, [])
    assert header(headers, "vary") == ["Cookie"]
    assert header(headers, "cache-control") == []  # no cookie set: no private


@pytest.mark.parametrize(
    ("app", "control"),
    [
        pytest.param([], ["private"], id="none-set"),
        pytest.param([("Cache-Control", "no-cache")], ["no-cache"], id="no-cache"),
        pytest.param([("cache-control", "max-age=6")], ["max-age=6"], id="max-age"),
        pytest.param([("Cache-Control", "private")], ["private"], id="private"),
    ],
)
def test_cache_control_private_only_when_the_app_set_none(
    app: Headers, control: list[str]
) -> None:
    headers = new_visitor_state().finish(200, app)
    assert header(headers, "cache-control") == control


@pytest.mark.parametrize(
    "control",
    [
        pytest.param("public, max-age=600", id="public"),
        pytest.param("s-maxage=600", id="s-maxage"),
    ],
)
def test_no_id_cookie_on_a_shared_cacheable_response(control: str) -> None:
    state = new_visitor_state(query="promo=SUMMER", cookie=cart())
    state.cart.put("a", 1, add=True).read([1])
    headers = state.finish(200, [("Cache-Control", control)])
    assert set_cookies(headers) == {}
    assert header(headers, "cache-control") == [control]


def test_drops_still_go_out_on_a_shared_cacheable_response() -> None:
    state = open_state(cookie=jar(visitor(), promo()), sec_gpc="1")
    state.begin()
    headers = state.finish(200, [("Cache-Control", "public")])
    cookies = set_cookies(headers)
    assert cookies.keys() == {"qs_visitor", "qs_promo"}
    assert all(dropped(value) for value in cookies.values())


def test_a_private_public_mix_is_not_shared() -> None:
    headers = new_visitor_state().finish(
        "200 OK", [("Cache-Control", "public, private")]
    )
    assert set_cookies(headers).keys() == {"qs_visitor"}


@pytest.mark.parametrize(
    ("options", "app", "policy"),
    [
        pytest.param({}, [], ["same-origin"], id="default"),
        pytest.param({}, [("referrer-policy", "origin")], ["origin"], id="app"),
        pytest.param({"referrer_policy": "origin"}, [], ["origin"], id="set"),
        pytest.param({"referrer_policy": None}, [], [], id="off"),
    ],
)
def test_referrer_policy_only_when_absent(
    options: dict[str, Any], app: Headers, policy: list[str]
) -> None:
    headers = open_state(rules=make_rules(**options)).finish(200, app)
    assert header(headers, "referrer-policy") == policy


@pytest.mark.parametrize(
    ("status", "location", "expected"),
    [
        pytest.param(
            302,
            "https://partner.example/x?promo=SUMMER&a=1&utm_campaign=Y",
            "https://partner.example/x?a=1",
            id="other-host-scrubbed",
        ),
        pytest.param(
            303,
            f"https://{HOST}/x?promo=SUMMER",
            f"https://{HOST}/x?promo=SUMMER",
            id="same-host-kept",
        ),
        pytest.param(
            301,
            "https://SHOP.example/x?promo=SUMMER",
            "https://SHOP.example/x?promo=SUMMER",
            id="same-host-case-kept",
        ),
        pytest.param(302, "/x?promo=SUMMER", "/x?promo=SUMMER", id="relative-kept"),
        pytest.param(
            302,
            "https://partner.example/x?a=1",
            "https://partner.example/x?a=1",
            id="nothing-to-scrub",
        ),
        pytest.param(
            201,
            "https://partner.example/x?promo=SUMMER",
            "https://partner.example/x?promo=SUMMER",
            id="not-a-redirect",
        ),
    ],
)
def test_location_scrubbed_on_a_redirect_to_another_host(
    status: int, location: str, expected: str
) -> None:
    headers = open_state().finish(status, [("location", location)])
    assert header(headers, "location") == [expected]
    assert headers[0][0] == "location"


def test_finish_keeps_the_apps_headers_and_does_not_mutate_them() -> None:
    app: Headers = [("Content-Type", "text/html"), ("Set-Cookie", "theirs=1")]
    headers = new_visitor_state().finish(200, app)
    assert headers[:2] == app
    assert app == [("Content-Type", "text/html"), ("Set-Cookie", "theirs=1")]
    assert set_cookies(headers).keys() == {"theirs", "qs_visitor"}


# -- a page view builds and verifies only what it uses ------------------------------


@pytest.fixture
def macs(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many values were signed and verified (every purpose, every key)."""
    from qscookies.signing import MacSigner

    counts = {"sign": 0, "unsign": 0}
    sign, unsign = MacSigner.sign, MacSigner.unsign

    def counted_sign(self: MacSigner, payload: str) -> str:
        counts["sign"] += 1
        return sign(self, payload)

    def counted_unsign(self: MacSigner, value: str) -> str | None:
        counts["unsign"] += 1
        return unsign(self, value)

    monkeypatch.setattr(MacSigner, "sign", counted_sign)
    monkeypatch.setattr(MacSigner, "unsign", counted_unsign)
    return counts


def own_codec() -> Rules:
    """Rules of a codec of their own: no value of another test was verified
    by it (a codec remembers the values it verified)."""
    return Rules(Settings.from_options(), CookieCodec(SECRET), clock=lambda: T)


def test_a_known_visitors_page_view_verifies_one_cookie_once(
    macs: dict[str, int],
) -> None:
    header = jar(visitor(last_seen=T - 5), cart())
    rules = own_codec()
    macs.update(sign=0, unsign=0)  # the cookies' own signing is not the request's
    for verified in (1, 0):  # the next page view of the visit verifies nothing
        state = open_state(cookie=header, rules=rules)
        plan, _ = state.begin()
        assert plan.commands == ()
        assert state.visitor.visits == 2 and state.visitor.is_returning
        assert state.visitor.visits == 2  # read again: verified once all the same
        assert state.promotion is None
        headers = state.finish(200, [("Content-Type", "text/html")])
        # The visitor's value, once; the cart's is unread.
        assert macs == {"sign": 0, "unsign": verified}
        assert set_cookies(headers) == {}  # nothing changed: nothing re-signed
        assert ("Vary", "Cookie") in headers
        # Neither the landing state nor the cart was built.
        assert "landing" not in vars(state) and "cart" not in vars(state)
        macs.update(unsign=0)


def test_a_promotion_cookie_is_read_through_the_landing_state(
    macs: dict[str, int],
) -> None:
    header = jar(visitor(last_seen=T - 5), promo())
    macs.update(sign=0, unsign=0)
    state = open_state(cookie=header, rules=own_codec())
    state.begin()
    assert state.promotion == "SUMMER"
    assert state.promotion == "SUMMER"
    assert macs["unsign"] == 2  # the visitor's and the promotion's, once each
    assert set_cookies(state.finish(200, [])) == {}


def test_a_landing_without_a_promotion_cookie_is_read_in_the_same_request() -> None:
    state = open_state("promo=SUMMER", cookie=visitor(last_seen=T - 5))
    plan, _ = state.begin()
    plan.read([["SUMMER", "/"]])
    assert state.promotion == "SUMMER"


def test_the_visitor_cookie_is_re_sent_once_its_last_seen_is_due(
    macs: dict[str, int],
) -> None:
    """Inside a visit the cookie goes again once a minute (visit_gap / 30):
    a page view that skips the re-send would let the visit lapse."""
    header = visitor(last_seen=T - 60)
    macs.update(sign=0, unsign=0)
    state = open_state(cookie=header)
    plan, _ = state.begin()
    assert plan.commands == ()  # the same visit: nothing counted
    sent = set_cookies(state.finish(200, []))
    assert macs == {"sign": 1, "unsign": 1}
    loaded = CODEC.load_visitor(value_of(sent["qs_visitor"]), T, 86400)
    assert loaded == VisitorState(VID, 2, T - 30 * 86400, T)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"sec_gpc": "0, 1"}, id="sec-gpc-twice"),
        pytest.param({"dnt": "0,1"}, id="dnt-twice"),
        pytest.param({"sec_gpc": "1"}, id="sec-gpc"),
    ],
)
def test_a_privacy_signal_in_a_repeated_header_still_says_out(
    fields: dict[str, str],
) -> None:
    state = open_state(cookie=visitor(last_seen=T - 5), **fields)
    assert state.tracking_allowed is False
    plan, _ = state.begin()
    assert plan.commands == ()
    assert state.visitor == ANONYMOUS


def test_the_cart_facade_is_made_on_first_use_then_kept() -> None:
    from qscookies.context import AsyncContext
    from qscookies.context import Context

    state = open_state(cookie=visitor(last_seen=T - 5))
    sync, aio = Context(state, None), AsyncContext(state, None)  # type: ignore[arg-type]
    assert sync._cart is None and aio._cart is None  # a page view makes none
    assert sync.cart is sync.cart and aio.cart is aio.cart
    assert "cart" not in vars(state)  # the facade alone reads no cart
