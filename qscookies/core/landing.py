"""The landing of one request, and the attribution its promotion cookie keeps.

A component of :class:`~qscookies.core.request.RequestState`, as
:class:`~qscookies.core.cart.CartState` is: no I/O, each method that needs
Redis answers a :class:`~qscookies.core.plan.Plan`. The rules of what a
landing counts live in :mod:`qscookies.core.campaigns`; this holds one
request's part: the query it came with, the ``303`` to its clean URL, and the
promotion cookie, set from Redis's reply only.
"""

from __future__ import annotations

import weakref
from typing import Any
from typing import Protocol

from ..codec import Attribution
from ..codec import CookieCodec
from ..command import Command
from ..settings import Settings
from . import campaigns
from .aggregates import Day
from .consent import Consent
from .http import clean_location
from .jar import CookieJar
from .messages import EMPTY
from .messages import Answer
from .messages import Request
from .plan import Plan
from .plan import then

_UNSET: Any = object()


class Landed(Protocol):
    """What holds a request's landing (the request state)."""

    @property
    def landing(self) -> LandingState:
        """The request's landing."""


def weak_attribution(owner: weakref.ref[Landed]) -> Attribution | None:
    """The attribution of *owner*'s landing, built only when asked: a cart that
    is not started never asks. Weakly: the cart state that holds this is the
    request state's, and no cycle outlives the request."""
    alive = owner()
    return None if alive is None else alive.landing.attribution()


def find(
    request: Request, settings: Settings
) -> tuple[campaigns.Landing | None, Answer | None]:
    """The landing *request* makes, if any, and for a GET or HEAD landing with
    ``strip_promotion_params`` the ``303`` to the clean URL."""
    query = request.query
    if not (query and any(name in query for name in settings.promotion_params)):
        return None, None
    landing = campaigns.find_landing(query, settings)
    location = clean_location(request.raw_path, query, settings.landing_params)
    if (
        location is None
        or not settings.strip_promotion_params
        or request.method not in ("GET", "HEAD")
    ):
        return landing, None
    return landing, Answer(303, EMPTY + [("Location", location)])


class LandingState:
    """The promotion side of one request: its landing and the attribution.

    :param settings: the validated settings.
    :param codec: the cookie codec.
    :param jar: the request's cookies.
    :param consent: the request's tracking choice (no attribution without it).
    :param now: Unix time of the request, whole seconds.
    :param cluster: the store is a Redis Cluster (a landing's keys live in two
        slots there, so its plan takes two round trips).
    """

    __slots__ = (
        "_attribution",
        "_cluster",
        "_codec",
        "_consent",
        "_jar",
        "_now",
        "_settings",
    )

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        jar: CookieJar,
        consent: Consent,
        now: int,
        *,
        cluster: bool,
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._jar = jar
        self._consent = consent
        self._now = now
        self._cluster = cluster
        self._attribution: Attribution | None = _UNSET

    def attribution(self) -> Attribution | None:
        """The promotion cookie's attribution (code, source, medium), if tracked."""
        if not self._consent.allowed:
            return None
        if self._attribution is _UNSET:
            settings = self._settings
            value = self._jar.get(settings.promotion_cookie)
            self._attribution = (
                self._codec.load_promotion(value, self._now, settings.promotion_max_age)
                if value
                else None
            )
        return self._attribution

    def forget(self) -> None:
        """No attribution from now on (opted out, forgotten)."""
        self._attribution = None

    def credit_returning(self, day: Day, member: str) -> list[Command]:
        """A returning visit's credit to its attributed promotion, if any."""
        attributed = self.attribution()
        if attributed is None:
            return []
        return campaigns.credit_returning(self._settings, day, attributed, member)

    def count(
        self, day: Day, landing: campaigns.Landing, member: str, returning: bool
    ) -> Plan[None]:
        """Count a landing (under ``other`` past the day's bounds) and, unless
        ``attribution="first"`` keeps an earlier one, take the credit: the
        promotion cookie names the code and pair counted, so a later cart or
        purchase is credited where the landing was. The cookie is set from
        Redis's reply only: a landing not counted (Redis down, tracking
        paused) sets none, so no cookie names a code the day never admitted.
        Without a *member* (no consent yet) only ``landings`` moves, and
        nothing is credited.
        """
        settings = self._settings
        credited = bool(member) and campaigns.takes_credit(settings, self.attribution())
        plan = campaigns.count_landing(
            settings, day, landing, member, returning=returning, cluster=self._cluster
        )

        def attribute(counted: tuple[str, str] | None) -> None:
            if counted is not None and credited:  # "other" past a day's bound:
                code, pair = counted  # the cookie keeps the landing
                self._attribute(campaigns.attributed(landing, code, pair, self._now))

        return then(plan, attribute)

    def _attribute(self, attribution: Attribution) -> None:
        self._attribution = attribution
        self._jar.set(
            self._settings.promotion_cookie, self._codec.dump_promotion(attribution)
        )
