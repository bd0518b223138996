"""Issue 8, hardening: hostile bytes, Redis error replies, bounded growth, caches.

Every HTTP behaviour is shown over a real server (werkzeug's threaded server,
:mod:`hardening_http`) with a real Redis: the shared test server, or a private
``redis-server`` per test where the test breaks it (full, read-only, locked by
ACL, stopped). Time is moved with ``app.clock``, never slept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import WSGIWarning
from wsgiref.validate import validator

import pytest
import redis
from hardening_http import Browser
from hardening_http import Reply
from hardening_http import serve

from qscookies import QSCookies
from qscookies import QSCookiesError
from qscookies import StoreUnavailable
from qscookies import context
from qscookies.core.aggregates import utc_day
from qscookies.core.messages import UNAVAILABLE_BODY
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.ops.acl import RedisVersion
from qscookies.ops.acl import app_rules

from shop import SECRET
from shop import shop
from shop import wrap

#: The clock of every middleware here (a fixed UTC day for the key names).
NOW = 1_700_000_000.0
DAY = utc_day(NOW)
#: Our id cookies (plain HTTP: no ``__Host-`` prefix).
ID_COOKIES = ("qs_visitor", "qs_promo", "qs_cart")


def _app(client: redis.Redis, app: Any = shop, **options: Any) -> QSCookies:
    """:func:`shop.wrap` on the fixed clock."""
    middleware = wrap(client, app, **options)
    middleware.clock = lambda: NOW
    return middleware


def _private(url: str, app: Any = shop, **options: Any) -> QSCookies:
    """The middleware over its own connection pool to a private server."""
    options.setdefault("socket_timeout", 0.5)
    middleware = QSCookies(app, secret_key=SECRET, redis_url=url, **options)
    middleware.clock = lambda: NOW
    return middleware


def _cart_cookie(reply: Reply) -> str:
    assert reply.status == 200, reply.body
    value = reply.set_cookies["qs_cart"]
    assert value
    return value


def _keys(client: redis.Redis, pattern: str = "*") -> set[str]:
    """The names of the keys matching *pattern* (admin client, tests only)."""
    return {
        name.decode() if isinstance(name, bytes) else name
        for name in client.keys(pattern)
    }


class _Started:
    """A ``start_response`` that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        self.calls.append((status, headers))
        return lambda data: None


def _conforming(app: Any) -> Any:
    """werkzeug's server puts ``REMOTE_PORT`` in the environ as an ``int``;
    PEP 3333 (and the validator) want ``str``. Nothing else is changed."""

    def conform(environ: dict[str, Any], start_response: Any) -> Any:
        environ["REMOTE_PORT"] = str(environ.get("REMOTE_PORT", ""))
        return app(environ, start_response)

    return conform


# -- 1. bad bytes in the Cookie header -----------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([b"Cookie: legacy=caf\xe9; qs_cart=%s"], id="not-utf8-bytes"),
        pytest.param(
            [b"Cookie: legacy=caf\xe9", b"Cookie: qs_cart=%s"], id="duplicate-headers"
        ),
        pytest.param([b"Cookie: a=1, qs_cart=%s"], id="comma-joined"),
        pytest.param([b"Cookie: qs_cart=%s, legacy=caf\xe9"], id="comma-then-latin1"),
    ],
)
def test_odd_cookie_headers_keep_the_cart(
    redis_client: redis.Redis, lines: list[bytes]
) -> None:
    app = _app(redis_client)
    with serve(app) as server:
        cart = _cart_cookie(server.request("/add?sku=A")).encode()
        head = b"\r\n".join(line.replace(b"%s", cart) for line in lines)

        def raw(target: bytes) -> Reply:
            host = server.host.encode()
            return server.raw(
                b"GET %s HTTP/1.1\r\nHost: %s\r\n%s" % (target, host, head)
            )

        cart_page = raw(b"/cart")
        assert cart_page.status == 200
        assert json.loads(cart_page.body) == {"A": 1}
        added = raw(b"/add?sku=A")
        assert added.status == 200
        assert json.loads(added.body) == 2
        assert raw(b"/").status == 200


