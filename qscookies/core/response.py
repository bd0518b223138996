"""The response rules: our headers on the app's response, or our ``503`` instead.

No I/O, and no WSGI or ASGI: :meth:`~qscookies.core.request.RequestState.finish`
hands :func:`response_headers` the status and headers the application answered,
and a door sends what comes back; :func:`unavailable` is what it answers in
place of the app's response when the store failed a write the app needed.
"""

from __future__ import annotations

from ..privacy import scrub_location
from ..settings import Settings
from .headers import add_vary
from .headers import shared_cacheable
from .jar import CookieJar
from .messages import UNAVAILABLE_BODY
from .messages import Answer
from .messages import Headers


def response_headers(
    status: int, headers: Headers, jar: CookieJar, settings: Settings, host: str
) -> Headers:
    """The response headers with ours added, never weakening the app's own.

    ``Set-Cookie`` for what is new, renewed or dropped; ``Vary: Cookie`` when
    the response depends on our cookies; ``Cache-Control: private`` when we
    set a cookie and the app set no ``Cache-Control``; a ``Referrer-Policy``
    when the app set none; promotion parameters scrubbed from a redirect to
    another host. A response the app marked cacheable by shared caches
    (``public`` or ``s-maxage``) never carries an id of ours: those cookies
    wait for the next response.

    :param status: the app's status code.
    :param headers: the app's headers (not changed: a new list is answered).
    :param jar: the request's cookies, whose ``Set-Cookie`` headers are taken.
    :param settings: the referrer policy and the promotion parameters.
    :param host: the request's ``Host`` (a redirect elsewhere is scrubbed).
    """
    out = list(headers)
    names: dict[str, int] = {}
    at = 0
    for name, _ in out:  # a loop: a comprehension is a call, enumerate an object
        names[name.lower()] = at
        at += 1
    control = out[names["cache-control"]][1] if "cache-control" in names else ""
    shared = bool(control) and shared_cacheable(control)
    jar.sent = True  # from here on, no cookie can be set
    cookies = jar.headers(ids=not shared) if jar.outgoing else []
    if cookies:
        out.extend([("Set-Cookie", cookie) for cookie in cookies])
    if cookies or jar.accessed:
        vary = names.get("vary")
        if vary is None:
            out.append(("Vary", "Cookie"))
        else:
            add_vary(out, vary)
    if cookies and not control:
        out.append(("Cache-Control", "private"))
    policy = settings.referrer_policy
    if policy and "referrer-policy" not in names:
        out.append(("Referrer-Policy", policy))
    index = names.get("location")
    if index is not None and 300 <= status < 400:
        location = scrub_location(out[index][1], host, settings.landing_params)
        out[index] = (out[index][0], location)
    return out


def unavailable(retry_after: int) -> Answer:
    """The ``503`` answered when the store failed a write the app needed.

    :param retry_after: its ``Retry-After``, seconds.
    """
    return Answer(
        503,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(UNAVAILABLE_BODY))),
            ("Retry-After", str(retry_after)),
            ("Cache-Control", "no-store"),
        ],
        UNAVAILABLE_BODY,
    )
