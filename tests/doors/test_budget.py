"""The round-trip budget of PRODUCT.md, counted on the wire of a real Redis.

Scripts are sent by SHA1; the first use of a script on a server costs one more
round trip, once per server (``NOSCRIPT``, then the source).

Each send on a connection is one round trip (a pipeline is sent at once); the
commands that reached Redis are read back from ``INFO commandstats``. The
connection is opened before counting, so a handshake (``HELLO``, ``CLIENT
SETINFO``…, which depend on the client's options and the server's version) never
lands inside a measured request, and a measured request must not reconnect.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from werkzeug.test import Client
from werkzeug.test import EnvironBuilder

from qscookies import QSCookies
from qscookies import context
from qscookies import scripts
from qscookies.core.aggregates import utc_day
from qscookies.core.lines import canonical_options
from qscookies.core.lines import line_id
from qscookies.embedded import RedisServer
from qscookies.keys import SITE
from qscookies.keys import KeySchema

from launchers import RedisClusterServers
from shop import SECRET
from shop import CountingConnection
from shop import RoundTrips
from shop import get_json
from shop import shop
from shop import wrap

NOW = 1_800_000_000


@pytest.fixture
def wire(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[RoundTrips]:
    counter = RoundTrips(redis_server.url)
    yield counter
    counter.close()


@pytest.fixture
def app(wire: RoundTrips) -> QSCookies:
    middleware = wrap(wire.client)
    middleware.clock = lambda: NOW
    middleware.startup_check()  # a server's start-up hook: not a request's cost
    wire.warm()  # the start-up check may have closed the connection (Redis 6.2)
    return middleware


def commands(client: redis.Redis) -> int:
    """Commands Redis has executed so far, not counting INFO itself."""
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


def round_trips(wire: RoundTrips, client: Client, url: str) -> int:
    """Round trips of one request, which must reuse the open connection."""
    handshakes = len(wire.handshakes)
    with wire.count() as counted:
        client.get(url, follow_redirects=False)
    assert len(wire.handshakes) == handshakes, "the request reconnected"
    return counted[0]


def test_known_visitor_page_view_inside_a_visit_is_free(
    app: QSCookies, wire: RoundTrips, redis_client: redis.Redis
) -> None:
    client = Client(app)
    client.get("/")
    client.get("/?promo=SUMMER")
    app.clock = lambda: NOW + 600
    before = commands(redis_client)
    # "/" reads qs.visitor and qs.promotion
    assert round_trips(wire, client, "/") == 0
    assert get_json(client, "/") == {
        "returning": False,
        "visits": 1,
        "promotion": "SUMMER",
    }
    assert commands(redis_client) == before


def test_first_request_of_a_visit_is_one_round_trip(
    app: QSCookies, wire: RoundTrips
) -> None:
    client = Client(app)
    assert round_trips(wire, client, "/") == 1  # a new visitor
    app.clock = lambda: NOW + 3600
    assert round_trips(wire, client, "/") == 1  # a returning visitor's new visit


def test_landing_and_visit_start_together_are_one_round_trip(
    app: QSCookies, wire: RoundTrips, redis_client: redis.Redis
) -> None:
    client = Client(app)
    before = commands(redis_client)
    assert round_trips(wire, client, "/?promo=SUMMER") == 1
    assert commands(redis_client) - before >= 5  # visit + counters, one pipeline
    app.clock = lambda: NOW + 3600  # returning visitor lands again
    assert round_trips(wire, client, "/?promo=AUTUMN") == 1


def test_a_landing_with_source_and_medium_is_one_round_trip(
    app: QSCookies, wire: RoundTrips, redis_client: redis.Redis
) -> None:
    client = Client(app)
    url = "/?promo=SUMMER&utm_source=news&utm_medium=email"
    assert round_trips(wire, client, url) == 1  # a new visitor: visit + landing
    assert round_trips(wire, client, "/?promo=SUMMER&utm_source=blog") == 1
    landed = redis_client.hget("qs:a:{SUMMER}:d:20270115", "landings@news/email")
    assert landed == b"1"


def test_a_cart_that_admits_its_landing_is_one_round_trip(
    wire: RoundTrips, redis_client: redis.Redis
) -> None:
    """A cart whose landing counted under ``other`` also admits the code landed
    on (the admit script, pipelined with the cart's): still one round trip."""
    app = wrap(wire.client, max_promotions_per_day=2)
    app.clock = lambda: NOW
    wire.warm()
    Client(app).get("/?promo=FIRST")  # the landings' half of the day's bound
    warm, browser = Client(app), Client(app)
    for client in (warm, browser):
        client.get("/?promo=SPRING")  # counted under other
    warm.get("/add?sku=A")  # the admit script's first use (NOSCRIPT, once)
    assert round_trips(wire, browser, "/add?sku=A") == 1
    assert redis_client.zscore(f"qs:a:i:{utc_day(NOW)}", "SPRING") == 0


def test_landing_inside_a_visit_is_one_round_trip(
    app: QSCookies, wire: RoundTrips
) -> None:
    client = Client(app)
    client.get("/")
    assert round_trips(wire, client, "/?promo=SUMMER") == 1


@pytest.mark.parametrize(
    "url",
    [
        "/add?sku=A",
        "/add?sku=A&q=3",
        "/set?sku=A&q=2",
        "/remove?sku=A",
        "/cart",
        "/clear",
    ],
)
def test_each_cart_operation_is_one_round_trip(
    app: QSCookies, wire: RoundTrips, url: str
) -> None:
    client = Client(app)
    client.get("/add?sku=A")  # a cart exists; the visit has started
    assert round_trips(wire, client, url) == 1


def test_first_add_under_a_promotion_is_still_one_round_trip(
    app: QSCookies, wire: RoundTrips, redis_client: redis.Redis
) -> None:
    client = Client(app)
    client.get("/?promo=SUMMER")
    assert round_trips(wire, client, "/add?sku=A") == 1
    assert redis_client.hget("qs:a:{SUMMER}:d:20270115", "carts") == b"1"


def test_reading_an_absent_cart_needs_no_redis(
    app: QSCookies, wire: RoundTrips
) -> None:
    client = Client(app)
    client.get("/")
    assert round_trips(wire, client, "/cart") == 0


def test_purchase_is_one_round_trip(app: QSCookies, wire: RoundTrips) -> None:
    client = Client(app)
    client.get("/?promo=SUMMER")
    client.get("/buy?order=o-0&total=100")  # the script's first use on this server
    client.get("/add?sku=A")
    assert round_trips(wire, client, "/buy?order=o-1&total=100") == 1


def test_checkout_and_a_paid_purchase_are_one_round_trip_each(
    app: QSCookies, wire: RoundTrips
) -> None:
    client = Client(app)
    client.get("/?promo=SUMMER")
    client.get("/add?sku=A")
    warm = get_json(client, "/checkout")["token"]
    client.get("/buy", query_string={"order": "o-0", "total": "1", "paid": warm})
    client.get("/add?sku=A")
    assert round_trips(wire, client, "/checkout") == 1
    token = get_json(client, "/checkout")["token"]
    paid = f"/buy?order=o-1&total=100&paid={token}"
    assert round_trips(wire, client, paid) == 1
    provider = Client(app)  # the cookieless return, a cross-site POST: the same
    with wire.count() as counted:
        provider.post(
            paid.replace("o-1", "o-2"), headers={"Sec-Fetch-Site": "cross-site"}
        )
    assert counted == [1]


def test_excluded_path_is_free_and_sets_no_cookie(
    app: QSCookies, wire: RoundTrips, redis_client: redis.Redis
) -> None:
    client = Client(app)
    before = commands(redis_client)
    with wire.count() as counted:
        response = client.get("/static/app.js?promo=SUMMER")
    assert counted == [0]
    assert "Set-Cookie" not in response.headers
    assert commands(redis_client) == before


def test_a_script_new_to_the_server_is_sent_once(
    app: QSCookies, wire: RoundTrips, redis_client: redis.Redis
) -> None:
    """Redis 6.2 gets a script's source once (``NOSCRIPT``, then ``EVAL``);
    Redis 7 holds the library: its function is called in one round trip."""
    redis_client.script_flush()
    functions = int(redis_client.info("server")["redis_version"].split(".")[0]) >= 7
    client = Client(app)
    client.get("/")
    first = 1 if functions else 2  # 6.2: NOSCRIPT, then EVAL
    assert round_trips(wire, client, "/add?sku=A") == first
    assert round_trips(wire, client, "/add?sku=A") == 1  # FCALL or EVALSHA now
    assert get_json(client, "/cart") == {"A": 2}  # and the first add counted once


# -- accounts ------


def test_login_is_one_round_trip_on_a_single_redis(
    app: QSCookies, wire: RoundTrips
) -> None:
    Client(app).get("/login?customer=warm")  # the scripts' first use
    other = Client(app)
    other.get("/add?sku=A")
    other.get("/login?customer=warm")
    browser = Client(app)
    browser.get("/add?sku=A")  # an anonymous cart to merge
    # /login reads the cart too: the merge's reply holds the lines
    assert round_trips(wire, browser, "/login?customer=alice") == 1
    empty = Client(app)
    empty.get("/")
    assert round_trips(wire, empty, "/login?customer=bob") == 1  # no cart


def test_logout_is_free(app: QSCookies, wire: RoundTrips) -> None:
    browser = Client(app)
    browser.get("/login?customer=alice")
    assert round_trips(wire, browser, "/logout") == 0
    assert round_trips(wire, browser, "/account") == 0


# -- consent ------


@pytest.fixture
def opt_in_app(wire: RoundTrips) -> QSCookies:
    middleware = wrap(wire.client, consent="opt-in", privacy_path="/privacy")
    middleware.clock = lambda: NOW
    middleware.startup_check()
    wire.warm()
    return middleware


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(
            [
                ("/", 0),  # no visitor, nothing to count
                ("/?promo=SUMMER", 1),  # the landing counter
                ("/add?sku=A", 1),  # the cart as ever
                ("/choice", 0),
            ],
            id="before-a-choice",
        ),
        pytest.param(
            [
                ("/choice?c=in", 1),  # the visit starts
                ("/", 0),  # inside that visit
                ("/choice?c=in", 0),  # already in
                ("/choice?c=out", 0),
                ("/?promo=SUMMER", 0),  # out: not counted
            ],
            id="a-yes-then-an-out",
        ),
    ],
)
def test_opt_in_mode(
    opt_in_app: QSCookies, wire: RoundTrips, steps: list[tuple[str, int]]
) -> None:
    Client(opt_in_app).get("/add?sku=W")  # the scripts' first use on this server
    client = Client(opt_in_app)
    client.get("/?promo=WARM")
    assert [(url, round_trips(wire, client, url)) for url, _ in steps] == steps


