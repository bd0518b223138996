"""Every option of :class:`~qscookies.QSCookies`, its default and its validation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from functools import cached_property
from typing import Any
from typing import Literal
from typing import TypedDict

from .codec import PROMOTION_CODE
from .currencies import is_currency
from .errors import ConfigurationError
from .keys import KeySchema

DAY = 86400
#: Thirteen months, the shortest there are (1 February to 1 March a year on,
#: 365 + 28 days): the longest a tracking cookie may live in ``"opt-in"`` mode
#: (CNIL's cap for consent and audience-measurement trackers), wherever it starts.
THIRTEEN_MONTHS = 393 * DAY
#: Twenty-five months, the shortest there are (1 February to 1 March two years
#: on, 730 + 28 days): CNIL's cap on keeping the figures of audience measurement
#: exempt from consent, and so the default of ``aggregate_max_age``.
TWENTY_FIVE_MONTHS = 758 * DAY
#: Lifetime of the choice cookie in ``"opt-out"`` mode (browsers cap cookies at
#: 400 days).
OPT_OUT_CHOICE_MAX_AGE = 400 * DAY

#: The consent modes: tracking until the visitor says no, or only after a yes.
Consent = Literal["opt-out", "opt-in"]
_CONSENT_MODES = ("opt-out", "opt-in")

#: The query parameters that carry a landing's source and medium.
SOURCE_PARAMS = ("utm_source", "utm_medium")

#: Who keeps the credit when a visitor lands twice inside ``promotion_max_age``.
Touch = Literal["last", "first"]


_COOKIE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)


@dataclass(frozen=True)
class Settings:
    """The options of the middleware, checked once when it is built.

    Build one with :meth:`from_options`; every field is also a keyword argument of
    :class:`~qscookies.QSCookies`. Durations are in seconds.
    """

    #: Prefix of every Redis key qscookies writes.
    key_prefix: str = "qs:"
    #: Inactivity after which the next request starts a new visit.
    visit_gap: int = 1800
    #: Lifetime of an anonymous cart's cookie and its Redis key, renewed on
    #: each cart write.
    cart_max_age: int = 30 * DAY
    #: The same for a signed-in customer's cart (after ``login``).
    customer_cart_max_age: int = 90 * DAY
    #: Lifetime of the visitor cookie; ``None``: the mode's default (see
    #: :attr:`visitor_lifetime`).
    visitor_max_age: int | None = None
    #: How long a checkout's token (:meth:`~qscookies.context.Cart.checkout`)
    #: can pay for its lines: the payment provider's return must come before.
    checkout_max_age: int = DAY
    #: Attribution window: how long a promotion stays attached to a visitor.
    promotion_max_age: int = 30 * DAY
    #: How long per-day promotion counts are kept (CNIL: at most 25 months for
    #: consent-exempt audience measurement).
    aggregate_max_age: int = TWENTY_FIVE_MONTHS
    #: ``Secure`` cookies with the ``__Host-`` prefix; ``None`` follows the scheme.
    secure: bool | None = None
    #: Path prefixes the middleware leaves alone: no Redis, no cookies.
    excluded_paths: tuple[str, ...] = ("/static/", "/favicon.ico", "/robots.txt")
    #: Query parameters that carry a promotion code, first match wins.
    promotion_params: tuple[str, ...] = ("promo", "utm_campaign")
    #: Codes accepted from links; ``None`` accepts any code matching the pattern.
    allowed_promotions: frozenset[str] | None = None
    #: Without an allow-list, codes that get keys of their own per UTC day; the
    #: landings of further codes that day count under ``other``.
    max_promotions_per_day: int = 200
    #: ``"opt-out"``: tracking until the visitor says no (the default);
    #: ``"opt-in"``: the visitor and promotion cookies only after a yes.
    consent: Consent = "opt-out"
    #: Distinct (source, medium) pairs counted per promotion per UTC day; the
    #: landings of further pairs that day count under ``("other", "other")``.
    max_sources: int = 50
    #: ``"last"``: the latest landing inside ``promotion_max_age`` keeps the
    #: credit; ``"first"``: the first one does.
    attribution: Touch = "last"
    #: The ISO 4217 code of :meth:`~qscookies.Context.record_purchase`'s
    #: default currency.
    currency: str = "EUR"
    #: Treat ``DNT: 1`` as an opt-out (``Sec-GPC: 1`` always is one).
    honor_dnt: bool = True
    #: ``Referrer-Policy`` sent when the application sets none; ``None`` sends none.
    referrer_policy: str | None = "same-origin"
    #: Answer GET/HEAD promotion landings with a ``303`` to the clean URL.
    strip_promotion_params: bool = True
    #: Refuse to start when Redis would let this user export the data.
    strict: bool = False
    #: Seconds to wait for Redis (connect and each reply) before giving up.
    socket_timeout: float = 0.25
    #: Connections of the pool opened from ``redis_url`` (per process); when
    #: all are in use a request waits up to :attr:`socket_timeout` for one.
    max_connections: int = 100
    #: Replicas (0, 1 or 2) that must confirm a cart write before it is
    #: acknowledged: ``WAIT`` in the same round trip, within
    #: :attr:`durable_wait_ms`; fewer is ``StoreUnavailable`` (a ``503``).
    durable_writes: int = 0
    #: After a failed tracking write, seconds to skip tracking before trying again.
    retry_interval: float = 5.0
    #: Largest quantity of one cart line.
    max_quantity: int = 999
    #: Largest number of distinct lines in one cart (a sku with other options
    #: is another line).
    max_cart_lines: int = 200
    #: Largest total quantity of one cart, all lines summed.
    max_cart_items: int = 1000
    #: Most option keys of one cart line (``cart.add(..., options=)``).
    max_line_options: int = 5
    #: ``Retry-After`` seconds on the ``503`` answered when Redis is away: about
    #: one measured failover (3.3-4.7 s on Cluster and Sentinel, issue 15).
    retry_after: int = 5
    #: Path of the built-in opt-out switch (POST ``choice=out|in``); ``None``: off.
    privacy_path: str | None = None
    #: A Redis URL of an admin user (allowed ``FUNCTION``): the start-up check
    #: loads the function library with it first, as ``qscookies functions``
    #: does; ``None``: an operator loads it. Never shown in a ``repr``.
    admin_redis_url: str | None = field(default=None, repr=False)
    #: Base names of the cookies (``__Host-`` is prepended on HTTPS).
    cart_cookie: str = "qs_cart"
    visitor_cookie: str = "qs_visitor"
    promotion_cookie: str = "qs_promo"
    #: The signed choice cookie (``in`` or ``out``, and when it was made).
    choice_cookie: str = "qs_choice"
    #: The opt-out cookie of earlier versions: still read as ``"out"``, dropped
    #: when the visitor chooses again.
    opt_out_cookie: str = "qs_optout"

    @classmethod
    def from_options(cls, **options: Any) -> Settings:
        """Build settings from keyword options, rejecting unknown names.

        :raises ConfigurationError: an option is unknown or out of range.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) {', '.join(unknown)}; "
                f"known options are {', '.join(sorted(known))}",
                setting=unknown[0],
            )
        for name in ("excluded_paths", "promotion_params"):
            if name in options:
                options[name] = _as_tuple(name, options[name])
        allowed = options.get("allowed_promotions")
        if allowed is not None:
            options["allowed_promotions"] = frozenset(
                _as_tuple("allowed_promotions", allowed)
            )
        return cls(**options)

    def replace(self, **options: Any) -> Settings:
        """These settings with *options* changed, checked as :meth:`from_options`."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        return self.from_options(**{**current, **options})

    def __post_init__(self) -> None:
        try:
            KeySchema(self.key_prefix)
        except ConfigurationError as error:
            raise ConfigurationError(str(error), setting="key_prefix") from None
        if self.consent not in _CONSENT_MODES:
            _fail("consent", "'opt-out' or 'opt-in'")
        if self.visitor_max_age is not None:
            if type(self.visitor_max_age) is not int or self.visitor_max_age < 1:
                _fail("visitor_max_age", "a whole number of at least 1, or None")
            if self.consent == "opt-in" and self.visitor_max_age > THIRTEEN_MONTHS:
                _fail(
                    "visitor_max_age",
                    f"at most {THIRTEEN_MONTHS} seconds (13 months) with"
                    " consent='opt-in'",
                )
        for name in (
            "visit_gap",
            "cart_max_age",
            "customer_cart_max_age",
            "checkout_max_age",
            "promotion_max_age",
            "aggregate_max_age",
            "max_quantity",
            "max_cart_lines",
            "max_cart_items",
            "max_line_options",
            "retry_after",
            "max_promotions_per_day",
            "max_sources",
            "max_connections",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                _fail(name, "a whole number of at least 1")
        if self.customer_cart_max_age < self.cart_max_age:
            _fail("customer_cart_max_age", "at least cart_max_age")
        for name in ("socket_timeout", "retry_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                _fail(name, "a number of seconds")
            if value <= 0:
                _fail(name, "more than 0 seconds")
        if type(self.durable_writes) is not int or self.durable_writes not in (0, 1, 2):
            _fail("durable_writes", "0, 1 or 2 (replicas that confirm a cart write)")
        if self.secure not in (None, True, False):
            _fail("secure", "True, False or None (follow the request scheme)")
        for path in self.excluded_paths:
            if not path.startswith("/"):
                _fail("excluded_paths", "path prefixes starting with '/'")
        if not self.promotion_params or not all(self.promotion_params):
            _fail("promotion_params", "one or more non-empty parameter names")
        for code in self.allowed_promotions or ():
            if not PROMOTION_CODE.fullmatch(code):
                _fail("allowed_promotions", f"codes matching {PROMOTION_CODE.pattern}")
        if self.attribution not in ("last", "first"):
            _fail("attribution", "'last' or 'first'")
        if not is_currency(self.currency):
            _fail("currency", f"an active ISO 4217 code, not {self.currency!r}")
        if self.referrer_policy not in _REFERRER_POLICIES | {None}:
            _fail("referrer_policy", f"one of {', '.join(sorted(_REFERRER_POLICIES))}")
        if self.privacy_path is not None and not self.privacy_path.startswith("/"):
            _fail("privacy_path", "a path starting with '/', or None")
        names = self.cookie_names
        if len(set(names)) != len(names) or not all(
            _COOKIE_NAME.fullmatch(n) for n in names
        ):
            _fail("*_cookie", "five distinct names of letters, digits, '_' or '-'")

    @property
    def items_bound(self) -> int:
        """:attr:`max_cart_items` as the cart scripts take it: 0 (no bound to
        check) when ``max_quantity`` lines of ``max_cart_lines`` cannot reach
        it, so a huge cart is not summed on each write."""
        items = self.max_cart_items
        return items if items < self.max_quantity * self.max_cart_lines else 0

    @property
    def landing_params(self) -> tuple[str, ...]:
        """Every parameter of a landing: the promotion's, then source and medium
        (all removed from the clean URL and from redirects to other hosts)."""
        return self.promotion_params + SOURCE_PARAMS

    @property
    def durable_wait_ms(self) -> int:
        """Milliseconds a cart write waits for its replicas (``durable_writes``):
        half of ``socket_timeout`` (at least 1), so the ``WAIT`` answers before
        the client gives up on its reply."""
        return max(1, int(self.socket_timeout * 500))

    @property
    def cookie_names(self) -> tuple[str, ...]:
        """The base names of the cart, visitor, promotion, choice and opt-out
        cookies."""
        return (
            self.cart_cookie,
            self.visitor_cookie,
            self.promotion_cookie,
            self.choice_cookie,
            self.opt_out_cookie,
        )

    @cached_property
    def visitor_lifetime(self) -> int:
        """Seconds the visitor cookie lives: ``visitor_max_age``, else the mode's
        default.

        In ``"opt-out"`` mode 1 year, renewed while the visitor is active; in
        ``"opt-in"`` mode 13 months from the consent, never renewed.
        """
        if self.visitor_max_age is not None:
            return self.visitor_max_age
        return THIRTEEN_MONTHS if self.consent == "opt-in" else 365 * DAY

    @cached_property
    def choice_max_age(self) -> int:
        """Seconds a recorded choice counts: 13 months in ``"opt-in"`` mode (then
        the app asks again), 400 days in ``"opt-out"`` mode."""
        if self.consent == "opt-in":
            return THIRTEEN_MONTHS
        return OPT_OUT_CHOICE_MAX_AGE


class Options(TypedDict, total=False):
    """Every setting, typed: the ``**options`` of each door.

    The keyword arguments of :class:`~qscookies.QSCookies` and
    :class:`qscookies.asgi.QSCookies` (and ``rebound``) are checked against it,
    so mypy or pyright reports a misspelt or mistyped setting::

        QSCookies(app, secret_key=KEY, redis_url=URL, visit_gaps=60)  # error

    Each key is a field of :class:`Settings`, documented there.

    .. versionadded:: 0.2
    """

    key_prefix: str
    visit_gap: int
    cart_max_age: int
    customer_cart_max_age: int
    visitor_max_age: int | None
    checkout_max_age: int
    promotion_max_age: int
    aggregate_max_age: int
    secure: bool | None
    excluded_paths: Iterable[str]
    promotion_params: Iterable[str]
    allowed_promotions: Iterable[str] | None
    max_promotions_per_day: int
    consent: Consent
    max_sources: int
    attribution: Touch
    currency: str
    honor_dnt: bool
    referrer_policy: str | None
    strip_promotion_params: bool
    strict: bool
    socket_timeout: float
    max_connections: int
    durable_writes: int
    retry_interval: float
    max_quantity: int
    max_cart_lines: int
    max_cart_items: int
    max_line_options: int
    retry_after: int
    privacy_path: str | None
    admin_redis_url: str | None
    cart_cookie: str
    visitor_cookie: str
    promotion_cookie: str
    choice_cookie: str
    opt_out_cookie: str


def check_currency(currency: object) -> str:
    """*currency* when it is an active ISO 4217 code (``"EUR"``), else raise.

    :raises ConfigurationError: any other value (``"ZZZ"``, ``"eur"``).
    """
    if not is_currency(currency):
        _fail("currency", f"an active ISO 4217 code like 'EUR', not {currency!r}")
    return str(currency)


def _as_tuple(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        _fail(name, "a list or tuple of strings, not a single string")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        _fail(name, "strings only")
    return items


def _fail(name: str, expected: str) -> None:
    raise ConfigurationError(f"{name} must be {expected}", setting=name)
