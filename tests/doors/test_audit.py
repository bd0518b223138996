"""The data audit: what is left in Redis after the suite holds nothing it should not.

Moved last by ``pytest_collection_modifyitems`` in ``conftest.py``. The
``redis_client`` fixture flushes the session server after each test, so the
suite leaves little behind: the audit first drives representative traffic of its
own through the middleware (landings, visits, returning visits, carts,
purchases, opt-out by API, route and header, erasure) from the client IPs the
other tests use, then audits every key on the session server as the superuser,
leftovers of earlier tests included.
"""

from __future__ import annotations

from test_privacy import CLIENT_IPS
from test_privacy import privacy_shop
from werkzeug.test import Client

from qscookies import QSCookies
from qscookies.embedded import RedisServer

from shop import SECRET
from shop import get_json

NOW = 1_800_000_000
AGGREGATE = b"qs:a:"


def _traffic(app: QSCookies) -> None:
    """Every kind of request that writes to Redis, from the tests' client IPs."""
    codes = ("SUMMER", "WINTER", "utm-2027")
    for index in range(12):
        app.clock = lambda index=index: NOW + index * 60
        ip = CLIENT_IPS[index % len(CLIENT_IPS)]
        kwargs = {
            "environ_base": {"REMOTE_ADDR": ip},
            "headers": {"X-Forwarded-For": ", ".join(CLIENT_IPS)},
        }
        browser = Client(app)
        browser.get(f"/?promo={codes[index % 3]}", **kwargs)
        get_json(browser, "/add?sku=SKU-1&q=2", **kwargs)
        if index % 2:
            get_json(browser, f"/buy?order=order-{index}&total=1999", **kwargs)
        app.clock = lambda index=index: NOW + index * 60 + 7200  # returning
        get_json(browser, "/", **kwargs)
        get_json(browser, "/add?sku=SKU-2", **kwargs)
        if index % 4 == 0:
            browser.get("/optout", **kwargs)
        elif index % 4 == 1:
            get_json(browser, "/forget", **kwargs)
        elif index % 4 == 2:
            browser.get("/?promo=SUMMER", headers={"Sec-GPC": "1"})
            browser.post(
                "/privacy",
                data={"choice": "out"},
                headers={"Origin": "http://localhost"},
            )


def test_after_the_suite_redis_holds_only_what_it_should(
    redis_server: RedisServer,
) -> None:
    with redis_server.client() as admin:
        app = QSCookies(
            privacy_shop, secret_key=SECRET, redis=admin, privacy_path="/privacy"
        )
        _traffic(app)
        keys = list(admin.scan_iter(count=1000))
        assert len(keys) > 20  # the audit has something to audit
        ids = [key.split(b"{")[1].rstrip(b"}") for key in keys if key[3:4] == b"c"]
        assert len(ids) >= 8  # carts: twelve browsers, three forgot theirs
        assert not [key for key in keys if key[3:4] == b"v"]  # no visitor records
        for key in keys:
            assert key.startswith(b"qs:"), key
            assert admin.ttl(key) > 0, key  # everything expires, aggregates too
            value = admin.dump(key)
            for ip in CLIENT_IPS:
                assert ip.encode() not in key + value, key
            if key.startswith(AGGREGATE):
                assert admin.type(key) in (b"hash", b"string", b"zset"), key
                assert not [i for i in ids if i in key + value], key
        admin.flushall()