def test_a_yes_by_the_route_is_one_round_trip(
    opt_in_app: QSCookies, wire: RoundTrips
) -> None:
    client = Client(opt_in_app)
    client.get("/")
    same = {"Sec-Fetch-Site": "same-origin"}
    with wire.count() as counted:
        answer = client.post("/privacy", data={"choice": "in"}, headers=same)
    assert answer.status_code == 303 and counted == [1]
    with wire.count() as counted:
        client.post("/privacy", data={"choice": "out"}, headers=same)
    assert counted == [0]


@pytest.fixture
def cluster_app(redis_cluster: RedisClusterServers) -> Iterator[tuple[Any, list[int]]]:
    """The shop on Redis Cluster, and the sends of its client (every node)."""
    sent: list[int] = []
    handshakes: list[int] = []
    counting = type(
        "Counting", (CountingConnection,), {"sent": sent, "handshakes": handshakes}
    )
    client = redis_cluster.client(decode_responses=True)
    for node in client.get_nodes():
        pool = node.redis_connection.connection_pool
        pool.connection_class = counting
        pool.reset()  # from now on every connection counts
    for script in (
        scripts.CART_PUT,
        scripts.CART_TAKE,
        scripts.CART_MERGE,
        scripts.LANDING,
    ):
        client.script_load(script)  # on every primary: no NOSCRIPT when counted
    app = QSCookies(shop, secret_key=SECRET, redis=client)
    app.clock = lambda: NOW
    app.startup_check()
    sent.clear()
    yield app, sent
    client.flushall(target_nodes=client.PRIMARIES)
    client.close()


