"""The Flask door: ``QSCookies(app)`` / ``init_app``, configured by ``app.config``."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from flask import Flask
from flask import jsonify
from flask import request
from werkzeug.http import http_date

from qscookies import ConfigurationError
from qscookies import CrossSiteError
from qscookies import PaidTokenError
from qscookies import QSCookies as WSGIQSCookies
from qscookies import context
from qscookies.embedded import RedisServer
from qscookies.flask import QSCookies
from qscookies.flask import qs

from asgi_server import WSGIServer
from shop import options_of

SECRET = "flask-secret-key-0123456789abcdef"


def make_app(redis_url: str | None, **config: Any) -> Flask:
    """A Flask shop whose views use the ``qs`` proxy."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, QSCOOKIES_KEY_PREFIX="fl:")
    if redis_url is not None:
        app.config["QSCOOKIES_REDIS_URL"] = redis_url
    app.config.update(config)

    @app.get("/")
    def page() -> dict[str, Any]:
        return {
            "visits": qs.visitor.visits,
            "promotion": qs.promotion,
            "badge": qs.cart.items(default=None),
            "same": context(request.environ) is qs._get_current_object(),  # type: ignore[attr-defined]
        }

    @app.route("/add", methods=["GET", "POST"])
    def add() -> Any:
        options = options_of(request.args)
        return jsonify(qs.cart.add(request.args["sku"], options=options))

    @app.errorhandler(CrossSiteError)
    def cross_site(error: CrossSiteError) -> tuple[str, int]:
        return str(error), 403

    @app.get("/lines")
    def lines() -> Any:
        return jsonify([asdict(line) for line in qs.cart.lines()])

    @app.get("/cart")
    def cart() -> dict[str, int]:
        return qs.cart.items()

    @app.get("/checkout")
    def checkout() -> dict[str, Any]:
        snapshot = qs.cart.checkout()
        return {"lines": snapshot.lines, "token": snapshot.token}

    @app.post("/pay")
    def pay() -> Any:  # a payment provider's return
        try:
            counted = qs.record_purchase(
                "fl-1", total_cents=500, paid=request.form["paid"]
            ).counted
        except PaidTokenError as error:
            return str(error), 400
        return jsonify(counted)

    return app


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Any:
    yield redis_server.url
    with redis_server.client() as admin:
        admin.flushall()


def test_the_apps_own_test_client_works_unchanged(redis_url: str) -> None:
    app = make_app(redis_url)
    QSCookies(app)
    assert isinstance(app.extensions["qscookies"], WSGIQSCookies)
    assert app.wsgi_app is app.extensions["qscookies"]
    client = app.test_client()
    landing = client.get("/?promo=SUMMER24")
    assert (landing.status_code, landing.headers["Location"]) == (303, "/")
    assert client.get("/add?sku=TEA-01").json == 1
    assert client.get("/add?sku=TEA-01").json == 2
    assert client.get("/").json == {
        "visits": 1,
        "promotion": "SUMMER24",
        "badge": {"TEA-01": 2},
        "same": True,
    }
    assert client.get_cookie("qs_cart") is not None


def test_a_payment_return_without_cookies_pays_the_checkout(redis_url: str) -> None:
    app = make_app(redis_url)
    QSCookies(app)
    browser = app.test_client()
    browser.get("/?promo=SUMMER24")
    browser.get("/add?sku=TEA-01")
    token = browser.get("/checkout").json["token"]
    assert browser.get("/add?sku=MUG").json == 1  # after the checkout
    provider = app.test_client()  # no cookie of ours, another site's POST
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    answer = provider.post("/pay", data={"paid": token}, headers=cross_site)
    assert answer.json is True  # credited to SUMMER24
    assert browser.get("/cart").json == {"MUG": 1}
    forged = provider.post("/pay", data={"paid": token[:-1]}, headers=cross_site)
    assert forged.status_code == 400 and "checkout token" in forged.text


