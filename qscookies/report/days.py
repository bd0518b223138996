"""UTC days: the calendar of the counts, as reports read and people write them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from ..errors import ConfigurationError

#: The longest range a report covers, in days.
MAX_DAYS = 400


def day_range(since: date, until: date) -> Sequence[date]:
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


def key_day(day: date) -> str:
    """A day as the keys spell it: ``YYYYMMDD``."""
    return day.strftime("%Y%m%d")


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
