"""Campaign rules: a landing's dimensions, who keeps the credit, and its counts.

A landing is a promotion code (``promo`` or ``utm_campaign``) and, when present,
the ``utm_source`` and ``utm_medium`` beside it: each judged on its own by the
code's strict pattern (at most 64 characters, never card-number-like), a junk
one ignored and never stored. The promotion cookie carries the code and the
pair counted, so a later cart or purchase is credited to both.

Everything here is pure: it answers Redis commands and plans, no I/O. The
landing counter, its sketches and the attribution are separate steps, so a
landing may be counted without a visitor (``member=""``: no sketch entry) and
without taking the credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import scripts
from ..codec import PROMOTION_CODE
from ..codec import Attribution
from ..command import Command
from ..command import script
from ..currencies import is_currency
from ..errors import CurrencyError
from ..errors import NotSent
from ..keys import OTHER
from ..keys import OTHER_PAIR
from ..keys import KeySchema
from ..privacy import looks_like_card_number
from ..settings import SOURCE_PARAMS
from ..settings import Settings
from .aggregates import Day
from .plan import Plan
from .plan import done
from .plan import text
from .promotions import find_code
from .promotions import first_values

#: How long an order id is remembered to keep a purchase from counting twice.
ORDER_MEMORY = 400 * 86400


def code_bound(settings: Settings) -> int:
    """Codes with keys of their own a day: ``max_promotions_per_day``, or 0
    (no bound) with an allow-list, whose codes are bounded by the list."""
    return 0 if settings.allowed_promotions else settings.max_promotions_per_day


def landing_room(bound: int) -> int:
    """How much of a day's *bound* (codes, or pairs of a code) first landings
    may take: all but the half kept for evidence (:func:`admit`), so junk
    landed first can fill only that share and never evict a real campaign."""
    return bound - bound // 2


@dataclass(frozen=True, slots=True)
class Landing:
    """What one landing carries: the code, and its source and medium if valid."""

    code: str
    source: str | None = None
    medium: str | None = None

    @property
    def pair(self) -> str:
        """The pair as stored (:meth:`~qscookies.keys.KeySchema.pair`)."""
        return KeySchema.pair(self.source, self.medium)


def find_landing(query: str, settings: Settings) -> Landing | None:
    """The landing of a raw query string, or ``None`` without a valid code.

    A source or medium that is missing, too long, off the pattern or
    card-number-like is ``None``; the other one still counts.
    """
    params = settings.promotion_params
    found = first_values(query, (*params, *SOURCE_PARAMS))
    code = find_code(query, params, settings.allowed_promotions, found)
    if code is None:
        return None
    source, medium = (dimension(found.get(name)) for name in SOURCE_PARAMS)
    return Landing(code, source, medium)


def dimension(value: str | None) -> str | None:
    """A source or medium when it is valid, else ``None`` (dropped)."""
    value = (value or "").strip()
    if not PROMOTION_CODE.fullmatch(value) or looks_like_card_number(value):
        return None
    return value


def pair_of(attribution: Attribution) -> str:
    """The pair an attribution is credited to."""
    return KeySchema.pair(attribution.source, attribution.medium)


def takes_credit(settings: Settings, current: Attribution | None) -> bool:
    """Whether a new landing takes the credit from *current* (the valid
    attribution of the promotion cookie, if any): always with
    ``attribution="last"``; with ``"first"`` only when there is none."""
    return settings.attribution == "last" or current is None


def attributed(landing: Landing, code: str, pair: str, now: int) -> Attribution:
    """The attribution of *landing*, counted under *code* and *pair*: when a
    day's bound counted it under others, it keeps the landing's own code,
    source and medium (what ``qs.promotion`` reads, and what :func:`admit`
    admits on evidence)."""
    source, medium = KeySchema.split_pair(pair)
    own = (landing.code, landing.source, landing.medium)
    kept = None if (code, pair) == (landing.code, landing.pair) else own
    return Attribution(code, now, source, medium, kept)


def check_currency(currency: object) -> str:
    """*currency* when it is an active ISO 4217 code (``"EUR"``), else raise.

    :raises CurrencyError: any other value (``"ZZZ"``, ``"eur"``, ``978``).
    """
    if not is_currency(currency):
        raise CurrencyError(
            f"currency must be an active ISO 4217 code like 'EUR', not {currency!r}",
            currency=currency,
        )
    return str(currency)


def admit(settings: Settings, day: Day, attribution: Attribution) -> list[Command]:
    """Evidence for a landing counted under ``other`` (or ``other/other``): a
    cart or returning visit credited from its signed cookie admits the
    landing's own code and pair to the day's indexes, into the room landings
    may not take (:func:`landing_room`), so the day's next landings of them
    count under their own names. Nothing for a landing counted as it came.

    One ``EVAL`` of the admit script on the indexes' slot, pipelined with the
    credit (the credit itself still goes where the landing was counted).
    """
    if attribution.landing is None:
        return []
    code, source, medium = attribution.landing
    keys = day.keys
    return [
        script(
            scripts.ADMIT,
            (keys.day_index(day.day), keys.pair_index(day.day)),
            code,
            code_bound(settings),
            KeySchema.pair(source, medium),
            settings.max_sources,
            day.ttl,
        )
    ]


def credit(
    settings: Settings, day: Day, attribution: Attribution, counter: str
) -> list[Command]:
    """Count one *counter* (``carts``) for the attributed code and its pair,
    name both in the day's indexes, and :func:`admit` the landing's own."""
    pair, code = pair_of(attribution), attribution.code
    fields = {counter: 1, KeySchema.field(counter, pair): 1}
    return [
        *day.counts(code, fields),
        *day.indexed(code, pair),
        *admit(settings, day, attribution),
    ]


def credit_returning(
    settings: Settings, day: Day, attribution: Attribution, member: str
) -> list[Command]:
    """A returning visit of a visitor attributed to a promotion: the code's and
    its pair's ``r`` sketches, both named in the day's indexes, and
    :func:`admit` the landing's own."""
    code, pair = attribution.code, pair_of(attribution)
    return [
        *day.sketch(code, "r", member),
        *day.sketch(code, "r", member, pair),
        *day.indexed(code, pair),
        *admit(settings, day, attribution),
    ]


