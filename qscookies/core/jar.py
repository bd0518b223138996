"""The cookies of ours in one request: what came in, what goes out."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import HeadersSentError
from ..memo import Memo
from ..setcookie import HOST_PREFIX
from ..setcookie import cookie_name
from ..setcookie import delete_cookie_header
from ..setcookie import set_cookie_header
from ..settings import OPT_OUT_CHOICE_MAX_AGE
from ..settings import Settings
from .http import read_cookies

#: Lifetime of the opt-out cookie of earlier versions (browsers cap cookies at
#: 400 days).
OPT_OUT_MAX_AGE = OPT_OUT_CHOICE_MAX_AGE

#: What a jar holds until it holds something: one empty mapping shared by
#: every jar, read-only (a write raises ``TypeError``), so that no request
#: can write into another's: a jar makes a dict of its own on its first write.
_EMPTY: dict[Any, Any] = MappingProxyType({})  # type: ignore[assignment]

#: A header's cookies, ``{name: first value}``, and the later values of the
#: names sent more than once (see :func:`~qscookies.core.http.read_cookies`).
Parsed = tuple[Mapping[str, str], Mapping[str, tuple[str, ...]]]
#: What recent ``Cookie`` headers say, parsed once (read-only, shared): a
#: browser sends the same header on every page view of a visit, until one of
#: its cookies changes. Only headers of at most :data:`REMEMBERED_HEADER`
#: characters are kept, so the memo holds a few megabytes at most.
_PARSED: Memo[str, Parsed] = Memo(512)
REMEMBERED_HEADER = 2048


class CookieJar:
    """Reads our cookies from a ``Cookie`` header and collects the ones to send.

    :param settings: the cookie names and lifetimes.
    :param header: the request's ``Cookie`` header (latin-1 text), or ``None``.
    :param secure: cookies are ``Secure`` and named with the ``__Host-`` prefix.
    :param now: Unix time of the request, from the middleware's clock (the
        ``Expires`` of what is sent).
    """

    __slots__ = (
        "_incoming",
        "_max_ages",
        "_now",
        "_prefix",
        "_repeats",
        "_settings",
        "accessed",
        "outgoing",
        "secure",
        "sent",
    )

    def __init__(
        self, settings: Settings, header: str | None, secure: bool, now: int
    ) -> None:
        self._settings = settings
        self._now = now
        #: Cookies are sent ``Secure`` with the ``__Host-`` prefix.
        self.secure = secure
        self._prefix = HOST_PREFIX if secure else ""
        #: The response depends on our cookies (it must vary on ``Cookie``).
        self.accessed = False
        #: The response headers went out: no new cookie can be set (the
        #: response marks it, see :func:`~qscookies.core.response.response_headers`).
        self.sent = False
        # Most requests send each cookie once and set none: the shared empty
        # mappings stand in until a jar has something of its own.
        self._incoming: Mapping[str, str] = _EMPTY
        self._repeats: Mapping[str, tuple[str, ...]] = _EMPTY
        if header:
            parsed = _PARSED.get(header)
            self._incoming, self._repeats = parsed or _parse(header)
        #: What this response sends so far, ``{base: value}`` (``None``: drop
        #: it); read it, change it through :meth:`set` and :meth:`drop`.
        self.outgoing: dict[str, str | None] = _EMPTY
        self._max_ages: dict[str, int] = _EMPTY

    def get(self, base: str) -> str | None:
        """The value of our cookie *base* (its name without ``__Host-``)."""
        return self._incoming.get(self._prefix + base)

    def get_all(self, base: str) -> list[str]:
        """Every distinct value of our cookie *base*, in the order received.

        More than one when a cookie of the same name was planted beside ours
        (from a sibling subdomain with ``Domain=``, or under a longer
        ``Path``): without the ``__Host-`` prefix (plain HTTP) the browser
        sends both, and the planted one often first. The rules of each
        cookie decide which to trust; none may simply take the first.
        """
        name = self._prefix + base
        first = self._incoming.get(name)
        if first is None:
            return []
        values = [first]
        for value in self._repeats.get(name, ()):
            if value not in values:
                values.append(value)
        return values

    def set(self, base: str, value: str, max_age: int | None = None) -> None:
        """Send cookie *base* with *value* (a signed value, or ``"1"``).

        :param max_age: its lifetime, when not the one of its kind (a visitor
            cookie of ``"opt-in"`` mode lives what is left of its span).
        """
        self._writable()[base] = value
        if max_age is not None:
            if self._max_ages is _EMPTY:
                self._max_ages = {}
            self._max_ages[base] = max_age

    def _writable(self) -> dict[str, str | None]:
        """The cookies to send, as a dict of this jar's own (never the shared
        empty mapping)."""
        outgoing = self.outgoing
        if outgoing is _EMPTY:
            outgoing = self.outgoing = {}
        return outgoing

    def check_unsent(self, what: str) -> None:
        """Refuse a change the browser could no longer learn of.

        :param what: what was about to happen, for the message.
        :raises HeadersSentError: the response headers went out.
        """
        if self.sent:
            raise HeadersSentError(
                f"{what} after the response started; the browser could never"
                " get its cookie. Do it before responding."
            )

    def drop(self, *bases: str) -> None:
        """Make the browser drop these cookies (only those it sent)."""
        for base in bases:
            if self.get(base) is not None:
                self._writable()[base] = None
            elif base in self.outgoing:
                self._writable().pop(base)

    def headers(self, *, ids: bool) -> list[str]:
        """The ``Set-Cookie`` values of :attr:`outgoing` (the response that
        sends them marks the jar :attr:`sent`).

        :param ids: send the cookies that carry ids (visitor, promotion, cart);
            without, only drops and the choice cookies go (the response may be
            stored by a shared cache).
        """
        if not self.outgoing:
            return []
        settings = self._settings
        max_ages = {
            settings.cart_cookie: settings.cart_max_age,
            settings.visitor_cookie: settings.visitor_lifetime,
            settings.promotion_cookie: settings.promotion_max_age,
            settings.choice_cookie: settings.choice_max_age,
            settings.opt_out_cookie: OPT_OUT_MAX_AGE,
            **self._max_ages,
        }
        choices = (settings.choice_cookie, settings.opt_out_cookie)
        headers = []
        for base, value in self.outgoing.items():
            name = cookie_name(base, self.secure)
            if value is None:
                headers.append(delete_cookie_header(name, secure=self.secure))
            elif ids or base in choices:
                headers.append(
                    set_cookie_header(
                        name,
                        value,
                        max_age=max_ages[base],
                        secure=self.secure,
                        now=self._now,
                    )
                )
        return headers


def _parse(header: str) -> Parsed:
    """What *header* says, read-only, remembered when it is not too long."""
    repeats: dict[str, list[str]] = {}
    incoming = read_cookies(header, repeats)
    later = {name: tuple(values) for name, values in repeats.items()}
    parsed = (MappingProxyType(incoming), MappingProxyType(later) if later else _EMPTY)
    if len(header) <= REMEMBERED_HEADER:
        _PARSED.keep(header, parsed)
    return parsed
