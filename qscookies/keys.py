"""The key layout: every Redis key qscookies writes or reads is built here.

``qs:`` is the configurable prefix; ``{…}`` is the cluster hash tag, so the keys of
one cart, or of one promotion over all its days, share a slot::

    qs:c:{<cart id>}                 hash  line id -> quantity (a line id is the
                                     sku, or sku~<hash of its options>)  (TTL)
    qs:l:{<cart id>}                 hash  line id -> <sequence>:<options JSON>,
                                     '' -> last sequence: the lines' order and
                                     options, one entry per line      (TTL: the cart's)
    qs:c:{u:<keyed customer hash>}   hash  a customer's cart, same layout    (TTL)
    qs:a:{<code>}:d:<YYYYMMDD>       hash  landings, carts, purchases,
                                     revenue_cents:<CUR> (one per currency), and
                                     the same per pair: landings@<pair>, …
    qs:a:{<code>}:u:<YYYYMMDD>       HyperLogLog of keyed visitor hashes (visitors)
    qs:a:{<code>}:r:<YYYYMMDD>       HyperLogLog of keyed visitor hashes (returning)
    qs:a:{<code>}:u:<YYYYMMDD>:<pair>  the same two, per (source, medium) pair
    qs:a:{<code>}:r:<YYYYMMDD>:<pair>
    qs:a:{_site}:d:<YYYYMMDD>        hash  visits                  (the "site" row)
    qs:a:{_site}:u:<YYYYMMDD>        HyperLogLog: unique visitors that day
    qs:a:{_site}:r:<YYYYMMDD>        HyperLogLog: unique returning visitors that day
    qs:a:i:<YYYYMMDD>                sorted set  code -> landings that day (the index)
    qs:a:k:<YYYYMMDD>                sorted set  codes credited that day (a cart, a
                                     purchase, a return) without a landing; score 0
    qs:a:j:{qs:a:i:<YYYYMMDD>}       hash  <code>@<pair> -> landings, <code> -> pairs
                                     admitted (the pair index, the index's slot)
    qs:w:{<cart id>}                 hash  keyed hash of (line, write id) -> sequence,
                                     at most MAX_WRITE_MARKERS (TTL: the cart's)
    qs:o:{<keyed order hash>}        marker that makes an order count once, whatever
                                     promotion it is credited to (TTL)

Aggregate keys (``qs:a:``) hold counters and sketches only, never an id. A
customer's cart is named by an HMAC of the customer id (see
:meth:`~qscookies.codec.CookieCodec.customer_cart`), never the id. Nothing
is kept per visitor: the signed visitor cookie is the visitor's record. A day's
index holds at most ``max_promotions_per_day`` codes plus :data:`OTHER`, and
each code at most ``max_sources`` pairs a day plus :data:`OTHER_PAIR` (a pair
credited later, from a signed cookie, was admitted on the day of its landing),
so no input grows the key space without bound. Landings admit only half of
each bound; the rest is admitted by evidence (a cart or a returning visit of a
landing counted under :data:`OTHER`: see :func:`~qscookies.core.campaigns.admit`).

A *pair* is a landing's ``utm_source`` and ``utm_medium`` as ``<source>/<medium>``,
each empty when the landing carried none (or junk): ``newsletter/email``,
``/email``, ``/``.

Every part of a key that comes from outside is checked before it gets here: ids
are 22 url-safe characters or ``u:`` and 32 hex digits (the codec), codes match
the promotion pattern (so do sources and mediums), days are ``YYYYMMDD``, currencies
three capital letters. None of them can hold ``{``, ``}``, ``*``, ``/``, ``@``,
``:`` or white space.
"""

from __future__ import annotations

import re

from .errors import ConfigurationError

#: The pseudo-code of the site-wide row: no promotion code starts with ``_``.
SITE = "_site"

#: The code under which landings of codes past the day's bound are counted.
OTHER = "other"

#: The pair under which landings of pairs past a promotion's day bound count.
OTHER_PAIR = "other/other"

#: Revenue recorded before currencies were kept (a bare ``revenue_cents``
#: field) is read as this currency's.
LEGACY_CURRENCY = "EUR"

#: A key prefix: letters, digits, ``_-.:``, ending in the ``:`` delimiter.
PREFIX = re.compile(r"[A-Za-z0-9_\-.:]{0,31}:")

#: The per-day aggregate kinds: counters, unique visitors, returning visitors.
AGGREGATE_KINDS = ("d", "u", "r")


