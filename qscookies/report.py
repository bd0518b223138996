"""Promotion counts for marketing: aggregate reads only, in bounded round trips.

:class:`PromotionReport` reads the per-day aggregate keys the middleware writes
(layout: :mod:`qscookies.keys`) through a :class:`~qscookies.store.reader.Reader`
that may send only ``ZRANGE``, ``HGETALL`` and ``PFCOUNT``. It never sees a
visitor id, a cart or an order: only counters and HyperLogLog sketches.

Days are UTC days and both ends of a range are included. A report over a range
reads the per-day promotion indexes of its days first, so it reads only the codes
active in the range (at most ``max_promotions_per_day`` plus ``other`` a day),
however many codes were ever seen. Unique visitors over a range come from one
``PFCOUNT`` over the days' sketches, so a visitor who landed on two days counts
once.

What ``min_count`` promises
---------------------------

A *cell* is one promotion (or the site row) on one UTC day. With ``min_count``
*n* > 0, a cell whose unique visitors that day (its day's sketch) are fewer than
*n* is **suppressed**: none of its figures (landings, visitors, returning, carts,
purchases, revenue; visits for the site) enters any output, and its sketches
enter no unique count. Suppression is decided per cell, from that cell alone,
*before* anything is added up, the same way in every method and for every range.
Every figure shown is therefore a function of unsuppressed cells only, so no
combination of queries (two overlapping ranges subtracted, a promotion's row
minus its days, the totals minus the rows, the rest minus the top) reveals
anything about a suppressed cell. A cell's figures other than visitors (say one
purchase) may be small: the threshold is on the people behind the cell. A
promotion or day with no unsuppressed cell is left out, never shown with made-up
zeros. Landings counted before consent add no visitor, so a cell of such
landings alone is suppressed. ``min_count=0`` (the default) suppresses nothing.

Round trips: :meth:`PromotionReport.counts` and :meth:`~PromotionReport.summary`
use two with ``min_count=0`` (the day indexes, then every figure), three with
``min_count`` > 0 (the range's unique counts are read once the cells are known);
:meth:`~PromotionReport.daily` and :meth:`~PromotionReport.site` use one and two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from .codec import PROMOTION_CODE
from .days import MAX_DAYS
from .days import day_range
from .days import key_day
from .days import utc_today
from .errors import ConfigurationError
from .figures import DailyCounts as DailyCounts
from .figures import PromotionCounts as PromotionCounts
from .figures import SiteCounts as SiteCounts
from .figures import Summary as Summary
from .figures import Totals as Totals
from .keys import SITE
from .settings import Settings
from .store.client import open_client
from .store.reader import Reader

#: How many promotions the default views show before summing the rest.
DEFAULT_TOP = 20

#: The most promotions a summary shows one by one.
MAX_TOP = 100

#: Counters of the per-day promotion hash.
COUNTERS = ("landings", "carts", "purchases", "revenue_cents")


class PromotionReport:
    """Read promotion counts: aggregates only, in a bounded number of round trips.

    ::

        report = PromotionReport(redis_url="redis://localhost/0", min_count=5)
        for row in report.counts(since=date(2024, 3, 1), until=date(2024, 3, 31)):
            print(row.promotion, row.visitors, f"{row.conversion_rate:.1%}")
        report.site(date(2024, 3, 1), date(2024, 3, 31)).visits

    :param redis_url: where Redis is; the report owns that connection pool
        (:meth:`close` it, or use the report as a context manager).
    :param redis: a ready client instead (``redis.Redis``, ``redis.RedisCluster``
        or a Sentinel client); its owner closes it.
    :param key_prefix: the middleware's ``key_prefix``.
    :param min_count: suppress every promotion-day (and site-day) resting on
        fewer unique visitors than this, before anything is summed; see "What
        ``min_count`` promises" in the module docstring.
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
        #: Cells resting on fewer unique visitors than this are suppressed.
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

    def promotions(
        self, since: date | None = None, until: date | None = None
    ) -> list[str]:
        """The codes in the day indexes of a range, sorted (one round trip).

        The range defaults to the last :data:`MAX_DAYS` days.

        :raises StoreUnavailable: Redis could not be reached.
        """
        until = until or utc_today()
        since = since or until - timedelta(days=MAX_DAYS - 1)
        days = [key_day(day) for day in day_range(since, until)]
        return sorted(
            {code for index in self._reader.day_indexes(days) for code in index}
        )

    def counts(self, since: date, until: date) -> list[PromotionCounts]:
        """One row per promotion active in the range, sorted by code.

        Reads ``ZRANGE qs:a:i:<day> 0 -1 WITHSCORES`` for every day (one
        pipelined round trip), then, for every promotion and day in those
        indexes, ``HGETALL qs:a:{code}:d:<day>`` and a ``PFCOUNT`` of the
        promotion's ``u`` and ``r`` sketches over its days (a second one). With
        ``min_count`` > 0 a ``PFCOUNT`` per promotion-day joins the second, and
        the range's unique counts come in a third. A promotion with no
        unsuppressed figure is left out.

        :param since: first UTC day, included.
        :param until: last UTC day, included.
        :raises ConfigurationError: *since* after *until*, or a range longer
            than :data:`MAX_DAYS`.
        :raises StoreUnavailable: Redis could not be reached.
        """
        read = self._read(since, until, top=0)
        return sorted(read.rows, key=lambda row: row.promotion)

    def summary(self, since: date, until: date, *, top: int = DEFAULT_TOP) -> Summary:
        """The default view: the *top* promotions by landings, the rest summed as
        one row, totals, the site row, and the top promotions day by day.

        The same round trips as :meth:`counts` (two, or three with
        ``min_count``); the site row and the daily series ride along.

        :param top: how many promotions to show one by one (1 to
            :data:`MAX_TOP`).
        :raises ConfigurationError: a bad range or *top*.
        :raises StoreUnavailable: Redis could not be reached.
        """
        if type(top) is not int or not 1 <= top <= MAX_TOP:
            raise ConfigurationError(f"top must be a whole number from 1 to {MAX_TOP}")
        return self._read(since, until, top=top)

    def site(self, since: date, until: date) -> SiteCounts:
        """Visits, unique and returning visitors of the whole site over a range.

        One round trip: ``HGETALL qs:a:{_site}:d:<day>`` for every day and a
        ``PFCOUNT`` over the range's ``u`` and over its ``r`` sketches. With
        ``min_count`` > 0 a ``PFCOUNT`` per day joins it, and the range's unique
        counts over the days kept come in a second.

        :raises ConfigurationError: a bad range.
        :raises StoreUnavailable: Redis could not be reached.
        """
        days = [key_day(day) for day in day_range(since, until)]
        batch = _Batch()
        cells = self._add_cells(batch, [_Cell(SITE, day) for day in days])
        uniques = {} if self.min_count else self._add_uniques(batch, {SITE: cells})
        replies = self._reader.send(batch.commands)
        kept = self._keep(cells, replies)
        if self.min_count:
            batch = _Batch()
            uniques = self._add_uniques(batch, {SITE: kept})
            replies = self._reader.send(batch.commands) if batch.commands else []
        visitors, returning = _unique(uniques[SITE], replies)
        return SiteCounts(
            visits=sum(cell.counters.get("visits", 0) for cell in kept),
            visitors=visitors or 0,
            returning=returning or 0,
        )

    def daily(self, promotion: str, since: date, until: date) -> list[DailyCounts]:
        """One promotion's figures day by day, in one pipelined round trip.

        ``HGETALL`` and a ``PFCOUNT`` of the ``u`` and of the ``r`` sketch per
        day. One row per day, oldest first (zeros on a day without activity); a
        suppressed day (see ``min_count``) is left out.

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
        days = [key_day(day) for day in day_range(since, until)]
        batch = _Batch()
        cells = self._add_cells(
            batch, [_Cell(promotion, day) for day in days], sketches=True
        )
        return [
            _daily(cell)
            for cell in self._keep(cells, self._reader.send(batch.commands))
        ]

    # -- reading ------

    def _read(self, since: date, until: date, *, top: int) -> Summary:
        """Read a range: all rows (``top=0``), or the default view."""
        days = [key_day(day) for day in day_range(since, until)]
        indexes = self._reader.day_indexes(days)  # round trip 1
        batch = _Batch()
        cells = self._add_cells(
            batch,
            [
                _Cell(code, day)
                for day, index in zip(days, indexes, strict=True)
                for code in sorted(index)
                if code != SITE
            ],
            sketches=bool(self.min_count or top),
        )
        site = self._add_cells(batch, [_Cell(SITE, day) for day in days]) if top else []
        uniques: dict[str, tuple[int, int] | None] = {}
        ranked: list[str] = []
        if not self.min_count:
            # The indexes' scores are the landings: rank now, count in one go.
            landings: dict[str, int] = {}
            for index in indexes:
                for code, score in index.items():
                    landings[code] = landings.get(code, 0) + score
            ranked = _rank(landings)
            uniques = self._add_uniques(batch, _groups(cells, site, ranked, top))
        replies = self._reader.send(batch.commands)  # round trip 2
        kept = self._keep(cells, replies)
        site = self._keep(site, replies)
        if self.min_count:
            landings = {}
            for cell in kept:
                landings[cell.code] = (
                    landings.get(cell.code, 0) + cell.counters["landings"]
                )
            ranked = _rank(landings)
            batch = _Batch()
            uniques = self._add_uniques(batch, _groups(kept, site, ranked, top))
            replies = self._reader.send(batch.commands)  # round trip 3
        by_code: dict[str, list[_Cell]] = {}
        for cell in kept:
            by_code.setdefault(cell.code, []).append(cell)
        rows = []
        for code in ranked:
            mine = by_code.get(code, [])
            visitors, returning = _unique(uniques.get(code), replies)
            sums = {name: sum(c.counters[name] for c in mine) for name in COUNTERS}
            row = PromotionCounts(
                code, visitors=visitors or 0, returning=returning or 0, **sums
            )
            if mine and (row.visitors or any(sums.values())):
                rows.append(row)
        shown, rest = (rows[:top], rows[top:]) if top else (rows, [])
        site_visitors, site_returning = _unique(uniques.get(SITE), replies)
        return Summary(
            since=since,
            until=until,
            rows=shown,
            rest=(
                Totals.of(rest, *_unique(uniques.get(_REST), replies)) if rest else None
            ),
            rest_codes=len(rest),
            totals=Totals.of(rows, *_unique(uniques.get(_TOTAL), replies)),
            site=SiteCounts(
                visits=sum(cell.counters.get("visits", 0) for cell in site),
                visitors=site_visitors or 0,
                returning=site_returning or 0,
            ),
            daily={
                row.promotion: self._series(by_code[row.promotion], days)
                for row in shown
            },
        )

    def _series(self, cells: list[_Cell], days: Sequence[str]) -> list[DailyCounts]:
        """A promotion's kept cells day by day; a day without activity is a row
        of zeros (with ``min_count`` it is left out, as a suppressed day is)."""
        by_day = {cell.day: cell for cell in cells}
        series = []
        for day in days:
            cell = by_day.get(day)
            if cell is not None:
                series.append(_daily(cell))
            elif not self.min_count:
                series.append(
                    _daily(_Cell("", day, counters=dict.fromkeys(COUNTERS, 0)))
                )
        return series

    def _add_cells(
        self, batch: _Batch, cells: list[_Cell], *, sketches: bool | None = None
    ) -> list[_Cell]:
        """Ask for each cell's hash and, when needed, its day's unique counts."""
        keys = self._reader.keys
        sketches = bool(self.min_count) if sketches is None else sketches
        for cell in cells:
            cell.slot = batch.add("HGETALL", keys.aggregate(cell.code, "d", cell.day))
            if sketches:
                batch.add("PFCOUNT", keys.aggregate(cell.code, "u", cell.day))
                batch.add("PFCOUNT", keys.aggregate(cell.code, "r", cell.day))
                cell.sketched = True
        return cells

    def _keep(self, cells: list[_Cell], replies: Sequence[Any]) -> list[_Cell]:
        """Fill *cells* from *replies*; the ones ``min_count`` lets through.

        The decision rests on the cell alone: its unique visitors that day.
        """
        for cell in cells:
            cell.counters = {
                _text(name): int(value)
                for name, value in (replies[cell.slot] or {}).items()
            }
            for name in COUNTERS:
                cell.counters.setdefault(name, 0)
            if cell.sketched:
                cell.visitors = int(replies[cell.slot + 1])
                cell.returning = int(replies[cell.slot + 2])
        return [
            cell
            for cell in cells
            if not self.min_count or (cell.visitors or 0) >= self.min_count
        ]

    def _add_uniques(
        self, batch: _Batch, groups: dict[str, list[_Cell]]
    ) -> dict[str, tuple[int, int] | None]:
        """Ask for the unique ``u`` and ``r`` counts over each group's cells.

        A group with no cell needs no command (``(0, 0)`` is marked by ``-1``);
        one spanning several codes cannot be merged on a cluster (``None``).
        """
        keys = self._reader.keys
        slots: dict[str, tuple[int, int] | None] = {}
        for name, cells in groups.items():
            codes = {cell.code for cell in cells}
            if len(codes) > 1 and self._reader.is_cluster:
                slots[name] = None
            elif not cells:
                slots[name] = (-1, -1)
            else:
                slots[name] = tuple(  # type: ignore[assignment]
                    batch.add(
                        "PFCOUNT",
                        *(keys.aggregate(cell.code, kind, cell.day) for cell in cells),
                    )
                    for kind in ("u", "r")
                )
        return slots


#: Group names of the summed rest and of the totals (never promotion codes).
_REST = "(rest)"
_TOTAL = "(total)"


class _Batch:
    """Commands for one pipelined round trip, each answered at its slot."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def add(self, *command: Any) -> int:
        """Queue *command*; its reply's position."""
        self.commands.append(command)
        return len(self.commands) - 1