def purchase_fields(
    attribution: Attribution, total_cents: int, currency: str
) -> dict[str, int]:
    """The fields a purchase moves: purchases, purchases in *currency* (an
    average order divides a currency's revenue by its purchases only) and
    revenue in *currency*, overall and of the attributed pair."""
    moves: dict[str, int] = {}
    for pair in (None, pair_of(attribution)):
        moves[KeySchema.field("purchases", pair)] = 1
        moves[KeySchema.field("purchases", pair, currency)] = 1
        moves[KeySchema.field("revenue_cents", pair, currency)] = total_cents
    return moves


#: What a purchase paid with a checkout's token takes away: the cart's keys
#: (:meth:`~qscookies.keys.KeySchema.cart_keys`) and the paid lines (flat line
#: id, quantity values).
Paying = tuple[tuple[str, str, str], tuple[str | int, ...]]


def count_purchase(
    day: Day,
    attribution: Attribution | None,
    marker: str,
    fields: dict[str, int],
    *,
    cluster: bool,
    paying: Paying | None = None,
) -> Plan[bool]:
    """Count a purchase once per order: *marker* (the order's, whatever
    promotion it is credited to) is set with ``SET NX``, and only then are the
    attributed code's *fields* moved and, with *paying*, the paid lines taken
    away from the cart (so a purchase recorded twice takes them once).
    Without *paying*, *attribution* is required.

    One ``EVAL`` of the purchase script (:data:`~qscookies.scripts.PAID`
    with *paying*). On Redis Cluster the marker, the cart and the code's
    counters live in different slots: the ``SET NX`` goes first
    (:data:`~qscookies.scripts.ORDER_MARK`) and the take
    (:data:`~qscookies.scripts.CART_PAY`) and counts follow in a second round
    trip, only when it was set (a failure between the two loses that
    purchase's count and take, never applies them twice).

    :return: a plan answering whether this call recorded the order first
        (set *marker*): ``False`` when an earlier call did.
    """
    counters: tuple[str, ...] = ()
    moves: tuple[str | int, ...] = ()
    indexed: list[Command] = []
    if attribution is not None:
        indexed = day.indexed(attribution.code, pair_of(attribution))
        counters = (day.keys.aggregate(attribution.code, "d", day.day),)
        moves = tuple(value for item in fields.items() for value in item)
    if not cluster:
        head = (ORDER_MEMORY, day.ttl)
        if paying is None:
            keys: tuple[str, ...] = (marker, *counters)
            first = script(scripts.PURCHASE, keys, *head, *moves)
        else:
            cart_keys, lines = paying
            keys = (marker, *cart_keys, *counters)
            first = script(scripts.PAID, keys, *head, len(lines), *lines, *moves)
        return Plan((first, *indexed), lambda replies: replies[0] == 1)

    def count(replies: list[Any]) -> Plan[bool]:
        if replies[0] != 1:
            return done(False)
        writes: list[Command] = []
        if paying is not None:
            writes.append(script(scripts.CART_PAY, paying[0], *paying[1]))
        if attribution is not None:
            writes += day.counts(attribution.code, fields) + indexed
        return Plan(tuple(writes), lambda _replies: True)

    return Plan((script(scripts.ORDER_MARK, (marker,), ORDER_MEMORY),), count)


