"""The report's cells: one promotion (or one of its pairs, or the site) on one day.

:class:`~qscookies.report.PromotionReport` asks :class:`Cells` for the commands
of each cell (its day hash, and its day's sketches when needed), fills the
cells from the replies, decides which ones ``min_count`` lets through, and asks
for the unique counts of groups of cells. A breakdown by source and/or medium
is a read of pair cells: the same day hash (read once per promotion-day,
whatever the number of pairs), each pair's own sketches. Aggregates only.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Literal

from ..command import Command
from ..errors import ConfigurationError
from ..keys import LEGACY_CURRENCY
from ..keys import SITE
from ..keys import KeySchema
from ..store.reader import Reader
from .figures import DailyCounts
from .figures import add_currencies

#: Counters of the per-day promotion hash (``revenue_cents``: the report's
#: currency's; ``currency_purchases``: the purchases paid in it).
COUNTERS = (
    "landings",
    "carts",
    "purchases",
    "revenue_cents",
    "currency_purchases",
)

#: How a report may break promotions down.
Breakdown = Literal["source", "medium", "source_medium"] | None

#: Every value of :data:`Breakdown`.
BREAKDOWNS = (None, "source", "medium", "source_medium")


def check_by(by: object) -> Breakdown:
    """*by* when it is a breakdown, else raise :class:`ConfigurationError`."""
    if by not in BREAKDOWNS:
        raise ConfigurationError(
            "by must be None, 'source', 'medium' or 'source_medium'"
        )
    return by  # type: ignore[return-value]


class Batch:
    """Commands for one pipelined round trip, each answered at its slot; a
    command asked for twice is sent once."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self._slots: dict[Command, int] = {}

    def add(self, name: str, *keys: str) -> int:
        """Queue the command *name* of *keys* (unless queued already); its
        reply's position."""
        command = Command(name, keys)
        slot = self._slots.get(command)
        if slot is None:
            slot = self._slots[command] = len(self.commands)
            self.commands.append(command)
        return slot


@dataclass
class Cell:
    """One promotion on one day (or one of its pairs, or the site): where its
    replies are, and them."""

    code: str
    day: str
    #: The pair (``source/medium``) of a breakdown; ``None``: the code's own
    #: figures.
    pair: str | None = None
    #: The landings the day's index (or pair index) gave the cell.
    landed: int = 0
    slot: int = 0
    #: Where the cell's ``u`` and ``r`` counts of its day are, if asked for.
    sketched: tuple[int, int] | None = None
    counters: dict[str, int] = field(default_factory=dict)
    revenues: dict[str, int] = field(default_factory=dict)
    visitors: int | None = None
    returning: int | None = None

    def sketch(self, keys: KeySchema, kind: str) -> str:
        """The key of the cell's ``u`` or ``r`` sketch."""
        if self.pair is None:
            return keys.aggregate(self.code, kind, self.day)
        return keys.pair_sketch(self.code, kind, self.day, self.pair)

    def row(self, by: Breakdown) -> str:
        """The row the cell adds to: its code, or ``code@source/medium`` with
        the dimensions not broken down left empty. A promotion-day from before
        pairs were kept reads as one without source or medium."""
        if by is None:
            return self.code
        source, _, medium = (self.pair or "/").partition("/")
        if by == "source":
            medium = ""
        elif by == "medium":
            source = ""
        return f"{self.code}@{source}/{medium}"

    def fill(self, reply: dict[Any, Any] | None, currency: str) -> None:
        """Read the cell's figures from its day hash (fields of its pair only).

        Purchases paid in *currency* are ``purchases:<CUR>``; a day from before
        they were kept has none, and then counts all its purchases as paid in
        *currency* when all its revenue is (else none, as unknown).
        """
        counters = dict.fromkeys(COUNTERS, 0)
        revenues: dict[str, int] = {}
        paid_in: dict[str, int] = {}
        for name, value in (reply or {}).items():
            base, _, pair = _text(name).partition("@")
            if (pair or None) != self.pair:
                continue
            counter, _, money = base.partition(":")
            if counter == "revenue_cents":
                money = money or LEGACY_CURRENCY
                revenues[money] = revenues.get(money, 0) + int(value)
            elif counter == "purchases" and money:
                paid_in[money] = int(value)
            else:
                counters[counter] = int(value)
        counters["revenue_cents"] = revenues.get(currency, 0)
        if paid_in:
            counters["currency_purchases"] = paid_in.get(currency, 0)
        elif set(revenues) <= {currency}:
            counters["currency_purchases"] = counters["purchases"]
        self.counters = counters
        self.revenues = dict(sorted(revenues.items()))


def split_row(row: str) -> tuple[str, str | None, str | None]:
    """A row name back as (code, source, medium)."""
    code, _, pair = row.partition("@")
    return (code, *KeySchema.split_pair(pair or "/"))