@pytest.mark.parametrize("merge", ["add", "replace", "keep"])
def test_login_is_at_most_two_round_trips_on_redis_cluster(
    cluster_app: tuple[Any, list[int]], merge: str
) -> None:
    app, sent = cluster_app
    browser, empty = Client(app), Client(app)
    browser.get("/add?sku=A")
    empty.get("/")
    before = len(sent)
    answer = get_json(browser, f"/login?customer=alice&merge={merge}")
    assert answer == {"signed_in": True, "cart": {} if merge == "keep" else {"A": 1}}
    assert len(sent) - before == 2  # take, then merge
    before = len(sent)
    get_json(empty, "/login?customer=alice")  # no anonymous cart: one step
    assert len(sent) - before == 1
    before = len(sent)
    get_json(browser, "/logout")
    assert len(sent) == before


def test_a_paid_purchase_on_redis_cluster_costs_no_more_than_before(
    cluster_app: tuple[Any, list[int]],
) -> None:
    """Two round trips, as a purchase without a token: the order's marker
    first, then the take and the counts (sent to their nodes at once). Each
    kind is measured on its second use (the scripts then known to the nodes)."""
    app, sent = cluster_app
    browser = Client(app)
    browser.get("/?promo=SUMMER")
    cost: dict[bool, int] = {}
    for order in ("o-0", "o-1", "p-0", "p-1"):
        browser.get("/add?sku=A")
        paid = order.startswith("p")
        token = get_json(browser, "/checkout")["token"] if paid else None
        query = {"order": order, "total": "5", **({"paid": token} if paid else {})}
        before = len(sent)
        assert get_json(browser, "/buy", query_string=query)
        cost[paid] = len(sent) - before
    assert get_json(browser, "/cart") == {}
    assert 2 <= cost[True] <= cost[False]