class KeySchema:
    """Builds the keys of one shop under one prefix.

    :param prefix: the ``key_prefix`` setting, e.g. ``"qs:"``; it must end in
        ``:`` so that ``qs:`` never covers another application's ``qsession:``.
    :raises ConfigurationError: a malformed prefix.
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "qs:") -> None:
        if not isinstance(prefix, str) or not PREFIX.fullmatch(prefix):
            raise ConfigurationError(
                "key_prefix must be 1-32 letters, digits or '_-.:' ending in ':',"
                " like 'qs:'"
            )
        #: The prefix of every key.
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"KeySchema({self.prefix!r})"

    def cart(self, cart_id: str) -> str:
        """Key of a cart's lines: an anonymous cart's or a customer's.

        :param cart_id: a random id, or a customer's cart id
            (``u:<keyed hash>``); either way the id is the hash tag, so one
            cart's keys share a slot.
        """
        return f"{self.prefix}c:{{{cart_id}}}"

    def lines(self, cart_id: str) -> str:
        """Key of a cart's lines: each line's place in the order first added
        and its canonical options (see :mod:`qscookies.core.lines`); in the
        cart's slot, expiring with it."""
        return f"{self.prefix}l:{{{cart_id}}}"

    def cart_keys(self, cart_id: str) -> tuple[str, str, str]:
        """Every key of one cart: its quantities, its lines and its write
        markers (what erasing or taking a cart deletes)."""
        return self.cart(cart_id), self.lines(cart_id), self.writes(cart_id)

    def aggregate(self, code: str, kind: str, day: str) -> str:
        """Key of one promotion's (or :data:`SITE`'s) aggregate of one UTC day.

        :param kind: ``"d"`` (counters), ``"u"`` (visitors) or ``"r"``
            (returning visitors).
        """
        return f"{self.prefix}a:{{{code}}}:{kind}:{day}"

    def pair_sketch(self, code: str, kind: str, day: str, pair: str) -> str:
        """Key of one promotion's ``u`` or ``r`` sketch of one pair on one day."""
        return f"{self.prefix}a:{{{code}}}:{kind}:{day}:{pair}"

    def day_index(self, day: str) -> str:
        """Key of the sorted set of one day's promotion codes, scored by landings."""
        return f"{self.prefix}a:i:{day}"

    def credit_index(self, day: str) -> str:
        """Key of the sorted set of one day's credited codes (score 0): the
        codes a cart, purchase or returning visit was credited to that day,
        read by reports beside the day's index but never counted in its bound."""
        return f"{self.prefix}a:k:{day}"

    def pair_index(self, day: str) -> str:
        """Key of the hash of one day's pairs (``<code>@<pair>`` -> landings,
        ``<code>`` -> pairs admitted).

        Its hash tag is the day index's whole name, so both share a slot and one
        script admits a code and its pair on Redis Cluster too.
        """
        return f"{self.prefix}a:j:{{{self.day_index(day)}}}"

    def generation(self, cart_id: str) -> str:
        """Key of a customer's sign-in generation (a hash, field ``g``): a
        sign-out everywhere moves it, and every signed-in cart cookie of an
        older generation stops working. It shares the customer's cart slot."""
        return f"{self.prefix}g:{{{cart_id}}}"

    def writes(self, cart_id: str) -> str:
        """Key of a cart's write markers: the hash that applies each cart write
        once (keyed hashes of sku and write id), bounded; the cart id is its
        hash tag, so it shares the cart's slot."""
        return f"{self.prefix}w:{{{cart_id}}}"

    def order(self, order_hash: str) -> str:
        """Key of the marker that counts an order once (a keyed hash of its id),
        whatever promotion the order is credited to; the hash is its hash tag."""
        return f"{self.prefix}o:{{{order_hash}}}"

    @staticmethod
    def pair(source: str | None, medium: str | None) -> str:
        """A pair as stored: ``<source>/<medium>``, each empty when ``None``."""
        return f"{source or ''}/{medium or ''}"

    @staticmethod
    def split_pair(pair: str) -> tuple[str | None, str | None]:
        """A stored pair back as (source, medium), ``None`` where empty."""
        source, _, medium = pair.partition("/")
        return source or None, medium or None

    @staticmethod
    def field(counter: str, pair: str | None = None, currency: str = "") -> str:
        """A field of a day hash: ``landings``, ``revenue_cents:EUR``, and per
        pair ``landings@newsletter/email``."""
        name = f"{counter}:{currency}" if currency else counter
        return f"{name}@{pair}" if pair is not None else name

    @property
    def all_keys(self) -> str:
        """Glob of every key of this shop (the app user's ACL key pattern)."""
        return f"{self.prefix}*"

    @property
    def aggregate_keys(self) -> str:
        """Glob of the aggregate keys (the report user's ACL key pattern)."""
        return f"{self.prefix}a:*"
