"""The request rules: one request in as plain values, decisions and plans out.

No I/O here, and no WSGI or ASGI: a door turns its protocol into a
:class:`Request`, asks :class:`Rules` for a :class:`RequestState`, sends the
plans it is handed to a store, and turns :meth:`RequestState.finish` and an
:class:`Answer` back into its protocol. Every rule about visits, promotions,
privacy signals, carts and cookies lives here once, for every door.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from functools import partial
from math import trunc
from typing import Any

from ..codec import CookieCodec
from ..codec import VisitorState
from ..command import Command
from ..keys import SITE
from ..keys import KeySchema
from ..memo import Memo
from ..settings import Settings
from .accounts import Account
from .aggregates import Day
from .cart import CartState
from .cartwrite import CartWrites
from .checkout import Purchases
from .consent import Consent
from .consent import Decision
from .consent import asked
from .headers import SAFE_METHODS
from .headers import back
from .headers import cross_site_unsafe
from .headers import says_one
from .jar import CookieJar
from .landing import LandingState
from .landing import find as find_landing
from .landing import weak_attribution
from .lazy import lazy
from .messages import EMPTY
from .messages import Answer
from .messages import Headers
from .messages import Request
from .plan import NOTHING
from .plan import Plan
from .plan import both
from .plan import ignore
from .plan import then
from .quiet import QUIET_MAX
from .quiet import Quiet
from .quiet import remember
from .response import response_headers
from .response import unavailable
from .visits import ANONYMOUS
from .visits import Visitor
from .visits import advance
from .visits import view


class Rules:
    """What every request of one middleware shares: settings, codec, keys, clock.

    :param settings: the validated settings.
    :param codec: the cookie codec.
    :param cluster: the store is a Redis Cluster (a landing's keys live in two
        slots there, so its plan takes two round trips).
    :param clock: the clock, Unix seconds.
    """

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        *,
        cluster: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.keys = KeySchema(settings.key_prefix)
        #: The commands of cart writes, built once: they depend on the app only.
        self.cart_writes = CartWrites(settings, codec, self.keys)
        self.cluster = cluster
        self.clock = clock
        self._excluded = settings.excluded_paths
        #: The ``Cookie`` headers of recent page views that changed nothing,
        #: and how long each goes on changing nothing: a browser sends the
        #: same header on every page view between two renewals of its visitor
        #: cookie, so only the first one verifies and decides.
        self.quiet: Memo[str, Quiet] = Memo(QUIET_MAX)

    def excluded(self, path: str) -> bool:
        """Requests to *path* pass straight through: no Redis, no cookies."""
        return path.startswith(self._excluded)

    def open(self, request: Request) -> RequestState:
        """The state of one request, before anything is sent."""
        return RequestState(self, request)

    def read(self, request: Request) -> RequestState:
        """The state of *request* as its cookies stand, for reading only.

        The visitor is the one its cookie holds (no visit starts, nothing is
        counted or sent): what a test or a tool reads of a browser.
        """
        state = RequestState(self, request)
        if state.tracking_allowed:
            state._visitor = state.consent.load_visitor()
        return state

    def unavailable(self) -> Answer:
        """The ``503`` of a failed store write (:func:`.response.unavailable`)."""
        return unavailable(self.settings.retry_after)


#: No landing and no answer.
_NONE = (None, None)


class RequestState:
    """The rules applied to one request: visitor, attribution, cart, cookies.

    Built by :meth:`Rules.open`. Nothing is verified before it is needed; each
    method that needs Redis answers a :class:`~qscookies.core.plan.Plan`.
    """

    def __init__(self, rules: Rules, request: Request) -> None:
        settings = rules.settings
        self.rules = rules
        self.request = request
        #: Unix time of the request, whole seconds (trunc: a third of int's cost).
        self.now = now = trunc(rules.clock())
        secure = request.https if settings.secure is None else settings.secure
        #: Our cookies: what came in, what goes out.
        self.jar = CookieJar(settings, request.cookie, secure, now)
        #: A store call failed in this request (turns an app's 500 into a 503).
        self.store_failed = False
        self._visitor: VisitorState | None = None
        #: A state-changing request from another site, without our cookies:
        #: it tracks nothing and starts no cart (:class:`CartState`).
        self.cross_site = cross = (
            request.method not in SAFE_METHODS and cross_site_unsafe(request)
        )
        #: The request says out by itself: ``Sec-GPC: 1``, ``DNT: 1`` while
        #: ``honor_dnt``, or a state-changing request from another site.
        gpc, dnt = request.sec_gpc, request.dnt
        self.signal = (
            cross
            or (gpc != "" and says_one(gpc))
            or (dnt != "" and settings.honor_dnt and says_one(dnt))
        )

    @lazy
    def consent(self) -> Consent:
        """The tracking choice and the privacy signals (built when first used:
        a quiet page view, see :attr:`Rules.quiet`, reads no choice)."""
        rules = self.rules
        return Consent(
            rules.settings, rules.codec, self.jar, self.now, signal=self.signal
        )

    @lazy
    def day(self) -> Day:
        """The aggregate writes of the request's UTC day (built when first used)."""
        return Day(self.rules.keys, self.now, self.rules.settings.aggregate_max_age)

    @lazy
    def cart(self) -> CartState:
        """The cart; each method answers a plan (built when first used)."""
        rules = self.rules
        return CartState(
            rules.settings,
            rules.codec,
            rules.keys,
            rules.cart_writes,
            self.jar,
            self.now,
            partial(weak_attribution, weakref.ref(self)),
            cross_site=self.cross_site,
        )

    @lazy
    def landing(self) -> LandingState:
        """The landing and the attribution it keeps (built when first used)."""
        rules = self.rules
        return LandingState(
            rules.settings,
            rules.codec,
            self.jar,
            self.consent,
            self.now,
            cluster=rules.cluster,
        )

    @lazy
    def account(self) -> Account:
        """Sign-in and sign-out; each method answers a plan (built when first used)."""
        rules = self.rules
        return Account(
            rules.settings, rules.codec, rules.keys, self.cart, cluster=rules.cluster
        )

    @lazy
    def purchases(self) -> Purchases:
        """Checkout and purchases, each answering a plan (built when first used)."""
        rules = self.rules
        return Purchases(
            rules.settings,
            rules.codec,
            rules.keys,
            self.jar,
            self.cart,
            self.day,
            self.landing.attribution,
            self.now,
            cluster=rules.cluster,
        )

    # -- what the application reads ------

    @property
    def tracking_allowed(self) -> bool:
        """Tracking is on: by the consent mode and the choice (see :attr:`consent`)."""
        return self.consent.allowed

    @property
    def tracking_choice(self) -> Decision | None:
        """``"in"``, ``"out"`` (``Sec-GPC: 1`` included) or ``None``: not chosen."""
        return self.consent.choice

    @property
    def visitor(self) -> Visitor:
        """The visitor making this request (anonymous when not tracked)."""
        self.jar.accessed = True
        state = self._visitor
        return ANONYMOUS if state is None else view(state)

    @property
    def promotion(self) -> str | None:
        """The promotion code attributed to this visitor, or ``None``: the code
        landed on, even when a day's bound counted it under ``other``."""
        jar = self.jar
        jar.accessed = True
        name = self.rules.settings.promotion_cookie
        if jar.get(name) is None and name not in jar.outgoing:
            return None  # no promotion cookie came, none goes: none attributed
        attribution = self.landing.attribution()
        return attribution.promotion if attribution else None

    # -- the start of a request ------

    def begin(self) -> tuple[Plan[None], Answer | None]:
        """Recognise the visitor and capture a promotion landing.

        :return: the tracking plan (no command, or one round trip: the first
            request of a visit and/or a landing) and, for a GET or HEAD landing
            with ``strip_promotion_params``, the ``303`` to the clean URL.
        """
        settings = self.rules.settings
        request = self.request
        # Only a query lands (find_landing says so too): most requests have none.
        landing, answer = find_landing(request, settings) if request.query else _NONE
        cookie = request.cookie
        if cookie and landing is None:
            known = self.rules.quiet.get(cookie)
            if known is not None and not self.signal:
                secure, since, until, state = known
                if secure is self.jar.secure and since <= self.now < until:
                    self._visitor = state  # and the consent, read, allows it
                    return NOTHING, answer
        if not self.consent.allowed:
            if not self.cross_site:  # another origin's form is no opt-out
                self.jar.drop(settings.visitor_cookie, settings.promotion_cookie)
            if landing and self.consent.landings_only:  # counted, credited nowhere
                return self.landing.count(self.day, landing, "", False), answer
            return NOTHING, answer
        visitor = self.consent.load_visitor()
        step = advance(visitor, self.now, visit_gap=settings.visit_gap)
        state = self._visitor = step.state
        if step.refresh:
            self.consent.keep_visitor(state)
        if not (step.new_visit or landing):
            if not step.refresh:
                quiet, secure = self.rules.quiet, self.jar.secure
                remember(quiet, cookie, secure, self.consent, state, settings.visit_gap)
            return NOTHING, answer
        member = self.rules.codec.visitor_hash(state.visitor_id)
        returning = state.visits > 1
        commands = self._visit_start(member, returning) if step.new_visit else []
        if landing:
            counted = self.landing.count(self.day, landing, member, returning)
            visit = Plan(tuple(commands), ignore)
            return then(both(visit, counted), lambda _counted: None), answer
        if returning:
            commands += self.landing.credit_returning(self.day, member)
        return Plan(tuple(commands), ignore), answer

    def _visit_start(self, member: str, returning: bool) -> list[Command]:
        """A visit start feeds the site's day: visits, unique and returning."""
        commands = self.day.count(SITE, "visits") + self.day.sketch(SITE, "u", member)
        if returning:
            commands += self.day.sketch(SITE, "r", member)
        return commands

    # -- purchases and privacy ------

    def opt_out(self) -> None:
        """Record "out": drop the visitor and promotion cookies, track nothing.

        Nothing to erase in Redis: there is no per-visitor record.

        :raises HeadersSentError: the response already started (the choice
            cookie could not be set, nor the others dropped).
        """
        self.jar.check_unsent("the tracking choice was recorded")
        settings = self.rules.settings
        self.consent.record("out")
        self._visitor = None
        self.landing.forget()
        self.jar.drop(settings.visitor_cookie, settings.promotion_cookie)

    def opt_in(self) -> Plan[None]:
        """Record "in"; tracking starts on this very response (no header says out).

        :return: when tracking was off and now is on, the plan of a fresh
            visitor's first visit (one round trip), else no command.
        :raises HeadersSentError: the response already started (the choice
            cookie could not be set).
        """
        self.jar.check_unsent("the tracking choice was recorded")
        was = self.tracking_allowed
        self.consent.record("in")
        if was or not self.tracking_allowed:
            return NOTHING
        state = self._visitor = advance(None, self.now, visit_gap=1).state
        self.consent.keep_visitor(state)
        member = self.rules.codec.visitor_hash(state.visitor_id)
        return Plan(tuple(self._visit_start(member, False)), ignore)

    def forget(self) -> Plan[None]:
        """Erase the cart (``DEL``) and drop the visitor, promotion and cart cookies.

        Signed in, the cart erased is the customer's, and the browser is signed
        out.

        Aggregate counts stay (they hold no per-visitor data), and so do order
        markers (a keyed hash of an order id, whatever its promotion).

        :raises HeadersSentError: the response already started (the cookies
            could not be dropped); nothing is erased.
        """
        self.jar.check_unsent("forget() was called")
        cart_id = self.cart.id()
        settings = self.rules.settings

        def read(_replies: list[Any]) -> None:
            self._visitor = None
            self.landing.forget()
            self.jar.drop(settings.visitor_cookie, settings.promotion_cookie)
            self.cart.drop()

        keys = self.rules.keys
        commands = (Command("DEL", keys.cart_keys(cart_id)),) if cart_id else ()
        return Plan(commands, read)

    # -- the privacy switch ------

    def privacy_switch(
        self, form: Callable[[], str | None]
    ) -> tuple[Plan[None], Answer]:
        """The optional privacy route: POST ``choice=out`` or ``choice=in``.

        Same-origin requests only; answers a ``303`` back to the page, and the
        tracking plan of a yes (see :meth:`opt_in`).

        :param form: reads the request's ``choice`` field (only called for a
            same-origin POST).
        """
        choice = asked(self.request, form)
        if isinstance(choice, Answer):  # refused
            return NOTHING, choice
        plan = self.opt_in() if choice == "in" else NOTHING
        if choice == "out":
            self.opt_out()
        return plan, Answer(303, EMPTY + [("Location", back(self.request))])

    # -- the response ------

    def finish(self, status: int, headers: Headers) -> Headers:
        """The response headers with ours added, never weakening the app's own
        (:func:`~qscookies.core.response.response_headers`). After this, no new
        cookie can be set.
        """
        request, settings = self.request, self.rules.settings
        return response_headers(status, headers, self.jar, settings, request.host)
