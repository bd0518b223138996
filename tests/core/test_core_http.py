"""The pure request helpers of :mod:`qscookies.core.http`: plain calls, plus the real
environ of two WSGI servers for :func:`~qscookies.core.http.raw_target`."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler
from wsgiref.simple_server import make_server as make_wsgiref_server

import pytest
from werkzeug.http import parse_cookie
from werkzeug.serving import make_server as make_werkzeug_server

from qscookies.core.http import MAX_COOKIE_HEADER
from qscookies.core.http import clean_location
from qscookies.core.http import raw_target
from qscookies.core.http import read_cookies
from qscookies.privacy import split_query

PARAMS = ("promo", "utm_campaign")
CART = "qs_cart=xjyZ9XJwVcwU-qD1c83yVw.1800000000.NElywzsBqGmF1Ai4ZZTImIkPOPw"
VISITOR = "qs_visitor=EEHsskdGpUe4PncoNWU_3w.1800000000.3.M1dsnr_-hCfIBfg-sCWTU2tN"

# -- read_cookies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, {}, id="no-header"),
        pytest.param("", {}, id="empty"),
        pytest.param(
            f"{CART}; {VISITOR}; _ga=GA1.2.1234567890.1700000000",
            {
                "qs_cart": CART.partition("=")[2],
                "qs_visitor": VISITOR.partition("=")[2],
                "_ga": "GA1.2.1234567890.1700000000",
            },
            id="typical",
        ),
        pytest.param(
            f"legacy=caf\xe9; {CART}",
            {"qs_cart": CART.partition("=")[2]},
            id="not-utf8-in-another-value",
        ),
        pytest.param(
            f"caf\xe9=1; {CART}",
            {"qs_cart": CART.partition("=")[2]},
            id="not-utf8-in-another-name",
        ),
        pytest.param(
            "emoji=\xf0\x9f\x8d\xaa; a=1", {"a": "1"}, id="utf8-bytes-dropped"
        ),
        pytest.param(
            f"a=1, {CART}",
            {"a": "1", "qs_cart": CART.partition("=")[2]},
            id="comma-joined-headers",
        ),
        pytest.param(
            f"a=1,{CART},b=2",
            {"a": "1", "qs_cart": CART.partition("=")[2], "b": "2"},
            id="commas-without-spaces",
        ),
        pytest.param("a=first; a=second", {"a": "first"}, id="first-wins"),
        pytest.param("a=first, a=second", {"a": "first"}, id="first-wins-across-comma"),
        pytest.param(" \ta = 1 ;b=2\t", {"a": "1", "b": "2"}, id="white-space"),
        pytest.param('a="x.y"; b="', {"a": "x.y", "b": '"'}, id="quoted-values"),
        pytest.param("a=b=c", {"a": "b=c"}, id="equals-in-value"),
        pytest.param("a=", {"a": ""}, id="empty-value"),
        pytest.param("flag; =v; a=1", {"a": "1"}, id="no-name-skipped"),
        pytest.param(";;; ,, ;", {}, id="only-separators"),
        pytest.param("\u20ac=1; a=\u20ac; b=2", {"b": "2"}, id="beyond-latin-1"),
    ],
)
def test_read_cookies(header: str | None, expected: dict[str, str]) -> None:
    assert read_cookies(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"{CART}; {VISITOR}; _ga=GA1.2.3.4", id="typical"),
        pytest.param("a=1; a=2; b=", id="repeated"),
        pytest.param('a="x"; b = 2', id="quoted-and-spaced"),
    ],
)
def test_read_cookies_agrees_with_werkzeug_on_ordinary_headers(header: str) -> None:
    assert read_cookies(header) == dict(parse_cookie(header))


def test_a_header_past_the_limit_is_read_up_to_the_last_whole_pair() -> None:
    filler = "; ".join(f"c{i}=" + "v" * 40 for i in range(400))
    header = f"{CART}; {filler}; qs_visitor=late"
    assert len(header) > MAX_COOKIE_HEADER
    cookies = read_cookies(header)
    assert cookies["qs_cart"] == CART.partition("=")[2]
    assert "qs_visitor" not in cookies
    assert all(
        value == "v" * 40 for name, value in cookies.items() if name != "qs_cart"
    )
    assert sum(len(name) + len(value) for name, value in cookies.items()) < (
        MAX_COOKIE_HEADER
    )


def test_a_header_past_the_limit_in_one_piece_gives_nothing() -> None:
    assert read_cookies("a=" + "v" * MAX_COOKIE_HEADER) == {}


# -- raw_target ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script_name", "path_info", "query_string", "raw_uri", "expected"),
    [
        pytest.param(
            "", "/a/b", "x=1", "/a%2Fb?x=1", ("/a%2Fb", "x=1"), id="raw-uri-wins"
        ),
        pytest.param(
            "/shop", "/a/b", "", "/shop/a%2Fb", ("/shop/a%2Fb", ""), id="with-script"
        ),
        pytest.param(
            "",
            "/caf\xe9",
            "q=caf%E9",
            "/caf%E9?q=caf%E9",
            ("/caf%E9", "q=caf%E9"),
            id="not-utf8-escape",
        ),
        pytest.param(
            "", "/a", "x", "http://shop.example/a?x", ("/a", "x"), id="absolute-form"
        ),
        pytest.param(
            "", "/", "x", "http://shop.example?x", ("/", "x"), id="absolute-no-path"
        ),
        pytest.param(
            "/shop",
            "/page",
            "q",
            "/page?q",
            ("/shop/page", "q"),
            id="prefix-moved-into-script-name",
        ),
        pytest.param(
            "", "/a/b", "x=1", "/a/./b?x=1", ("/a/b", "x=1"), id="normalised-path"
        ),
        pytest.param("", "/a b", "x=1", None, ("/a%20b", "x=1"), id="no-raw-uri"),
        pytest.param("", "/a", "", "", ("/a", ""), id="empty-raw-uri"),
        pytest.param("", "", "x", None, ("/", "x"), id="empty-path"),
        pytest.param("/shop", "", "", None, ("/shop", ""), id="script-name-only"),
        pytest.param("", "/a", "", "*", ("/a", ""), id="asterisk-form"),
        pytest.param(
            "", "/a?b#c%d", "", None, ("/a%3Fb%23c%25d", ""), id="quotes-delimiters"
        ),
        pytest.param(
            "", "/k:v@x;y=z,w+1", "", None, ("/k:v@x;y=z,w+1", ""), id="keeps-subdelims"
        ),
        pytest.param("", "/caf\xe9", "", None, ("/caf%E9", ""), id="latin-1-bytes"),
        pytest.param(
            "",
            "/caf\xe9\u20ac",
            "",
            None,
            ("/caf%C3%A9%E2%82%AC", ""),
            id="beyond-latin-1-as-utf8",
        ),
        pytest.param("", "/\udce9", "", None, ("/%E9", ""), id="surrogate-escaped"),
        pytest.param("", "/\ud800", "", None, ("/%3F", ""), id="lone-surrogate"),
    ],
)
def test_raw_target(
    script_name: str,
    path_info: str,
    query_string: str,
    raw_uri: str | None,
    expected: tuple[str, str],
) -> None:
    assert raw_target(script_name, path_info, query_string, raw_uri) == expected


# -- clean_location --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "query", "expected"),
    [
        pytest.param("/", "promo=SUMMER", "/", id="only-promo"),
        pytest.param("/p", "utm_campaign=X", "/p", id="only-utm-campaign"),
        pytest.param("/a%2Fb", "promo=X", "/a%2Fb", id="encoded-slash-kept"),
        pytest.param("/p", "flag&promo=X", "/p?flag", id="flag-kept"),
        pytest.param("/p", "q=caf%E9&promo=X", "/p?q=caf%E9", id="latin-1-escape-kept"),
        pytest.param(
            "/p", "q=a+b&promo=X&r=a%20b", "/p?q=a+b&r=a%20b", id="plus-and-%20-kept"
        ),
        pytest.param(
            "/p",
            "z=1&promo=X&a=2&utm_campaign=Y&m=3",
            "/p?z=1&a=2&m=3",
            id="order-kept",
        ),
        pytest.param("/p", "promo=A&promo=B", "/p", id="every-occurrence"),
        pytest.param("/p", "promo&a=1", "/p?a=1", id="bare-name"),
        pytest.param("/p", "a=1&promo=", "/p?a=1", id="empty-value"),
        pytest.param("/p", "promo=X&", "/p", id="trailing-ampersand"),
        pytest.param("/p", "a=1&&promo=X&&b=2", "/p?a=1&&&b=2", id="empty-pairs-kept"),
        pytest.param("/p", "utm%5Fcampaign=X&a=1", "/p?a=1", id="percent-encoded-name"),
        pytest.param("/p", "pro%6Do=X&a=1", "/p?a=1", id="percent-encoded-letter"),
        pytest.param("/p", "promo=X;a=1&b=2", "/p?b=2", id="semicolon-not-separator"),
        pytest.param(
            "//evil.example/x", "promo=X", "/evil.example/x", id="double-slash"
        ),
        pytest.param("///a", "promo=X", "/a", id="triple-slash"),
        pytest.param(
            "/\\evil.example", "promo=X", "/evil.example", id="slash-backslash"
        ),
        pytest.param("\\\\evil.example", "promo=X", "/evil.example", id="backslashes"),
        pytest.param("/\t/evil.example", "promo=X", "/%09/evil.example", id="tab"),
        pytest.param("", "promo=X", "/", id="empty-path"),
        pytest.param("/a b", "promo=X&q=c d", "/a%20b?q=c%20d", id="raw-spaces"),
        pytest.param("/p", "q=caf\xe9&promo=X", "/p?q=caf%E9", id="raw-latin-1-byte"),
        pytest.param("/\u20ac", "promo=X", "/%E2%82%AC", id="beyond-latin-1"),
        pytest.param(
            "/a\r\nSet-Cookie:x=1", "promo=X", "/a%0D%0ASet-Cookie:x=1", id="crlf"
        ),
    ],
)
def test_clean_location(raw_path: str, query: str, expected: str) -> None:
    assert clean_location(raw_path, query, PARAMS) == expected


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="empty"),
        pytest.param("q=1&flag", id="other-params"),
        pytest.param("PROMO=X", id="names-are-case-sensitive"),
        pytest.param("utm+campaign=X", id="plus-is-a-space"),
        pytest.param("xpromo=X&promox=Y", id="similar-names"),
        pytest.param("q=promo", id="value-not-name"),
    ],
)
def test_no_promotion_parameter_gives_none(query: str) -> None:
    assert clean_location("/p", query, PARAMS) is None


CAPTURED = [
    "promo=SUMMER",
    "promo",
    "promo=",
    "utm%5Fcampaign=X",
    "pro%6Do=X&pro%6Do=Y&q=1",
    "a=1&promo=X;b=2&c",
    "%70romo=X&utm_campaign=Y&flag",
    "q=caf%E9&promo=caf%E9",
    "promo=X&&&",
    "utm_campaign=%F0%9F%8D%AA&x=%ZZ",
    "q=1&flag",
    "PROMO=X",
]


@pytest.mark.parametrize("query", CAPTURED)
def test_the_redirect_agrees_with_the_promotion_capture(query: str) -> None:
    """A redirect exactly when the capture finds a parameter, to a URL where it
    finds none (otherwise the clean URL would redirect again, forever)."""
    location = clean_location("/p", query, PARAMS)
    found = split_query(query, PARAMS)[1]
    assert (location is not None) == bool(found)
    if location is not None:
        assert not split_query(location.partition("?")[2], PARAMS)[1]


# -- on real servers ---------------------------------------------------------------


def _echo_location(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answer with the clean location computed from the server's environ."""
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path, query = raw_target(
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        raw_uri,
    )
    body = json.dumps([raw_uri is not None, clean_location(path, query, PARAMS)])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


@pytest.fixture(params=["werkzeug", "wsgiref"])
def server_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A real WSGI server on a free port, serving :func:`_echo_location`."""
    if request.param == "werkzeug":
        server: Any = make_werkzeug_server("127.0.0.1", 0, _echo_location)
    else:
        server = make_wsgiref_server(
            "127.0.0.1", 0, _echo_location, handler_class=_QuietHandler
        )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            "/a%2Fb?flag&promo=X&q=caf%E9&r=a+b%20c",
            "/a%2Fb?flag&q=caf%E9&r=a+b%20c",
            id="byte-for-byte",
        ),
        pytest.param("//evil.example/?promo=X", "/evil.example/", id="double-slash"),
        pytest.param("/caf%C3%A9?utm%5Fcampaign=X", "/caf%C3%A9", id="utf8-path"),
    ],
)
def test_a_real_server_environ(server_port: int, target: str, expected: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server_port, timeout=5)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        has_raw_uri, location = json.loads(response.read())
    finally:
        connection.close()
    if has_raw_uri or "%2F" not in target:
        assert location == expected
    else:  # without the raw URI, %2F cannot be told from /
        assert location == expected.replace("%2F", "/")
