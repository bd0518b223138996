"""``qscookies promotions``: table, JSON and CSV of the scripted figures; errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import promotion_script
import pytest
import redis

from qscookies.embedded import RedisServer
from qscookies.ops import cli
from qscookies.report import SiteCounts
from qscookies.report import Summary
from qscookies.report import Totals
from qscookies.report.days import utc_today
from qscookies.report.render import render_table
from qscookies.words import CONSENT_NOTE

from launchers import RedisClusterServers

ROOT = Path(__file__).resolve().parents[2]

# The script runs on the last three days, so the default range (30d) covers it.
FIRST = utc_today() - timedelta(days=2)

EXPECTED_ROWS = [
    {
        "promotion": "SPRING",
        "landings": 4,
        "visitors": 3,
        "returning": 3,
        "carts": 2,
        "purchases": 2,
        "revenue_cents": 2499,
        "currency_purchases": 2,
        "revenue_by_currency": {"EUR": 2499},
        "conversion_rate": 0.6667,
        "average_order_cents": 1249.5,
    },
    {
        "promotion": "SUMMER",
        "landings": 2,
        "visitors": 1,
        "returning": 1,
        "carts": 1,
        "purchases": 0,
        "revenue_cents": 0,
        "currency_purchases": 0,
        "revenue_by_currency": {},
        "conversion_rate": 0.0,
        "average_order_cents": None,
    },
    {
        "promotion": "WINTER",
        "landings": 1,
        "visitors": 1,
        "returning": 0,
        "carts": 0,
        "purchases": 0,
        "revenue_cents": 0,
        "currency_purchases": 0,
        "revenue_by_currency": {},
        "conversion_rate": 0.0,
        "average_order_cents": None,
    },
]


@pytest.fixture
def url(redis_server: RedisServer, redis_client: redis.Redis) -> str:
    promotion_script.run(redis_client, FIRST)
    return redis_server.url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["promotions", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--redis-url", url)
    assert (code, err) == (0, "")
    since = utc_today() - timedelta(days=29)
    header = (
        "promotion  landings  visitors  returning  carts  purchases    revenue"
        "  conversion  avg order"
    )
    rule = "-" * len(header)
    # The average order: 2499 cents over 2 orders, half a cent up; blank
    # where there was no purchase. Every revenue figure names its currency.
    assert out.splitlines() == [
        f"Promotions {since} .. {utc_today()} (UTC days)",
        "",
        header,
        rule,
        "SPRING            4         3          3      2          2  24.99 EUR"
        "       66.7%  12.50 EUR",
        "SUMMER            2         1          1      1          0   0.00 EUR"
        "        0.0%",
        "WINTER            1         1          0      0          0   0.00 EUR"
        "        0.0%",
        rule,
        "TOTAL             7         4          3      3          2  24.99 EUR"
        "       50.0%  12.50 EUR",
        "",
        "TOTAL visitors and returning are unique across promotions, not a sum.",
        "Revenue in EUR.",
        CONSENT_NOTE,
        "Site: 8 visits, 5 unique visitors, 3 returning.",
    ]


def test_table_shows_the_top_and_sums_the_rest(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--redis-url", url, "--top", "1")
    lines = out.splitlines()
    assert code == 0
    assert lines[4].split() == [
        "SPRING",
        *("4", "3", "3", "2", "2", "24.99", "EUR", "66.7%", "12.50", "EUR"),
    ]
    # SUMMER and WINTER summed; Carol is one visitor of both.
    assert lines[5].split() == [
        "(2",
        "more)",
        "3",
        "2",
        "1",
        "1",
        "0",
        "0.00",
        "EUR",
        "0.0%",
    ]
    assert lines[7].split()[:2] == ["TOTAL", "7"]
    code, out, _ = run(capsys, "--redis-url", url, "--top", "1", "--json")
    assert json.loads(out) == EXPECTED_ROWS  # --json gives every row


def test_table_sorted_by_a_column(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--redis-url", url, "--sort", "promotion")
    lines = [line.split()[0] for line in out.splitlines()[4:7]]
    assert (code, lines) == (0, ["SPRING", "SUMMER", "WINTER"])
    code, out, _ = run(capsys, "--redis-url", url, "--sort", "returning")
    lines = [line.split()[0] for line in out.splitlines()[4:7]]
    assert (code, lines) == (0, ["SPRING", "SUMMER", "WINTER"])


def test_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--redis-url", url, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == EXPECTED_ROWS


def test_csv(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--redis-url", url, "--csv", "--sort", "visitors")
    assert code == 0
    assert out.splitlines()[0] == (
        "promotion,landings,visitors,returning,carts,purchases,revenue_cents,"
        "currency_purchases,conversion_rate,average_order_cents,revenue_cents_EUR"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    # No purchase: the average order is an empty cell, not "None" nor 0.
    assert rows == [
        {
            **{
                k: "" if v is None else str(v)
                for k, v in row.items()
                if k != "revenue_by_currency"
            },
            "revenue_cents_EUR": str(row["revenue_by_currency"].get("EUR", 0)),
        }
        for row in EXPECTED_ROWS
    ]
    assert out.splitlines()[2].endswith(",0.0,,0")


def test_range_and_min_count(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    day1 = FIRST.isoformat()
    day2 = (FIRST + timedelta(days=1)).isoformat()
    code, out, _ = run(
        capsys, "--redis-url", url, "--since", day1, "--until", day2, "--json"
    )
    rows = {row["promotion"]: row for row in json.loads(out)}
    assert code == 0
    assert sorted(rows) == ["SPRING", "SUMMER"]  # WINTER landed on day 3
    assert (rows["SPRING"]["landings"], rows["SPRING"]["visitors"]) == (3, 2)
    code, out, _ = run(capsys, "--redis-url", url, "--since", "2d", "--json")
    assert [row["promotion"] for row in json.loads(out)] == [
        "SPRING",
        "SUMMER",
        "WINTER",
    ]
    code, out, _ = run(capsys, "--redis-url", url, "--min-count", "2", "--json")
    # Only SPRING's first day rests on 2 visitors: only its figures are shown.
    assert [(row["promotion"], row["landings"]) for row in json.loads(out)] == [
        ("SPRING", 2)
    ]


def test_no_activity(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--redis-url", url, "--since", "2001-01-01", "--until", "2001-01-31"
    )
    assert (code, out) == (
        0,
        "Promotions 2001-01-01 .. 2001-01-31 (UTC days): no promotion activity.\n"
        "Site: 0 visits, 0 unique visitors, 0 returning.\n",
    )
    code, out, _ = run(
        capsys,
        "--redis-url",
        url,
        "--until",
        "2001-01-01",
        "--since",
        "2001-01-01",
        "--json",
    )
    assert (code, json.loads(out)) == (0, [])


def test_sort_by_average_order_puts_rows_without_purchases_last(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--redis-url", url, "--sort", "average_order_cents")
    lines = [line.split()[0] for line in out.splitlines()[4:7]]
    assert (code, lines) == (0, ["SPRING", "SUMMER", "WINTER"])
    code, out, _ = run(
        capsys, "--redis-url", url, "--sort", "average_order_cents", "--json"
    )
    assert [row["average_order_cents"] for row in json.loads(out)] == [
        1249.5,
        None,
        None,
    ]


# -- one promotion day by day (--daily) ------

DAY_HEADER = (
    "day         landings  visitors  returning  carts  purchases    revenue"
    "  conversion  avg order"
)


def spring_days() -> list[dict[str, object]]:
    """SPRING's three scripted days as ``--daily SPRING --json`` prints them."""
    return [
        {
            **promotion_script.day_dict(row),
            "conversion_rate": row.conversion_rate,
            "average_order_cents": row.average_order_cents,
        }
        for row in promotion_script.expected_spring_daily(FIRST)
    ]