class Cells:
    """Reads cells through a report's reader, with its ``min_count`` and
    currency.

    :param reader: the report's reader.
    :param min_count: cells resting on fewer unique visitors are left out.
    :param currency: the currency of ``revenue_cents``.
    """

    def __init__(self, reader: Reader, min_count: int, currency: str) -> None:
        self.reader = reader
        self.min_count = min_count
        self.currency = currency

    def add(
        self, batch: Batch, cells: list[Cell], *, sketches: bool | None = None
    ) -> list[Cell]:
        """Ask for each cell's hash and, when needed, its day's unique counts."""
        keys = self.reader.keys
        sketches = bool(self.min_count) if sketches is None else sketches
        for cell in cells:
            cell.slot = batch.add("HGETALL", keys.aggregate(cell.code, "d", cell.day))
            if sketches:
                cell.sketched = (
                    batch.add("PFCOUNT", cell.sketch(keys, "u")),
                    batch.add("PFCOUNT", cell.sketch(keys, "r")),
                )
        return cells

    def keep(self, cells: list[Cell], replies: Sequence[Any]) -> list[Cell]:
        """Fill *cells* from *replies*; the ones ``min_count`` lets through.

        The decision rests on the cell alone: its unique visitors that day.
        """
        for cell in cells:
            cell.fill(replies[cell.slot], self.currency)
            if cell.sketched:
                cell.visitors, cell.returning = unique(cell.sketched, replies)
        return [
            cell
            for cell in cells
            if not self.min_count or (cell.visitors or 0) >= self.min_count
        ]

    def add_uniques(
        self, batch: Batch, groups: dict[Hashable, list[Cell]]
    ) -> dict[Hashable, tuple[int, int] | None]:
        """Ask for the unique ``u`` and ``r`` counts over each group's cells.

        A group with no cell needs no command (``(0, 0)`` is marked by ``-1``);
        one spanning several codes cannot be merged on a cluster (``None``).
        """
        keys = self.reader.keys
        slots: dict[Hashable, tuple[int, int] | None] = {}
        for name, cells in groups.items():
            codes = {cell.code for cell in cells}
            if len(codes) > 1 and self.reader.is_cluster:
                slots[name] = None
            elif not cells:
                slots[name] = (-1, -1)
            else:
                u, r = (
                    batch.add("PFCOUNT", *(cell.sketch(keys, kind) for cell in cells))
                    for kind in ("u", "r")
                )
                slots[name] = (u, r)
        return slots


def rank(landings: dict[str, int]) -> list[str]:
    """Rows by landings, largest first, ties by name."""
    return sorted(landings, key=lambda name: (-landings[name], name))


def unique(
    slots: tuple[int, int] | None, replies: Sequence[Any]
) -> tuple[int | None, int | None]:
    """A group's unique visitors and returning visitors from *replies*."""
    if slots is None:
        return None, None
    if slots[0] < 0:
        return 0, 0
    return int(replies[slots[0]]), int(replies[slots[1]])


def daily(cell: Cell) -> DailyCounts:
    """A kept cell as one day's figures."""
    return DailyCounts(
        day=datetime.strptime(cell.day, "%Y%m%d").date(),
        visitors=cell.visitors or 0,
        returning=cell.returning or 0,
        revenue_by_currency=cell.revenues,
        **{name: cell.counters[name] for name in COUNTERS},
    )


def revenues(cells: Sequence[Cell]) -> dict[str, int]:
    """The cells' revenue, currency by currency."""
    return add_currencies(cell.revenues for cell in cells)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


#: The groups of a default view's unique counts beyond its rows.
REST = "(rest)"
TOTAL = "(total)"


def day_pairs(
    by: Breakdown, named: dict[str, int] | None, landed: int
) -> list[tuple[str | None, int]]:
    """The cells of one promotion-day: its own (``None``) without *by*, else
    one per pair the pair index names (with their landings); a day from
    before pairs were kept is its own cell."""
    if by is None or not named:
        return [(None, landed)]
    return sorted(named.items())


def ranked_rows(cells: list[Cell], by: Breakdown, landings: Any) -> list[str]:
    """The rows of *cells*, by landings (each cell's ``landings(cell)``)."""
    totals: dict[str, int] = {}
    for cell in cells:
        name = cell.row(by)
        totals[name] = totals.get(name, 0) + landings(cell)
    return rank(totals)


def unique_groups(
    cells: list[Cell], site: list[Cell], ranked: list[str], top: int, by: Breakdown
) -> dict[Hashable, list[Cell]]:
    """The cell groups whose unique counts a read needs: each row's, and for
    the default view the rest's, everyone's and the site's."""
    groups: dict[Hashable, list[Cell]] = {name: [] for name in ranked}
    for cell in cells:
        groups[cell.row(by)].append(cell)
    if top:
        rest = set(ranked[top:])
        groups[REST] = [cell for cell in cells if cell.row(by) in rest]
        groups[TOTAL] = list(cells)
        groups[SITE] = list(site)
    return groups
