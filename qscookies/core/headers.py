"""Header rules of the request core: same-origin checks, caching, ``Vary``."""

from __future__ import annotations

from .messages import Headers
from .messages import Request


def says_one(value: str) -> bool:
    """Tell whether a privacy signal header (``Sec-GPC``, ``DNT``) says ``1``.

    Duplicate headers arrive joined by commas (``1, 0``; WSGI servers join
    them, and the ASGI door does the same): the signal is on when any of the
    values is ``1``, so a second header can never switch an opt-out off.
    """
    return "1" in value and any(part.strip() == "1" for part in value.split(","))


def cross_origin(request: Request) -> str | None:
    """Why a state-changing request is not taken as one from the shop's own pages.

    Trusts ``Sec-Fetch-Site`` where the browser sends it, else compares the
    ``Origin`` (or ``Referer``) host with the request's ``Host``. A request with
    none of them is refused.

    :return: ``None`` for a same-origin request, else the reason, one line for
        the body of the ``403``.
    """
    if request.fetch_site:
        if request.fetch_site == "same-origin":
            return None
        return "the request did not come from this site's own pages."
    source = request.origin or request.referer
    if not source or source == "null":
        return (
            "the request carries neither an Origin nor a Referer header,"
            " so it cannot be told to come from this site."
        )
    if netloc(source) == request.host.lower():
        return None
    return "the request came from another site."


#: Methods that change nothing (a cross-site one is a plain link or image).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


#: ``Sec-Fetch-Site`` values of a request the shop's own pages (or the
#: visitor, typing or bookmarking) made; ``same-site`` is not one of them.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def cross_site_unsafe(request: Request) -> bool:
    """Tell whether a state-changing request comes from another origin.

    ``Sec-Fetch-Site`` other than ``same-origin`` (or ``none``) where the
    browser sends it, else an ``Origin`` (``null`` included) of another host; a
    request with neither (an old browser, ``curl``) is the shop's own. A
    sibling subdomain is another origin: its form (``same-site``) arrives with
    our ``SameSite=Lax`` cookies, a truly cross-site one without them though
    the browser may hold them.
    """
    if request.method in SAFE_METHODS:
        return False
    if request.fetch_site:
        return request.fetch_site not in OWN_FETCH_SITES
    origin = request.origin
    return bool(origin) and (origin == "null" or netloc(origin) != request.host.lower())


def netloc(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return ""
    return rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].lower()


def back(request: Request) -> str:
    """Where the privacy switch sends the browser: the page it came from."""
    referer = request.referer
    if not referer or netloc(referer) != request.host.lower():
        return "/"
    rest = referer.partition("://")[2]
    path = rest[len(rest.split("/", 1)[0]) :].split("#", 1)[0]
    # One leading slash: browsers read "//host" and "/\host" as another host.
    return "/" + path.lstrip("/\\")


def shared_cacheable(control: str) -> bool:
    directives = {part.strip().split("=", 1)[0].lower() for part in control.split(",")}
    return bool(directives & {"public", "s-maxage"}) and not (
        directives & {"private", "no-store"}
    )


def add_vary(headers: Headers, index: int | None) -> None:
    if index is None:
        headers.append(("Vary", "Cookie"))
        return
    name, value = headers[index]
    fields = {part.strip().lower() for part in value.split(",")}
    if "cookie" not in fields and "*" not in fields:
        headers[index] = (name, f"{value}, Cookie")
