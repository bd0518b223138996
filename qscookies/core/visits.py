"""Return-visitor recognition: where one visit ends and the next begins.

The visitor cookie carries a signed last-seen time, so a page view inside a visit
is decided here without Redis; only the first request of a visit is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import NamedTuple

from ..codec import VisitorState
from ..codec import new_id
from ..memo import Memo


@dataclass(frozen=True)
class Visitor:
    """What the application may know about the browser making the request.

    Visitors who opted out are anonymous: not returning, ``visits == 0``, no
    ``first_seen``.
    """

    #: Seen in an earlier visit.
    is_returning: bool
    #: Number of visits, this one included (0 when not tracked).
    visits: int
    #: When the first visit began, UTC, or ``None`` when not tracked.
    first_seen: datetime | None

    @classmethod
    def from_state(cls, state: VisitorState) -> Visitor:
        """The application's view of a visitor cookie's state."""
        return cls(state.visits > 1, state.visits, utc(state.first_seen))


def utc(timestamp: int) -> datetime:
    """*timestamp* (Unix seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, _UTC)


_UTC = timezone.utc


#: The application's view of recent visitor states, built once a state.
_VIEWS: Memo[VisitorState, Visitor] = Memo(2048)


def view(state: VisitorState) -> Visitor:
    """The application's view of *state* (:meth:`Visitor.from_state`), built
    once: a page view of a visit reads the same state as the one before."""
    seen = _VIEWS.get(state)
    return _VIEWS.keep(state, Visitor.from_state(state)) if seen is None else seen


#: The visitor of a request that is not tracked.
ANONYMOUS = Visitor(is_returning=False, visits=0, first_seen=None)


class Step(NamedTuple):
    """The outcome of one request for the visitor cookie (a named tuple: one
    is built on every request)."""

    #: The state after this request.
    state: VisitorState
    #: This request starts a visit (a new visitor, or back after the visit gap).
    new_visit: bool
    #: The cookie must be sent again (new visit, or the last-seen time moved on).
    refresh: bool


#: Builds a :class:`Step` without the named tuple's own ``__new__`` (one
#: Python call more, on every request).
_new = tuple.__new__


def refresh_after(visit_gap: int) -> int:
    """Seconds after its last-seen time that a visitor cookie is renewed:
    ``visit_gap / 30``, at least one (a call less than ``max()``)."""
    return visit_gap // 30 or 1


def quiet_until(state: VisitorState, visit_gap: int) -> int:
    """The first request time, from *state*'s last-seen time on, at which
    :func:`advance` does more than keep *state* (a refresh or a new visit)."""
    return state.last_seen + refresh_after(visit_gap)


def advance(state: VisitorState | None, now: int, *, visit_gap: int) -> Step:
    """Move a visitor's state to the time of a new request.

    A request more than *visit_gap* seconds after the last one starts a new visit.
    The last-seen time is renewed at most every ``visit_gap / 30`` seconds (one
    minute for the default gap), so most page views send no cookie at all.
    """
    if state is None:
        fresh = VisitorState(new_id(), 1, now, now)
        return _new(Step, (fresh, True, True))  # new visit, refresh
    idle = now - state.last_seen
    if idle > visit_gap:
        later = VisitorState(state.visitor_id, state.visits + 1, state.first_seen, now)
        return _new(Step, (later, True, True))
    if idle >= refresh_after(visit_gap):
        touched = VisitorState(state.visitor_id, state.visits, state.first_seen, now)
        return _new(Step, (touched, False, True))  # the same visit, refresh
    return _new(Step, (state, False, False))
