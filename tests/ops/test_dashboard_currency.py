"""The dashboard's currency: every money figure labelled with its currency, the
``?currency=`` choice among the currencies with data, and hostile values ignored.

In process (werkzeug's client, a real Redis) and in real headless Chromium. The
figures come from :mod:`campaign_script` (19.99 EUR and 5.00 USD on SPRING, on
a pinned day), or from a shop that sells in USD only.
"""

from __future__ import annotations

from typing import Any

import campaign_script
import chromium as headless
import pytest
import redis
from browser import served
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait
from test_dashboard import pick_breakdown
from werkzeug.test import Client

from qscookies.dashboard import Dashboard
from qscookies.dashboard.currency import choose

pytestmark = pytest.mark.slow  # starts processes of its own

chromium = headless.chromium

TOKEN = "marketing-token-0123456789"
DAY = campaign_script.DAY
RANGE = f"since={DAY}&until={DAY}"
ASK = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _get(app: Dashboard, path: str) -> Any:
    response = Client(app).get(path, headers=BEARER, **ASK)
    assert response.status_code == 200, response.text
    return response.json


@pytest.fixture
def both(redis_client: redis.Redis) -> Dashboard:
    """SPRING's day: 19.99 EUR from the newsletter, 5.00 USD from a blog."""
    campaign_script.journeys(campaign_script.middleware(redis_client))
    return Dashboard(redis=redis_client, token=TOKEN)


def _usd_only(client: redis.Redis) -> None:
    shop = Client(campaign_script.middleware(client, currency="USD"))
    shop.get("/?promo=SPRING")
    assert shop.get("/buy?order=U1&total=4200").text == "counted"


@pytest.mark.parametrize(
    ("asked", "default", "found", "shown"),
    [
        pytest.param("USD", "EUR", ["EUR", "USD"], "USD", id="asked-with-data"),
        pytest.param(None, "EUR", ["EUR", "USD"], "EUR", id="default-with-data"),
        pytest.param(None, "EUR", ["GBP", "USD"], "GBP", id="default-without-data"),
        pytest.param("JPY", "EUR", ["USD"], "USD", id="asked-without-data"),
        pytest.param(None, "EUR", [], "EUR", id="no-data-at-all"),
        pytest.param("<b>", "EUR", ["EUR"], "EUR", id="junk"),
    ],
)
def test_choose(asked: str | None, default: str, found: list[str], shown: str) -> None:
    assert choose(asked, default, found) == shown


def test_counts_name_their_currency_and_offer_the_others(both: Dashboard) -> None:
    body = _get(both, f"/api/counts?{RANGE}")
    assert (body["currency"], body["currencies"]) == ("EUR", ["EUR", "USD"])
    assert body["totals"]["revenue_cents"] == 1999

    usd = _get(both, f"/api/counts?{RANGE}&currency=USD")
    assert (usd["currency"], usd["currencies"]) == ("USD", ["EUR", "USD"])
    assert usd["totals"]["revenue_cents"] == 500
    assert usd["totals"]["average_order_cents"] == 500  # one purchase paid in USD
    assert usd["totals"]["revenue_by_currency"] == {"EUR": 1999, "USD": 500}


def test_the_breakdown_and_the_days_follow_the_choice(both: Dashboard) -> None:
    body = _get(both, f"/api/breakdown?promotion=SPRING&{RANGE}&currency=USD")
    assert body["currency"] == "USD"
    blog = next(row for row in body["rows"] if row["source"] == "blog-a")
    assert blog["revenue_cents"] == 500
    days = _get(both, f"/api/daily?promotion=SPRING&{RANGE}&currency=USD")
    assert days["currency"] == "USD"
    assert [day["revenue_cents"] for day in days["days"]] == [500]


def test_a_usd_shop_sees_its_revenue_without_asking(redis_client: redis.Redis) -> None:
    """The old "Revenue 0.00": the default currency has no data, USD has."""
    _usd_only(redis_client)
    body = _get(Dashboard(redis=redis_client, token=TOKEN), f"/api/counts?{RANGE}")
    assert (body["currency"], body["currencies"]) == ("USD", ["USD"])
    assert body["totals"]["revenue_cents"] == 4200
    assert body["totals"]["average_order_cents"] == 4200


