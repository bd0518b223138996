"""Visit rules of :mod:`qscookies.core.visits`: gap and refresh boundaries."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone

import pytest

from qscookies.codec import VisitorState
from qscookies.core import visits
from qscookies.core.visits import ANONYMOUS
from qscookies.core.visits import Visitor
from qscookies.core.visits import advance
from qscookies.core.visits import view

NOW = 1_800_000_000
ID = "EEHsskdGpUe4PncoNWU_3w"
GAP = 1800


def test_a_new_visitor_starts_a_visit() -> None:
    step = advance(None, NOW, visit_gap=GAP)
    assert step.new_visit and step.refresh
    assert step.state.visits == 1
    assert step.state.first_seen == step.state.last_seen == NOW
    assert len(step.state.visitor_id) == 22


def test_new_visitors_get_distinct_ids() -> None:
    ids = {advance(None, NOW, visit_gap=GAP).state.visitor_id for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("idle", "new_visit", "refresh"),
    [
        pytest.param(-60, False, False, id="clock-skew"),
        pytest.param(0, False, False, id="same-second"),
        pytest.param(59, False, False, id="just-under-refresh"),
        pytest.param(60, False, True, id="refresh-exactly"),
        pytest.param(GAP - 1, False, True, id="gap-minus-one"),
        pytest.param(GAP, False, True, id="gap-exactly"),
        pytest.param(GAP + 1, True, True, id="gap-plus-one"),
        pytest.param(400 * 86400, True, True, id="long-gone"),
    ],
)
def test_boundaries(idle: int, new_visit: bool, refresh: bool) -> None:
    state = VisitorState(ID, 4, NOW - 86400 * 10, NOW - idle)
    step = advance(state, NOW, visit_gap=GAP)
    assert (step.new_visit, step.refresh) == (new_visit, refresh)
    assert step.state.visitor_id == ID
    assert step.state.first_seen == state.first_seen
    assert step.state.visits == (5 if new_visit else 4)
    assert step.state.last_seen == (NOW if refresh else state.last_seen)
    if not refresh:
        assert step.state is state


@pytest.mark.parametrize(
    ("gap", "idle", "refresh"),
    [
        pytest.param(3000, 99, False, id="gap-3000-idle-99"),
        pytest.param(3000, 100, True, id="gap-3000-idle-100"),
        pytest.param(29, 0, False, id="tiny-gap-idle-0"),
        pytest.param(29, 1, True, id="tiny-gap-refreshes-every-second"),
        pytest.param(1, 1, True, id="gap-1-idle-1"),
        pytest.param(1, 2, True, id="gap-1-idle-2-new-visit"),
    ],
)
def test_refresh_every_thirtieth_of_the_gap(gap: int, idle: int, refresh: bool) -> None:
    step = advance(VisitorState(ID, 1, NOW - 5000, NOW - idle), NOW, visit_gap=gap)
    assert step.refresh is refresh


def test_visitor_view_of_a_state() -> None:
    first = VisitorState(ID, 1, NOW, NOW)
    assert Visitor.from_state(first) == Visitor(
        is_returning=False,
        visits=1,
        first_seen=datetime.fromtimestamp(NOW, timezone.utc),
    )
    later = Visitor.from_state(VisitorState(ID, 3, NOW - 86400, NOW))
    assert later.is_returning and later.visits == 3
    assert later.first_seen == datetime.fromtimestamp(NOW - 86400, timezone.utc)
    assert later.first_seen is not None and later.first_seen.tzinfo is timezone.utc


def test_the_view_of_a_state_is_built_once_a_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(visits, "_VIEWS", visits.Memo(4))
    state = VisitorState(ID, 3, NOW - 86400, NOW)
    seen = view(state)
    assert seen == Visitor.from_state(state)
    # The next page view's state is equal (the same cookie): the same view.
    assert view(VisitorState(ID, 3, NOW - 86400, NOW)) is seen
    for n in range(20):  # as many states as clients send: at most 4 kept
        assert view(VisitorState(ID, n + 1, NOW, NOW)).visits == n + 1
        assert len(visits._VIEWS) <= 4


def test_anonymous() -> None:
    assert ANONYMOUS == Visitor(is_returning=False, visits=0, first_seen=None)