def count_landing(
    settings: Settings,
    day: Day,
    landing: Landing,
    member: str,
    *,
    returning: bool,
    cluster: bool,
) -> Plan[tuple[str, str] | None]:
    """Count a landing: its code admitted to the day's index (else ``other``),
    its pair to the code's pairs (else ``other/other``), while landings have
    room (:func:`landing_room`).

    One ``EVAL`` of the landing script; on Redis Cluster the script only
    admits (the indexes' slot) and the counts follow in a second round trip
    (the code's slot), only after the script admitted it (the indexes' node
    healthy), and only when the code's node is (tracking paused on one node).

    :param member: the visitor's keyed hash for the sketches; ``""`` counts
        the landing alone (no visitor).
    :return: a plan answering the code and pair the landing was counted
        under, from Redis's reply; ``None`` when it was not counted (the
        indexes' node paused).
    """
    keys = day.keys
    pair = landing.pair
    args = (
        landing.code,
        landing_room(code_bound(settings)),
        member,
        settings.aggregate_max_age,
        int(returning),
        pair,
        landing_room(settings.max_sources),
    )
    indexes = (keys.day_index(day.day), keys.pair_index(day.day))

    def read(replies: list[Any]) -> tuple[str, str] | None:
        if isinstance(replies[0], NotSent):  # the indexes' node is paused
            return None
        code, chosen = (text(value) for value in replies[0])
        return code, chosen

    if not cluster:
        counters = [
            key
            for code in (landing.code, OTHER)
            for key in _landing_keys(keys, code, day.day, pair)
        ]
        counted = script(scripts.LANDING, (*indexes, *counters), *args)
        return Plan((counted,), read)

    # Redis Cluster: the indexes and the code's keys live in different slots.
    def count(replies: list[Any]) -> Plan[tuple[str, str] | None] | None:
        admitted = read(replies)
        if admitted is None:
            return None
        code, chosen = admitted
        writes = day.counts(
            code, {"landings": 1, KeySchema.field("landings", chosen): 1}
        )
        kinds = ("u", "r") if returning else ("u",)
        for kind in kinds if member else ():
            writes += day.sketch(code, kind, member)
            writes += day.sketch(code, kind, member, chosen)
        return Plan(tuple(writes), lambda _replies: admitted)

    return Plan((script(scripts.LANDING, indexes, *args),), count)


def _landing_keys(keys: KeySchema, code: str, day: str, pair: str) -> list[str]:
    """The seven keys the landing script may count under for *code*."""
    return [
        keys.aggregate(code, "d", day),
        keys.aggregate(code, "u", day),
        keys.aggregate(code, "r", day),
        keys.pair_sketch(code, "u", day, pair),
        keys.pair_sketch(code, "r", day, pair),
        keys.pair_sketch(code, "u", day, OTHER_PAIR),
        keys.pair_sketch(code, "r", day, OTHER_PAIR),
    ]
