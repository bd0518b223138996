"""What both test clients share: the clock a test moves, and the readers of
the state a client's own cookies stand for.

:class:`~qscookies.testing.ShopClient` (WSGI) and
:class:`~qscookies.testclient.ASGIShopClient` (ASGI) mix these in; each builds
the request context of its door from its cookies (``_context``), and the readers
below answer from it, through the middleware's real codec.

.. versionadded:: 0.2
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .setcookie import cookie_name

if TYPE_CHECKING:
    from .context import AsyncContext
    from .context import Context
    from .core.consent import Decision
    from .core.visits import Visitor
    from .settings import Settings

__all__ = [
    "Clock",
    "StateReaders",
    "our_cookies",
]


class Clock:
    """A middleware's clock that a test moves instead of sleeping.

    Both test clients own one: they set the middleware's public
    :attr:`~qscookies.door.Door.clock` to :meth:`now`, so the codec's expiry
    checks, the visit rules and the store's breaker all see the moved time.
    """

    def __init__(self) -> None:
        #: Seconds the clock is ahead of real time.
        self.offset = 0.0

    def now(self) -> float:
        """The middleware's clock: real time plus :attr:`offset` (Unix seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the middleware's clock forward, e.g. past a visit gap or an expiry.

        Cookies keep their signed timestamps, so the middleware sees them as
        older (or expired) on the next request, exactly as after a real wait.

        :param seconds: how far to move, at least 0.
        :raises ValueError: *seconds* is negative.
        """
        if seconds < 0:
            raise ValueError("time only moves forward: seconds must be at least 0")
        self.offset += seconds


def our_cookies(
    settings: Settings, secure: bool, get: Callable[[str], str | None]
) -> dict[str, str]:
    """Our cookies among a client's, ``{name: value}``, as a ``Cookie`` header
    would carry them.

    :param secure: the client talks HTTPS (``__Host-`` names).
    :param get: a cookie's value by name, ``None`` when the client has none.
    """
    found = {}
    for base in settings.cookie_names:
        name = cookie_name(base, secure)
        value = get(name)
        if value is not None:
            found[name] = value
    return found


class StateReaders:
    """The readers both test clients have: what the middleware makes of the
    client's cookies now. Reading sends no request and changes nothing."""

    def _context(self) -> Context | AsyncContext:
        """A request context built from the client's cookies, without a request
        (each client builds its own door's)."""
        raise NotImplementedError

    def promotion(self) -> str | None:
        """The promotion code attributed to this client now, or ``None``."""
        return self._context().promotion

    def tracking_allowed(self) -> bool:
        """Whether this client is tracked (by the consent mode and its choice)."""
        return self._context().tracking_allowed

    def tracking_choice(self) -> Decision | None:
        """This client's recorded choice, ``"in"``, ``"out"``, or ``None``."""
        return self._context().tracking_choice

    def visitor(self) -> Visitor | None:
        """What the middleware knows of this client from its visitor cookie.

        :return: the visitor as of the last response (``visits`` counts the
            visits so far), or ``None`` without a valid, unexpired visitor cookie
            (no request yet, opted out, idle past ``visitor_max_age``, or, with
            ``consent="opt-in"``, past its span since the consent).
        """
        visitor = self._context().visitor
        return visitor if visitor.visits else None
