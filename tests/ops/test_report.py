"""PromotionReport: figures equal what real requests through the middleware made."""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from typing import Any

import promotion_script
import pytest
import redis

from qscookies.command import Command
from qscookies.embedded import RedisServer
from qscookies.errors import CommandRefused
from qscookies.errors import ConfigurationError
from qscookies.errors import StoreUnavailable
from qscookies.report import DailyCounts
from qscookies.report import PromotionCounts
from qscookies.report import PromotionReport
from qscookies.report import SiteCounts
from qscookies.report import Totals
from qscookies.report.days import MAX_DAYS
from qscookies.report.days import parse_day
from qscookies.report.render import sort_rows
from qscookies.store.client import Guard
from qscookies.store.reader import REPORT_COMMANDS

from launchers import RedisClusterServers

FIRST = date(2024, 2, 28)  # day 2 is Feb 29, day 3 is Mar 1: month edges too
LAST = FIRST + timedelta(days=2)


@pytest.fixture
def report(redis_client: redis.Redis) -> PromotionReport:
    promotion_script.run(redis_client, FIRST)
    return PromotionReport(redis=redis_client)


def test_counts_equal_the_scripted_visits(report: PromotionReport) -> None:
    assert report.counts(FIRST, LAST) == promotion_script.expected_counts()


def test_visitor_landing_on_two_days_counts_once(report: PromotionReport) -> None:
    (spring, *_) = report.counts(FIRST, FIRST + timedelta(days=1))
    daily = report.daily("SPRING", FIRST, FIRST + timedelta(days=1))
    # Alice landed on both days: 2 + 1 daily uniques, but 2 people.
    assert [row.visitors for row in daily] == [2, 1]
    assert spring.visitors == 2
    assert spring.landings == 3


def test_daily_series_has_one_row_per_day(report: PromotionReport) -> None:
    assert report.daily("SPRING", FIRST, LAST) == (
        promotion_script.expected_spring_daily(FIRST)
    )
    later = report.daily("SPRING", LAST + timedelta(days=1), LAST + timedelta(days=2))
    assert [(row.landings, row.visitors, row.conversion_rate) for row in later] == [
        (0, 0, 0.0),
        (0, 0, 0.0),
    ]


def test_summary_totals_merge_uniques(report: PromotionReport) -> None:
    summary = report.summary(FIRST, LAST)
    assert summary.rows == promotion_script.expected_counts()
    # Carol landed on SPRING and SUMMER: 4 people, not 3 + 1 + 1.
    assert summary.totals == Totals(
        landings=7,
        visitors=4,
        returning=3,
        carts=3,
        purchases=2,
        revenue_cents=2499,
        currency_purchases=2,
        revenue_by_currency={"EUR": 2499},
    )
    assert summary.totals.conversion_rate == 0.5


def test_conversion_rate(report: PromotionReport) -> None:
    spring = report.counts(FIRST, LAST)[0]
    assert spring.conversion_rate == pytest.approx(2 / 3)
    assert PromotionCounts("X", 0, 0, 0, 0, 0, 0).conversion_rate == 0.0


def test_average_order_value(report: PromotionReport) -> None:
    spring, summer, _ = report.counts(FIRST, LAST)
    assert spring.average_order_cents == 2499 / 2  # two orders: 19.99 and 5.00
    assert summer.average_order_cents is None  # no purchase: no average
    daily = report.daily("SPRING", FIRST, LAST)
    assert [row.average_order_cents for row in daily] == [1999.0, 500.0, None]
    totals = report.summary(FIRST, LAST).totals
    assert totals.average_order_cents == 1249.5


@pytest.mark.parametrize(
    ("purchases", "revenue_cents", "average"),
    [
        pytest.param(0, 0, None, id="no-purchase"),
        pytest.param(0, 500, None, id="revenue-without-purchase"),
        pytest.param(1, 0, 0.0, id="free-order"),
        pytest.param(3, 1000, 1000 / 3, id="fraction-of-a-cent"),
    ],
)
def test_average_order_value_of_every_kind_of_row(
    purchases: int, revenue_cents: int, average: float | None
) -> None:
    rows = [
        PromotionCounts(
            "X", 5, 5, 0, 1, purchases, revenue_cents, currency_purchases=purchases
        ),
        DailyCounts(
            FIRST, 5, 5, 0, 1, purchases, revenue_cents, currency_purchases=purchases
        ),
        Totals(
            5, None, None, 1, purchases, revenue_cents, currency_purchases=purchases
        ),
    ]
    assert [row.average_order_cents for row in rows] == [average] * 3


