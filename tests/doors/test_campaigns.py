"""Campaigns as marketing reads them, on a real Redis: source and medium, the cap
on pairs, first or last touch, revenue per currency; report figures equal the
scripted journeys, and the CLI shows the same figures as the API."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import pytest
import redis
from campaign_script import DAY
from campaign_script import NOW
from campaign_script import journeys
from campaign_script import middleware
from campaign_script import shop
from werkzeug.test import Client

from qscookies import QSCookies
from qscookies.codec import Attribution
from qscookies.codec import CookieCodec
from qscookies.errors import ConfigurationError
from qscookies.errors import QSCookiesError
from qscookies.ops.cli import main
from qscookies.report import PromotionCounts
from qscookies.report import PromotionReport
from qscookies.report.days import MAX_DAYS
from qscookies.store.client import Guard

from launchers import RedisClusterServers

if TYPE_CHECKING:
    pass


def row(promotion: str, source: str | None, medium: str | None, **figures: Any) -> Any:
    """A breakdown row; figures default to 0 (revenue_by_currency to {})."""
    values: dict[str, Any] = dict.fromkeys(
        ("landings", "visitors", "returning", "carts", "purchases", "revenue_cents"),
        0,
    )
    values.update(figures)
    return PromotionCounts(promotion, source=source, medium=medium, **values)


@pytest.fixture
def report(redis_client: redis.Redis) -> Iterable[PromotionReport]:
    journeys(middleware(redis_client))
    with PromotionReport(redis=redis_client) as report:
        yield report


def test_breakdown_by_source_and_medium(report: PromotionReport) -> None:
    assert report.counts(DAY, DAY, by="source_medium") == [
        row("SPRING", None, None, landings=1, visitors=1, carts=1),
        row("SPRING", None, "email", landings=1, visitors=1),  # junk source
        row(
            "SPRING",
            "blog-a",
            "partner",
            landings=1,
            visitors=1,
            carts=1,
            purchases=1,
            revenue_by_currency={"USD": 500},
        ),
        row(
            "SPRING",
            "newsletter",
            "email",
            landings=2,
            visitors=2,
            carts=1,
            purchases=1,
            revenue_cents=1999,
            currency_purchases=1,
            revenue_by_currency={"EUR": 1999},
        ),
    ]


def test_breakdown_by_source(report: PromotionReport) -> None:
    rows = report.counts(DAY, DAY, by="source")
    assert [(r.source, r.medium, r.landings, r.visitors) for r in rows] == [
        (None, None, 2, 2),  # no source and the junk one
        ("blog-a", None, 1, 1),
        ("newsletter", None, 2, 2),
    ]


def test_breakdown_by_medium(report: PromotionReport) -> None:
    rows = report.counts(DAY, DAY, by="medium")
    assert [(r.source, r.medium, r.landings, r.visitors, r.carts) for r in rows] == [
        (None, None, 1, 1, 1),
        (None, "email", 3, 3, 1),
        (None, "partner", 1, 1, 1),
    ]


def test_without_by_one_row_per_promotion(report: PromotionReport) -> None:
    assert report.counts(DAY, DAY) == [
        row(
            "SPRING",
            None,
            None,
            landings=5,
            visitors=5,
            carts=3,
            purchases=2,
            revenue_cents=1999,
            currency_purchases=1,  # the USD order is not an EUR one
            revenue_by_currency={"EUR": 1999, "USD": 500},
        )
    ]
    # the EUR revenue over the EUR purchase, not over both
    assert report.counts(DAY, DAY)[0].average_order_cents == 1999


def test_two_currencies_are_never_summed(redis_client: redis.Redis) -> None:
    journeys(middleware(redis_client))
    with PromotionReport(redis=redis_client, currency="USD") as report:
        (spring,) = report.counts(DAY, DAY)
        summary = report.summary(DAY, DAY)
    assert spring.revenue_cents == 500  # USD only, never 2499
    assert spring.revenue_by_currency == {"EUR": 1999, "USD": 500}
    assert summary.totals.revenue_cents == 500
    assert summary.totals.revenue_by_currency == {"EUR": 1999, "USD": 500}


@pytest.mark.parametrize("bad", ["eur", "EURO", "E1R", "%20EUR", "ZZZ"])
def test_a_bad_currency_is_a_clear_error(redis_client: redis.Redis, bad: str) -> None:
    browser = Client(middleware(redis_client))
    browser.get("/?promo=SPRING")
    with pytest.raises(QSCookiesError, match="an active ISO 4217 code"):
        browser.get(f"/buy?order=X&total=1&cur={bad}")
    assert redis_client.hget("qs:a:{SPRING}:d:20270301", "purchases") is None


@pytest.mark.parametrize("bad", ["eur", "", 978, None])
def test_a_bad_currency_setting_is_refused(redis_client: redis.Redis, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="ISO 4217"):
        PromotionReport(redis=redis_client, currency=bad)
    with pytest.raises(ConfigurationError, match="currency"):
        QSCookies(shop, secret_key="k" * 32, redis=redis_client, currency=bad)


def test_the_currency_setting_is_the_default(redis_client: redis.Redis) -> None:
    browser = Client(middleware(redis_client, currency="GBP"))
    browser.get("/?promo=SPRING")
    assert browser.get("/buy?order=G1&total=700").text == "counted"
    with PromotionReport(redis=redis_client, currency="GBP") as report:
        (spring,) = report.counts(DAY, DAY)
    assert (spring.revenue_cents, spring.revenue_by_currency) == (700, {"GBP": 700})


def test_past_max_sources_the_rest_counts_under_other(
    redis_client: redis.Redis,
) -> None:
    app = middleware(redis_client, max_sources=4)  # landings admit 2 of them
    for source in ("a", "b", "c", "d", "a"):
        Client(app).get(f"/?promo=SPRING&utm_source={source}&utm_medium=cpc")
    late = Client(app)
    late.get("/?promo=SPRING&utm_source=e&utm_medium=cpc")
    late.get("/cart")  # credited where the landing was counted: other/other
    with PromotionReport(redis=redis_client) as report:
        rows = report.counts(DAY, DAY, by="source_medium")
        (total,) = report.counts(DAY, DAY)
    assert [(r.source, r.medium, r.landings, r.visitors, r.carts) for r in rows] == [
        ("a", "cpc", 2, 2, 0),
        ("b", "cpc", 1, 1, 0),
        ("other", "other", 3, 3, 1),
    ]
    assert total.landings == 6 == sum(r.landings for r in rows)  # none lost
    # Every key has a TTL and the pairs stay bounded.
    pairs = redis_client.hgetall("qs:a:j:{qs:a:i:20270301}")
    # a, b, other/other, and e: admitted by the cart's evidence (0 landings yet)
    assert len([name for name in pairs if b"@" in name]) == 4
    for key in redis_client.keys("qs:*"):
        assert redis_client.ttl(key) > 0, key


@pytest.mark.parametrize(
    ("attribution", "credited"),
    [
        pytest.param("last", "WINTER", id="last"),
        pytest.param("first", "SPRING", id="first"),
    ],
)
def test_first_or_last_touch_credits_the_right_promotion(
    redis_client: redis.Redis, attribution: str, credited: str
) -> None:
    app = middleware(redis_client, attribution=attribution)
    browser = Client(app)
    browser.get("/?promo=SPRING&utm_source=newsletter")
    app.clock = lambda: NOW + 3 * 86400  # type: ignore[method-assign]
    browser.get("/?promo=WINTER&utm_source=blog")
    assert browser.get("/").text == credited
    browser.get("/cart")
    assert browser.get("/buy?order=F1&total=900").text == "counted"
    with PromotionReport(redis=redis_client) as report:
        rows = report.counts(DAY, date(2027, 3, 4), by="source")
    buyers = [(r.promotion, r.source) for r in rows if r.purchases]
    source = "newsletter" if credited == "SPRING" else "blog"
    assert buyers == [(credited, source)]
    landed = {r.promotion: r.landings for r in rows}
    assert landed == {"SPRING": 1, "WINTER": 1}  # both landings count either way


def test_first_touch_ends_with_the_window(redis_client: redis.Redis) -> None:
    app = middleware(redis_client, attribution="first", promotion_max_age=86400)
    browser = Client(app)
    browser.get("/?promo=SPRING")
    app.clock = lambda: NOW + 2 * 86400  # type: ignore[method-assign]
    browser.get("/?promo=WINTER")
    assert browser.get("/").text == "WINTER"


def test_a_promotion_cookie_from_before_sources_still_reads(
    redis_client: redis.Redis,
) -> None:
    app = middleware(redis_client)
    # Without a source or medium the codec writes the old form, code~time.
    landing = CookieCodec("k" * 32).dump_promotion(Attribution("SPRING", int(NOW) - 60))
    assert landing.count("~") == 1
    browser = Client(app)
    browser.set_cookie("qs_promo", landing)
    assert browser.get("/").text == "SPRING"
    browser.get("/cart")
    with PromotionReport(redis=redis_client) as report:
        (spring,) = report.counts(DAY, DAY, by="source")
    assert (spring.source, spring.carts) == (None, 1)


def test_the_cli_shows_the_api_figures(
    report: PromotionReport,
    redis_server: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["promotions", "--redis-url", redis_server.url]
    args += ["--since", str(DAY), "--until", str(DAY), "--by", "source"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    api = report.counts(DAY, DAY, by="source")
    assert sorted((r["source"] or "", r["landings"], r["visitors"]) for r in rows) == (
        sorted((r.source or "", r.landings, r.visitors) for r in api)
    )
    assert {r["source"]: r["revenue_by_currency"] for r in rows} == {
        r.source: r.revenue_by_currency for r in api
    }
    assert main([*args, "--csv"]) == 0
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0].startswith("promotion,source,medium,landings,")
    assert csv_lines[0].endswith(",revenue_cents_EUR,revenue_cents_USD")
    assert main([*args, "--currency", "USD"]) == 0
    table = capsys.readouterr().out
    assert "Revenue in USD. Other currencies, never added to it: EUR 19.99." in table
    blog = next(line for line in table.splitlines() if "blog-a" in line)
    assert blog.split()[:4] == ["SPRING", "blog-a", "-", "1"]
    assert main([*args, "--currency", "usd"]) == 2


def test_a_breakdown_reads_in_two_round_trips(
    report: PromotionReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    send = Guard.send

    def counting_send(self: Guard, commands: Any) -> list[Any]:
        sent.append(len(commands))
        return send(self, commands)

    monkeypatch.setattr(Guard, "send", counting_send)
    long_range = (DAY - timedelta(days=MAX_DAYS - 1), DAY)
    for by in ("source", "medium", "source_medium"):
        report.counts(*long_range, by=by)  # type: ignore[arg-type]
        report.summary(DAY, DAY, by=by, promotion="SPRING")  # type: ignore[arg-type]
    # the day and pair indexes, then every figure: each day hash read once
    assert len(sent) == 12
    # by source: SPRING's day hash once, u and r of its 3 rows (4 pairs)
    assert sent[1] == 1 + 2 * 3


def test_breakdown_on_redis_cluster(redis_cluster: RedisClusterServers) -> None:
    with redis_cluster.client() as client:
        journeys(middleware(client, key_prefix="campaigns:"))
        with PromotionReport(redis=client, key_prefix="campaigns:") as report:
            rows = report.counts(DAY, DAY, by="source_medium")
        flat = [(r.source, r.medium, r.landings, r.visitors) for r in rows]
        assert flat == [
            (None, None, 1, 1),
            (None, "email", 1, 1),
            ("blog-a", "partner", 1, 1),
            ("newsletter", "email", 2, 2),
        ]
