"""Header rules of :mod:`qscookies.core.headers`: origin checks, caching, Vary."""

from __future__ import annotations

import pytest

from qscookies.core.headers import add_vary
from qscookies.core.headers import back
from qscookies.core.headers import cross_origin
from qscookies.core.headers import cross_site_unsafe
from qscookies.core.headers import netloc
from qscookies.core.headers import shared_cacheable
from qscookies.core.messages import Headers
from qscookies.core.messages import Request

HOST = "shop.example"


def post(**fields: str) -> Request:
    values = {"host": HOST, **fields}
    return Request(
        method="POST", path="/privacy", raw_path="/privacy", query="", https=True,
        **values,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"fetch_site": "same-origin"}, True, id="fetch-same-origin"),
        pytest.param({"fetch_site": "same-site"}, False, id="fetch-same-site"),
        pytest.param({"fetch_site": "cross-site"}, False, id="fetch-cross-site"),
        pytest.param({"fetch_site": "none"}, False, id="fetch-none"),
        pytest.param(
            {"fetch_site": "cross-site", "origin": f"https://{HOST}"},
            False,
            id="fetch-site-wins-over-origin",
        ),
        pytest.param(
            {"fetch_site": "same-origin", "origin": "https://evil.example"},
            True,
            id="fetch-site-trusted",
        ),
        pytest.param({"origin": f"https://{HOST}"}, True, id="origin"),
        pytest.param({"origin": "https://SHOP.example"}, True, id="origin-case"),
        pytest.param({"origin": "https://evil.example"}, False, id="origin-other"),
        pytest.param({"origin": f"https://{HOST}:8443"}, False, id="origin-port"),
        pytest.param({"origin": f"https://{HOST}.evil"}, False, id="origin-suffix"),
        pytest.param({"origin": "null"}, False, id="origin-null"),
        pytest.param({"origin": HOST}, False, id="origin-no-scheme"),
        pytest.param({"referer": f"https://{HOST}/cart?x=1"}, True, id="referer"),
        pytest.param({"referer": "https://evil.example/"}, False, id="referer-other"),
        pytest.param(
            {"referer": f"https://evil.example/?{HOST}"}, False, id="referer-query"
        ),
        pytest.param(
            {"origin": "https://evil.example", "referer": f"https://{HOST}/"},
            False,
            id="origin-wins-over-referer",
        ),
        pytest.param({}, False, id="nothing"),
    ],
)
def test_same_origin(fields: dict[str, str], expected: bool) -> None:
    assert (cross_origin(post(**fields)) is None) is expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"fetch_site": "same-origin"}, False, id="fetch-same-origin"),
        pytest.param({"fetch_site": "none"}, False, id="fetch-none"),
        pytest.param({"fetch_site": "same-site"}, True, id="fetch-same-site"),
        pytest.param({"fetch_site": "cross-site"}, True, id="fetch-cross-site"),
        pytest.param(
            {"fetch_site": "same-site", "origin": f"https://{HOST}"},
            True,
            id="fetch-site-wins-over-origin",
        ),
        pytest.param({"origin": f"https://{HOST}"}, False, id="origin"),
        pytest.param({"origin": f"https://evil.{HOST}"}, True, id="origin-subdomain"),
        pytest.param({"origin": "null"}, True, id="origin-null"),
        pytest.param({"referer": "https://evil.example/"}, False, id="referer-only"),
        pytest.param({}, False, id="nothing"),
    ],
)
def test_cross_site_unsafe(fields: dict[str, str], expected: bool) -> None:
    """A sibling subdomain is another origin; no header at all is the shop's own."""
    assert cross_site_unsafe(post(**fields)) is expected


def test_a_safe_method_is_never_cross_site_unsafe() -> None:
    request = Request(
        method="GET", path="/", raw_path="/", query="", https=True,
        host=HOST, fetch_site="cross-site",
    )  # fmt: skip
    assert cross_site_unsafe(request) is False


