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

from .cells import COUNTERS as COUNTERS
from .figures import DailyCounts as DailyCounts
from .figures import PromotionCounts as PromotionCounts
from .figures import SiteCounts as SiteCounts
from .figures import Summary as Summary
from .figures import Totals as Totals
from .promotion import DEFAULT_TOP as DEFAULT_TOP
from .promotion import MAX_TOP as MAX_TOP
from .promotion import PromotionReport as PromotionReport

__all__ = [
    "COUNTERS",
    "DEFAULT_TOP",
    "MAX_TOP",
    "DailyCounts",
    "PromotionCounts",
    "PromotionReport",
    "SiteCounts",
    "Summary",
    "Totals",
]
