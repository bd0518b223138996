"""The request cycle, once for every door: what to send, what to answer, in order.

No I/O and no protocol here. Every door (WSGI, ASGI, Django, Flask through
WSGI) walks the same steps and holds no rule of its own:

1. :meth:`Cycle.excluded`: an excluded path goes to the application alone (no
   Redis, no cookies);
2. :meth:`Cycle.open` takes the request as a plain
   :class:`~qscookies.core.messages.Request` and answers its :class:`Turn`;
   a request that went through qscookies already is refused, before anything
   reaches Redis;
3. :meth:`Turn.begin` runs the start-up check once (:class:`Startup`) and
   hands the tracking plan to send; then, when the
   middleware answers itself (the landing's ``303``, the privacy route, a
   refused start), :meth:`Turn.ours` hands the :class:`Head` to send instead
   of calling the application;
4. :meth:`Turn.respond` gives the application's headers ours (its ``500``
   after a failed store call becomes the ``503``: :attr:`Turn.replacement`),
   and :meth:`Turn.failed` says what answers a
   :class:`~qscookies.errors.StoreUnavailable` the application lets out.

Statuses are ints; a door that writes status lines reads :attr:`Head.line`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NamedTuple

from ..errors import ConfigurationError
from ..errors import QSCookiesError
from ..errors import StoreUnavailable
from .messages import Answer
from .messages import Headers
from .messages import Request
from .messages import reason
from .plan import NOTHING
from .plan import Plan
from .request import RequestState
from .request import Rules

log = logging.getLogger("qscookies")

#: The error of a request that meets qscookies twice, the same from every door.
WRAPPED_TWICE = (
    "this request already went through qscookies, or is about to: the app is"
    " wrapped twice. Wrap it once: one door per app (use the Django middleware"
    " or the WSGI wrap, not both, and list the middleware once; in tests of an"
    " app that wraps itself, use the qscookies_rebind fixture, not"
    " qscookies_wrap)."
)


class Startup:
    """The start-up check of a door, run once: by the shop or at the first request.

    Building a door contacts no Redis. The check runs when a server's start-up
    hook calls the door's ``startup_check()`` (where a refusal raises), or
    else lazily on the first request (where a refusal is logged once and every
    request answers the ``503``: ``strict=True`` refuses to serve).

    :param check: the check (it may reach Redis); ``None``: there is none.
    """

    def __init__(self, check: Callable[[], None] | None) -> None:
        self._check = check
        self._lock = threading.Lock()
        #: The check ran, or there is none: :meth:`run` costs nothing more.
        self.done = check is None
        #: Why the check refused to start (``strict=True``), or ``None``.
        self.refusal: ConfigurationError | None = None

    def run(self, *, explicit: bool = False) -> None:
        """Run the check unless it ran, once however many threads ask.

        :param explicit: the shop asked (a start-up hook): a refusal raises;
            otherwise (the first request) it is logged.
        :raises ConfigurationError: *explicit*, and the check refused (now
            or earlier).
        """
        if not self.done:
            with self._lock:
                if not self.done:
                    self._run(explicit)
        if explicit and self.refusal is not None:
            raise self.refusal

    def _run(self, explicit: bool) -> None:
        assert self._check is not None
        try:
            self._check()
        except ConfigurationError as error:
            self.refusal = error
            if not explicit:
                log.error(
                    "qscookies: %s; every request answers 503 until the shop"
                    " restarts with a Redis user that passes the check",
                    error,
                )
        finally:
            self.done = True


class Head(NamedTuple):
    """A response of ours as it goes out (a redirect, the privacy route's, the
    ``503``), the headers of the rules added: sent in place of the
    application's."""

    #: The status code.
    status: int
    #: The reason phrase, for a door that writes status lines.
    reason: str
    #: Every header: ours, then those of the rules.
    headers: Headers
    #: Our body.
    body: bytes

    @property
    def line(self) -> str:
        """The status line, ``"303 See Other"`` (WSGI)."""
        return f"{self.status} {self.reason}" if self.reason else str(self.status)


