"""Signed values: itsdangerous's signatures, made with one call.

The one signing primitive of the cookie codec and of checkout tokens; each
purpose signs with its own salt.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence

from itsdangerous import Signer


class MacSigner:
    """itsdangerous's signed values (``payload.signature``), made with one call.

    The signature is itsdangerous's own: HMAC-SHA1 under the key its ``Signer``
    derives from a secret key and the salt, in base64url without padding, so a
    value made here verifies in an itsdangerous ``Signer`` of the same keys and
    salt, and the other way round. What differs is the cost: the keys are
    derived once, and each MAC is one :func:`hmac.digest` call instead of an
    HMAC object built and fed in Python, a third of the time per cookie
    (``bench/cookies.py``). A signature that is not the canonical base64 of the
    MAC is refused.

    :param keys: the secret keys, newest first: the first signs, all verify.
    :param salt: the purpose of the values (each purpose its own salt).
    """

    def __init__(self, keys: Sequence[str | bytes], salt: str) -> None:
        raw = [key.encode() if isinstance(key, str) else key for key in keys]
        signer = Signer(raw, salt=salt)
        self._keys = [signer.derive_key(key) for key in signer.secret_keys]

    def sign(self, payload: str) -> str:
        """*payload* and its signature under the first key."""
        return f"{payload}.{mac(self._keys[0], payload)}"

    def unsign(self, value: str) -> str | None:
        """The payload of *value* when a key signed it, else ``None``."""
        payload, dot, signature = value.rpartition(".")
        if not dot or not value.isascii():
            return None
        for key in self._keys:
            if hmac.compare_digest(mac(key, payload), signature):
                return payload
        return None


def mac(key: bytes, payload: str) -> str:
    """The signature of *payload* under a derived *key*: HMAC-SHA1, base64url."""
    digest = hmac.digest(key, payload.encode("ascii"), "sha1")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