def test_a_cookie_header_of_other_bytes_alone_is_a_browser_without_our_cookies(
    redis_client: redis.Redis,
) -> None:
    app = _app(redis_client)
    with serve(app) as server:
        host = server.host.encode()
        for cookie in (b"legacy=caf\xe9", b"\xff\xfe=\x80", b"qs_cart=caf\xe9"):
            head = b"GET /cart HTTP/1.1\r\nHost: %s\r\nCookie: %s" % (host, cookie)
            reply = server.raw(head)
            assert reply.status == 200
            assert json.loads(reply.body) == {}


# -- 2. the middleware's own responses are valid WSGI --------------------------


@pytest.mark.parametrize(
    ("method", "target", "headers", "body", "status"),
    [
        pytest.param("GET", "/?promo=SUMMER", {}, None, 303, id="landing-303"),
        pytest.param("GET", "/privacy", {}, None, 405, id="privacy-405"),
        pytest.param("POST", "/privacy", {}, b"choice=out", 403, id="privacy-403"),
        pytest.param(
            "POST",
            "/privacy",
            {"Origin": "same"},
            b"choice=maybe",
            400,
            id="privacy-400",
        ),
        pytest.param(
            "POST", "/privacy", {"Origin": "same"}, b"choice=out", 303, id="privacy-303"
        ),
    ],
)
def test_own_responses_pass_the_wsgi_validator_on_both_sides(
    redis_client: redis.Redis,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
) -> None:
    inner = _app(redis_client, validator(shop), privacy_path="/privacy")
    with serve(_conforming(validator(inner))) as server, warnings.catch_warnings():
        warnings.simplefilter("error", WSGIWarning)  # a warning becomes a 500
        sent = dict(headers)
        if sent.get("Origin") == "same":
            sent["Origin"] = f"http://{server.host}"
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        reply = server.request(target, method=method, headers=sent, body=body)
    assert reply.status == status, reply.body
    assert reply.header("Content-Type")
    assert reply.header("Content-Length") == str(len(reply.body))


@contextmanager
def _validated_outage(redis_server: RedisServer, app: Any) -> Iterator[tuple[Any, Any]]:
    """*app* in qscookies on *redis_server*, stopped, served under
    ``wsgiref.validate`` on both sides (its warnings are errors): ``(the
    served server, the middleware)``."""
    inner = _private(redis_server.url, validator(app), retry_interval=0.2)
    redis_server.stop()
    try:
        with (
            serve(_conforming(validator(inner))) as server,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", WSGIWarning)
            yield server, inner
    finally:
        inner.close()


def test_the_503_passes_the_wsgi_validator_on_both_sides(
    fresh_redis_server: RedisServer,
) -> None:
    with _validated_outage(fresh_redis_server, shop) as (server, _inner):
        reply = server.request("/add?sku=A")
    assert reply.status == 503
    assert reply.header("Retry-After") == "5"
    assert reply.header("Content-Type")
    assert reply.header("Content-Length") == str(len(reply.body))


#: The 500 page of an app of its own, not the 503's length.
OWN_500 = b"<h1>Internal Server Error</h1><p>Something went wrong on our side.</p>\n"


def fails_when_iterated(environ: dict[str, Any], start_response: Any) -> Any:
    """A generator app whose cart write fails before it starts its response."""
    context(environ).cart.add("A")
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"added"


def answers_500_when_iterated(environ: dict[str, Any], start_response: Any) -> Any:
    """A generator app that catches the failure and sends its own 500 page."""
    try:
        context(environ).cart.add("A")
    except StoreUnavailable:
        length = str(len(OWN_500))
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/html"), ("Content-Length", length)],
        )
        yield OWN_500
        return
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"added"


LATE_APPS = [
    pytest.param(fails_when_iterated, id="raises-when-iterated"),
    pytest.param(answers_500_when_iterated, id="own-500-when-iterated"),
]


@pytest.mark.parametrize("app", LATE_APPS)
def test_the_503_of_an_app_that_starts_late_is_framed(
    fresh_redis_server: RedisServer, app: Any
) -> None:
    """Its headers go with its own body, on a real server and in process."""
    with _validated_outage(fresh_redis_server, app) as (server, inner):
        reply = server.request("/add?sku=A")
        again = server.request("/add?sku=A")  # the connection is sound
        environ: dict[str, Any] = {
            "SCRIPT_NAME": "",
            "PATH_INFO": "/add",
            "QUERY_STRING": "sku=A",
        }
        setup_testing_defaults(environ)
        started = _Started()
        result = validator(inner)(environ, started)
        body = b"".join(result)
        result.close()
    for status, headers, sent in (
        (reply.status, reply.headers, reply.body),
        (again.status, again.headers, again.body),
        (int(started.calls[-1][0][:3]), started.calls[-1][1], body),
    ):
        assert status == 503
        assert sent == UNAVAILABLE_BODY
        assert dict(headers)["Content-Length"] == str(len(sent))
        assert dict(headers)["Retry-After"] == "5"


