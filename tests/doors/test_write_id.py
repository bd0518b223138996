"""Cart adds that can be re-sent safely: ``qs.cart.add(..., write_id=...)``.

The script that adds the line sets the write id's marker (``SET NX``, a keyed
hash of the id, in the cart's slot); a re-sent add finds it and changes nothing.
"""

from __future__ import annotations

import httpx
import pytest
import redis
from werkzeug.test import Client

from qscookies import CartError
from qscookies import QSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.core.cartwrite import MAX_WRITE_MARKERS
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.store.client import client_options

from asgi_server import ASGIServer
from asgi_shop import Events
from asgi_shop import make_app
from launchers import RedisClusterServers
from launchers import frozen
from shop import SECRET
from shop import get_json
from shop import shop
from shop import wrap


def test_a_resent_add_is_applied_once(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client))
    assert get_json(client, "/add?sku=A&id=form-1") == 1
    assert get_json(client, "/add?sku=A&id=form-1") == 1  # re-sent: answered, not added
    assert get_json(client, "/add?sku=A&id=form-2") == 2
    assert get_json(client, "/add?sku=A") == 3  # no id: every add counts
    assert get_json(client, "/cart") == {"A": 3}
    [markers] = redis_client.keys("qs:w:*")
    fields = redis_client.hgetall(markers)
    assert len(fields) == 3  # two markers and the sequence
    for field in fields:
        assert b"form-" not in field  # a keyed hash, never the id itself
    assert 0 < redis_client.pttl(markers)
    [cart] = redis_client.keys("qs:c:*")
    assert markers.split(b":")[2] == cart.split(b":")[2]  # the cart's hash tag


def test_one_write_id_for_two_skus_adds_both(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client))
    assert get_json(client, "/add?sku=A&id=form-1") == 1
    assert get_json(client, "/add?sku=B&id=form-1") == 1  # another line: applied
    assert get_json(client, "/add?sku=B&id=form-1") == 1  # re-sent: not again
    assert get_json(client, "/cart") == {"A": 1, "B": 1}


def test_markers_per_cart_are_capped(redis_client: redis.Redis) -> None:
    """The oldest marker goes first: the hash never holds more than the cap."""
    client = Client(wrap(redis_client, max_quantity=999))
    for number in range(MAX_WRITE_MARKERS + 10):
        get_json(client, f"/add?sku=A&id=w-{number}")
    [markers] = redis_client.keys("qs:w:*")
    assert redis_client.hlen(markers) == MAX_WRITE_MARKERS + 1  # and the sequence
    total = MAX_WRITE_MARKERS + 10
    newest = f"/add?sku=A&id=w-{total - 1}"
    assert get_json(client, newest) == total  # remembered: not applied again
    assert get_json(client, "/add?sku=A&id=w-0") == total + 1  # the oldest: forgotten


def test_a_purchase_clears_the_markers_with_the_cart(redis_client: redis.Redis) -> None:
    """A customer's cart outlives a purchase; the same form id used for the
    next order's add must apply."""
    client = Client(wrap(redis_client))
    get_json(client, "/login?customer=ada")
    client.get("/?promo=SUMMER")
    assert get_json(client, "/add?sku=A&id=form-1") == 1
    get_json(client, "/buy?order=o-1&total=100")
    assert redis_client.keys("qs:w:*") == []
    assert get_json(client, "/add?sku=A&id=form-1") == 1  # applied: a new order
    assert get_json(client, "/cart") == {"A": 1}


def test_a_refused_add_leaves_no_marker(redis_client: redis.Redis) -> None:
    client = Client(wrap(redis_client, max_quantity=2))
    assert get_json(client, "/add?sku=A&q=2&id=one") == 2
    with pytest.raises(CartError, match="at most 2"):
        client.get("/add?sku=A&id=two")
    assert get_json(client, "/remove?sku=A") is None
    assert get_json(client, "/add?sku=A&id=two") == 1  # refused before: applies now


@pytest.mark.parametrize("write_id", ["", "x" * 129, "a\nb"])
def test_a_bad_write_id_is_refused(redis_client: redis.Redis, write_id: str) -> None:
    app = wrap(redis_client)
    with pytest.raises(CartError, match="write_id"):
        Client(app).get("/add", query_string={"sku": "A", "id": write_id})