def test_a_range_without_activity_has_no_rows(report: PromotionReport) -> None:
    before = FIRST - timedelta(days=10)
    assert report.counts(before, before) == []
    summary = report.summary(before, before)
    assert summary.totals == Totals(0, 0, 0, 0, 0, 0)


def test_promotions_lists_the_index(report: PromotionReport) -> None:
    # The junk code and the opted-out landing never made a key.
    assert report.promotions(FIRST, LAST) == ["SPRING", "SUMMER", "WINTER"]
    assert report.promotions(FIRST, FIRST) == ["SPRING"]
    assert report.promotions() == []  # the last 400 days: the script ran in 2024


def test_site_row(report: PromotionReport) -> None:
    assert report.site(FIRST, LAST) == promotion_script.expected_site()
    daily = [
        report.site(FIRST + timedelta(days=n), FIRST + timedelta(days=n))
        for n in range(3)
    ]
    assert daily == promotion_script.expected_site_daily()
    assert report.summary(FIRST, LAST).site == promotion_script.expected_site()
    assert report.site(LAST + timedelta(days=1), LAST + timedelta(days=5)) == (
        SiteCounts(0, 0, 0)
    )


def test_summary_shows_the_top_and_sums_the_rest(report: PromotionReport) -> None:
    summary = report.summary(FIRST, LAST, top=2)
    spring, summer, winter = promotion_script.expected_counts()
    assert summary.rows == [spring, summer]  # by landings, largest first
    assert summary.rest_codes == 1
    assert summary.rest == Totals(1, 1, 0, 0, 0, 0)
    assert summary.totals == Totals(
        7, 4, 3, 3, 2, 2499, {"EUR": 2499}, currency_purchases=2
    )
    # The top promotions day by day ride along (for the dashboard's charts).
    assert summary.daily["SPRING"] == promotion_script.expected_spring_daily(FIRST)
    assert summary.daily["SUMMER"] == report.daily("SUMMER", FIRST, LAST)
    assert set(summary.daily) == {"SPRING", "SUMMER"}
    whole = report.summary(FIRST, LAST)
    assert (whole.rest, whole.rest_codes) == (None, 0)
    assert whole.rows == [spring, summer, winter]


@pytest.mark.parametrize("top", [0, -1, 101, 2.0, True])
def test_summary_refuses_a_bad_top(report: PromotionReport, top: Any) -> None:
    with pytest.raises(ConfigurationError, match="top must be"):
        report.summary(FIRST, LAST, top=top)