# -- 3. the clean-URL 303 keeps the URL byte for byte ------------------------------


def echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Shows the path and query the app was given (Latin-1 strings, as JSON)."""
    context(environ)
    seen = {"path": environ["PATH_INFO"], "query": environ["QUERY_STRING"]}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


@pytest.mark.parametrize(
    ("target", "clean", "location"),
    [
        pytest.param(
            b"/a%2Fb?promo=X&flag", b"/a%2Fb?flag", "/a%2Fb?flag", id="encoded-slash"
        ),
        pytest.param(
            b"/?q=caf%E9&promo=X", b"/?q=caf%E9", "/?q=caf%E9", id="latin1-query"
        ),
        pytest.param(
            b"/p?a=1+2&promo=X&b=%20&utm_campaign=Y&c",
            b"/p?a=1+2&b=%20&c",
            "/p?a=1+2&b=%20&c",
            id="spelling-and-order",
        ),
        pytest.param(b"/%FF/x?promo=X&a=1", b"/%FF/x?a=1", "/%FF/x?a=1", id="ff-byte"),
        pytest.param(b"/caf\xc3\xa9?promo=X", b"/caf\xc3\xa9", None, id="raw-utf8"),
        pytest.param(b"/caf\xe9?promo=X", b"/caf\xe9", None, id="raw-latin1"),
        pytest.param(
            b"//evil.com/x?promo=X", b"//evil.com/x", "/evil.com/x", id="same-site"
        ),
    ],
)
def test_the_clean_url_redirect_keeps_everything_but_the_promotion(
    redis_client: redis.Redis, target: bytes, clean: bytes, location: str | None
) -> None:
    """Location is exact where the request was ASCII; for raw bytes (which a
    browser would have percent-encoded) it leads the app to the same path."""
    app = _app(redis_client, echo)
    with serve(app) as server:

        def get(path: bytes) -> Reply:
            host = server.host.encode()
            return server.raw(b"GET %s HTTP/1.1\r\nHost: %s" % (path, host))

        reply = get(target)
        assert reply.status == 303, reply.body
        found = reply.header("Location")
        assert found is not None and found.isascii()
        assert found.startswith("/") and not found.startswith(("//", "/\\"))
        if location is not None:
            assert found == location
        followed = get(found.encode())
        assert followed.status == 200
        assert json.loads(followed.body) == json.loads(get(clean).body)


def test_a_path_beyond_latin1_does_not_raise(redis_client: redis.Redis) -> None:
    """PEP 3333 servers never give one; a broken server may (no raw URI here)."""
    app = _app(redis_client, echo)
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO="/\u20ac\udcff", QUERY_STRING="promo=X&a=1")
    started = _Started()
    app(environ, started)
    ((status, headers),) = started.calls
    assert status.startswith("303")
    assert dict(headers)["Location"] == "/%E2%82%AC%FF?a=1"


# -- 4. every Redis error reply on a cart write is a 503 ----------------------------
#
# LOADING (a server still loading its data set at start-up) cannot be produced
# reliably in a test: it lasts as long as the load of a large file. It goes
# through the same mapping as every other error reply (qscookies.store.app:
# any StoreError on a cart write -> StoreUnavailable, one log line), which the
# replies below exercise.


def _cart_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "qscookies" and "cart write" in record.getMessage()
    ]


def _assert_503_naming(
    reply: Reply, caplog: pytest.LogCaptureFixture, *words: str
) -> None:
    assert reply.status == 503, reply.body
    assert reply.header("Retry-After") == "5"
    assert "qs_cart" not in reply.set_cookies
    (line,) = _cart_failures(caplog)  # one line, naming the cause
    for word in words:
        assert word in line


def test_redis_full_oom_on_a_cart_write_is_503(
    redis_binary: str, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer(redis_binary) as server, server.client() as admin:
        admin.config_set("maxmemory-policy", "noeviction")
        for number in range(16):  # a megabyte of data, then a limit below it
            admin.set(f"filler:{number}", "x" * 64 * 1024)
        used = int(admin.info("memory")["used_memory"])
        # Far enough below that freed client buffers never bring it back
        # under the limit (at the limit exactly, a write could pass).
        admin.config_set("maxmemory", used - 512 * 1024)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            admin.set("filler:more", "x")  # full: a write is refused
        app = _private(server.url)
        caplog.set_level(logging.WARNING, "qscookies")
        with serve(app) as http:
            reply = http.request("/add?sku=A")
        app.close()
    _assert_503_naming(reply, caplog, "OOM", "full")


def _user(server: RedisServer, name: str, missing: set[str]) -> str:
    """An ACL user with the rules of ``qscookies acl`` but *missing*; its URL."""
    version: RedisVersion = "7" if server.version >= (7, 0, 0) else "6.2"
    rules = [rule for rule in app_rules("qs:", version) if rule not in missing]
    with server.client() as admin:
        admin.execute_command("ACL", "SETUSER", name, "on", ">pw", *rules)
    return f"redis://{name}:pw@{server.host}:{server.port}/0"


def test_acl_noperm_on_a_cart_write_is_503_naming_the_rule(
    redis_binary: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis 7's app user runs the scripts as functions, 6.2's by EVALSHA."""
    with RedisServer(redis_binary) as server:
        runs = (
            {"+fcall", "+fcall_ro"} if server.version >= (7,) else {"+eval", "+evalsha"}
        )
        app = _private(_user(server, "no-scripts", runs))
        caplog.set_level(logging.WARNING, "qscookies")
        with serve(app) as http:
            reply = http.request("/add?sku=A")
        app.close()
    rule = "+fcall" if "+fcall" in runs else "+evalsha"
    _assert_503_naming(reply, caplog, "configuration error", f"({rule} missing)")


