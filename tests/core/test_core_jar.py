"""The cookie jar of one request: read, set, drop, and the Set-Cookie values."""

from __future__ import annotations

import pytest
from werkzeug.http import http_date

from qscookies.core import jar as jar_module
from qscookies.core.jar import OPT_OUT_MAX_AGE
from qscookies.core.jar import CookieJar
from qscookies.core.response import response_headers
from qscookies.errors import HeadersSentError
from qscookies.settings import Settings

SETTINGS = Settings()
NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("secure", "header", "found"),
    [
        pytest.param(False, "qs_cart=abc", "abc", id="http"),
        pytest.param(True, "__Host-qs_cart=abc", "abc", id="https-prefixed"),
        pytest.param(True, "qs_cart=abc", None, id="https-ignores-unprefixed"),
        pytest.param(False, "__Host-qs_cart=abc", None, id="http-ignores-prefixed"),
        pytest.param(False, None, None, id="no-header"),
    ],
)
def test_get_reads_our_name_for_the_scheme(
    secure: bool, header: str | None, found: str | None
) -> None:
    assert CookieJar(SETTINGS, header, secure, NOW).get("qs_cart") == found


def test_drop_only_what_the_browser_sent() -> None:
    jar = CookieJar(SETTINGS, "qs_visitor=v", False, NOW)
    jar.set("qs_promo", "p")
    jar.drop("qs_visitor", "qs_promo")  # the promotion cookie was never sent
    (header,) = jar.headers(ids=True)
    assert header.startswith("qs_visitor=;") and "Max-Age=0" in header


@pytest.mark.parametrize("sending", [True, False], ids=["cookies", "none"])
def test_the_response_marks_the_jar_sent(sending: bool) -> None:
    jar = CookieJar(SETTINGS, "qs_visitor=v", False, NOW)
    if sending:
        jar.set("qs_cart", "c")
    assert not jar.sent
    response_headers(200, [], jar, SETTINGS, "shop.example")
    assert jar.sent
    with pytest.raises(HeadersSentError, match="before responding"):
        jar.check_unsent("a cart write")


def test_headers_carry_the_lifetimes() -> None:
    jar = CookieJar(SETTINGS, None, True, NOW)
    jar.set("qs_cart", "c")
    jar.set("qs_optout", "1")
    cart, optout = jar.headers(ids=True)
    assert cart.startswith("__Host-qs_cart=c;")
    assert f"Max-Age={SETTINGS.cart_max_age}" in cart
    assert "Secure" in cart and "HttpOnly" in cart and "SameSite=Lax" in cart
    assert f"Max-Age={OPT_OUT_MAX_AGE}" in optout


def test_expires_is_read_from_the_requests_time_not_the_wall_clock() -> None:
    jar = CookieJar(SETTINGS, None, False, NOW)
    jar.set("qs_cart", "c")
    jar.set("qs_visitor", "needs quoting;")  # the dump_cookie path
    for header in jar.headers(ids=True):
        max_age = int(header.split("Max-Age=")[1].split(";")[0])
        assert f"Expires={http_date(NOW + max_age)};" in header


def test_without_ids_only_drops_and_the_opt_out_go() -> None:
    jar = CookieJar(SETTINGS, "qs_promo=p", False, NOW)
    jar.set("qs_cart", "c")
    jar.set("qs_visitor", "v")
    jar.set("qs_optout", "1")
    jar.drop("qs_promo")
    names = [header.split("=", 1)[0] for header in jar.headers(ids=False)]
    assert names == ["qs_optout", "qs_promo"]


def test_get_all_gives_every_distinct_value_of_a_repeated_name() -> None:
    header = "qs_cart=planted; other=1; qs_cart=ours, qs_cart=planted"
    jar = CookieJar(SETTINGS, header, False, NOW)
    assert jar.get("qs_cart") == "planted"  # the first, as browsers order them
    assert jar.get_all("qs_cart") == ["planted", "ours"]
    assert jar.get_all("qs_visitor") == []


# -- the shared empty mappings: a jar that holds nothing shares one, read-only ----


def test_the_shared_empty_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        jar_module._EMPTY["qs_cart"] = "c"
    assert len(jar_module._EMPTY) == 0


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty-header"),
        pytest.param("qs_cart=abc", id="no-repeats"),
    ],
)
def test_a_write_never_reaches_another_jar(header: str | None) -> None:
    first = CookieJar(SETTINGS, header, False, NOW)
    second = CookieJar(SETTINGS, header, False, NOW)
    first.set("qs_visitor", "v", max_age=60)
    first.drop("qs_cart")
    first.set("qs_choice", "in")
    first.drop("qs_choice")  # not received: only forgets the set
    assert second.headers(ids=True) == []
    assert second.get_all("qs_cart") == ([] if header != "qs_cart=abc" else ["abc"])
    assert len(jar_module._EMPTY) == 0
    names = [value.split("=", 1)[0] for value in first.headers(ids=True)]
    assert names == ["qs_visitor"] + (["qs_cart"] if header else [])
    assert "Max-Age=60" in first.headers(ids=True)[0]


def test_a_drop_of_a_cookie_not_received_or_set_writes_nothing() -> None:
    jar = CookieJar(SETTINGS, None, False, NOW)
    jar.drop("qs_cart", "qs_visitor")
    assert jar.outgoing is jar_module._EMPTY
    assert jar.headers(ids=True) == []


def test_repeats_stay_per_jar() -> None:
    planted = CookieJar(SETTINGS, "qs_cart=a; qs_cart=b", False, NOW)
    plain = CookieJar(SETTINGS, "qs_cart=a", False, NOW)
    assert planted.get_all("qs_cart") == ["a", "b"]
    assert plain.get_all("qs_cart") == ["a"]
    assert len(jar_module._EMPTY) == 0


def test_a_header_is_parsed_once_and_shared_read_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = []
    read = jar_module.read_cookies
    monkeypatch.setattr(
        jar_module, "read_cookies", lambda *a: parsed.append(a[0]) or read(*a)
    )
    header = "qs_cart=once; other=1; qs_cart=planted"
    jars = [CookieJar(SETTINGS, header, False, NOW) for _ in range(3)]
    assert parsed == [header]  # the next requests' jars read the remembered one
    assert all(j.get_all("qs_cart") == ["once", "planted"] for j in jars)
    with pytest.raises(TypeError):  # no request can change what another reads
        jars[0]._incoming["qs_cart"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        jars[0]._repeats["qs_cart"] = ("x",)  # type: ignore[index]
    jars[0].set("qs_cart", "new")
    jars[0].drop("qs_visitor")
    assert jars[1].get("qs_cart") == "once" and jars[1].headers(ids=True) == []


def test_remembered_headers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jar_module, "_PARSED", jar_module.Memo(4))
    for n in range(50):  # a client sending a new header on every request
        assert CookieJar(SETTINGS, f"qs_cart={n}", False, NOW).get("qs_cart") == str(n)
        assert len(jar_module._PARSED) <= 4
    # A header longer than a remembered one is parsed, and not kept.
    long = "qs_cart=c; " + "x=" + "y" * jar_module.REMEMBERED_HEADER
    assert CookieJar(SETTINGS, long, False, NOW).get("qs_cart") == "c"
    assert long not in jar_module._PARSED