def test_the_default_currency_is_a_setting(redis_client: redis.Redis) -> None:
    campaign_script.journeys(campaign_script.middleware(redis_client))
    app = Dashboard(redis=redis_client, token=TOKEN, currency="USD")
    assert _get(app, f"/api/counts?{RANGE}")["totals"]["revenue_cents"] == 500


@pytest.mark.parametrize(
    "asked",
    [
        pytest.param("eur", id="lower-case"),
        pytest.param("ZZZ", id="not-iso"),
        pytest.param("GBP", id="no-data"),
        pytest.param("%3Cscript%3E", id="markup"),
        pytest.param("EUR%0D%0AX-Evil:%201", id="crlf"),
        pytest.param("qs:a:*", id="key-pattern"),
        pytest.param("EUR%00", id="nul"),
        pytest.param("E" * 5000, id="long"),
        pytest.param("USD&currency=EUR", id="twice"),
    ],
)
def test_hostile_currency_is_ignored_and_touches_no_key(
    both: Dashboard, redis_client: redis.Redis, asked: str
) -> None:
    keys = sorted(redis_client.keys("*"))
    for path in ("counts", "breakdown?promotion=SPRING&", "daily?promotion=SPRING&"):
        separator = "" if path.endswith("&") else "?"
        body = _get(both, f"/api/{path}{separator}{RANGE}&currency={asked}")
        assert body["currency"] == ("USD" if asked.startswith("USD") else "EUR")
    assert sorted(redis_client.keys("*")) == keys  # nothing written, no key named


def _ready(driver: Any) -> None:
    WebDriverWait(driver, 15).until(
        lambda d: (
            d.find_element(By.TAG_NAME, "html").get_attribute("data-state") == "ready"
        )
    )


def _total(driver: Any) -> list[str]:
    (row,) = headless.cells(driver, "#counts tfoot tr")
    return row


@headless.needs_chromium
def test_every_money_figure_names_its_currency_in_headless_chromium(
    both: Dashboard, chromium: Any
) -> None:
    with served(both) as base:
        chromium.get(f"{base}/?token={TOKEN}&{RANGE}")
        _ready(chromium)
        heads = [
            th.text for th in chromium.find_elements(By.CSS_SELECTOR, "#counts th")
        ]
        assert "Revenue (EUR)" in heads and "Avg. order (EUR)" in heads
        assert _total(chromium)[6] == "19.99 EUR"
        assert _total(chromium)[8] == "19.99 EUR"
        choice = Select(chromium.find_element(By.ID, "currency"))
        assert [option.text for option in choice.options] == ["EUR", "USD"]
        assert choice.first_selected_option.text == "EUR"

        choice.select_by_value("USD")
        WebDriverWait(chromium, 15).until(lambda d: _total(d)[6] == "5.00 USD")
        _ready(chromium)
        assert chromium.current_url.endswith("currency=USD")
        heads = [
            th.text for th in chromium.find_elements(By.CSS_SELECTOR, "#counts th")
        ]
        assert "Revenue (USD)" in heads
        note = chromium.find_element(By.ID, "currencies").text
        assert note == (
            "Revenue above is in USD. Other currencies, never added to it: EUR 19.99."
        )
        shown = pick_breakdown(chromium)
        blog = next(cells for cells in shown if cells[0] == "blog-a")
        assert blog[7] == "5.00 USD"
        assert chromium.find_element(By.ID, "breakdown-currency").text == "USD"


@headless.needs_chromium
def test_a_usd_shop_and_a_hostile_choice_in_headless_chromium(
    redis_client: redis.Redis, chromium: Any
) -> None:
    _usd_only(redis_client)
    app = Dashboard(redis=redis_client, token=TOKEN)
    with served(app) as base:
        chromium.get(f"{base}/?token={TOKEN}&{RANGE}&currency=%3Cimg%20src%3Dx%3E")
        _ready(chromium)
        assert _total(chromium)[6] == "42.00 USD"
        assert not chromium.find_element(By.ID, "currency-choice").is_displayed()
        assert chromium.find_elements(By.CSS_SELECTOR, "#counts img") == []
        assert chromium.find_element(By.ID, "status").get_attribute("class") != "error"