def test_a_landing_on_redis_cluster_asks_no_keys_of_the_server(
    cluster_app: tuple[Any, list[int]], redis_cluster: RedisClusterServers
) -> None:
    """Step 1 goes to the nodes of the site's keys and of the day's index, at once;
    step 2 to the code's node. No ``COMMAND GETKEYS`` before a pipelined script."""
    app, sent = cluster_app
    day = utc_day(NOW)
    keys = KeySchema("qs:")
    with redis_cluster.client() as client:
        first_step = {
            client.get_node_from_key(key).name
            for key in (keys.aggregate(SITE, "d", day), keys.day_index(day))
        }
    before = len(sent)
    response = Client(app).get("/?promo=CLUSTERED")
    assert response.status_code == 303
    assert len(sent) - before == len(first_step) + 1


def test_lines_with_options_are_one_round_trip_each(
    app: QSCookies, wire: RoundTrips
) -> None:
    client = Client(app)
    client.get("/add?sku=A")
    warm = get_json(client, "/checkout")["token"]  # the scripts' first use
    client.get("/buy", query_string={"order": "o-0", "total": "1", "paid": warm})
    mug = line_id("MUG", canonical_options({"engraving": "Ada"}, 5))
    for url in [
        "/add?sku=MUG&opt.engraving=Ada",
        "/add?sku=MUG&opt.engraving=Ada&q=2",
        "/lines",
        f"/set?sku={mug}&q=5",
        f"/remove?sku={mug}",
        "/add?sku=MUG&opt.engraving=Bob",
        "/checkout",
    ]:
        assert round_trips(wire, client, url) == 1, url
    token = get_json(client, "/checkout")["token"]
    assert round_trips(wire, client, f"/buy?order=o-9&total=1&paid={token}") == 1


def _plain(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A storefront without a framework (werkzeug's ``Request`` keeps itself
    in the environ: a cycle of the framework's own)."""
    qs = context(environ, None)
    path = environ["PATH_INFO"]
    if qs is not None:
        qs.visitor, qs.promotion  # noqa: B018 - what a page reads
        if path == "/add":
            qs.cart.add(environ["QUERY_STRING"].partition("=")[2] or "A")
        elif path == "/cart":
            qs.cart.items()
        elif path == "/lines":
            qs.cart.lines()
        elif path == "/checkout":
            qs.cart.checkout()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_a_request_leaves_nothing_for_the_garbage_collector(
    wire: RoundTrips,
) -> None:
    """What a request builds is freed by reference counting once its environ
    goes, as a server drops it: no reference cycle (a state that holds a
    closure over itself, say) leaves work for the cyclic collector, which
    would walk it on later requests (``bench/instructions.py``)."""
    app = wrap(wire.client, app=_plain)
    app.clock = lambda: NOW
    client = Client(app)
    client.get("/?promo=SUMMER")
    client.get("/add?sku=A")
    cookie = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    paths = ["/", "/add?sku=B", "/cart", "/lines", "/checkout", "/?promo=AUTUMN"]
    paths += ["/static/x.css", "/cart?x=%ff", "/privacy"]
    gc.collect()
    gc.disable()
    try:
        for path in paths:
            builder = EnvironBuilder(path=path, headers={"Cookie": cookie})
            environ = builder.get_environ()
            body = app(environ, lambda status, headers, exc_info=None: None)
            b"".join(body)
            del environ, body
            assert gc.collect() == 0, path
    finally:
        gc.enable()
