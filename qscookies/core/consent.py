"""Consent: the visitor's tracking choice, the privacy signals, opt-in lifetimes.

Two modes (the ``consent`` setting). ``"opt-out"``, the shop's promise: tracking
until the visitor says no. ``"opt-in"``, for EU shops: no visitor or promotion
cookie is set or read until the visitor says yes; meanwhile a promotion landing
counts in ``landings`` only. The choice lives in one signed cookie (``in`` or
``out`` and when it was made); the opt-out cookie of earlier versions still
reads as ``"out"``. ``Sec-GPC: 1``, and ``DNT: 1`` while ``honor_dnt``, always
mean out, whatever was recorded.

In ``"opt-in"`` mode nothing of ours that tracks outlives the consent: the
visitor cookie lives ``visitor_max_age`` from its first visit (which is the
moment of consent, or later), is never extended by later visits, and goes when
the choice expires (13 months after it was made: then the app asks again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from ..codec import Choice
from ..codec import CookieCodec
from ..codec import VisitorState
from ..settings import Settings
from .headers import cross_origin
from .jar import CookieJar
from .messages import Answer
from .messages import Request
from .messages import refusal

#: A recorded tracking choice.
Decision = Literal["in", "out"]

_UNREAD = Choice("", 0)
_DECISIONS: dict[str | None, Decision] = {"in": "in", "out": "out"}


class Consent:
    """The tracking choice of one request, and the visitor cookie it allows.

    Built lazily by the request core; nothing is verified before it is read.

    :param settings: the consent mode, cookie names and lifetimes.
    :param codec: signs and verifies the choice and visitor cookies.
    :param jar: the request's cookies.
    :param now: Unix time of the request, whole seconds.
    :param signal: the request says out by itself (``Sec-GPC: 1``, or
        ``DNT: 1`` while ``honor_dnt``).
    """

    __slots__ = (
        "_allowed",
        "_codec",
        "_jar",
        "_made",
        "_now",
        "_settings",
        "opt_in_mode",
        "signal",
    )

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        jar: CookieJar,
        now: int,
        *,
        signal: bool = False,
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._jar = jar
        self._now = now
        #: The request says out by itself (``Sec-GPC``, honoured ``DNT``).
        self.signal = signal
        self._made: Choice | None = _UNREAD
        #: Tracking waits for a yes (``consent="opt-in"``).
        self.opt_in_mode = settings.consent == "opt-in"
        self._allowed: bool | None = None  # decided once, until a new choice

    def _cookie(self) -> Choice | None:
        """The choice in a valid, unexpired choice cookie (verified once).

        A choice cookie that arrives more than once (one planted from a sibling
        subdomain, over plain HTTP) never turns an "out" into an "in": a
        valid "out" among them wins.
        """
        if self._made is _UNREAD:
            settings = self._settings
            made = None
            for value in self._jar.get_all(settings.choice_cookie):
                choice = self._codec.load_choice(
                    value, self._now, settings.choice_max_age
                )
                if choice is not None and (made is None or choice.choice == "out"):
                    made = choice
            self._made = made
        return self._made

    @property
    def recorded(self) -> Decision | None:
        """The choice the browser recorded (a legacy opt-out cookie is ``"out"``)."""
        made = self._cookie()
        if made is not None:
            return "in" if made.choice == "in" else "out"
        if self._jar.get(self._settings.opt_out_cookie) == "1":
            return "out"
        return None

    @property
    def choice(self) -> Decision | None:
        """``"in"``, ``"out"`` or ``None`` (not chosen yet); a signal is ``"out"``."""
        return "out" if self.signal else self.recorded

    @property
    def allowed(self) -> bool:
        """Tracking is on: a yes in ``"opt-in"`` mode, no ``"out"`` in ``"opt-out"``."""
        allowed = self._allowed
        if allowed is None:
            choice = "out" if self.signal else self.recorded
            allowed = choice == "in" if self.opt_in_mode else choice != "out"
            self._allowed = allowed
        return allowed

    def steady(self, state: VisitorState) -> tuple[int, int] | None:
        """The request times ``[since, until)`` over which this request's
        cookies keep saying what they say now: tracking allowed, *state* the
        visitor, by the choice cookie's age and the ``"opt-in"`` deadline.

        ``None`` when the cookies do not allow tracking (a legacy opt-out
        cookie among them), or may say otherwise at another time for a reason
        not bounded here (a signal, a choice cookie sent more than once or not
        valid now).
        """
        if not self.allowed:  # a signal says out
            return None
        settings = self._settings
        since, until = state.last_seen, state.last_seen + settings.visitor_lifetime
        made, sent = self._cookie(), self._jar.get_all(settings.choice_cookie)
        if len(sent) > 1 or (sent and made is None):  # two, or one not valid now
            return None
        if made is not None:  # its end matters in "opt-in" mode only: the deadline
            since = max(since, made.made_at)
        deadline = self._deadline(state)
        if deadline is not None:
            until = min(until, deadline)
        return since, until + 1  # the last second of each bound still holds

    @property
    def landings_only(self) -> bool:
        """Not chosen yet in ``"opt-in"`` mode: a landing counts, anonymously."""
        return self.opt_in_mode and self.choice is None

    def record(self, decision: Decision) -> None:
        """Record *decision* in the choice cookie; drop a legacy opt-out cookie.

        A choice the cookie already holds keeps the time it was made, so asking
        the same again never stretches a consent past its 13 months.
        """
        settings = self._settings
        made = self._cookie()
        self._allowed = None
        if made is None or made.choice != decision:
            self._made = Choice(decision, self._now)
            self._jar.set(settings.choice_cookie, self._codec.dump_choice(self._made))
        self._jar.drop(settings.opt_out_cookie)

    def _deadline(self, state: VisitorState) -> int | None:
        """When a visitor cookie must go (``"opt-in"`` mode), else ``None``."""
        if not self.opt_in_mode:
            return None
        deadline = state.first_seen + self._settings.visitor_lifetime
        made = self._cookie()
        if made is not None:
            deadline = min(deadline, made.made_at + self._settings.choice_max_age)
        return deadline

    def load_visitor(self) -> VisitorState | None:
        """The state of a valid visitor cookie, by the mode's lifetime rule.

        ``"opt-out"``: not idle over the visitor lifetime. ``"opt-in"``: also
        not past :meth:`_deadline`, counted from the first visit.
        """
        state = self._codec.load_visitor(
            self._jar.get(self._settings.visitor_cookie),
            self._now,
            self._settings.visitor_lifetime,
        )
        if state is None or not self.opt_in_mode:
            return state
        deadline = self._deadline(state)
        return None if deadline is not None and self._now > deadline else state

    def keep_visitor(self, state: VisitorState) -> None:
        """Send the visitor cookie: renewed (``"opt-out"``), or for what is
        left of its span (``"opt-in"``)."""
        deadline = self._deadline(state)
        max_age = None if deadline is None else deadline - self._now
        value = self._codec.dump_visitor(state)
        self._jar.set(self._settings.visitor_cookie, value, max_age)


def asked(request: Request, form: Callable[[], str | None]) -> Decision | Answer:
    """What a request to the privacy route asks: a decision, or the refusal.

    ``405`` but for a POST, ``403`` for a request from another origin (see
    :func:`~qscookies.core.headers.cross_origin`), ``400`` for a ``choice``
    field other than ``in`` or ``out``; each refusal says why in its body.

    :param form: reads the request's ``choice`` field (only called for a
        same-origin POST).
    """
    if request.method != "POST":
        return refusal(
            405,
            "the tracking choice is recorded by a POST only.",
            [("Allow", "POST")],
        )
    why = cross_origin(request)
    if why is not None:
        return refusal(403, why)
    decision = _DECISIONS.get(form())
    if decision is None:
        return refusal(400, 'the form field "choice" must be in or out.')
    return decision
