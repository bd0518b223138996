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

# Digit runs of 13 to 19 digits, single spaces or dashes allowed between digits.
_DIGIT_RUN = re.compile(r"\d(?:[ \-]?\d){12,18}(?![ \-]?\d)")


def looks_like_card_number(text: str) -> bool:
    """Tell whether *text* holds a Luhn-valid run of 13-19 digits.

    Such values are refused wherever qscookies would store or sign them (cart skus,
    promotion codes), so that no payment card number ends up in Redis or a cookie.
    Digits may be grouped by single spaces or dashes, as card numbers are printed.
    """
    for match in _DIGIT_RUN.finditer(text):
        start = match.start()
        if start and text[start - 1].isdigit():
            continue  # part of a longer number, not a card number
        digits = re.sub(r"\D", "", match.group())
        if _luhn_valid(digits):
            return True
    return False


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
