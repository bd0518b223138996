"""Promotion counts for marketing: aggregate reads only.

:class:`PromotionReport` reads the per-day aggregate keys the middleware writes
(see :mod:`qscookies.store` for the schema) through a :class:`~qscookies.store.Store`
that may send only ``ZRANGE``, ``HGETALL`` and ``PFCOUNT``. It never sees a visitor
id, a cart or an order: only counters and HyperLogLog sketches.

Days are UTC days and both ends of a range are included. Unique visitors over a
range come from one ``PFCOUNT`` over all the days' sketches, so a visitor who
landed on two days counts once.

``min_count`` suppresses figures that rest on fewer visitors than that: rows are
left out, never shown with made-up zeros. :meth:`PromotionReport.counts` leaves
out a promotion with fewer unique visitors over the range;
:meth:`PromotionReport.daily` leaves out a day with fewer visitors that day. The
totals of :meth:`PromotionReport.summary` add up the rows shown only, so nothing
suppressed can be worked out by subtraction.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

from .codec import PROMOTION_CODE
from .errors import ConfigurationError
from .settings import Settings
from .store.client import open_client
from .store.reader import Reader

#: The longest range a report covers, in days.
MAX_DAYS = 400


def _rate(purchases: int, visitors: int | None) -> float | None:
    if visitors is None:
        return None
    return purchases / visitors if visitors else 0.0


@dataclass(frozen=True)
class PromotionCounts:
    """The figures of one promotion over a range of days."""

    #: The promotion code.
    promotion: str
    #: Landings: requests that arrived with the promotion code.
    landings: int
    #: Unique visitors who landed, over the whole range.
    visitors: int
    #: Unique returning visitors attributed to the promotion, over the range.
    returning: int
    #: Carts started while the promotion was attributed.
    carts: int
    #: Purchases attributed to the promotion (each order counted once).
    purchases: int
    #: Revenue of those purchases, in cents.
    revenue_cents: int

    @property
    def conversion_rate(self) -> float:
        """``purchases / visitors``; ``0.0`` when there were no visitors."""
        return _rate(self.purchases, self.visitors) or 0.0


@dataclass(frozen=True)
class DailyCounts:
    """The figures of one promotion on one UTC day."""

    #: The day.
    day: date
    #: Landings that day.
    landings: int
    #: Unique visitors who landed that day.
    visitors: int
    #: Unique returning visitors that day.
    returning: int
    #: Carts started that day.
    carts: int
    #: Purchases that day.
    purchases: int
    #: Revenue that day, in cents.
    revenue_cents: int

    @property
    def conversion_rate(self) -> float:
        """``purchases / visitors``; ``0.0`` when there were no visitors."""
        return _rate(self.purchases, self.visitors) or 0.0


@dataclass(frozen=True)
class Totals:
    """The figures of all the rows of a summary together.

    Unique visitors cannot be added up (one person may land on two promotions):
    ``visitors`` and ``returning`` are one ``PFCOUNT`` over the sketches of every
    promotion shown. Redis Cluster keeps promotions in different slots and cannot
    merge them in one command; there both are ``None``.
    """

    landings: int
    visitors: int | None
    returning: int | None
    carts: int
    purchases: int
    revenue_cents: int

    @property
    def conversion_rate(self) -> float | None:
        """``purchases / visitors``; ``None`` when the visitors are unknown."""
        return _rate(self.purchases, self.visitors)


@dataclass(frozen=True)
class Summary:
    """The rows of :meth:`PromotionReport.counts` and their totals."""

    #: First day covered.
    since: date
    #: Last day covered.
    until: date
    #: One row per promotion, sorted by code.
    rows: list[PromotionCounts]
    #: The rows added up, with merged unique counts.
    totals: Totals


class PromotionReport:
    """Read promotion counts: aggregates only, in a bounded number of round trips.

    ::

        report = PromotionReport(redis_url="redis://localhost/0")
        for row in report.counts(since=date(2024, 3, 1), until=date(2024, 3, 31)):
            print(row.promotion, row.visitors, f"{row.conversion_rate:.1%}")

    :param redis_url: where Redis is; the report owns that connection pool
        (:meth:`close` it, or use the report as a context manager).
    :param redis: a ready client instead (``redis.Redis``, ``redis.RedisCluster``
        or a Sentinel client); its owner closes it.
    :param key_prefix: the middleware's ``key_prefix``.
    :param min_count: leave out figures resting on fewer visitors than this (see
        the module docstring).
    :param socket_timeout: seconds to wait for Redis before giving up.
    :raises ConfigurationError: a bad option or Redis URL.
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        redis: Any = None,
        key_prefix: str = "qs:",
        min_count: int = 0,
        socket_timeout: float = 5.0,
    ) -> None:
        settings = Settings.from_options(
            key_prefix=key_prefix, socket_timeout=socket_timeout
        )
        if type(min_count) is not int or min_count < 0:
            raise ConfigurationError("min_count must be a whole number of at least 0")
        redis, self._owned = open_client(
            redis_url, redis, socket_timeout=socket_timeout
        )
        #: Figures resting on fewer visitors than this are left out.
        self.min_count = min_count
        self._reader = Reader(redis, prefix=settings.key_prefix)

    def close(self) -> None:
        """Close the connection pool, if the report opened it."""
        if self._owned:
            self._reader.close()

    def __enter__(self) -> PromotionReport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def promotions(self) -> list[str]:
        """Every promotion code known to the index, sorted (one ``ZRANGE``).

        :raises StoreUnavailable: Redis could not be reached.
        """
        today = utc_today()
        since = today - timedelta(days=MAX_DAYS - 1)
        days = [_key_day(day) for day in _days(since, today)]
        return self._reader.promotion_codes(days)

    def counts(self, since: date, until: date) -> list[PromotionCounts]:
        """One row per promotion active in the range, sorted by code.

        Two round trips: the index (``ZRANGE``), then one pipeline of
        ``HGETALL`` per promotion and day and ``PFCOUNT`` per promotion. A
        promotion with no figure at all in the range is left out, and so is one
        with fewer than ``min_count`` unique visitors.

        :param since: first UTC day, included.
        :param until: last UTC day, included.
        :raises ConfigurationError: *since* after *until*, or a range longer
            than :data:`MAX_DAYS`.
        :raises StoreUnavailable: Redis could not be reached.
        """
        return self._read(since, until, merge=False).rows

    def summary(self, since: date, until: date) -> Summary:
        """:meth:`counts` with totals: one more round trip (two ``PFCOUNT``).

        :raises ConfigurationError: a bad range, as for :meth:`counts`.
        :raises StoreUnavailable: Redis could not be reached.
        """
        return self._read(since, until, merge=True)

    def daily(self, promotion: str, since: date, until: date) -> list[DailyCounts]:
        """One promotion's figures day by day, in one pipelined round trip.

        One row per day, oldest first; a day with fewer than ``min_count``
        visitors is left out.

        :param promotion: the promotion code.
        :param since: first UTC day, included.
        :param until: last UTC day, included.
        :raises ConfigurationError: a bad code or range.
        :raises StoreUnavailable: Redis could not be reached.
        """
        if not isinstance(promotion, str) or not PROMOTION_CODE.fullmatch(promotion):
            raise ConfigurationError(
                f"promotion must be a code matching {PROMOTION_CODE.pattern}"
            )
        days = _days(since, until)
        figures = self._reader.read_aggregates(
            [(promotion, [_key_day(day)]) for day in days]
        )
        return [
            DailyCounts(day=day, **values)
            for day, values in zip(days, figures, strict=True)
            if values["visitors"] >= self.min_count
        ]

    def _read(self, since: date, until: date, *, merge: bool) -> Summary:
        days = [_key_day(day) for day in _days(since, until)]
        codes = self._reader.promotion_codes(days)
        figures = self._reader.read_aggregates([(code, days) for code in codes])
        rows = [
            PromotionCounts(promotion=code, **values)
            for code, values in zip(codes, figures, strict=True)
            if any(values.values()) and values["visitors"] >= self.min_count
        ]
        merged = (
            self._reader.count_unique([(row.promotion, days) for row in rows])
            if merge
            else None
        )
        visitors, returning = merged or (None, None)
        totals = Totals(
            landings=sum(row.landings for row in rows),
            visitors=visitors,
            returning=returning,
            carts=sum(row.carts for row in rows),
            purchases=sum(row.purchases for row in rows),
            revenue_cents=sum(row.revenue_cents for row in rows),
        )
        return Summary(since=since, until=until, rows=rows, totals=totals)


