"""Privacy guards: opt-out signals, card-number refusal, URL scrubbing, log hygiene.

Pure functions over strings and the WSGI environ's plain values; nothing here talks
to Redis or builds responses.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

#: What may stand between the digit groups of a printed or pasted card number,
#: alone or in runs ("4111 - 1111"): these and any white space.
CARD_SEPARATORS = "-._/,"

# Digit groups joined by separators. The digit and separator classes are
# disjoint, so matching takes linear time.
_SEPARATED_DIGITS = re.compile(rf"\d+(?:[\s{re.escape(CARD_SEPARATORS)}]+\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")


def looks_like_card_number(text: str) -> bool:
    """Tell whether *text* holds a Luhn-valid run of 13-19 digits.

    Such values are refused wherever qscookies would store or sign them (cart skus,
    promotion codes, order ids), so that no payment card number ends up in Redis
    or a cookie.

    A run is digits in one piece or in groups separated by white space or
    :data:`CARD_SEPARATORS`, alone or in runs: ``4111 1111 1111 1111``,
    ``4111.1111.1111.1111``, ``4111/1111/1111/1111``, ``4111 - 1111 - 1111 -
    1111``. Any other character (a letter, ``+``, ``:``…) ends a run. A run of
    13-19 digits that passes the Luhn check is a card number. So is a stretch of
    consecutive groups of at least 3 digits inside a longer run (card numbers are
    printed in groups of 3 to 6), so that one is still found beside a quantity,
    an expiry date or a security code (``2 4111 1111 1111 1111 12/25``), while
    groups of 1-2 digits (days, months, cents, sizes) never make one of their own
    with their neighbours. A group is never split: more than 19 digits in one
    piece is not a card number.

    .. versionchanged:: 0.1
        Any run of separators, not only single spaces or dashes.
    """
    for match in _SEPARATED_DIGITS.finditer(text):
        groups = _DIGIT_GROUP.findall(match.group())
        if _card_digits("".join(groups)):
            return True
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                if len(group) < 3 or len(digits) + len(group) > 19:
                    break
                digits += group
                if _card_digits(digits):
                    return True
    return False


def _card_digits(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _luhn_valid(digits)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def opt_out_signal(environ: Mapping[str, Any], *, honor_dnt: bool) -> bool:
    """Tell whether the request's headers ask not to be tracked.

    ``Sec-GPC: 1`` (Global Privacy Control) always does; ``DNT: 1`` does when
    *honor_dnt* is true.
    """
    if environ.get("HTTP_SEC_GPC", "").strip() == "1":
        return True
    return honor_dnt and environ.get("HTTP_DNT", "").strip() == "1"


def is_same_origin(environ: Mapping[str, Any]) -> bool:
    """Tell whether a state-changing request comes from the shop's own pages.

    Trusts ``Sec-Fetch-Site`` where the browser sends it, else compares the
    ``Origin`` (or ``Referer``) host with the request's ``Host``. A request with
    none of them is refused.
    """
    fetch_site = str(environ.get("HTTP_SEC_FETCH_SITE", ""))
    if fetch_site:
        return fetch_site == "same-origin"
    source = str(environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER") or "")
    if not source or source == "null":
        return False
    host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
    return urlsplit(source).netloc.lower() == host.lower()


def split_query(query_string: str, names: Iterable[str]) -> tuple[str, dict[str, str]]:
    """Remove the parameters *names* from a query string.

    :return: the query string without them, and the removed ``name: value`` pairs
        (the first value of each).
    """
    wanted = set(names)
    kept: list[tuple[str, str]] = []
    removed: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name in wanted:
            removed.setdefault(name, value)
        else:
            kept.append((name, value))
    return (urlencode(kept) if removed else query_string), removed


def scrub_location(location: str, request_host: str, names: Iterable[str]) -> str:
    """Drop promotion parameters from a redirect to another host.

    A ``Location`` on the request's own host (or relative) is returned unchanged.
    """
    parts = urlsplit(location)
    if not parts.netloc or parts.netloc.lower() == request_host.lower():
        return location
    query, removed = split_query(parts.query, names)
    return urlunsplit(parts._replace(query=query)) if removed else location


def truncate_ip(address: str) -> str:
    """Cut a client address down for diagnostic logs: IPv4 to /24, IPv6 to /48.

    Anything that does not parse as an address becomes ``"-"``.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "-"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def keyed_hash(key: bytes, value: str, length: int = 12) -> str:
    """A keyed hash of an id, in place of the id in logs and sketches.

    Without *key* (derived from the secret key) the hash cannot be linked back to
    the id, even by someone holding both the cookie and the stored aggregates.
    """
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]
