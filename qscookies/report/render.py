"""Promotion figures for people and spreadsheets: the CLI's tables and CSV rows.

Aggregates only: every row is one promotion (or one day of one promotion, or
the summed rest, or the totals), never a visitor.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from ..errors import ConfigurationError
from ..words import CONSENT_NOTE
from ..words import plural
from .figures import DailyCounts
from .figures import PromotionCounts
from .figures import Summary
from .figures import Totals

#: Columns of a promotion row, in output order.
COLUMNS = (
    "promotion",
    "landings",
    "visitors",
    "returning",
    "carts",
    "purchases",
    "revenue_cents",
    "currency_purchases",
    "conversion_rate",
    "average_order_cents",
)

#: Columns of one promotion's day row (``promotions --daily``), in output order.
DAY_COLUMNS = ("day", *COLUMNS[1:])

#: The columns a breakdown adds after the promotion.
DIMENSIONS = ("source", "medium")

#: The text table's column heads, after the first (promotion or day).
_HEADS = [
    "landings",
    "visitors",
    "returning",
    "carts",
    "purchases",
    "revenue",
    "conversion",
    "avg order",
]


def row_dict(
    row: PromotionCounts | DailyCounts | Totals, *, breakdown: bool = False
) -> dict[str, Any]:
    """A row as a JSON-ready dict: its fields (a day as ``YYYY-MM-DD``;
    ``source`` and ``medium`` only in a *breakdown*), then ``conversion_rate``
    rounded to 4 places and ``average_order_cents`` to 2 (``None`` where
    unknown: no visitors merged, no purchases)."""
    values = asdict(row)
    if isinstance(row, DailyCounts):
        values["day"] = row.day.isoformat()
    if isinstance(row, PromotionCounts) and not breakdown:
        del values["source"], values["medium"]
    rate, average = row.conversion_rate, row.average_order_cents
    values["conversion_rate"] = None if rate is None else round(rate, 4)
    values["average_order_cents"] = None if average is None else round(average, 2)
    return values


def sort_rows(rows: Sequence[PromotionCounts], column: str) -> list[PromotionCounts]:
    """Rows sorted by *column*: codes A-Z, figures largest first (a row without
    the figure, such as an average without purchases, last), ties by code
    (then source and medium).

    :raises ConfigurationError: *column* is not one of :data:`COLUMNS`.
    """
    if column not in COLUMNS:
        raise ConfigurationError(f"cannot sort by {column!r}; use one of {COLUMNS}")
    by_code = sorted(
        rows, key=lambda row: (row.promotion, row.source or "", row.medium or "")
    )
    if column == "promotion":
        return by_code

    def figure(row: PromotionCounts) -> tuple[bool, float]:
        value = getattr(row, column)
        return value is not None, value or 0

    return sorted(by_code, key=figure, reverse=True)


def columns_of(by: str | None) -> tuple[str, ...]:
    """The columns of promotion rows: :data:`COLUMNS`, with :data:`DIMENSIONS`
    after the promotion in a breakdown (*by* set)."""
    return COLUMNS[:1] + DIMENSIONS + COLUMNS[1:] if by else COLUMNS


def render_csv(
    rows: Sequence[PromotionCounts | DailyCounts], columns: Sequence[str] = COLUMNS
) -> str:
    """The rows as CSV with a header line of *columns*, then one
    ``revenue_cents_<CUR>`` column per currency of the rows; aggregates only:
    a figure that is ``None`` (an average without purchases) is an empty cell.

    :param columns: :data:`COLUMNS` for promotion rows (:func:`columns_of` for
        a breakdown), :data:`DAY_COLUMNS` for one promotion's days.
    """
    currencies = sorted({c for row in rows for c in row.revenue_by_currency})
    money = [f"revenue_cents_{currency}" for currency in currencies]
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[*columns, *money], lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in rows:
        values = row_dict(row, breakdown=bool(set(columns) & set(DIMENSIONS)))
        for currency, name in zip(currencies, money, strict=True):
            values[name] = row.revenue_by_currency.get(currency, 0)
        writer.writerow(values)
    return out.getvalue()


def render_table(
    summary: Summary,
    rows: Sequence[PromotionCounts],
    *,
    by: str | None = None,
    currency: str = "EUR",
) -> str:
    """An aligned text table for a terminal: *rows* (the top promotions, or
    with *by* the top rows of the breakdown, with their source and medium),
    the rest summed on one line, the totals, and the site row. Revenue is in
    *currency*; other currencies are listed apart, never added to it."""
    heading = f"Promotions {summary.since} .. {summary.until} (UTC days)"
    site = summary.site
    site_line = (
        f"Site: {plural(site.visits, 'visit')},"
        f" {plural(site.visitors, 'unique visitor')}, {site.returning} returning."
    )
    if not rows:
        return f"{heading}: no promotion activity.\n{site_line}\n"
    totals = summary.totals
    dimensions = list(DIMENSIONS) if by else []
    lines = [
        _cells(row.promotion, row, row.visitors, row.returning, currency)
        for row in rows
    ]
    if by:  # the source and medium after the promotion; "-": none
        for line, row in zip(lines, rows, strict=True):
            line[1:1] = [row.source or "-", row.medium or "-"]
    rest = summary.rest
    blank = [""] * len(dimensions)
    if rest is not None:
        name = f"({summary.rest_codes} more)"
        lines.append(_cells(name, rest, rest.visitors, rest.returning, currency, blank))
    lines.append(
        _cells("TOTAL", totals, totals.visitors, totals.returning, currency, blank)
    )
    header, rule, *body = _aligned(["promotion", *dimensions, *_HEADS], lines)
    note = (
        "TOTAL visitors and returning are unique across promotions, not a sum."
        if totals.visitors is not None
        else "TOTAL visitors and returning: n/a, Redis Cluster cannot merge them."
    )
    table = [heading, "", header, rule, *body[:-1], rule, body[-1], "", note]
    money = f"Revenue in {currency}."
    others = [
        f"{code} {_money(cents)}"
        for code, cents in totals.revenue_by_currency.items()
        if code != currency
    ]
    if others:
        money += f" Other currencies, never added to it: {', '.join(others)}."
    table.append(money)
    table.append(CONSENT_NOTE)
    return "\n".join([*table, site_line]) + "\n"


def render_daily_table(
    promotion: str,
    since: date,
    until: date,
    days: Sequence[DailyCounts],
    currency: str = "EUR",
) -> str:
    """One promotion day by day as an aligned text table for a terminal, its
    revenue in *currency*."""
    heading = f"{promotion} day by day, {since} .. {until} (UTC days)"
    if not days:
        reason = "each rests on fewer visitors than min_count"
        return f"{heading}: no day to show ({reason}).\n"
    lines = [
        _cells(str(row.day), row, row.visitors, row.returning, currency) for row in days
    ]
    note = "Visitors and returning are unique within each day, not across days."
    table = [heading, "", *_aligned(["day", *_HEADS], lines), "", note, CONSENT_NOTE]
    return "\n".join(table) + "\n"


def _aligned(header: list[str], lines: list[list[str]]) -> list[str]:
    """The header, a rule and the lines, in columns: the first left-aligned,
    the figures right-aligned."""
    rows = [header, *lines]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = zip(cells, widths, strict=True)
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(padded)
        ).rstrip()

    head = line(header)
    return [head, "-" * len(head), *(line(cells) for cells in lines)]


def _money(cents: float) -> str:
    """Cents as a figure of money with two decimals, rounded half up to a cent
    (the dashboard's script rounds the same way)."""
    return f"{math.floor(cents + 0.5) / 100:.2f}"


def _cells(
    name: str,
    figures: PromotionCounts | DailyCounts | Totals,
    visitors: int | None,
    returning: int | None,
    currency: str,
    dimensions: Sequence[str] = (),
) -> list[str]:
    """A row's cells; revenue and average order with their *currency*."""
    rate, average = figures.conversion_rate, figures.average_order_cents
    return [
        name,
        *dimensions,
        str(figures.landings),
        "n/a" if visitors is None else str(visitors),
        "n/a" if returning is None else str(returning),
        str(figures.carts),
        str(figures.purchases),
        f"{_money(figures.revenue_cents)} {currency}",
        "n/a" if rate is None else f"{rate:.1%}",
        "" if average is None else f"{_money(average)} {currency}",
    ]
