"""Which currency the dashboard's revenue figures are shown in.

Revenue is kept per currency and never added across currencies, so every
figure of money is one currency's: the one the page asks for (``?currency=``)
when it has data in the range, else the dashboard's default when it has data
or none has, else the first currency that has. A ``?currency=`` that is not an
active ISO 4217 code is ignored before anything is read: it never reaches
Redis, and it never makes a report of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

from ..currencies import is_currency

__all__ = [
    "Shown",
    "choose",
    "shown_in",
]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Shown(Generic[_T]):
    """Figures read in one currency, and the currencies that had data."""

    #: What was read (a summary, a promotion's days).
    figures: _T
    #: The currency of their ``revenue_cents`` and average orders.
    currency: str
    #: The currencies with revenue in the range, sorted: the page's choice.
    currencies: list[str]

    def fields(self) -> dict[str, Any]:
        """The answer's ``currency`` and ``currencies``."""
        return {"currency": self.currency, "currencies": self.currencies}


def choose(asked: object, default: str, found: Sequence[str]) -> str:
    """The currency to show: *asked* when it has data, else *default* when it
    has data or no currency has, else the first of *found*.

    >>> choose("USD", "EUR", ["EUR", "USD"]), choose("GBP", "EUR", ["USD"])
    ('USD', 'USD')
    >>> choose(None, "EUR", []), choose("<script>", "EUR", ["EUR"])
    ('EUR', 'EUR')
    """
    if asked in found:
        return str(asked)
    if default in found or not found:
        return default
    return found[0]


def shown_in(
    asked: object,
    default: str,
    read: Callable[[str], _T],
    currencies_of: Callable[[_T], Iterable[str]],
) -> Shown[_T]:
    """Read the figures in the currency :func:`choose` picks.

    The first read is in *asked* when it is a currency at all, else in
    *default*; a second read follows only when that currency had no data and
    another had (every currency's revenue comes with each read, so the first
    tells which currencies have data).

    :param read: reads the figures in a currency.
    :param currencies_of: the currencies with revenue in what was read.
    """
    first = str(asked) if is_currency(asked) else default
    figures = read(first)
    found = sorted({code for code in currencies_of(figures) if is_currency(code)})
    chosen = choose(asked, default, found)
    if chosen != first:
        figures = read(chosen)
    return Shown(figures, chosen, found)