def test_same_origin_compares_the_host_case_insensitively() -> None:
    request = Request(
        method="POST", path="/", raw_path="/", query="", https=False,
        host="Shop.Example", origin="http://shop.example",
    )  # fmt: skip
    assert cross_origin(request) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://a.example/x", "a.example", id="path"),
        pytest.param("https://A.example:8443", "a.example:8443", id="port-case"),
        pytest.param("https://a.example?x", "a.example", id="query"),
        pytest.param("https://a.example#f", "a.example", id="fragment"),
        pytest.param("a.example/x", "", id="no-scheme"),
        pytest.param("", "", id="empty"),
    ],
)
def test_netloc(url: str, expected: str) -> None:
    assert netloc(url) == expected


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        pytest.param(f"https://{HOST}/cart?x=1", "/cart?x=1", id="same-host"),
        pytest.param(f"https://{HOST}/cart#top", "/cart", id="fragment-dropped"),
        pytest.param(f"https://{HOST}", "/", id="no-path"),
        pytest.param(f"https://{HOST}?q=1", "/", id="query-without-path"),
        pytest.param("https://evil.example/cart", "/", id="other-host"),
        pytest.param("", "/", id="no-referer"),
        pytest.param("/cart", "/", id="relative"),
        pytest.param(f"https://{HOST}//evil.example/x", "/evil.example/x", id="dbl"),
        pytest.param(f"https://{HOST}///evil.example", "/evil.example", id="triple"),
        pytest.param(
            f"https://{HOST}/\\evil.example/x", "/evil.example/x", id="backslash"
        ),
    ],
)
def test_back(referer: str, expected: str) -> None:
    location = back(post(referer=referer, fetch_site="same-origin"))
    assert location == expected
    # Browsers read "//host" and "/\host" alike as another host.
    assert location.startswith("/")
    assert location[1:2] not in ("/", "\\")


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        pytest.param("public", True, id="public"),
        pytest.param("PUBLIC, max-age=60", True, id="public-upper"),
        pytest.param("max-age=0, s-maxage=600", True, id="s-maxage"),
        pytest.param("S-MaxAge=600", True, id="s-maxage-case"),
        pytest.param("public, private", False, id="public-private"),
        pytest.param("s-maxage=60, no-store", False, id="s-maxage-no-store"),
        pytest.param("max-age=60", False, id="max-age"),
        pytest.param("no-cache", False, id="no-cache"),
        pytest.param("private", False, id="private"),
        pytest.param("", False, id="none"),
        pytest.param("publicity", False, id="lookalike"),
    ],
)
def test_shared_cacheable(control: str, expected: bool) -> None:
    assert shared_cacheable(control) is expected


@pytest.mark.parametrize(
    ("headers", "index", "expected"),
    [
        pytest.param([], None, [("Vary", "Cookie")], id="absent"),
        pytest.param(
            [("Vary", "Accept-Encoding")],
            0,
            [("Vary", "Accept-Encoding, Cookie")],
            id="merged",
        ),
        pytest.param(
            [("vary", "Accept-Encoding")],
            0,
            [("vary", "Accept-Encoding, Cookie")],
            id="name-spelling-kept",
        ),
        pytest.param(
            [("Vary", "accept-encoding, cookie")],
            0,
            [("Vary", "accept-encoding, cookie")],
            id="already-there",
        ),
        pytest.param([("Vary", " Cookie ")], 0, [("Vary", " Cookie ")], id="spaces"),
        pytest.param([("Vary", "*")], 0, [("Vary", "*")], id="star"),
        pytest.param(
            [("Content-Type", "text/html"), ("Vary", "Origin")],
            1,
            [("Content-Type", "text/html"), ("Vary", "Origin, Cookie")],
            id="at-its-index",
        ),
    ],
)
def test_add_vary(headers: Headers, index: int | None, expected: Headers) -> None:
    out = list(headers)
    add_vary(out, index)
    assert out == expected