def test_a_read_only_replica_on_a_cart_write_is_503(
    redis_binary: str, caplog: pytest.LogCaptureFixture
) -> None:
    with ExitStack() as stack:
        master = stack.enter_context(RedisServer(redis_binary))
        replica = stack.enter_context(RedisServer(redis_binary))
        with master.client() as source:  # sync now, not after Redis 7's 5 s delay
            source.config_set("repl-diskless-sync-delay", 0)
        admin = stack.enter_context(replica.client(decode_responses=True))
        admin.execute_command("REPLICAOF", master.host, master.port)
        wait_until(  # the sync of a real process, not a moved clock
            lambda: admin.info("replication").get("master_link_status") == "up",
            "the replica to sync",
            10.0,
        )
        app = _private(replica.url)
        caplog.set_level(logging.WARNING, "qscookies")
        with serve(app) as http:
            reply = http.request("/add?sku=A")
        app.close()
    _assert_503_naming(reply, caplog, "READONLY")


def test_a_cart_key_of_the_wrong_type_is_503(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(redis_client)
    with serve(app) as server:
        browser = Browser(server)
        assert browser.get("/add?sku=A").status == 200
        (key,) = redis_client.keys("qs:c:*")
        redis_client.set(key, "not a hash")
        caplog.set_level(logging.WARNING, "qscookies")
        reply = browser.get("/add?sku=A")
    _assert_503_naming(reply, caplog, "WRONGTYPE")


def test_a_tracking_write_refused_by_acl_is_a_configuration_error_page_renders(
    redis_binary: str, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer(redis_binary) as server:
        app = _private(_user(server, "no-pfadd", {"+pfadd"}))
        caplog.set_level(logging.WARNING, "qscookies")
        with serve(app) as http:
            page = http.request("/")
            landing = http.request("/?promo=SUMMER")
        app.close()
    assert page.status == 200
    assert landing.status == 303
    lines = [r.getMessage() for r in caplog.records if r.name == "qscookies"]
    paused = [line for line in lines if "tracking paused" in line]
    assert len(paused) == 1
    assert "configuration error" in paused[0] and "+pfadd missing" in paused[0]
    assert "unavailable" not in paused[0].lower()
    assert not _cart_failures(caplog)


# -- 5. bounded growth -------------------------------------------------------------


def test_distinct_junk_promotion_codes_grow_keys_by_a_constant(
    redis_client: redis.Redis,
) -> None:
    bound = 20
    app = _app(redis_client, max_promotions_per_day=bound)
    before = _keys(redis_client)
    codes = [f"JUNK-{number:04d}" for number in range(300)]
    with serve(app) as server:
        replies = [server.request(f"/?promo={code}") for code in codes]
    assert all(reply.status == 303 for reply in replies)
    new = _keys(redis_client) - before

    index = f"qs:a:i:{DAY}"
    landed = bound - bound // 2  # the rest is kept for codes with evidence
    kept = codes[:landed] + ["other"]
    assert redis_client.zcard(index) == landed + 1
    assert redis_client.zscore(index, "other") == len(codes) - landed
    pairs = f"qs:a:j:{{{index}}}"  # the day's pair index (no source: "/")
    allowed = (
        {index, pairs}
        | {
            f"qs:a:{{{code}}}:{kind}:{DAY}"
            for code in kept + ["_site"]
            for kind in "dur"
        }
        | {f"qs:a:{{{code}}}:{kind}:{DAY}:/" for code in kept for kind in "ur"}
    )
    assert new <= allowed  # no key for a code past the bound, none per visitor
    assert len(new) <= 5 * (bound + 2) + 2

    def attributed(reply: Reply) -> str | None:
        found = app.codec.load_promotion(
            reply.set_cookies["qs_promo"], int(NOW), app.settings.promotion_max_age
        )
        return found.code if found else None  # where its credits go

    assert attributed(replies[0]) == codes[0]
    assert attributed(replies[landed - 1]) == codes[landed - 1]
    assert {attributed(reply) for reply in replies[landed:]} == {"other"}


def test_cookieless_page_views_add_no_per_visitor_key(
    redis_client: redis.Redis,
) -> None:
    app = _app(redis_client)
    before = _keys(redis_client)
    with serve(app) as server:
        for _ in range(300):
            assert server.request("/").status == 200
    new = _keys(redis_client) - before
    assert new == {f"qs:a:{{_site}}:d:{DAY}", f"qs:a:{{_site}}:u:{DAY}"}
    assert redis_client.hget(f"qs:a:{{_site}}:d:{DAY}", "visits") == b"300"


# -- 6. shared caches never get our ids ------------------------------------------


def cacheable(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Reads the visitor (and adds to the cart on ``/add``); marks the response
    with the ``Cache-Control`` in ``?cc=``, or none."""
    qs = context(environ)
    qs.visitor  # noqa: B018  (read: the response depends on our cookies)
    if environ["PATH_INFO"] == "/add":
        qs.cart.add("A")
    control = dict(
        part.split("=", 1) for part in environ["QUERY_STRING"].split("&") if part
    ).get("cc")
    headers = [("Content-Type", "text/plain")]
    if control:
        headers.append(("Cache-Control", control.replace("%20", " ")))
    start_response("200 OK", headers)
    return [b"page"]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/?cc=public,max-age=60&promo=SUMMER", id="public"),
        pytest.param("/?cc=s-maxage=60&promo=SUMMER", id="s-maxage"),
        pytest.param("/add?cc=public&promo=SUMMER", id="public-cart-write"),
    ],
)
def test_a_shared_cacheable_response_carries_no_id_cookie(
    redis_client: redis.Redis, target: str
) -> None:
    app = _app(redis_client, cacheable, strip_promotion_params=False)
    with serve(app) as server:
        browser = Browser(server)
        public = browser.get(target)
        assert public.status == 200
        assert not set(public.set_cookies) & set(ID_COOKIES)
        control = public.header("Cache-Control")
        assert control and "private" not in control
        private = browser.get("/")  # the next private response gets them
    assert private.status == 200
    assert private.set_cookies.get("qs_visitor")
    assert private.header("Cache-Control") == "private"


def test_a_response_setting_our_cookie_without_cache_control_is_private(
    redis_client: redis.Redis,
) -> None:
    app = _app(redis_client, cacheable)
    with serve(app) as server:
        for target in ("/", "/add"):
            reply = server.request(target)
            assert reply.status == 200
            assert set(reply.set_cookies) & set(ID_COOKIES)
            assert reply.all("Cache-Control") == ["private"]


# -- 7. order markers hold a keyed hash --------------------------------------------


def test_order_markers_hold_a_keyed_hash_and_count_once(
    redis_client: redis.Redis,
) -> None:
    counters = f"qs:a:{{SUMMER}}:d:{DAY}"
    markers: list[str] = []
    for number, secret in enumerate(
        ("first-secret-key-0123456789", "second-secret-key-abcdefgh")
    ):
        app = QSCookies(shop, secret_key=secret, redis=redis_client.qs_app_user)  # type: ignore[attr-defined]
        app.clock = lambda: NOW
        before = _keys(redis_client, "qs:o:*")
        with serve(app) as server:
            browser = Browser(server)
            assert browser.get("/?promo=SUMMER").status == 303
            first = browser.get("/buy?order=order-1&total=1999")
            second = browser.get("/buy?order=order-1&total=1999")
        assert json.loads(first.body) is True
        assert json.loads(second.body) is False
        assert redis_client.hget(counters, "purchases") == str(number + 1).encode()
        (marker,) = _keys(redis_client, "qs:o:*") - before
        markers.append(marker.rsplit(":", 1)[1].strip("{}"))

    assert markers[0] != markers[1]  # keyed: another secret, another hash
    for found in markers:
        assert "order-1" not in found
        for algorithm in sorted(hashlib.algorithms_guaranteed):
            if algorithm.startswith("shake"):
                digest = hashlib.new(algorithm, b"order-1").hexdigest(64)  # type: ignore[call-arg]
            else:
                digest = hashlib.new(algorithm, b"order-1").hexdigest()
            assert not digest.startswith(found[:8]), algorithm


# -- 8. a failed cart add sets no cart cookie -----------------------------------


def test_a_failed_cart_add_sets_no_cart_cookie(
    fresh_redis_server: RedisServer,
) -> None:
    app = _private(fresh_redis_server.url, retry_interval=0.2)
    try:
        with serve(app) as server:
            browser = Browser(server)
            held = _cart_cookie(browser.get("/add?sku=A"))
            fresh_redis_server.stop()
            newcomer = server.request("/add?sku=A")
            known = browser.get("/add?sku=B")
    finally:
        app.close()
    assert newcomer.status == 503
    assert "qs_cart" not in newcomer.set_cookies
    assert known.status == 503
    assert "qs_cart" not in known.set_cookies
    assert browser.cookies["qs_cart"] == held


# -- 9. wrapping twice -------------------------------------------------------------


def _calls(client: redis.Redis) -> dict[str, Any]:
    stats = client.info("commandstats")
    return {
        name: {k: v for k, v in stat.items() if k in ("calls", "failed_calls")}
        for name, stat in stats.items()
        if name != "cmdstat_info"
    }


def test_wrapping_twice_raises_at_the_first_request_before_redis(
    redis_client: redis.Redis,
) -> None:
    twice = _app(redis_client, _app(redis_client))
    before = _calls(redis_client)
    for target, cookie in (("/add", None), ("/?promo=SUMMER", None), ("/", "x=1")):
        environ: dict[str, Any] = {}
        setup_testing_defaults(environ)
        path, _, query = target.partition("?")
        environ.update(PATH_INFO=path, QUERY_STRING=query)
        if cookie:
            environ["HTTP_COOKIE"] = cookie
        with pytest.raises(QSCookiesError, match="wrapped twice"):
            twice(environ, _Started())
    assert _calls(redis_client) == before


# -- 10. a cart badge degrades with tracking while Redis is down --------------------


def test_a_cart_badge_waits_retry_interval_after_a_failure(
    fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """``items(default=None)`` answers the default at once while tracking pauses."""
    app = _private(fresh_redis_server.url, retry_interval=5)
    try:
        with serve(app) as server:
            browser = Browser(server)
            _cart_cookie(browser.get("/add?sku=A"))
            assert json.loads(browser.get("/badge").body) == {"A": 1}
            fresh_redis_server.stop()
            with caplog.at_level(logging.WARNING, logger="qscookies"):
                assert json.loads(browser.get("/badge").body) is None
            assert [r.message for r in caplog.records if "paused" in r.message] == [
                "qscookies: tracking paused (cart reads with a default answer it):"
                " Redis unavailable: ConnectionError"
            ]
            fresh_redis_server.start()  # back, empty: it keeps nothing on disk
            assert json.loads(browser.get("/badge").body) is None  # not tried yet
            app.clock = lambda: NOW + 6
            assert json.loads(browser.get("/badge").body) == {}
            assert browser.get("/cart").status == 200
    finally:
        app.close()
