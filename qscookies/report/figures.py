"""The figures a report answers: frozen dataclasses of aggregates, no ids.

:class:`PromotionCounts` is public (``from qscookies import PromotionCounts``);
all of them are importable from :mod:`qscookies.report` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date


def _rate(purchases: int, visitors: int | None) -> float | None:
    if visitors is None:
        return None
    return purchases / visitors if visitors else 0.0


def add_currencies(amounts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Revenues added up currency by currency (never across currencies)."""
    total: dict[str, int] = {}
    for amount in amounts:
        for currency, cents in amount.items():
            total[currency] = total.get(currency, 0) + cents
    return dict(sorted(total.items()))


class _Orders:
    """What a row of figures works out from its purchases and revenue."""

    purchases: int
    revenue_cents: int
    currency_purchases: int

    @property
    def average_order_cents(self) -> float | None:
        """Average order value in the report's currency, in cents: its revenue
        divided by the purchases paid in it (``currency_purchases``) only;
        ``None`` when there were none.

        .. versionchanged:: 0.2
            It divided by every purchase, whatever its currency.
        """
        paid = self.currency_purchases
        return self.revenue_cents / paid if paid else None


class _Conversions(_Orders):
    """A row whose unique visitors are known: its conversion rate."""

    visitors: int

    @property
    def conversion_rate(self) -> float:
        """``purchases / visitors``; ``0.0`` when there were no visitors."""
        return _rate(self.purchases, self.visitors) or 0.0


@dataclass(frozen=True)
class PromotionCounts(_Conversions):
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
    #: Revenue of those purchases in the report's currency, in cents.
    revenue_cents: int
    #: Purchases paid in the report's currency (the average order's divisor).
    currency_purchases: int = field(default=0, kw_only=True)
    #: The landings' ``utm_source`` in a breakdown by source (``None``: none,
    #: or junk; also ``None`` when not broken down by source).
    source: str | None = None
    #: The landings' ``utm_medium`` in a breakdown by medium, likewise.
    medium: str | None = None
    #: Revenue in cents per ISO 4217 currency, every currency (never summed
    #: across currencies).
    revenue_by_currency: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DailyCounts(_Conversions):
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
    #: Revenue that day in the report's currency, in cents.
    revenue_cents: int
    #: Purchases paid in the report's currency (the average order's divisor).
    currency_purchases: int = field(default=0, kw_only=True)
    #: Revenue that day in cents per currency.
    revenue_by_currency: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Totals(_Orders):
    """The figures of several promotions together.

    Unique visitors cannot be added up (one person may land on two promotions):
    ``visitors`` and ``returning`` are one ``PFCOUNT`` over the sketches of every
    promotion counted. Redis Cluster keeps promotions in different slots and
    cannot merge them in one command; there both are ``None``.
    """

    landings: int
    visitors: int | None
    returning: int | None
    carts: int
    purchases: int
    revenue_cents: int
    #: Purchases paid in the report's currency (the average order's divisor).
    currency_purchases: int = field(default=0, kw_only=True)
    revenue_by_currency: dict[str, int] = field(default_factory=dict, hash=False)

    @classmethod
    def of(
        cls,
        rows: Sequence[PromotionCounts],
        visitors: int | None,
        returning: int | None,
    ) -> Totals:
        """The rows added up, with their unique counts merged in Redis (or
        ``None`` where a cluster could not merge them)."""
        return cls(
            landings=sum(row.landings for row in rows),
            visitors=visitors,
            returning=returning,
            carts=sum(row.carts for row in rows),
            purchases=sum(row.purchases for row in rows),
            revenue_cents=sum(row.revenue_cents for row in rows),
            currency_purchases=sum(row.currency_purchases for row in rows),
            revenue_by_currency=add_currencies(row.revenue_by_currency for row in rows),
        )

    @property
    def conversion_rate(self) -> float | None:
        """``purchases / visitors``; ``None`` when the visitors are unknown."""
        return _rate(self.purchases, self.visitors)


@dataclass(frozen=True)
class SiteCounts:
    """The whole site over a range: every visitor, with or without a promotion.

    Fed by the first request of each visit of a visitor who allows tracking.
    """

    #: Visits started.
    visits: int
    #: Unique visitors over the range.
    visitors: int
    #: Unique returning visitors (seen in an earlier visit) over the range.
    returning: int


@dataclass(frozen=True)
class Summary:
    """The default view: the top promotions, the rest summed, totals, site."""

    #: First day covered.
    since: date
    #: Last day covered.
    until: date
    #: The top promotions by landings (ties by code), largest first.
    rows: list[PromotionCounts]
    #: The promotions after the top ones, summed; ``None`` when there are none.
    rest: Totals | None
    #: How many promotions :attr:`rest` sums.
    rest_codes: int
    #: Every promotion shown or summed, added up, with merged unique counts.
    totals: Totals
    #: The site row.
    site: SiteCounts
    #: The top promotions day by day, one :class:`DailyCounts` per day of the
    #: range with activity (suppressed days left out).
    daily: dict[str, list[DailyCounts]] = field(default_factory=dict)
