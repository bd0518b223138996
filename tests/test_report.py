"""PromotionReport: figures equal what real requests through the middleware made."""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from typing import Any

import promotion_script
import pytest
import redis

from qscookies.embedded import RedisClusterServers
from qscookies.embedded import RedisServer
from qscookies.errors import CommandRefused
from qscookies.errors import ConfigurationError
from qscookies.errors import StoreUnavailable
from qscookies.report import MAX_DAYS
from qscookies.report import DailyCounts
from qscookies.report import PromotionCounts
from qscookies.report import PromotionReport
from qscookies.report import Totals
from qscookies.report import parse_day
from qscookies.report import sort_rows
from qscookies.store.client import Guard
from qscookies.store.reader import REPORT_COMMANDS

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
        landings=7, visitors=4, returning=3, carts=3, purchases=2, revenue_cents=2499
    )
    assert summary.totals.conversion_rate == 0.5


def test_conversion_rate(report: PromotionReport) -> None:
    spring = report.counts(FIRST, LAST)[0]
    assert spring.conversion_rate == pytest.approx(2 / 3)
    assert PromotionCounts("X", 0, 0, 0, 0, 0, 0).conversion_rate == 0.0


def test_a_range_without_activity_has_no_rows(report: PromotionReport) -> None:
    before = FIRST - timedelta(days=10)
    assert report.counts(before, before) == []
    summary = report.summary(before, before)
    assert summary.totals == Totals(0, 0, 0, 0, 0, 0)


def test_promotions_lists_the_index(report: PromotionReport) -> None:
    # The junk code and the opted-out landing never made a key.
    assert report.promotions() == ["SPRING", "SUMMER", "WINTER"]


def test_min_count_leaves_out_thin_figures(redis_client: redis.Redis) -> None:
    promotion_script.run(redis_client, FIRST)
    report = PromotionReport(redis=redis_client, min_count=2)
    summary = report.summary(FIRST, LAST)
    assert [row.promotion for row in summary.rows] == ["SPRING"]
    # Totals add up what is shown only: nothing suppressed can be subtracted out.
    assert summary.totals == Totals(4, 3, 3, 2, 2, 2499)
    # Day 1 of SPRING had 2 visitors, days 2 and 3 one each.
    assert report.daily("SPRING", FIRST, LAST) == [
        promotion_script.expected_spring_daily(FIRST)[0]
    ]


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
    assert sent == ["ZRANGE", "pipeline"]
    sent.clear()
    report.summary(FIRST, LAST)
    assert sent == ["ZRANGE", "pipeline", "pipeline"]
    sent.clear()
    report.daily("SPRING", FIRST, FIRST + timedelta(days=90))
    assert sent == ["pipeline"]


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
            guard.call(command, "qs:a:i:20240101")


def test_report_on_redis_cluster(redis_cluster: RedisClusterServers) -> None:
    with redis_cluster.client() as client:
        promotion_script.run(client, FIRST, key_prefix="report-test:")
        report = PromotionReport(redis=client, key_prefix="report-test:")
        assert report.counts(FIRST, LAST) == promotion_script.expected_counts()
        assert report.daily("SPRING", FIRST, LAST) == (
            promotion_script.expected_spring_daily(FIRST)
        )
        # One PFCOUNT cannot span slots: totals say "unknown", never a wrong sum.
        totals = report.summary(FIRST, LAST).totals
        assert (totals.landings, totals.visitors, totals.returning) == (7, None, None)
        assert totals.conversion_rate is None


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


def test_daily_counts_is_frozen() -> None:
    row = DailyCounts(FIRST, 1, 1, 0, 0, 0, 0)
    with pytest.raises(AttributeError):
        row.landings = 5  # type: ignore[misc]
