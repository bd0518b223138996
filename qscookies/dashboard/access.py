"""Who may open the dashboard: an allowed network, and the token.

Every request must come from an allowed network (``REMOTE_ADDR`` only; a
``X-Forwarded-For`` header is never believed) and carry the token: as
``Authorization: Bearer <token>``, or once as ``?token=<token>``, which
:class:`Gate` trades for an ``HttpOnly``, ``SameSite=Strict`` session cookie and
a ``303`` to the same URL without it. The cookie holds no token, only its issue
time signed with a key derived from the token (itsdangerous
``TimestampSigner``); it carries ``Max-Age`` and is refused once older than
``session_max_age``, whatever the browser does. Anything else gets the same
``403`` (:data:`FORBIDDEN_BODY`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from collections.abc import Sequence
from urllib.parse import urlencode

from itsdangerous import BadSignature
from itsdangerous import TimestampSigner
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from ..errors import ConfigurationError

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_NETWORKS",
    "FORBIDDEN_BODY",
    "MIN_TOKEN_LENGTH",
    "SESSION_MAX_AGE",
    "Gate",
    "forbidden",
]

#: Client networks allowed by default: loopback and the private ranges.
DEFAULT_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
)

#: Name of the cookie the ``?token=`` is traded for.
COOKIE_NAME = "qs_dashboard"

#: The shortest token accepted.
MIN_TOKEN_LENGTH = 16

#: How long the session cookie is good for, in seconds (12 hours).
SESSION_MAX_AGE = 12 * 60 * 60

#: The body of every 403: how to get in, and nothing about why not.
FORBIDDEN_BODY = """\
403 Forbidden

This is an internal dashboard. To open it you need its access token, from
whoever runs it, and a connection from a network the dashboard allows (such as
the office network or its VPN). Then either:

  - send the token with every request, as the header
        Authorization: Bearer <token>
  - or open the address once with ?token=<token> added: the token is then
    traded for a cookie that keeps this browser in for a limited time.
"""

_SESSION_SALT = "qscookies.dashboard.session"
_SESSION_VALUE = b"marketing"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _SessionSigner(TimestampSigner):
    """itsdangerous's ``TimestampSigner``, reading the time from *clock*."""

    def __init__(self, secret_key: bytes, clock: Callable[[], float]) -> None:
        super().__init__(secret_key, salt=_SESSION_SALT, digest_method=hashlib.sha256)
        self.clock = clock

    def get_timestamp(self) -> int:
        """Now, by the injected clock."""
        return int(self.clock())


class Gate:
    """The dashboard's door keeper: the network, the token, the session cookie.

    :param token: the secret every request must show, at least
        :data:`MIN_TOKEN_LENGTH` characters. Compared in constant time.
    :param allowed_networks: client networks (CIDR), matched against
        ``REMOTE_ADDR``.
    :param session_max_age: seconds the cookie traded for ``?token=`` is good for.
    :param clock: the time as POSIX seconds.
    :raises ConfigurationError: a short token, a bad network or max age.
    """

    def __init__(
        self,
        token: str,
        allowed_networks: Sequence[str],
        session_max_age: int,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            raise ConfigurationError(
                f"token must be a string of at least {MIN_TOKEN_LENGTH} characters"
            )
        if (
            isinstance(session_max_age, bool)
            or not isinstance(session_max_age, int)
            or session_max_age <= 0
        ):
            raise ConfigurationError(
                "session_max_age must be a positive number of seconds"
            )
        if isinstance(allowed_networks, str):
            raise ConfigurationError("allowed_networks must be a list of networks")
        try:
            networks = [ipaddress.ip_network(net) for net in allowed_networks]
        except ValueError as error:
            raise ConfigurationError(f"allowed_networks: {error}") from error
        #: The networks a client must be in.
        self.allowed_networks: tuple[Network, ...] = tuple(networks)
        #: Seconds a session cookie is good for.
        self.session_max_age = session_max_age
        self._token = token.encode()
        self._signer = _SessionSigner(self._token, clock)

    def authorize(self, request: Request) -> Response | None:
        """``None`` when the request may pass, else the response to send."""
        if not self._address_allowed(request.remote_addr):
            return forbidden()
        offered = request.args.get("token")
        if offered is not None:
            if request.method not in ("GET", "HEAD") or not self._token_ok(offered):
                return forbidden()
            return self._trade_token(request)
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._token_ok(bearer.strip()):
            return None
        if self._session_ok(request.cookies.get(COOKIE_NAME, "")):
            return None
        return forbidden()

    def _session_ok(self, cookie: str) -> bool:
        """Whether *cookie* was issued by us, less than the max age ago."""
        if not cookie:
            return False
        try:
            value = self._signer.unsign(cookie, max_age=self.session_max_age)
        except (BadSignature, UnicodeError):
            return False
        return hmac.compare_digest(value, _SESSION_VALUE)

    def _address_allowed(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.allowed_networks)

    def _token_ok(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._token)

    def _trade_token(self, request: Request) -> Response:
        """Answer ``?token=`` with the cookie and a ``303`` to the clean URL."""
        query = [
            (name, value)
            for name, value in request.args.items(multi=True)
            if name != "token"
        ]
        location = (request.script_root + request.path) or "/"
        if query:
            location += "?" + urlencode(query)
        response = Response(status=303, headers={"Location": location})
        response.set_cookie(
            COOKIE_NAME,
            self._signer.sign(_SESSION_VALUE).decode(),
            max_age=self.session_max_age,
            path=request.script_root or "/",
            secure=request.scheme == "https",
            httponly=True,
            samesite="Strict",
        )
        return response


def forbidden() -> Response:
    """The one ``403`` every refusal gets."""
    return Response(FORBIDDEN_BODY, status=403, mimetype="text/plain")
