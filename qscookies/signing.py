"""Signed values: itsdangerous's signatures, made with one call.

The one signing primitive of the cookie codec and of checkout tokens; each
purpose signs with its own salt.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Callable
from collections.abc import Sequence
from typing import Generic
from typing import TypeVar

from itsdangerous import Signer

from .memo import Memo

try:  # CPython's own SHA1: a state copy is a memcpy, not an OpenSSL context
    from _sha1 import sha1 as _sha1  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - a build without the builtin hashes
    _sha1 = hashlib.sha1

T = TypeVar("T")
#: The longest signed value read; longer ones are refused unread (a cookie
#: value of ours is under 200 characters).
MAX_SIGNED = 512
#: The most verified values a :class:`SignedReader` remembers.
VERIFIED_MAX = 4096


class MacSigner:
    """itsdangerous's signed values (``payload.signature``), made with one call.

    The signature is itsdangerous's own: HMAC-SHA1 under the key its ``Signer``
    derives from a secret key and the salt, in base64url without padding, so a
    value made here verifies in an itsdangerous ``Signer`` of the same keys and
    salt, and the other way round. What differs is the cost: the keys are
    derived once, with their padded blocks hashed (:class:`Mac`), so each MAC
    is a few C calls on copies of two SHA1 states instead of an HMAC object
    built and fed in Python (``bench/cookies.py``). A signature that is not
    the canonical base64 of the MAC is refused.

    :param keys: the secret keys, newest first: the first signs, all verify.
    :param salt: the purpose of the values (each purpose its own salt).
    """

    def __init__(self, keys: Sequence[str | bytes], salt: str) -> None:
        raw = [key.encode() if isinstance(key, str) else key for key in keys]
        signer = Signer(raw, salt=salt)
        self._macs = [Mac(signer.derive_key(key)) for key in signer.secret_keys]

    def sign(self, payload: str) -> str:
        """*payload* and its signature under the first key."""
        return f"{payload}.{self._macs[0](payload)}"

    def unsign(self, value: str) -> str | None:
        """The payload of *value* when a key signed it, else ``None``."""
        payload, dot, signature = value.rpartition(".")
        if not dot or not value.isascii():
            return None
        for mac in self._macs:
            if hmac.compare_digest(mac(payload), signature):
                return payload
        return None


class SignedReader(Generic[T]):
    """What the signed values of one purpose say, each verified and read once.

    A browser sends the same cookie values on every request of a visit, so
    the reader remembers what each value it verified says (at most
    :data:`VERIFIED_MAX` of them, then it forgets them all: see
    :class:`~qscookies.memo.Memo`): a value seen before costs one dict lookup
    instead of a MAC and a parse. Only values that verify are remembered, so
    a client sending junk fills nothing; the value is the whole signed string,
    so a remembered one is exactly one that verified. What a value says must
    not change with time (freshness is the caller's, on every read).

    :param signer: verifies the values.
    :param read: what a verified payload says, or ``None`` when it says
        nothing usable (refused, and not remembered).
    """

    __slots__ = ("_known", "_read", "_signer")

    def __init__(self, signer: MacSigner, read: Callable[[str], T | None]) -> None:
        self._signer = signer
        self._read = read
        self._known: Memo[str, T] = Memo(VERIFIED_MAX)

    def read(self, value: str | None) -> T | None:
        """What *value* says when a key signed it and it reads, else ``None``."""
        if not value or len(value) > MAX_SIGNED:
            return None
        said = self._known.get(value)
        if said is None:
            payload = self._signer.unsign(value)
            if payload is None:
                return None
            said = self._read(payload)
            if said is not None:
                self._known.keep(value, said)
        return said


#: base64 to base64url, for :class:`Mac`.
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
#: A key's bytes XOR the HMAC pads (RFC 2104), as translation tables.
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


class Mac:
    """HMAC-SHA1 under one key, as base64url without padding.

    The two padded key blocks are hashed once, when the key is derived; each
    MAC copies those states, a few C calls, well under half the cost of an
    :func:`hmac.digest` call (which sets up OpenSSL's HMAC for every value).
    The states are CPython's builtin SHA1 where the build has it: copying one
    is a memcpy, where an OpenSSL context costs an allocation and a third more
    instructions per MAC (``bench/instructions.py``).

    :param key: the key (hashed first when longer than SHA1's 64-byte block).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha1(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = _sha1(block.translate(_IPAD))
        self._outer = _sha1(block.translate(_OPAD))

    def __call__(self, payload: str) -> str:
        """The MAC of *payload* (ASCII), base64url without padding."""
        inner = self._inner.copy()
        inner.update(payload.encode("ascii"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        encoded = binascii.b2a_base64(outer.digest(), newline=False)
        return encoded.translate(_URL_SAFE)[:27].decode()