@dataclass
class _Cell:
    """One promotion (or the site) on one day: where its replies are, and them."""

    code: str
    day: str
    slot: int = 0
    sketched: bool = False
    counters: dict[str, int] = field(default_factory=dict)
    visitors: int | None = None
    returning: int | None = None


def _rank(landings: dict[str, int]) -> list[str]:
    """Codes by landings, largest first, ties by code."""
    return sorted(landings, key=lambda code: (-landings[code], code))


def _groups(
    cells: list[_Cell], site: list[_Cell], ranked: list[str], top: int
) -> dict[str, list[_Cell]]:
    """The cell groups whose unique counts a read needs: each code's, and for
    the default view the rest's, everyone's and the site's."""
    groups: dict[str, list[_Cell]] = {code: [] for code in ranked}
    for cell in cells:
        groups[cell.code].append(cell)
    if top:
        rest = set(ranked[top:])
        groups[_REST] = [cell for cell in cells if cell.code in rest]
        groups[_TOTAL] = list(cells)
        groups[SITE] = list(site)
    return groups


def _unique(
    slots: tuple[int, int] | None, replies: Sequence[Any]
) -> tuple[int | None, int | None]:
    if slots is None:
        return None, None
    if slots[0] < 0:
        return 0, 0
    return int(replies[slots[0]]), int(replies[slots[1]])


def _daily(cell: _Cell) -> DailyCounts:
    return DailyCounts(
        day=datetime.strptime(cell.day, "%Y%m%d").date(),
        visitors=cell.visitors or 0,
        returning=cell.returning or 0,
        **{name: cell.counters[name] for name in COUNTERS},
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