def _days(since: date, until: date) -> Sequence[date]:
    """The days from *since* to *until*, both included, checked."""
    for name, value in (("since", since), ("until", until)):
        if not isinstance(value, date):
            raise ConfigurationError(f"{name} must be a date, not {value!r}")
    if since > until:
        raise ConfigurationError(f"since ({since}) is after until ({until})")
    count = (until - since).days + 1
    if count > MAX_DAYS:
        raise ConfigurationError(
            f"the range covers {count} days; a report covers at most {MAX_DAYS}"
        )
    return [since + timedelta(days=offset) for offset in range(count)]


def _key_day(day: date) -> str:
    return day.strftime("%Y%m%d")


# -- output for people and spreadsheets ------

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

_RELATIVE_DAY = re.compile(r"([1-9][0-9]{0,2})d")


def utc_today() -> date:
    """Today's date in UTC, the calendar of the counts."""
    return datetime.now(timezone.utc).date()


def parse_day(text: str, today: date) -> date:
    """Read a day given as ``YYYY-MM-DD`` or as ``Nd``, the first of the last N days.

    ``1d`` is *today*, ``7d`` six days earlier, so ``--since 7d`` covers a week.

    :raises ConfigurationError: anything else.
    """
    relative = _RELATIVE_DAY.fullmatch(text)
    if relative:
        return today - timedelta(days=int(relative.group(1)) - 1)
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day(text)
    except ValueError:
        return _bad_day(text)


def _bad_day(text: str) -> date:
    raise ConfigurationError(f"bad day {text!r}: use YYYY-MM-DD, or Nd like 7d")


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
    """An aligned text table of *rows* with a totals line, for a terminal."""
    heading = f"Promotions {summary.since} .. {summary.until} (UTC days)"
    if not rows:
        return f"{heading}: no promotion activity.\n"
    totals = summary.totals
    lines = [_cells(row.promotion, row, row.visitors, row.returning) for row in rows]
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
    return "\n".join(table) + "\n"


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
