"""The cookie codec: sign and verify cookie values, build ``Set-Cookie`` headers.

Pure functions over strings: no Redis, no WSGI. The codec also owns the keyed
hashes that stand in for ids where an id must never be stored (sketches, order
markers, logs). Each cookie purpose (cart, visitor,
promotion) signs with its own salt, so a value never verifies as another purpose's.
Values hold only random ids, a promotion code, timestamps and the visit counter, and
the timestamps are signed too: expiry is enforced here, not by the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import Signer
from werkzeug.http import dump_cookie

from .errors import ConfigurationError

#: Prefix that binds a cookie to the exact host, HTTPS and ``Path=/``.
HOST_PREFIX = "__Host-"

_ID = re.compile(r"[A-Za-z0-9_\-]{22}")
#: The cart id of a customer's cart: :data:`CUSTOMER_CART` and a keyed hash.
_CUSTOMER_ID = re.compile(r"u:[0-9a-f]{32}")
#: What starts the cart id of a customer's cart (never a random id: those have
#: no ``:``).
CUSTOMER_CART = "u:"
_INT = re.compile(r"[0-9]{1,12}")
#: A promotion code: a letter or digit, then letters, digits, ``_``, ``-`` or ``.``.
PROMOTION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
#: Seconds a timestamp may lie in the future (clocks of several app servers).
_CLOCK_SKEW = 60


def new_id() -> str:
    """Return a fresh random id: 128 bits from :mod:`secrets`, 22 url-safe chars."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class VisitorState:
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


@dataclass(frozen=True)
class Attribution:
    """What the promotion cookie says: the code and when the visitor landed."""

    code: str
    landed_at: int


class _Signer(Signer):
    """An itsdangerous ``Signer`` that derives each key once, not on every call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key not in self._derived:
            self._derived[secret_key] = super().derive_key(secret_key)
        return self._derived[secret_key]


class CookieCodec:
    """Signs and verifies the three cookie values with a list of secret keys.

    The *first* key signs and every key verifies, so a new key can be put in front
    without logging anyone out. (itsdangerous signs with the *last* key of its
    list; the order is reversed here once.)

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
                " print(secrets.token_urlsafe(32))'"
            )
        first = keys[0].encode() if isinstance(keys[0], str) else keys[0]
        self._visitor_key = hashlib.sha256(b"qscookies.visitor-hash\0" + first).digest()
        self._order_key = hashlib.sha256(b"qscookies.order-hash\0" + first).digest()
        self._customer_key = hashlib.sha256(
            b"qscookies.customer-hash\0" + first
        ).digest()
        verify_order = keys[::-1]
        self._cart = _Signer(verify_order, salt="qscookies.cart")
        self._visitor = _Signer(verify_order, salt="qscookies.visitor")
        self._promotion = _Signer(verify_order, salt="qscookies.promotion")

    def __repr__(self) -> str:
        return "<CookieCodec (secret keys hidden)>"

    def visitor_hash(self, visitor_id: str, length: int = 32) -> str:
        """A keyed hash of a visitor id, for sketches and logs (never reversible)."""
        return keyed_hash(self._visitor_key, visitor_id, length)

    def order_hash(self, order_id: str) -> str:
        """A keyed hash of an order id: sequential ids cannot be tried against it."""
        return keyed_hash(self._order_key, order_id, 32)

    def customer_cart(self, customer_id: str) -> str:
        """The cart id of a customer's cart: a keyed hash of *customer_id*.

        The same on every device of that customer; the id itself is never
        stored. Keyed by the first secret key: after a rotation, a sign-in
        starts the customer's cart afresh (a browser still signed in keeps its
        cart until the cookie expires).
        """
        return CUSTOMER_CART + keyed_hash(self._customer_key, customer_id, 32)

    def dump_cart(self, cart_id: str, now: int) -> str:
        """Sign a cart id with the time it was issued or renewed."""
        return self._cart.sign(f"{cart_id}.{now}").decode("ascii")

    def load_cart(self, value: str | None, now: int, max_age: int) -> str | None:
        """Return the cart id of a valid, unexpired cart cookie value, else ``None``.

        The id is a random one (an anonymous cart) or, once the browser signed
        in, a :meth:`customer_cart` id; only a signed value names either.
        """
        fields = _unsign(self._cart, value, 2)
        if fields is None or not (
            _ID.fullmatch(fields[0]) or _CUSTOMER_ID.fullmatch(fields[0])
        ):
            return None
        return fields[0] if _fresh(fields[1], now, max_age) else None

    def dump_visitor(self, state: VisitorState) -> str:
        """Sign a visitor state; ``last_seen`` is the signing time."""
        payload = (
            f"{state.visitor_id}.{state.visits}.{state.first_seen}.{state.last_seen}"
        )
        return self._visitor.sign(payload).decode("ascii")

    def load_visitor(
        self, value: str | None, now: int, max_age: int
    ) -> VisitorState | None:
        """Return the state in a valid visitor cookie not idle over *max_age*."""
        fields = _unsign(self._visitor, value, 4)
        if fields is None or not _ID.fullmatch(fields[0]):
            return None
        visitor_id, visits, first_seen, last_seen = fields
        if not (_INT.fullmatch(visits) and _INT.fullmatch(first_seen)):
            return None
        if not _fresh(last_seen, now, max_age) or int(visits) < 1:
            return None
        return VisitorState(visitor_id, int(visits), int(first_seen), int(last_seen))

    def dump_promotion(self, attribution: Attribution) -> str:
        """Sign a promotion code with its landing time."""
        payload = f"{attribution.code}~{attribution.landed_at}"
        return self._promotion.sign(payload).decode("ascii")

    def load_promotion(
        self, value: str | None, now: int, max_age: int
    ) -> Attribution | None:
        """Return the attribution in a valid promotion cookie inside its window."""
        if not value:
            return None
        try:
            payload = self._promotion.unsign(value).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
        code, _, landed_at = payload.partition("~")
        if not PROMOTION_CODE.fullmatch(code) or not _fresh(landed_at, now, max_age):
            return None
        return Attribution(code, int(landed_at))


def keyed_hash(key: bytes, value: str, length: int = 12) -> str:
    """An HMAC-SHA256 of *value* under *key*, hex, cut to *length* characters."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]


def cookie_name(base: str, secure: bool) -> str:
    """Return the cookie name to use: ``__Host-`` prefixed on secure responses."""
    return HOST_PREFIX + base if secure else base


def set_cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """Build a ``Set-Cookie`` value: HttpOnly, SameSite=Lax, Path=/, no Domain."""
    return dump_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def delete_cookie_header(name: str, *, secure: bool) -> str:
    """Build a ``Set-Cookie`` value that makes the browser drop cookie *name*."""
    return dump_cookie(
        name,
        "",
        max_age=0,
        expires=0,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def _unsign(signer: Signer, value: str | None, count: int) -> list[str] | None:
    if not value or len(value) > 512:
        return None
    try:
        payload = signer.unsign(value).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None
    fields = payload.split(".")
    return fields if len(fields) == count else None


def _fresh(timestamp: str, now: int, max_age: int) -> bool:
    if not _INT.fullmatch(timestamp):
        return False
    return -_CLOCK_SKEW <= now - int(timestamp) <= max_age
