"""The :class:`PromotionReport`: see :mod:`qscookies.report` for what it reads
and what ``min_count`` promises."""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence
from datetime import date
from datetime import timedelta
from typing import Any

from ..codec import PROMOTION_CODE
from ..errors import ConfigurationError
from ..keys import SITE
from ..settings import Settings
from ..settings import check_currency
from ..store.client import open_client
from ..store.reader import Reader
from .cells import COUNTERS
from .cells import REST
from .cells import TOTAL
from .cells import Batch
from .cells import Breakdown
from .cells import Cell
from .cells import Cells
from .cells import check_by
from .cells import daily
from .cells import day_pairs
from .cells import ranked_rows
from .cells import revenues
from .cells import split_row
from .cells import unique
from .cells import unique_groups
from .days import MAX_DAYS
from .days import day_range
from .days import key_day
from .days import utc_today
from .figures import DailyCounts
from .figures import PromotionCounts
from .figures import SiteCounts
from .figures import Summary
from .figures import Totals

#: How many promotions the default views show before summing the rest.
DEFAULT_TOP = 20

#: The most promotions a summary shows one by one.
MAX_TOP = 100


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
    :param currency: the ISO 4217 code whose revenue is ``revenue_cents``
        (every currency's is in ``revenue_by_currency``; none is ever added to
        another).
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
        currency: str = "EUR",
    ) -> None:
        settings = Settings.from_options(
            key_prefix=key_prefix, socket_timeout=socket_timeout
        )
        if type(min_count) is not int or min_count < 0:
            raise ConfigurationError("min_count must be a whole number of at least 0")
        redis, self._owned = open_client(
            redis_url, redis, socket_timeout=socket_timeout
        )
        #: The currency of ``revenue_cents``.
        self.currency = check_currency(currency)
        self._reader = Reader(redis, prefix=settings.key_prefix)
        self._cells = Cells(self._reader, min_count, self.currency)

    @property
    def min_count(self) -> int:
        """Cells resting on fewer unique visitors than this are suppressed."""
        return self._cells.min_count

    @min_count.setter
    def min_count(self, value: int) -> None:
        self._cells.min_count = value

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
        indexes, _ = self._reader.indexes(days)
        return sorted({code for index in indexes for code in index})

    def counts(
        self, since: date, until: date, by: Breakdown = None
    ) -> list[PromotionCounts]:
        """One row per promotion active in the range (and, with *by*, per source
        and/or medium of its landings), sorted by code, source, medium.

        Reads ``ZRANGE qs:a:i:<day> 0 -1 WITHSCORES`` for every day (with *by*,
        and ``HGETALL`` of the day's pair index) in one pipelined round trip,
        then, for every promotion and day in those indexes, ``HGETALL
        qs:a:{code}:d:<day>`` and a ``PFCOUNT`` of each row's ``u`` and ``r``
        sketches over its days (a second one). With ``min_count`` > 0 a
        ``PFCOUNT`` per cell joins the second, and the range's unique counts
        come in a third. A row with no unsuppressed figure is left out.

        :param since: first UTC day, included.
        :param until: last UTC day, included.
        :param by: ``None`` (one row per promotion), ``"source"``,
            ``"medium"`` or ``"source_medium"``: rows have ``source`` and/or
            ``medium`` set (``None`` for landings that carried none, or junk);
            visitors are unique within each row.
        :raises ConfigurationError: *since* after *until*, a range longer than
            :data:`MAX_DAYS`, or a bad *by*.
        :raises StoreUnavailable: Redis could not be reached.
        """
        read = self._read(since, until, top=0, by=check_by(by))
        return sorted(
            read.rows, key=lambda r: (r.promotion, r.source or "", r.medium or "")
        )

    def summary(
        self,
        since: date,
        until: date,
        *,
        top: int = DEFAULT_TOP,
        by: Breakdown = None,
        promotion: str | None = None,
    ) -> Summary:
        """The default view: the *top* promotions by landings, the rest summed as
        one row, totals, the site row, and the top promotions day by day.

        The same round trips as :meth:`counts` (two, or three with
        ``min_count``); the site row and the daily series ride along.

        :param top: how many rows to show one by one (1 to :data:`MAX_TOP`).
        :param by: break the rows down as :meth:`counts` does (no daily
            series then).
        :param promotion: only this promotion's rows (its breakdown).
        :raises ConfigurationError: a bad range, *top*, *by* or code.
        :raises StoreUnavailable: Redis could not be reached.
        """
        if type(top) is not int or not 1 <= top <= MAX_TOP:
            raise ConfigurationError(f"top must be a whole number from 1 to {MAX_TOP}")
        if promotion is not None:
            _check_code(promotion)
        return self._read(since, until, top=top, by=check_by(by), only=promotion)

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
        batch = Batch()
        cells = self._cells.add(batch, [Cell(SITE, day) for day in days])
        uniques = (
            {} if self.min_count else self._cells.add_uniques(batch, {SITE: cells})
        )
        replies = self._reader.send(batch.commands)
        kept = self._cells.keep(cells, replies)
        if self.min_count:
            batch = Batch()
            uniques = self._cells.add_uniques(batch, {SITE: kept})
            replies = self._reader.send(batch.commands) if batch.commands else []
        visitors, returning = unique(uniques[SITE], replies)
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
        _check_code(promotion)
        days = [key_day(day) for day in day_range(since, until)]
        batch = Batch()
        cells = self._cells.add(
            batch, [Cell(promotion, day) for day in days], sketches=True
        )
        replies = self._reader.send(batch.commands)
        return [daily(cell) for cell in self._cells.keep(cells, replies)]

    # -- reading ------

    def _read(
        self,
        since: date,
        until: date,
        *,
        top: int,
        by: Breakdown = None,
        only: str | None = None,
    ) -> Summary:
        """Read a range: all rows (``top=0``), or the default view."""
        days = [key_day(day) for day in day_range(since, until)]
        indexes, pairs = self._reader.indexes(days, pairs=by is not None)  # trip 1
        batch = Batch()
        cells = self._cells.add(
            batch,
            [
                Cell(code, day, pair, landed)
                for day, index, named in zip(days, indexes, pairs, strict=True)
                for code in sorted(index)
                if code != SITE and only in (None, code)
                for pair, landed in day_pairs(by, named.get(code), index[code])
            ],
            sketches=bool(self.min_count or (top and by is None)),
        )
        site = self._cells.add(batch, [Cell(SITE, day) for day in days]) if top else []
        uniques: dict[Hashable, tuple[int, int] | None] = {}
        ranked: list[str] = []
        if not self.min_count:
            # The indexes' scores are the landings: rank now, count in one go.
            ranked = ranked_rows(cells, by, lambda cell: cell.landed)
            uniques = self._cells.add_uniques(
                batch, unique_groups(cells, site, ranked, top, by)
            )
        replies = self._reader.send(batch.commands)  # round trip 2
        kept = self._cells.keep(cells, replies)
        site = self._cells.keep(site, replies)
        if self.min_count:
            ranked = ranked_rows(kept, by, lambda cell: cell.counters["landings"])
            batch = Batch()
            uniques = self._cells.add_uniques(
                batch, unique_groups(kept, site, ranked, top, by)
            )
            replies = self._reader.send(batch.commands)  # round trip 3
        by_row: dict[str, list[Cell]] = {}
        for cell in kept:
            by_row.setdefault(cell.row(by), []).append(cell)
        rows = []
        for name in ranked:
            mine = by_row.get(name, [])
            visitors, returning = unique(uniques.get(name), replies)
            sums = {key: sum(c.counters[key] for c in mine) for key in COUNTERS}
            code, source, medium = split_row(name)
            row = PromotionCounts(
                code,
                visitors=visitors or 0,
                returning=returning or 0,
                source=source,
                medium=medium,
                revenue_by_currency=revenues(mine),
                **sums,
            )
            if mine and (row.visitors or any(sums.values()) or row.revenue_by_currency):
                rows.append(row)
        shown, rest = (rows[:top], rows[top:]) if top else (rows, [])
        site_visitors, site_returning = unique(uniques.get(SITE), replies)
        return Summary(
            since=since,
            until=until,
            rows=shown,
            rest=(
                Totals.of(rest, *unique(uniques.get(REST), replies)) if rest else None
            ),
            rest_codes=len(rest),
            totals=Totals.of(rows, *unique(uniques.get(TOTAL), replies)),
            site=SiteCounts(
                visits=sum(cell.counters.get("visits", 0) for cell in site),
                visitors=site_visitors or 0,
                returning=site_returning or 0,
            ),
            daily={
                row.promotion: self._series(by_row[row.promotion], days)
                for row in shown
                if by is None
            },
        )

    def _series(self, cells: list[Cell], days: Sequence[str]) -> list[DailyCounts]:
        """A promotion's kept cells day by day; a day without activity is a row
        of zeros (with ``min_count`` it is left out, as a suppressed day is)."""
        by_day = {cell.day: cell for cell in cells}
        series = []
        for day in days:
            cell = by_day.get(day)
            if cell is not None:
                series.append(daily(cell))
            elif not self.min_count:
                empty = Cell("", day)
                empty.fill({}, self.currency)
                series.append(daily(empty))
        return series


#: Group names of the summed rest and of the totals (never promotion codes).


def _check_code(promotion: object) -> None:
    if not isinstance(promotion, str) or not PROMOTION_CODE.fullmatch(promotion):
        raise ConfigurationError(
            f"promotion must be a code matching {PROMOTION_CODE.pattern}"
        )