def test_a_range_reads_only_codes_active_in_it(
    report: PromotionReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys: list[str] = []
    send = Guard.send

    def spying_send(self: Guard, commands: Any) -> list[Any]:
        keys.extend(key for command in commands for key in command.keys)
        return send(self, commands)

    monkeypatch.setattr(Guard, "send", spying_send)
    assert [row.promotion for row in report.counts(FIRST, FIRST)] == ["SPRING"]
    read = {key.split("{")[1].split("}")[0] for key in keys if "{" in key}
    assert read == {"SPRING"}  # SUMMER and WINTER were not active on day 1


def test_min_count_suppresses_each_promotion_day(redis_client: redis.Redis) -> None:
    promotion_script.run(redis_client, FIRST)
    report = PromotionReport(redis=redis_client, min_count=2)
    # Only SPRING on day 1 rests on 2 visitors (Alice and Bob); every other
    # promotion-day had one, so none of its figures enters anything.
    day_one = promotion_script.expected_spring_daily(FIRST)[0]
    spring = PromotionCounts(
        "SPRING",
        2,
        2,
        0,
        1,
        1,
        1999,
        revenue_by_currency={"EUR": 1999},
        currency_purchases=1,
    )
    assert report.counts(FIRST, LAST) == [spring]
    summary = report.summary(FIRST, LAST)
    assert summary.rows == [spring]
    assert summary.totals == Totals(
        2, 2, 0, 1, 1, 1999, {"EUR": 1999}, currency_purchases=1
    )
    assert summary.daily == {"SPRING": [day_one]}
    assert report.daily("SPRING", FIRST, LAST) == [day_one]
    # The site had 3, 3 and 2 visitors a day: nothing suppressed there.
    assert report.site(FIRST, LAST) == promotion_script.expected_site()
    assert PromotionReport(redis=redis_client, min_count=3).site(
        FIRST, LAST
    ) == SiteCounts(6, 4, 2)  # day 3 (2 visitors) left out


def test_min_count_no_subtraction_reveals_a_suppressed_cell(
    redis_client: redis.Redis,
) -> None:
    promotion_script.run(redis_client, FIRST)
    report = PromotionReport(redis=redis_client, min_count=2)
    # Bob bought on day 2 (one visitor that day): the whole range minus day 1
    # must reveal nothing of it.
    (whole,) = report.counts(FIRST, LAST)
    (first,) = report.counts(FIRST, FIRST)
    assert report.counts(FIRST + timedelta(days=1), LAST) == []
    for name in ("landings", "carts", "purchases", "revenue_cents", "visitors"):
        assert getattr(whole, name) - getattr(first, name) == 0, name
    summary = report.summary(FIRST, LAST, top=1)
    assert summary.rest is None and summary.totals.purchases == first.purchases


def test_round_trips_are_bounded(
    report: PromotionReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    send = Guard.send

    def counting_send(self: Guard, commands: Any) -> list[Any]:
        sent.append(commands[0][0] if len(commands) == 1 else "pipeline")
        return send(self, commands)

    monkeypatch.setattr(Guard, "send", counting_send)
    report.counts(FIRST, FIRST + timedelta(days=MAX_DAYS - 1))
    assert sent == ["pipeline", "pipeline"]  # the day indexes, the figures
    sent.clear()
    report.summary(FIRST, LAST)
    assert sent == ["pipeline", "pipeline"]  # site, series and totals ride along
    sent.clear()
    report.daily("SPRING", FIRST, FIRST + timedelta(days=90))
    assert sent == ["pipeline"]
    sent.clear()
    report.site(FIRST, LAST)
    assert sent == ["pipeline"]
    sent.clear()
    # min_count: the unique counts over the days kept come in a third.
    report.min_count = 2
    report.counts(FIRST, LAST)
    assert sent == ["pipeline", "pipeline", "pipeline"]
    sent.clear()
    report.summary(FIRST, LAST)
    assert sent == ["pipeline", "pipeline", "pipeline"]
    sent.clear()
    report.site(FIRST, LAST)
    assert len(sent) == 2


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        pytest.param(LAST, FIRST, "is after until", id="reversed"),
        pytest.param(
            FIRST, FIRST + timedelta(days=MAX_DAYS), "at most 400", id="too-long"
        ),
        pytest.param("2024-02-28", LAST, "must be a date", id="string"),
        pytest.param(FIRST, None, "must be a date", id="none"),
    ],
)
def test_bad_ranges_are_refused(
    redis_client: redis.Redis, since: Any, until: Any, message: str
) -> None:
    report = PromotionReport(redis=redis_client)
    with pytest.raises(ConfigurationError, match=message):
        report.counts(since, until)
    with pytest.raises(ConfigurationError, match=message):
        report.daily("SPRING", since, until)


@pytest.mark.parametrize("code", ["", "a b", "x" * 65, "-lead", 7])
def test_daily_refuses_bad_codes(redis_client: redis.Redis, code: Any) -> None:
    with pytest.raises(ConfigurationError, match="promotion must be"):
        PromotionReport(redis=redis_client).daily(code, FIRST, LAST)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({}, "exactly one", id="no-redis"),
        pytest.param(
            {"redis_url": "redis://x", "redis": object()}, "exactly one", id="both"
        ),
        pytest.param({"redis_url": "http://x"}, "bad Redis URL", id="bad-url"),
        pytest.param(
            {"redis_url": "redis://x", "min_count": -1}, "min_count", id="min-count"
        ),
        pytest.param(
            {"redis_url": "redis://x", "key_prefix": "a b"}, "key_prefix", id="prefix"
        ),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PromotionReport(**kwargs)


def test_unreachable_redis_raises_store_unavailable(
    fresh_redis_server: RedisServer,
) -> None:
    url = fresh_redis_server.url
    fresh_redis_server.stop()
    with PromotionReport(redis_url=url, socket_timeout=0.5) as report:
        with pytest.raises(StoreUnavailable):
            report.counts(FIRST, LAST)
        with pytest.raises(StoreUnavailable):
            report.daily("SPRING", FIRST, LAST)