def test_lines_with_options_and_a_checkout_that_takes_only_them(
    redis_url: str,
) -> None:
    app = make_app(redis_url)
    QSCookies(app)
    browser = app.test_client()
    ada = "/add?sku=MUG&opt.engraving=Ada&opt.wrap=gift"
    assert browser.get(ada).json == 1
    assert browser.get("/add?sku=MUG&opt.wrap=gift&opt.engraving=Ada").json == 2
    assert browser.get("/add?sku=MUG&opt.engraving=Bob").json == 1
    lines = browser.get("/lines").json
    assert [(line["sku"], line["quantity"], line["options"]) for line in lines] == [
        ("MUG", 2, {"engraving": "Ada", "wrap": "gift"}),
        ("MUG", 1, {"engraving": "Bob"}),
    ]
    ada_id, bob_id = (line["line_id"] for line in lines)
    token = browser.get("/checkout").json["token"]
    tab = app.test_client()  # another tab of the same browser
    tab.set_cookie("qs_cart", browser.get_cookie("qs_cart").value)  # type: ignore[union-attr]
    assert tab.get(ada).json == 3  # added while the customer pays
    provider = app.test_client()  # the cookieless cross-site return
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    paid = provider.post("/pay", data={"paid": token}, headers=cross_site)
    assert paid.status_code == 200 and paid.json is False  # no promotion to credit
    assert browser.get("/cart").json == {ada_id: 1}
    assert bob_id not in browser.get("/cart").json


def test_opt_in_mode_tracks_from_the_yes(redis_url: str) -> None:
    app = make_app(
        redis_url, QSCOOKIES_CONSENT="opt-in", QSCOOKIES_PRIVACY_PATH="/privacy"
    )
    QSCookies(app)
    client = app.test_client()
    assert client.get("/?promo=SUMMER24").status_code == 303
    assert client.get("/add?sku=A").json == 1
    page = client.get("/").json
    assert (page["visits"], page["promotion"]) == (0, None)
    assert client.get_cookie("qs_visitor") is None
    same = {"Sec-Fetch-Site": "same-origin"}
    bad = client.post("/privacy", data={"choice": "?"}, headers=same)
    assert bad.status_code == 400
    yes = client.post("/privacy", data={"choice": "in"}, headers=same)
    assert yes.status_code == 303 and client.get_cookie("qs_visitor") is not None
    assert client.get("/").json["visits"] == 1
    assert client.get("/", headers={"Sec-GPC": "1"}).json["visits"] == 0


def test_init_app_in_a_factory_over_a_real_server(redis_url: str) -> None:
    extension = QSCookies()
    app = make_app(redis_url, QSCOOKIES_VISIT_GAP=60, QSCOOKIES_EXCLUDED_PATHS=["/s/"])
    extension.init_app(app)
    assert app.extensions["qscookies"].settings.visit_gap == 60
    with WSGIServer(app) as server, httpx.Client(base_url=server.url) as browser:
        assert browser.get("/add?sku=A").json() == 1
        assert browser.get("/cart").json() == {"A": 1}
        excluded = browser.get("/s/app.css")
        assert excluded.status_code == 404 and "set-cookie" not in excluded.headers


def test_secret_key_fallbacks_keep_old_cookies_valid(redis_url: str) -> None:
    old = make_app(redis_url)
    QSCookies(old)
    client = old.test_client()
    client.get("/add?sku=A")
    cart = client.get_cookie("qs_cart")
    assert cart is not None
    new_key = "flask-new-secret-key-9876543210"
    rotated = make_app(redis_url, SECRET_KEY=new_key, SECRET_KEY_FALLBACKS=[SECRET])
    other = make_app(redis_url, SECRET_KEY=new_key)
    for app, expected in ((rotated, {"A": 1}), (other, {})):
        QSCookies(app)
        browser = app.test_client()
        browser.set_cookie("qs_cart", cart.value)
        assert browser.get("/cart").json == expected


def test_signatures_never_verify_as_flasks_own(redis_url: str) -> None:
    """qscookies signs with keys derived from ``SECRET_KEY``, never the key itself."""
    app = make_app(redis_url)
    QSCookies(app)
    client = app.test_client()
    client.get("/add?sku=A")
    value = client.get_cookie("qs_cart").value  # type: ignore[union-attr]
    plain = WSGIQSCookies(lambda e, s: [], secret_key=SECRET, redis_url=redis_url)
    assert plain.codec.load_cart(value, 2_000_000_000, 10**10) is None
    assert app.extensions["qscookies"].codec.load_cart(value, 2_000_000_000, 10**10)


