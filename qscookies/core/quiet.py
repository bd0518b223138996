"""Quiet page views: the ``Cookie`` headers whose page view changed nothing.

Between two renewals of its visitor cookie (a thirtieth of ``visit_gap``) a
browser sends the same ``Cookie`` header on every page view, and each of them
changes nothing: tracking allowed, no visit starts, no cookie goes. A
middleware remembers such a header (:attr:`~qscookies.core.request.Rules.quiet`)
with the span of request times over which it goes on changing nothing, so the
page views after the first verify and decide nothing. What the span ends on is
each rule's own (:meth:`~qscookies.core.consent.Consent.steady`,
:func:`~qscookies.core.visits.quiet_until`); what is never remembered (a
signal, a landing) is decided afresh on every request.
"""

from __future__ import annotations

from typing import NamedTuple

from ..codec import VisitorState
from ..memo import Memo
from .consent import Consent
from .jar import REMEMBERED_HEADER
from .visits import quiet_until


class Quiet(NamedTuple):
    """What a ``Cookie`` header says while it changes nothing: tracking is
    allowed, its visitor cookie needs no renewal and starts no visit."""

    #: The cookies were read ``Secure``, with the ``__Host-`` prefix.
    secure: bool
    #: The request times ``[since, until)`` in which the header says this.
    since: int
    until: int
    #: The visitor the header's cookie holds.
    state: VisitorState


#: The most ``Cookie`` headers a middleware remembers (each at most
#: :data:`~qscookies.core.jar.REMEMBERED_HEADER` characters).
QUIET_MAX = 1024

#: Builds a :class:`Quiet` without the named tuple's own ``__new__``.
_new = tuple.__new__


def remember(
    memo: Memo[str, Quiet],
    header: str | None,
    secure: bool,
    consent: Consent,
    state: VisitorState,
    visit_gap: int,
) -> None:
    """Remember that *header* changes nothing, for as long as it does.

    Called for a page view that changed nothing, with its visitor *state*; a
    header too long, or one whose cookies may say otherwise for a reason not
    bounded in time (see :meth:`~qscookies.core.consent.Consent.steady`), is
    not remembered.
    """
    if header is None or len(header) > REMEMBERED_HEADER:
        return
    span = consent.steady(state)
    if span is not None:
        since, until = span
        until = min(until, quiet_until(state, visit_gap))
        memo.keep(header, _new(Quiet, (secure, since, until, state)))