class Cycle:
    """The request cycle of one middleware: its rules and its start-up check.

    :param rules: the request rules.
    :param startup: the start-up check, run by the first :meth:`open`.
    """

    def __init__(self, rules: Rules, startup: Startup) -> None:
        #: The request rules.
        self.rules = rules
        #: The start-up check.
        self.startup = startup
        #: ``excluded(path)``: requests to *path* go to the application alone
        #: (no Redis, no cookies); :meth:`Rules.excluded`, one call less.
        self.excluded = rules.excluded

    def open(self, request: Request, *, wrapped: bool) -> Turn:
        """The turn of one request.

        :param wrapped: the request carries a qscookies context already, or
            the application the door wraps is itself a door.
        :raises QSCookiesError: *wrapped* (:data:`WRAPPED_TWICE`), before any
            Redis call.
        """
        if wrapped:
            raise QSCookiesError(WRAPPED_TWICE)
        rules = self.rules
        return Turn(rules, self.startup, RequestState(rules, request))


class Turn:
    """One request on its way through the cycle (see :meth:`Cycle.open`)."""

    __slots__ = ("_own", "_rules", "_startup", "replacement", "started", "state")

    def __init__(self, rules: Rules, startup: Startup, state: RequestState) -> None:
        self._rules = rules
        self._startup = startup
        #: The request's state (what its context reads and changes).
        self.state = state
        #: The response started: :meth:`respond` was called.
        self.started = False
        #: Our ``503``, which went in place of the application's response (its
        #: body must not follow), or ``None``.
        self.replacement: Head | None = None
        self._own: Answer | None = None

    @property
    def reads_form(self) -> bool:
        """:meth:`begin` may read the form (a POST to the privacy route): a
        door whose body is read by awaiting reads it first (ASGI)."""
        request = self.state.request
        privacy = request.path == self._rules.settings.privacy_path
        return privacy and request.method == "POST"

    def begin(self, form: Callable[[], str | None]) -> Plan[None]:
        """The tracking plan to send first (:meth:`ours` is read after it).

        The first request's runs the start-up check (a door on an event loop
        runs it off the loop before).

        :param form: reads the request's ``choice`` field (called only for a
            same-origin POST to the privacy route).
        """
        startup = self._startup
        if not startup.done:
            startup.run()
        if startup.refusal is not None:
            self._own = self._rules.unavailable()
            return NOTHING
        if self.state.request.path == self._rules.settings.privacy_path:
            plan, self._own = self.state.privacy_switch(form)
            return plan
        plan, self._own = self.state.begin()
        return plan

    def ours(self) -> Head | None:
        """What to answer instead of calling the application, once the plan of
        :meth:`begin` was sent (its replies may set a cookie), or ``None``.

        The ``503`` when the start-up check refused; the privacy route's
        (``303`` back, or the refusal that says why); the landing's ``303`` to
        the clean URL (see :meth:`RequestState.begin`).
        """
        return None if self._own is None else self.answer(self._own)

    def answer(self, answer: Answer) -> Head:
        """An answer of ours, with the headers of the rules."""
        status = answer.status
        headers = self.state.finish(status, answer.headers)
        return Head(status, reason(status), headers, answer.body)

    def respond(self, status: int, headers: Headers) -> Headers:
        """The application's response headers as they go out, ours added.

        After a failed store call (a cart write the page needed), the
        application's ``500`` becomes the ``503`` with ``Retry-After``: then
        :attr:`replacement` is it, these are its headers, and the
        application's body must not follow.
        """
        self.started = True
        if self.state.store_failed and status == 500:
            return self._replace().headers
        return self.state.finish(status, headers)

    def failed(self, error: StoreUnavailable, *, restart: bool = False) -> Head | None:
        """What answers a :class:`StoreUnavailable` the application let out.

        :param restart: the door can replace a response that started already
            (WSGI, with ``exc_info``).
        :return: the ``503``, or ``None`` when it is the response already
            (the application's ``500`` became it).
        :raises StoreUnavailable: *error*, when the application's own response
            started and the door cannot replace it.
        """
        if self.replacement is not None:
            return None
        if self.started and not restart:
            raise error
        return self._replace()

    def _replace(self) -> Head:
        """Our ``503``, in place of the application's response."""
        head = self.replacement = self.answer(self._rules.unavailable())
        return head

    def caught(self, error: Exception) -> Answer | None:
        """The ``503`` for an exception a framework caught (Django's
        ``process_exception``): :class:`StoreUnavailable` only, else ``None``."""
        return (
            self._rules.unavailable() if isinstance(error, StoreUnavailable) else None
        )
