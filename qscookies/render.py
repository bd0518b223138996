"""Promotion figures for people and spreadsheets: the CLI's table and CSV rows.

Aggregates only: every row is one promotion (or the summed rest, or the
totals), never a visitor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .errors import ConfigurationError
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
    "conversion_rate",
)


def row_dict(row: PromotionCounts) -> dict[str, str | int | float]:
    """A row as a JSON-ready dict of :data:`COLUMNS` (rate rounded to 4 places)."""
    values: dict[str, str | int | float] = {
        name: getattr(row, name) for name in COLUMNS
    }
    values["conversion_rate"] = round(row.conversion_rate, 4)
    return values


def sort_rows(rows: Sequence[PromotionCounts], column: str) -> list[PromotionCounts]:
    """Rows sorted by *column*: codes A-Z, figures largest first, ties by code.

    :raises ConfigurationError: *column* is not one of :data:`COLUMNS`.
    """
    if column not in COLUMNS:
        raise ConfigurationError(f"cannot sort by {column!r}; use one of {COLUMNS}")
    by_code = sorted(rows, key=lambda row: row.promotion)
    if column == "promotion":
        return by_code
    return sorted(by_code, key=lambda row: getattr(row, column), reverse=True)


def render_csv(rows: Sequence[PromotionCounts]) -> str:
    """The rows as CSV with a header line, aggregates only."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row_dict(row) for row in rows)
    return out.getvalue()


def render_table(summary: Summary, rows: Sequence[PromotionCounts]) -> str:
    """An aligned text table for a terminal: *rows* (the top promotions), the
    rest summed on one line, the totals, and the site row."""
    heading = f"Promotions {summary.since} .. {summary.until} (UTC days)"
    site = summary.site
    site_line = (
        f"Site: {site.visits} visits, {site.visitors} unique visitors,"
        f" {site.returning} returning."
    )
    if not rows:
        return f"{heading}: no promotion activity.\n{site_line}\n"
    totals = summary.totals
    lines = [_cells(row.promotion, row, row.visitors, row.returning) for row in rows]
    rest = summary.rest
    if rest is not None:
        name = f"({summary.rest_codes} more)"
        lines.append(_cells(name, rest, rest.visitors, rest.returning))
    lines.append(_cells("TOTAL", totals, totals.visitors, totals.returning))
    header = ["promotion", "landings", "visitors", "returning", "carts"]
    header += ["purchases", "revenue", "conversion"]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(8)]

    def line(cells: list[str]) -> str:
        padded = zip(cells, widths, strict=True)
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(padded)
        )

    rule = "-" * len(line(header))
    body = [line(cells) for cells in lines]
    note = (
        "TOTAL visitors and returning are unique across promotions, not a sum."
        if totals.visitors is not None
        else "TOTAL visitors and returning: n/a, Redis Cluster cannot merge them."
    )
    table = [heading, "", line(header), rule, *body[:-1], rule, body[-1], "", note]
    return "\n".join([*table, site_line]) + "\n"


def _cells(
    name: str,
    figures: PromotionCounts | Totals,
    visitors: int | None,
    returning: int | None,
) -> list[str]:
    rate = figures.conversion_rate
    return [
        name,
        str(figures.landings),
        "n/a" if visitors is None else str(visitors),
        "n/a" if returning is None else str(returning),
        str(figures.carts),
        str(figures.purchases),
        f"{figures.revenue_cents / 100:.2f}",
        "n/a" if rate is None else f"{rate:.1%}",
    ]