def test_redis_down_is_a_503(fresh_redis_server: RedisServer) -> None:
    app = make_app(fresh_redis_server.url, QSCOOKIES_SOCKET_TIMEOUT=0.5)
    QSCookies(app)
    client = app.test_client()
    assert client.get("/add?sku=A").json == 1
    fresh_redis_server.stop()
    assert client.get("/").json["badge"] is None
    response = client.get("/add?sku=B")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"QSCOOKIES_VISIT_GAP": -1},
            "app.config['QSCOOKIES_VISIT_GAP']: visit_gap must be a whole number",
            id="bad-value",
        ),
        pytest.param(
            {"QSCOOKIES_VISITGAP": 60},
            "unknown config key QSCOOKIES_VISITGAP; known keys: QSCOOKIES_REDIS_URL",
            id="typo",
        ),
        pytest.param(
            {"QSCOOKIES_CONSENT": "opt_in"},
            "app.config['QSCOOKIES_CONSENT']: consent must be 'opt-out' or 'opt-in'",
            id="consent",
        ),
        pytest.param(
            {"QSCOOKIES_KEY_PREFIX": "fl"},
            "app.config['QSCOOKIES_KEY_PREFIX']:",
            id="prefix",
        ),
        pytest.param(
            {"QSCOOKIES_SECRET_KEY": "short"},
            "app.config['QSCOOKIES_SECRET_KEY']: secret_key must be",
            id="own-key",
        ),
        pytest.param(
            {"SECRET_KEY": None},
            "SECRET_KEY must be set, each key at least 16 characters",
            id="no-secret-key",
        ),
        pytest.param(
            {"SECRET_KEY_FALLBACKS": ["short"]},
            "SECRET_KEY must be set, each key at least 16 characters",
            id="short-fallback",
        ),
        pytest.param(
            {"QSCOOKIES_REDIS_URL": "nonsense://x"},
            "app.config['QSCOOKIES_REDIS_URL']: bad Redis URL",
            id="bad-url",
        ),
    ],
)
def test_a_bad_config_value_raises_at_init_app_naming_its_key(
    redis_url: str, config: dict[str, Any], message: str
) -> None:
    app = make_app(redis_url, **config)
    wsgi_app = app.wsgi_app
    with pytest.raises(ConfigurationError) as raised:
        QSCookies(app)
    assert str(raised.value).startswith(message)
    assert app.wsgi_app == wsgi_app and "qscookies" not in app.extensions


def test_exactly_one_redis_location(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="exactly one of QSCOOKIES_REDIS_URL"):
        QSCookies(make_app(None))
    with pytest.raises(ConfigurationError, match="exactly one of QSCOOKIES_REDIS_URL"):
        QSCookies(make_app(redis_url, QSCOOKIES_REDIS=object()))


def test_importing_qscookies_imports_neither_flask_nor_django() -> None:
    script = (
        "import sys, qscookies, qscookies.asgi, qscookies.testing\n"
        "print(sorted({'flask', 'django'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_the_http_rules_of_every_door(redis_url: str) -> None:
    """Duplicate privacy signals, the refusals' bodies, ``Expires`` by our clock."""
    app = make_app(redis_url, QSCOOKIES_PRIVACY_PATH="/privacy")
    QSCookies(app)
    app.extensions["qscookies"].clock = lambda: 1_800_000_000
    client = app.test_client()
    for signal in ([("Sec-GPC", "1"), ("Sec-GPC", "0")], [("DNT", "0, 1")]):
        assert client.get("/", headers=signal).json["visits"] == 0
    refused = client.post("/privacy", data={"choice": "out"})
    assert refused.status_code == 403
    assert "neither an Origin nor a Referer" in refused.text
    assert refused.headers["Content-Length"] == str(len(refused.data))
    added = client.get("/add?sku=A")
    (cart,) = [c for c in added.headers.getlist("Set-Cookie") if "qs_cart" in c]
    assert f"Expires={http_date(1_800_000_000 + 30 * 86400)};" in cart


def test_redis_down_is_one_log_line_per_failed_request(
    fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(fresh_redis_server.url, QSCOOKIES_SOCKET_TIMEOUT=0.5)
    QSCookies(app)
    client = app.test_client()
    assert client.get("/add?sku=A").json == 1
    fresh_redis_server.stop()
    caplog.clear()
    for _ in range(3):
        assert client.get("/add?sku=B").status_code == 503
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 3, [r.getMessage() for r in lines]
    assert all(r.exc_info is None for r in lines)  # no traceback
    assert all("cart write or read failed" in r.getMessage() for r in lines)
