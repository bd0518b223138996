"""Time the cookie work of every request against the general-purpose helpers.

:func:`qscookies.core.http.read_cookies` against werkzeug's ``parse_cookie``, the
codec's visitor check against itsdangerous's ``Signer.unsign`` of the same value,
and the codec's ``Set-Cookie`` against werkzeug's ``dump_cookie``.

Run: ``python bench/cookies.py [--number N]``. The header is a typical one: the
cart and visitor cookies of qscookies (real signed values) and an analytics cookie.
Prints the median and the fastest of 7 runs, per call.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

from itsdangerous import Signer
from werkzeug.http import dump_cookie
from werkzeug.http import parse_cookie

from qscookies.codec import CookieCodec
from qscookies.core.http import read_cookies
from qscookies.setcookie import set_cookie_header

SECRET = "bench-secret-key-0123456789abcdef"
#: A cart cookie as the codec builds it, and the same through werkzeug.
COOKIE = ("qs_cart", "xjyZ9XJwVcwU-qD1c83yVw.1800000000.PMGzyLzzPN5g05invaKcaU")
OURS = {"max_age": 2592000, "secure": False}
WERKZEUG = {**OURS, "path": "/", "httponly": True, "samesite": "Lax"}


def typical_header() -> str:
    """``qs_cart``, ``qs_visitor`` and ``_ga``, as a browser sends them."""
    cart = Signer(SECRET, salt="cart").sign("xjyZ9XJwVcwU-qD1c83yVw.1800000000")
    visitor = Signer(SECRET, salt="visitor").sign(
        "EEHsskdGpUe4PncoNWU_3w.1800000000.1800000000.3"
    )
    return "; ".join(
        [
            "qs_cart=" + cart.decode(),
            "qs_visitor=" + visitor.decode(),
            "_ga=GA1.2.1234567890.1700000000",
        ]
    )


def per_call(function: Callable[[], object], number: int) -> list[float]:
    """Seconds per call of *function*, for each of 7 runs of *number* calls."""
    return [timeit.timeit(function, number=number) / number for _ in range(7)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=100_000)
    args = parser.parse_args()
    header = typical_header()
    assert read_cookies(header) == dict(parse_cookie(header))
    print(f"Cookie: {header} ({len(header)} chars)")
    codec = CookieCodec(SECRET)
    signer = Signer(SECRET, salt="qscookies.visitor")
    visitor = signer.sign("EEHsskdGpUe4PncoNWU_3w.3.1800000000.1800000000").decode()
    assert codec.load_visitor(visitor, 1800000000, 86400) is not None
    for name, function in [
        ("qscookies.core.http.read_cookies", lambda: read_cookies(header)),
        ("werkzeug.http.parse_cookie", lambda: parse_cookie(header)),
        ("parse_cookie(cls=dict)", lambda: parse_cookie(header, cls=dict)),
        ("codec.load_visitor", lambda: codec.load_visitor(visitor, 1800000000, 1)),
        ("itsdangerous Signer.unsign", lambda: signer.unsign(visitor)),
        ("codec.set_cookie_header", lambda: set_cookie_header(*COOKIE, **OURS)),
        ("werkzeug.http.dump_cookie", lambda: dump_cookie(*COOKIE, **WERKZEUG)),
    ]:
        runs = per_call(function, args.number)
        print(
            f"{name:30} median {statistics.median(runs) * 1e6:5.2f} us"
            f"   fastest {min(runs) * 1e6:5.2f} us"
        )


if __name__ == "__main__":
    main()
