"""The per-request object behind :func:`context`.

Built by the middleware for each request it handles. Creating it costs next to
nothing: the visitor cookie is verified once, the cart and promotion cookies only
when asked for, and Redis is called only for the first request of a visit, a
promotion landing, or a cart operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from werkzeug.http import parse_cookie

from .cart import Cart
from .cookies import Attribution
from .cookies import CookieCodec
from .cookies import VisitorState
from .cookies import cookie_name
from .cookies import delete_cookie_header
from .cookies import new_id
from .cookies import set_cookie_header
from .errors import HeadersSentError
from .errors import QSCookiesError
from .errors import StoreUnavailable
from .privacy import keyed_hash
from .privacy import looks_like_card_number
from .privacy import opt_out_signal
from .promotions import capture
from .settings import Settings
from .store import Store
from .store import Tracking
from .visitors import ANONYMOUS
from .visitors import Visitor
from .visitors import advance

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: The PEP 3333 extension key under which the context sits in the environ.
ENVIRON_KEY = "qscookies.context"

#: Lifetime of the opt-out cookie (browsers cap cookies at 400 days).
OPT_OUT_MAX_AGE = 400 * 86400

_T = TypeVar("_T")
_UNSET: Any = object()


@dataclass(frozen=True)
class Runtime:
    """What every request of one middleware shares, built once."""

    settings: Settings
    codec: CookieCodec
    store: Store
    #: Key of the hashes that stand in for visitor ids in sketches and logs.
    hash_key: bytes
    #: The clock, in Unix seconds.
    clock: Callable[[], float]


def context(environ: WSGIEnvironment) -> Context:
    """Return the qscookies context of the current request.

    :param environ: the WSGI environ of a request that went through
        :class:`~qscookies.QSCookies`.
    :raises QSCookiesError: the request did not pass through the middleware
        (an excluded path, or the app is not wrapped).
    """
    try:
        return environ[ENVIRON_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise QSCookiesError(
            "no qscookies context: wrap the app in QSCookies, and do not use the"
            " context on excluded paths"
        ) from None


class Context:
    """Cart, visitor and promotion of one request, and the privacy switches.

    Get it with :func:`context` (or ``environ["qscookies.context"]``)::

        qs = context(environ)
        if qs.visitor.is_returning: ...
        qs.cart.add("SKU-1", quantity=2)
        qs.record_purchase("order-42", total_cents=1999)
    """

    def __init__(self, runtime: Runtime, environ: WSGIEnvironment) -> None:
        settings = runtime.settings
        self._runtime = runtime
        #: The settings of the middleware.
        self.settings = settings
        #: Unix time of the request, whole seconds.
        self.now = int(runtime.clock())
        #: Cookies are sent ``Secure`` with the ``__Host-`` prefix.
        self.secure = (
            environ.get("wsgi.url_scheme") == "https"
            if settings.secure is None
            else settings.secure
        )
        #: The cart; each read or write is one Redis round trip.
        self.cart = Cart(self)
        #: The request's query string without promotion parameters, when it had
        #: some; ``None`` otherwise.
        self.clean_query: str | None = None
        #: The application read the cart, visitor or promotion (responses vary).
        self.accessed = False
        #: A store call failed in this request (turns an app's 500 into a 503).
        self.store_failed = False
        self._environ = environ
        self._cookies = parse_cookie(environ, cls=dict)  # type: ignore[arg-type]
        self._opted_out = self._cookie(settings.opt_out_cookie) == "1"
        self._signal = opt_out_signal(environ, honor_dnt=settings.honor_dnt)
        self._visitor: VisitorState | None = None
        self._attribution: Attribution | None = _UNSET
        self._cart_id: str | None = _UNSET
        self._outgoing: dict[str, str | None] = {}
        self._headers_sent = False

    # -- what the application reads ------

    @property
    def tracking_allowed(self) -> bool:
        """Tracking is on: no opt-out cookie, no ``Sec-GPC: 1`` (or honoured DNT)."""
        return not (self._opted_out or self._signal)

    @property
    def visitor(self) -> Visitor:
        """The visitor making this request (anonymous when not tracked)."""
        self.accessed = True
        if self._visitor is None:
            return ANONYMOUS
        return Visitor.from_state(self._visitor)

    @property
    def promotion(self) -> str | None:
        """The promotion code attributed to this visitor, or ``None``."""
        self.accessed = True
        return self._attributed_code()

    def _attributed_code(self) -> str | None:
        if not self.tracking_allowed:
            return None
        if self._attribution is _UNSET:
            settings = self.settings
            self._attribution = self._runtime.codec.load_promotion(
                self._cookie(settings.promotion_cookie),
                self.now,
                settings.promotion_max_age,
            )
        return self._attribution.code if self._attribution else None

    # -- what the middleware drives ------

    def begin(self) -> None:
        """Recognise the visitor and capture a promotion landing.

        Called by the middleware before the application. At most one Redis round
        trip: on the first request of a visit and/or a promotion landing.
        """
        settings = self.settings
        query = self._environ.get("QUERY_STRING", "")
        code = None
        if query and any(name in query for name in settings.promotion_params):
            clean, present, code = capture(
                query, settings.promotion_params, settings.allowed_promotions
            )
            self.clean_query = clean if present else None
        if not self.tracking_allowed:
            self._drop(settings.visitor_cookie, settings.promotion_cookie)
            return
        runtime = self._runtime
        step = advance(
            runtime.codec.load_visitor(
                self._cookie(settings.visitor_cookie),
                self.now,
                settings.visitor_max_age,
            ),
            self.now,
            visit_gap=settings.visit_gap,
        )
        state = self._visitor = step.state
        if step.refresh:
            self._outgoing[settings.visitor_cookie] = runtime.codec.dump_visitor(state)
        tracking = Tracking()
        if step.new_visit:
            tracking.visit = (state.visitor_id, state.visits, state.first_seen)
        if code:
            self._attribution = Attribution(code, self.now)
            self._outgoing[settings.promotion_cookie] = runtime.codec.dump_promotion(
                self._attribution
            )
            tracking.landing = code
        if state.visits > 1 and tracking:
            tracking.returning = self._attributed_code()
        if tracking:
            tracking.visitor_hash = keyed_hash(runtime.hash_key, state.visitor_id, 32)
            runtime.store.track(
                tracking,
                now=self.now,
                visitor_ttl=settings.visitor_max_age,
                aggregate_ttl=settings.aggregate_max_age,
            )

    def cookie_headers(self) -> list[str]:
        """The ``Set-Cookie`` values for this response; later cookies cannot be set.

        Only cookies that are new, renewed or dropped are sent.
        """
        self._headers_sent = True
        max_ages = self._max_ages()
        headers = []
        for base, value in self._outgoing.items():
            name = cookie_name(base, self.secure)
            if value is None:
                headers.append(delete_cookie_header(name, secure=self.secure))
            else:
                headers.append(
                    set_cookie_header(
                        name, value, max_age=max_ages[base], secure=self.secure
                    )
                )
        return headers

    # -- cart support ------

    def cart_id(self) -> str | None:
        """The cart id from a valid cart cookie, or ``None`` (no cart yet)."""
        settings = self.settings
        if self._cart_id is _UNSET:
            self._cart_id = self._runtime.codec.load_cart(
                self._cookie(settings.cart_cookie), self.now, settings.cart_max_age
            )
        self.accessed = True
        return self._cart_id

    def cart_id_for_write(self) -> str:
        """The cart id to write to: created if needed, its cookie renewed.

        :raises HeadersSentError: a new cart is needed after the headers were sent.
        """
        cart_id = self.cart_id()
        if self._headers_sent:
            if cart_id is None:
                raise HeadersSentError(
                    "the cart was first written after start_response(); the browser"
                    " could never learn its id. Write to the cart before responding."
                )
            return cart_id  # the cookie is renewed on the next write
        cart_id = self._cart_id = cart_id or new_id()
        self._outgoing[self.settings.cart_cookie] = self._runtime.codec.dump_cart(
            cart_id, self.now
        )
        return cart_id

    def store_call(self, call: Callable[[Store], _T]) -> _T:
        """Run a store call, noting a failure so the response becomes a 503."""
        try:
            return call(self._runtime.store)
        except StoreUnavailable:
            self.store_failed = True
            raise

    # -- purchases and privacy ------

    def record_purchase(self, order_id: str, total_cents: int) -> bool:
        """Count a purchase (and its revenue) for the attributed promotion.

        Idempotent per *order_id*: calling it again for the same order counts
        nothing. The cart is emptied and a new cart id is used from now on.
        One round trip (a script with ``SET NX``, ``HINCRBY``; ``DEL`` of the cart).

        :param order_id: the shop's order id, 1-128 printable characters.
        :param total_cents: the order total in cents (an int, at least 0).
        :return: whether this call counted the purchase for a promotion.
        :raises QSCookiesError: a bad order id or total.
        :raises StoreUnavailable: Redis could not record it.
        """
        if (
            not isinstance(order_id, str)
            or not 0 < len(order_id) <= 128
            or not order_id.isprintable()
            or looks_like_card_number(order_id)
        ):
            raise QSCookiesError("order_id must be 1-128 printable characters")
        if type(total_cents) is not int or not 0 <= total_cents < 10**12:
            raise QSCookiesError("total_cents must be an int from 0 to 10**12 - 1")
        code = self.promotion
        cart_id = self.cart_id()
        counted = self.store_call(
            lambda store: store.record_purchase(
                order_id=order_id,
                code=code,
                revenue_cents=total_cents,
                cart_id=cart_id,
                now=self.now,
                aggregate_ttl=self.settings.aggregate_max_age,
            )
        )
        self._drop_cart()
        return counted

    def opt_out(self) -> None:
        """Stop tracking this browser: drop the visitor and promotion cookies.

        The visitor's record is deleted (best effort: if Redis is away it expires
        on its own). The cart keeps working.
        """
        settings = self.settings
        visitor = self._visitor
        self._opted_out = True
        self._visitor = None
        self._attribution = None
        self._drop(settings.visitor_cookie, settings.promotion_cookie)
        self._outgoing[settings.opt_out_cookie] = "1"
        if visitor:
            store = self._runtime.store
            try:
                store.delete([store.visitor_key(visitor.visitor_id)])
            except StoreUnavailable:
                pass  # the record expires with its TTL; the cookie is what counts

    def opt_in(self) -> None:
        """Allow tracking again from the next request (unless a header opts out)."""
        self._opted_out = False
        self._drop(self.settings.opt_out_cookie)

    def forget(self) -> None:
        """Erase everything held about this visitor and cart.

        Deletes the visitor record and the cart (``DEL``) and drops the visitor,
        promotion and cart cookies. Aggregate counts stay: they hold no
        per-visitor data.

        :raises StoreUnavailable: Redis could not erase the data.
        """
        settings = self.settings
        runtime = self._runtime
        visitor = self._visitor or runtime.codec.load_visitor(
            self._cookie(settings.visitor_cookie), self.now, settings.visitor_max_age
        )
        cart_id = self.cart_id()
        keys = [runtime.store.visitor_key(visitor.visitor_id)] if visitor else []
        if cart_id:
            keys.append(runtime.store.cart_key(cart_id))
        self.store_call(lambda store: store.delete(keys))
        self._visitor = None
        self._attribution = None
        self._drop(settings.visitor_cookie, settings.promotion_cookie)
        self._drop_cart()

    # -- helpers ------

    def _cookie(self, base: str) -> str | None:
        return self._cookies.get(cookie_name(base, self.secure))

    def _drop(self, *bases: str) -> None:
        for base in bases:
            if self._cookie(base) is not None:
                self._outgoing[base] = None
            else:
                self._outgoing.pop(base, None)

    def _drop_cart(self) -> None:
        self._cart_id = None
        self._drop(self.settings.cart_cookie)
        self.cart._reset()

    def _max_ages(self) -> dict[str, int]:
        settings = self.settings
        return {
            settings.cart_cookie: settings.cart_max_age,
            settings.visitor_cookie: settings.visitor_max_age,
            settings.promotion_cookie: settings.promotion_max_age,
            settings.opt_out_cookie: OPT_OUT_MAX_AGE,
        }