def test_daily_table(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--redis-url", url, "--daily", "SPRING", "--since", str(FIRST)
    )
    assert (code, err) == (0, "")
    day1, day2, day3 = (FIRST + timedelta(days=n) for n in range(3))
    assert out.splitlines() == [
        f"SPRING day by day, {FIRST} .. {utc_today()} (UTC days)",
        "",
        DAY_HEADER,
        "-" * len(DAY_HEADER),
        f"{day1}         2         2          0      1          1  19.99 EUR"
        "       50.0%  19.99 EUR",
        f"{day2}         1         1          2      1          1   5.00 EUR"
        "      100.0%   5.00 EUR",
        f"{day3}         1         1          1      0          0   0.00 EUR"
        "        0.0%",
        "",
        "Visitors and returning are unique within each day, not across days.",
        CONSENT_NOTE,
    ]


def test_daily_json_and_csv(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--redis-url", url, "--daily", "SPRING", "--since", str(FIRST)]
    code, out, err = run(capsys, *args, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == spring_days()
    assert json.loads(out)[2]["average_order_cents"] is None  # no purchase
    code, out, err = run(capsys, *args, "--csv")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "day,landings,visitors,returning,carts,purchases,revenue_cents,"
        "currency_purchases,conversion_rate,average_order_cents,revenue_cents_EUR"
    )
    assert list(csv.DictReader(io.StringIO(out))) == [
        {
            **{
                k: "" if v is None else str(v)
                for k, v in day.items()
                if k != "revenue_by_currency"
            },
            "revenue_cents_EUR": str(day["revenue_by_currency"].get("EUR", 0)),  # type: ignore[attr-defined]
        }
        for day in spring_days()
    ]


def test_daily_respects_the_range_and_min_count(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day2 = FIRST + timedelta(days=1)
    args = ["--redis-url", url, "--daily", "SPRING", "--json"]
    code, out, _ = run(capsys, *args, "--since", str(FIRST), "--until", str(day2))
    assert (code, json.loads(out)) == (0, spring_days()[:2])
    # Default range: the last 30 days, one row each (zeros without activity).
    code, out, _ = run(capsys, *args)
    days = json.loads(out)
    assert (code, len(days), days[-3:]) == (0, 30, spring_days())
    # Only SPRING's first day rests on 2 visitors.
    code, out, _ = run(capsys, *args, "--since", str(FIRST), "--min-count", "2")
    assert (code, json.loads(out)) == (0, spring_days()[:1])
    code, out, _ = run(capsys, *args[:-1], "--min-count", "5")
    assert code == 0
    assert out == (
        f"SPRING day by day, {utc_today() - timedelta(days=29)} .. {utc_today()}"
        " (UTC days): no day to show (each rests on fewer visitors than"
        " min_count).\n"
    )


@pytest.mark.parametrize("promotion", ["bad code", "_lead", "x" * 65, "<script>", ""])
def test_daily_bad_code_is_one_line_exit_2(
    url: str, capsys: pytest.CaptureFixture[str], promotion: str
) -> None:
    code, out, err = run(capsys, "--redis-url", url, "--daily", promotion)
    assert (code, out) == (2, "")
    assert err.startswith("qscookies promotions: promotion must be a code")
    assert err.count("\n") == 1


def test_daily_bad_range_is_one_line_exit_2(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "--redis-url", url, "--daily", "SPRING", "--since", "2020-01-01"
    )
    assert (code, out) == (2, "")
    assert "at most 400" in err and err.count("\n") == 1


def test_redis_url_from_environment(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QSCOOKIES_REDIS_URL", url)
    code, out, _ = run(capsys, "--json")
    assert (code, len(json.loads(out))) == (0, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--since", "yesterday"], "bad day 'yesterday'", id="bad-day"),
        pytest.param(["--since", "2024-02-30"], "bad day", id="no-such-day"),
        pytest.param(
            ["--since", "2024-03-02", "--until", "2024-03-01"],
            "is after until",
            id="reversed",
        ),
        pytest.param(
            ["--since", "2020-01-01", "--until", "2024-01-01"],
            "at most 400",
            id="too-long",
        ),
        pytest.param(["--min-count", "-1"], "min_count", id="min-count"),
        pytest.param(["--top", "0"], "top must be", id="top"),
        pytest.param(["--prefix", "a b"], "key_prefix", id="prefix"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "--redis-url", url, *args)
    assert (code, out) == (2, "")
    assert err.startswith("qscookies promotions: ") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--sort", "ip"], id="bad-sort"),
        pytest.param(["--json", "--csv"], id="json-and-csv"),
        pytest.param(["--min-count", "x"], id="min-count-not-int"),
    ],
)
def test_bad_options_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(["promotions", "--redis-url", "redis://localhost:1", *args])
    out, err = capsys.readouterr()
    assert exit.value.code == 2
    assert err.count("\n") == 1 and err.startswith("qscookies promotions: ")


def test_missing_redis_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QSCOOKIES_REDIS_URL", raising=False)
    with pytest.raises(SystemExit) as exit:
        cli.main(["promotions"])
    assert exit.value.code == 2
    assert "--redis-url" in capsys.readouterr().err


def test_bad_redis_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--redis-url", "http://example.invalid/")
    assert (code, out) == (2, "")
    assert "bad Redis URL" in err and err.count("\n") == 1


def test_unreachable_redis(
    fresh_redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_redis_server.url
    fresh_redis_server.stop()
    code, out, err = run(capsys, "--redis-url", url)
    assert (code, out) == (2, "")
    assert err == "qscookies promotions: Redis unavailable: ConnectionError\n"


def test_table_marks_totals_a_cluster_cannot_merge() -> None:
    # On Redis Cluster the summary's unique totals are None (see test_report).
    rows = promotion_script.expected_counts()
    totals = Totals(7, None, None, 3, 2, 2499, currency_purchases=2)
    summary = Summary(FIRST, FIRST, rows, None, 0, totals, SiteCounts(8, 5, 3))
    out = render_table(summary, rows)
    (total,) = [line for line in out.splitlines() if line.startswith("TOTAL  ")]
    assert total.split() == [
        "TOTAL",
        *("7", "n/a", "n/a", "3", "2", "24.99", "EUR", "n/a", "12.50", "EUR"),
    ]
    assert "n/a, Redis Cluster cannot merge them" in out


def test_real_subprocess(url: str) -> None:
    # ``python -m qscookies`` runs the ``qscookies`` script's entry point from
    # this checkout (the venv's script may point at another one).
    done = subprocess.run(
        [sys.executable, "-m", "qscookies", "promotions", "--redis-url", url, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == EXPECTED_ROWS
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qscookies",
            "promotions",
            "--redis-url",
            url,
            "--since",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_promotions_on_a_redis_cluster(
    redis_cluster: RedisClusterServers, capsys: pytest.CaptureFixture[str]
) -> None:
    with redis_cluster.client() as client:
        promotion_script.run(client, FIRST, key_prefix="cli-cluster:")
        try:
            args = ["--redis-url", redis_cluster.url, "--cluster"]
            code, out, err = run(capsys, *args, "--prefix", "cli-cluster:", "--json")
            assert (code, err) == (0, "")
            assert json.loads(out) == EXPECTED_ROWS
            code, out, err = run(capsys, *args, "--prefix", "cli-cluster:")
            assert code == 0 and "n/a" in out  # uniques cannot merge across slots
        finally:
            for key in client.keys("cli-cluster:*", target_nodes=client.ALL_NODES):
                client.delete(key)


@pytest.mark.parametrize(
    ("site", "line"),
    [
        pytest.param(
            SiteCounts(1, 1, 1),
            "Site: 1 visit, 1 unique visitor, 1 returning.",
            id="one",
        ),
        pytest.param(
            SiteCounts(2, 0, 0),
            "Site: 2 visits, 0 unique visitors, 0 returning.",
            id="two",
        ),
    ],
)
def test_site_line_counts_in_the_right_number(site: SiteCounts, line: str) -> None:
    totals = Totals(0, 0, 0, 0, 0, 0)
    summary = Summary(FIRST, FIRST, [], None, 0, totals, site)
    assert render_table(summary, []).splitlines()[-1] == line
    rows = promotion_script.expected_counts()
    assert render_table(summary, rows).splitlines()[-1] == line


def test_the_table_says_which_figures_rest_on_tracked_visitors_only() -> None:
    rows = promotion_script.expected_counts()
    totals = Totals(7, 4, 3, 3, 2, 2499)
    summary = Summary(FIRST, FIRST, rows, None, 0, totals, SiteCounts(8, 5, 3))
    note = render_table(summary, rows).splitlines()[-2]
    assert note.startswith("Landings count everyone; visitors, returning, carts")
    assert "purchases only tracked visitors (consented, or not opted out)" in note