def test_report_url_and_key_prefix(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        try:
            promotion_script.run(client, FIRST, key_prefix="shop1:")
            with PromotionReport(redis_url=redis_server.url) as other_prefix:
                assert other_prefix.promotions() == []
            with PromotionReport(
                redis_url=redis_server.url, key_prefix="shop1:"
            ) as report:
                assert report.counts(FIRST, LAST) == promotion_script.expected_counts()
        finally:
            client.flushall()


def test_report_sends_read_commands_only(redis_client: redis.Redis) -> None:
    guard = PromotionReport(redis=redis_client)._reader._guard
    assert guard.allowed == REPORT_COMMANDS == {"HGETALL", "PFCOUNT", "ZRANGE"}
    for command in ("HINCRBY", "SCAN", "KEYS", "DUMP", "DEL"):
        with pytest.raises(CommandRefused):
            guard.call(Command(command, ("qs:a:i:20240101",)))
    with pytest.raises(CommandRefused, match="outside 'qs:'"):  # another shop's
        guard.call(Command("HGETALL", ("shop1:a:i:20240101",)))


def test_report_on_redis_cluster(redis_cluster: RedisClusterServers) -> None:
    with redis_cluster.client() as client:
        promotion_script.run(client, FIRST, key_prefix="report-test:")
        report = PromotionReport(redis=client, key_prefix="report-test:")
        assert report.counts(FIRST, LAST) == promotion_script.expected_counts()
        assert report.daily("SPRING", FIRST, LAST) == (
            promotion_script.expected_spring_daily(FIRST)
        )
        # One PFCOUNT cannot span slots: totals say "unknown", never a wrong sum.
        summary = report.summary(FIRST, LAST, top=1)
        totals = summary.totals
        assert (totals.landings, totals.visitors, totals.returning) == (7, None, None)
        assert totals.conversion_rate is None
        assert summary.rest == Totals(3, None, None, 1, 0, 0)
        # The site row lives in one slot ({_site}): it is whole on a cluster.
        assert summary.site == promotion_script.expected_site()
        assert report.site(FIRST, LAST) == promotion_script.expected_site()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-03-01", date(2024, 3, 1), id="iso"),
        pytest.param("1d", date(2024, 3, 10), id="today"),
        pytest.param("7d", date(2024, 3, 4), id="week"),
        pytest.param("30d", date(2024, 2, 10), id="month"),
    ],
)
def test_parse_day(text: str, expected: date) -> None:
    assert parse_day(text, date(2024, 3, 10)) == expected


@pytest.mark.parametrize(
    "text", ["", "0d", "7", "d", "2024-3-1", "2024-02-30", "tomorrow", "1000d", "7D"]
)
def test_parse_day_refuses_junk(text: str) -> None:
    with pytest.raises(ConfigurationError, match="bad day"):
        parse_day(text, date(2024, 3, 10))


def test_sort_rows() -> None:
    rows = promotion_script.expected_counts()
    assert [r.promotion for r in sort_rows(rows, "landings")] == [
        "SPRING",
        "SUMMER",
        "WINTER",
    ]
    assert [r.promotion for r in sort_rows(rows, "returning")][-1] == "WINTER"
    # Ties keep A-Z order: SUMMER and WINTER both have 1 visitor.
    assert [r.promotion for r in sort_rows(rows[::-1], "visitors")] == [
        "SPRING",
        "SUMMER",
        "WINTER",
    ]
    with pytest.raises(ConfigurationError, match="cannot sort"):
        sort_rows(rows, "ip_address")


def test_sort_rows_by_average_order_puts_rows_without_purchases_last() -> None:
    rows = [
        PromotionCounts("A", 1, 1, 0, 0, 0, 0),  # no purchase: no average
        PromotionCounts("B", 1, 1, 0, 0, 1, 100, currency_purchases=1),
        PromotionCounts("C", 1, 1, 0, 0, 2, 3000, currency_purchases=2),
        PromotionCounts("D", 1, 1, 0, 0, 1, 0, currency_purchases=1),  # average 0
    ]
    assert [r.promotion for r in sort_rows(rows, "average_order_cents")] == [
        "C",
        "B",
        "D",
        "A",
    ]


def test_daily_counts_is_frozen() -> None:
    row = DailyCounts(FIRST, 1, 1, 0, 0, 0, 0)
    with pytest.raises(AttributeError):
        row.landings = 5  # type: ignore[misc]
