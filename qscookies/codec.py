"""The cookie codec: sign and verify cookie values.

Pure functions over strings: no Redis, no WSGI (the ``Set-Cookie`` headers are
:mod:`qscookies.setcookie`'s). The codec also owns the keyed
hashes that stand in for ids where an id must never be stored (sketches, order
markers, logs). Each cookie purpose (cart, visitor, promotion, the tracking
choice) signs with its own salt, so a value never verifies as another purpose's.
Values hold only random ids, a promotion code, timestamps and the visit counter, and
the timestamps are signed too: expiry is enforced here, not by the browser.
What a value says comes back as a named tuple (one is read on most requests:
it costs half a frozen dataclass), immutable all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from typing import NamedTuple

from .errors import ConfigurationError
from .signing import MacSigner
from .signing import SignedReader

#: What starts the cart id of a customer's cart (never a random id: those have
#: no ``:``), followed by a keyed hash of the customer id.
CUSTOMER_CART = "u:"
_INT = re.compile(r"[0-9]{1,12}")
#: The signed payloads: a cart id (random, or a customer's) and its issue time;
#: a visitor id, visits, first and last seen (random ids are 22 url-safe
#: characters, times whole seconds).
_CART = re.compile(
    r"([A-Za-z0-9_\-]{22}|u:[0-9a-f]{32})\.([0-9]{1,12})"
    r"(?:\.([0-9a-f]{8}(?:-[0-9a-f]{8}){0,3}))?(?:\.g([0-9]{1,12}))?(\.new)?"
)
#: Most rival cart cookies a cart cookie can outrank (see :class:`CartCookie`).
MAX_RIVALS = 4
_VISITOR = re.compile(
    r"([A-Za-z0-9_\-]{22})\.([0-9]{1,12})\.([0-9]{1,12})\.([0-9]{1,12})"
)
#: The tracking choice and when it was made.
_CHOICE = re.compile(r"(in|out)\.([0-9]{1,12})")
#: A promotion code: a letter or digit, then letters, digits, ``_``, ``-`` or ``.``.
PROMOTION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
#: Seconds a timestamp may lie in the future (clocks of several app servers).
_CLOCK_SKEW = 60


def new_id() -> str:
    """Return a fresh random id: 128 bits from :mod:`secrets`, 22 url-safe chars."""
    return secrets.token_urlsafe(16)


class VisitorState(NamedTuple):
    """What the visitor cookie says about a browser.

    :param visitor_id: the random id of this browser.
    :param visits: visits so far, the current one included.
    :param first_seen: when the first visit began (Unix seconds).
    :param last_seen: when the browser was last seen (Unix seconds).
    """

    visitor_id: str
    visits: int
    first_seen: int
    last_seen: int


class CartCookie(NamedTuple):
    """What a cart cookie says: the cart id, when it was issued, and the rivals
    it outranks.

    :param cart_id: a random id, or a customer's (:data:`CUSTOMER_CART`).
    :param issued: when the value was signed (Unix seconds).
    :param rivals: keyed hashes (:meth:`CookieCodec.rival_hash`) of the other
        cart cookies the browser sent beside the request that issued this
        one: planted cookies of the same name that this one was issued to
        replace, so it wins over them (at most :data:`MAX_RIVALS`).
    :param new: the id was given out before the cart's first line (when the
        cart was first read), so that concurrent first adds share it.
    :param generation: signed in: the customer's sign-in generation at the
        sign-in (a sign-out everywhere moves it, voiding this cookie).
    """

    cart_id: str
    issued: int
    rivals: tuple[str, ...] = ()
    new: bool = False
    generation: str = "0"


class Choice(NamedTuple):
    """What the choice cookie says: ``"in"`` or ``"out"``, and when it was made."""

    choice: str
    made_at: int


class Attribution(NamedTuple):
    """What the promotion cookie says: the code, when the visitor landed, and
    the landing's source and medium (``None`` when it carried none), as they
    were counted; and, when a day's bound counted them under ``other`` (or
    ``other/other``), the landing as it came (:attr:`landing`).

    Credits go where the landing was counted (:attr:`code`, :attr:`source`,
    :attr:`medium`), so they never create keys; the application reads the
    code the visitor landed on (:attr:`promotion`).
    """

    code: str
    landed_at: int
    source: str | None = None
    medium: str | None = None
    #: The landing's own code, source and medium, when they were counted
    #: under others; else ``None``.
    landing: tuple[str, str | None, str | None] | None = None

    @property
    def promotion(self) -> str:
        """The code the visitor landed on, whatever it was counted under."""
        return self.landing[0] if self.landing else self.code


class CookieCodec:
    """Signs and verifies the cookie values (cart, visitor, promotion, choice).

    Of its list of secret keys the *first* signs and every key verifies, so a
    new key can be put in front without logging anyone out. (itsdangerous signs
    with the *last* key of its list; :class:`~qscookies.signing.MacSigner`
    takes them newest first.)

    The keyed hashes (:meth:`visitor_hash`, :meth:`order_hash`,
    :meth:`customer_cart`) are keyed by
    the first key: after a rotation the same visitor feeds new sketch entries,
    and an order counted under the old key could count once more.

    :param secret_keys: one key, or a list of keys, newest first.
    """

    def __init__(self, secret_keys: str | bytes | Sequence[str | bytes]) -> None:
        keys = (
            [secret_keys]
            if isinstance(secret_keys, (str, bytes))
            else list(secret_keys)
        )
        if not keys or any(len(key) < 16 for key in keys):
            raise ConfigurationError(
                "secret_key must be a key (or list of keys) of at least 16 characters;"
                " generate one with: python -c 'import secrets;"
                " print(secrets.token_urlsafe(32))'",
                setting="secret_key",
            )
        first = keys[0].encode() if isinstance(keys[0], str) else keys[0]
        self._visitor_key = hashlib.sha256(b"qscookies.visitor-hash\0" + first).digest()
        self._order_key = hashlib.sha256(b"qscookies.order-hash\0" + first).digest()
        self._customer_key = hashlib.sha256(
            b"qscookies.customer-hash\0" + first
        ).digest()
        self._cart = MacSigner(keys, salt="qscookies.cart")
        self._visitor = MacSigner(keys, salt="qscookies.visitor")
        self._promotion = MacSigner(keys, salt="qscookies.promotion")
        self._choice = MacSigner(keys, salt="qscookies.choice")
        # What each purpose's values say, verified once per value.
        self._carts = SignedReader(self._cart, _read_cart)
        self._visitors = SignedReader(self._visitor, _read_visitor)
        self._promotions = SignedReader(self._promotion, _read_promotion)
        self._choices = SignedReader(self._choice, _read_choice)
        #: Signs checkout tokens (:mod:`qscookies.core.checkout`): a salt of
        #: their own, so a token never verifies as a cookie, nor one as a token.
        self.checkout = MacSigner(keys, salt="qscookies.checkout")

    def __repr__(self) -> str:
        return "<CookieCodec (secret keys hidden)>"

    def visitor_hash(self, visitor_id: str, length: int = 32) -> str:
        """A keyed hash of a visitor id, for sketches and logs (never reversible)."""
        return keyed_hash(self._visitor_key, visitor_id, length)

    def order_hash(self, order_id: str) -> str:
        """A keyed hash of an order id: sequential ids cannot be tried against it."""
        return keyed_hash(self._order_key, order_id, 32)

    def write_hash(self, sku: str, write_id: str) -> str:
        """A keyed hash of a cart write's sku and id (the marker that applies
        it once): the same id given for two skus makes two markers."""
        return keyed_hash(self._order_key, f"write:{sku}\0{write_id}", 32)

    def customer_cart(self, customer_id: str) -> str:
        """The cart id of a customer's cart: a keyed hash of *customer_id*.

        The same on every device of that customer; the id itself is never
        stored. Keyed by the first secret key: after a rotation, a sign-in
        starts the customer's cart afresh (a browser still signed in keeps its
        cart until the cookie expires).
        """
        return CUSTOMER_CART + keyed_hash(self._customer_key, customer_id, 32)

    def dump_cart(
        self,
        cart_id: str,
        now: int,
        rivals: Sequence[str] = (),
        *,
        new: bool = False,
        generation: str = "0",
    ) -> str:
        """Sign a cart id with the time it was issued.

        :param rivals: the :meth:`rival_hash` of the cart cookies this value
            outranks (the first :data:`MAX_RIVALS`).
        :param new: the cart has no line yet (:attr:`CartCookie.new`).
        :param generation: :attr:`CartCookie.generation`.
        """
        payload = f"{cart_id}.{now}"
        if rivals:
            payload += "." + "-".join(rivals[:MAX_RIVALS])
        if generation != "0":
            payload += ".g" + generation
        return self._cart.sign(payload + ".new" if new else payload)

    def load_cart(self, value: str | None, now: int, max_age: int) -> str | None:
        """Return the cart id of a valid, unexpired cart cookie value, else ``None``.

        The id is a random one (an anonymous cart) or, once the browser signed
        in, a :meth:`customer_cart` id; only a signed value names either.
        """
        cookie = self.load_cart_cookie(value, now, max_age)
        return None if cookie is None else cookie.cart_id

    def load_cart_cookie(
        self, value: str | None, now: int, max_age: int
    ) -> CartCookie | None:
        """All a valid, unexpired cart cookie value says, else ``None``."""
        cookie = self._carts.read(value)
        if cookie is None or not fresh(cookie.issued, now, max_age):
            return None
        return cookie

    def rival_hash(self, value: str) -> str:
        """A keyed hash of a cart cookie value, for :attr:`CartCookie.rivals`."""
        return keyed_hash(self._order_key, "rival:" + value, 8)

    def dump_visitor(self, state: VisitorState) -> str:
        """Sign a visitor state; ``last_seen`` is the signing time."""
        payload = (
            f"{state.visitor_id}.{state.visits}.{state.first_seen}.{state.last_seen}"
        )
        return self._visitor.sign(payload)

    def load_visitor(
        self, value: str | None, now: int, max_age: int
    ) -> VisitorState | None:
        """Return the state in a valid visitor cookie not idle over *max_age*."""
        state = self._visitors.read(value)  # read on almost every request
        if state is None or not -_CLOCK_SKEW <= now - state.last_seen <= max_age:
            return None
        return state

    def dump_promotion(self, attribution: Attribution) -> str:
        """Sign a promotion code with its landing time, source and medium (and
        the landing's own three, when counted under others)."""
        payload = f"{attribution.code}~{attribution.landed_at}"
        if attribution.source or attribution.medium or attribution.landing:
            payload += f"~{attribution.source or ''}~{attribution.medium or ''}"
        if attribution.landing:
            payload += "".join(f"~{part or ''}" for part in attribution.landing)
        return self._promotion.sign(payload)

    def load_promotion(
        self, value: str | None, now: int, max_age: int
    ) -> Attribution | None:
        """Return the attribution in a valid promotion cookie inside its window.

        A cookie from before sources were kept (``code~time``) still reads,
        with no source or medium; so does one from before landings counted
        under others were kept (``code~time~source~medium``).
        """
        attribution = self._promotions.read(value)
        if attribution is None or not fresh(attribution.landed_at, now, max_age):
            return None
        return attribution

    def dump_choice(self, choice: Choice) -> str:
        """Sign a tracking choice with the time it was made."""
        return self._choice.sign(f"{choice.choice}.{choice.made_at}")

    def load_choice(self, value: str | None, now: int, max_age: int) -> Choice | None:
        """Return the choice in a valid choice cookie made at most *max_age* ago."""
        choice = self._choices.read(value)
        if choice is None or not fresh(choice.made_at, now, max_age):
            return None
        return choice


def _read_cart(payload: str) -> CartCookie | None:
    """What a verified cart cookie payload says (:meth:`CookieCodec.dump_cart`)."""
    found = _CART.fullmatch(payload)
    if found is None:
        return None
    cart_id, issued, rivals, generation, new = found.groups()
    hashes = tuple(rivals.split("-")) if rivals else ()
    return CartCookie(
        cart_id, int(issued), hashes, new is not None, str(int(generation or 0))
    )


def _read_visitor(payload: str) -> VisitorState | None:
    """What a verified visitor cookie payload says (at least one visit)."""
    found = _VISITOR.fullmatch(payload)
    if found is None:
        return None
    visitor_id, visits, first_seen, last_seen = found.groups()
    count = int(visits)
    if count < 1:
        return None
    return VisitorState(visitor_id, count, int(first_seen), int(last_seen))


def _read_promotion(payload: str) -> Attribution | None:
    """What a verified promotion cookie payload says, of any of its three forms."""
    parts = payload.split("~")
    if len(parts) not in (2, 4, 7):
        return None
    code, landed_at, source, medium, *landed = (*parts, "", "")[: max(4, len(parts))]
    if not (PROMOTION_CODE.fullmatch(code) and _INT.fullmatch(landed_at)):
        return None
    names = (source, medium, *landed)
    if not all(PROMOTION_CODE.fullmatch(part) for part in names if part):
        return None
    if landed and not landed[0]:
        return None
    landing = (landed[0], landed[1] or None, landed[2] or None) if landed else None
    return Attribution(code, int(landed_at), source or None, medium or None, landing)


def _read_choice(payload: str) -> Choice | None:
    """What a verified choice cookie payload says."""
    found = _CHOICE.fullmatch(payload)
    return None if found is None else Choice(found[1], int(found[2]))


def framework_keys(
    keys: Sequence[str | bytes | None], *, framework: str, setting: str
) -> list[str]:
    """Keys of qscookies' own, derived from a framework's secret keys.

    Each is an HMAC of the framework's key, so the framework's ``SECRET_KEY``
    (newest first, then its fallbacks) rotates ours too, while no value signed
    by qscookies ever verifies as the framework's, nor the other way round.

    :param framework: names the derivation (``"django"``, ``"flask"``).
    :param setting: named in the error.
    :raises ConfigurationError: no key, or a key shorter than 16 characters.
    """
    usable = [key for key in keys if key and len(key) >= 16]
    if not usable or len(usable) != len(keys):
        raise ConfigurationError(
            f"{setting} must be set, each key at least 16 characters: qscookies"
            " derives its own keys from it"
        )
    label = f"qscookies.{framework}".encode()
    return [hmac.new(_bytes(key), label, hashlib.sha256).hexdigest() for key in usable]


def _bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def keyed_hash(key: bytes, value: str, length: int = 12) -> str:
    """An HMAC-SHA256 of *value* under *key*, hex, cut to *length* characters."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]


def fresh(timestamp: int, now: int, max_age: int) -> bool:
    """*timestamp* is at most *max_age* before *now* (and not past the skew of
    clocks after it)."""
    return -_CLOCK_SKEW <= now - timestamp <= max_age
