"""Pure HTTP helpers of the request core (provisional; see the ci branch)."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote_plus


def read_cookies(header: str | None) -> dict[str, str]:
    """Parse a ``Cookie`` header (latin-1 text); first occurrence of a name wins."""
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for part in header.replace(",", ";").split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in cookies and value.strip().isascii():
            cookies[name] = value.strip().strip('"')
    return cookies


def clean_location(raw_path: str, query: str, params: Collection[str]) -> str | None:
    """The same-site URL without the promotion parameters, else byte for byte."""
    parts = query.split("&")
    kept = [p for p in parts if unquote_plus(p.partition("=")[0]) not in params]
    if len(kept) == len(parts):
        return None
    location = "/" + raw_path.lstrip("/")
    return location + ("?" + "&".join(kept) if kept else "")


def raw_target(
    script_name: str, path_info: str, query_string: str, raw_uri: str | None
) -> tuple[str, str]:
    """The raw path and query: the path from the request URI when it agrees."""
    from urllib.parse import quote
    from urllib.parse import unquote

    path = script_name + path_info
    if raw_uri and raw_uri.startswith("/"):
        raw = raw_uri.partition("?")[0]
        if unquote(raw, encoding="latin-1") == path:
            return raw, query_string
    raw_bytes = path.encode("latin-1", "replace")
    return quote(raw_bytes, safe="/:@!$&'()*+,;=-._~"), query_string