def test_an_add_whose_reply_was_lost_is_not_applied_twice(
    fresh_redis_server: RedisServer,
) -> None:
    """The case of issue 15: the reply times out (a paused master), the add
    still runs when the master wakes, and the visitor's retry must not add."""
    app = QSCookies(
        shop, secret_key=SECRET, redis_url=fresh_redis_server.url, socket_timeout=0.2
    )
    client = Client(app)
    assert get_json(client, "/add?sku=A&id=first") == 1
    with fresh_redis_server.client() as admin:
        [cart] = admin.keys("qs:c:*")
        with frozen(fresh_redis_server):
            assert client.get("/add?sku=A&id=second").status_code == 503
        wait_until(lambda: admin.hget(cart, "A") == b"2", "the late add to run", 5)
        assert get_json(client, "/add?sku=A&id=second") == 2  # the retry: not 3
        assert admin.hget(cart, "A") == b"2"
    app.close()


def test_the_asgi_door(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    app = ASGIQSCookies(
        make_app("bare", Events()), secret_key=SECRET, redis_url=redis_server.url
    )
    with (
        ASGIServer(app, cleanup=[app.aclose]) as server,
        httpx.Client(base_url=server.url) as browser,
    ):
        assert browser.get("/add?sku=A&id=f").json() == 1
        assert browser.get("/add?sku=A&id=f").json() == 1
        assert browser.get("/add?sku=A&id=g").json() == 2


def test_on_a_cluster_the_marker_shares_the_carts_slot(
    redis_cluster: RedisClusterServers,
) -> None:
    client = redis_cluster.client(**client_options(1.0))
    app = QSCookies(shop, secret_key=SECRET, redis=client, key_prefix="wid:")
    browser = Client(app)
    assert get_json(browser, "/add?sku=A&id=f") == 1
    assert get_json(browser, "/add?sku=A&id=f") == 1
    assert get_json(browser, "/add?sku=A&id=g") == 2
    for node in redis_cluster.nodes:  # the session cluster: leave no key behind
        with node.client() as direct:
            for key in direct.keys("wid:*"):
                direct.delete(key)
    client.close()


def _resent_after_sign_in(browser: Client) -> None:
    """An add whose reply was lost, re-sent after the sign-in merged its cart."""
    assert get_json(browser, "/add?sku=A&id=form-1") == 1
    assert get_json(browser, "/login?customer=ada")["cart"] == {"A": 1}
    assert get_json(browser, "/add?sku=A&id=form-1") == 1  # re-sent: not again
    assert get_json(browser, "/add?sku=A&id=form-2") == 2
    assert get_json(browser, "/cart") == {"A": 2}


def test_a_write_resent_after_sign_in_is_applied_once(
    redis_client: redis.Redis,
) -> None:
    """The login script carries the anonymous cart's markers into the
    customer's, bounded as before, and deletes the anonymous ones."""
    browser = Client(wrap(redis_client, max_quantity=999))
    _resent_after_sign_in(browser)
    [markers] = redis_client.keys("qs:w:*")  # the anonymous cart's are gone
    assert b"{u:" in markers
    # A second browser of the customer: a full hash of anonymous markers is
    # carried over the customer's and the whole stays within the cap.
    other = Client(wrap(redis_client, max_quantity=999))
    for number in range(MAX_WRITE_MARKERS):
        get_json(other, f"/add?sku=B&id=w-{number}")
    get_json(other, "/login?customer=ada")
    assert redis_client.hlen(markers) == MAX_WRITE_MARKERS + 1  # and the sequence
    assert get_json(other, f"/add?sku=B&id=w-{MAX_WRITE_MARKERS - 1}") == 64
    assert get_json(other, "/add?sku=A&id=form-2") == 3  # the oldest: forgotten


def test_on_a_cluster_a_write_resent_after_sign_in_is_applied_once(
    redis_cluster: RedisClusterServers,
) -> None:
    """The take (step 1) carries the markers to the merge (step 2)."""
    client = redis_cluster.client(**client_options(1.0))
    app = QSCookies(shop, secret_key=SECRET, redis=client, key_prefix="wsi:")
    _resent_after_sign_in(Client(app))
    found = []
    for node in redis_cluster.nodes:  # the session cluster: leave no key behind
        with node.client() as direct:
            found += direct.keys("wsi:w:*")
            for key in direct.keys("wsi:*"):
                direct.delete(key)
    assert len(found) == 1 and b"{u:" in found[0]
    client.close()
