"""The exceptions qscookies raises, all rooted at :class:`QSCookiesError`."""

from __future__ import annotations

__all__ = [
    "AccountError",
    "CartError",
    "CommandRefused",
    "ConfigurationError",
    "CrossSiteError",
    "CurrencyError",
    "EmbeddedRedisError",
    "HeadersSentError",
    "InputError",
    "NotSent",
    "PaidTokenError",
    "PurchaseError",
    "QSCookiesError",
    "StoreError",
    "StoreUnavailable",
]


class QSCookiesError(Exception):
    """Base class of every error qscookies raises."""


class ConfigurationError(QSCookiesError, ValueError):
    """A setting of :class:`~qscookies.QSCookies` (or a report) is invalid.

    The message names the setting and what to change.

    :param setting: the name of the setting at fault, when there is one.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        #: The setting at fault (``"visit_gap"``), so a framework door can name
        #: its own key for it (``QSCOOKIES_VISIT_GAP``); ``None`` if not one.
        self.setting = setting

    def at(self, key: str) -> ConfigurationError:
        """This error, its message led by *key*: where the setting was written.

        :param key: e.g. ``"app.config['QSCOOKIES_VISIT_GAP']"``.
        """
        return ConfigurationError(f"{key}: {self}", setting=self.setting)


class InputError(QSCookiesError, ValueError):
    """The application passed a bad value: a sku, quantity, order id, total,
    currency, customer id or ``merge`` policy.

    The base of :class:`CartError`, :class:`PurchaseError` and
    :class:`AccountError`: what a view catches to answer its own ``400``.
    Never a store failure: :class:`StoreUnavailable` is not an
    :class:`InputError`, so catching this one lets an outage become the
    ``503``. Raised before anything is sent to Redis (or, for a cart limit,
    when Redis refused the write and nothing changed).

    .. versionadded:: 0.2
    """


class CartError(InputError):
    """A cart operation was given a bad sku or quantity, or would exceed a limit.

    :param message: what was wrong and what is allowed.
    :param sku: the sku involved, when there is one.
    """

    def __init__(self, message: str, *, sku: str | None = None) -> None:
        super().__init__(message)
        #: The sku the operation was called with, if any.
        self.sku = sku


class CrossSiteError(CartError):
    """A cross-site unsafe request (a form another origin posted, a sibling
    subdomain's included) would change the cart: refused before anything is
    sent. A truly cross-site form comes without the browser's own cart cookie
    (``SameSite=Lax``), so a new cart's would overwrite it; a sibling
    subdomain's comes with it and would write to the visitor's cart. Answer it
    with a ``403``; a same-origin form never gets it.

    .. versionchanged:: 0.2
        Any cart write on such a request, ``Sec-Fetch-Site: same-site`` included.
    """


class PurchaseError(InputError):
    """``record_purchase`` was given a bad order id, total or currency.

    Raised before anything is sent to Redis: nothing is counted, the cart is
    left as it is.

    .. versionadded:: 0.2
    """


class PaidTokenError(PurchaseError):
    """``record_purchase(..., paid=token)`` was given a token it cannot take:
    forged or damaged, expired (``checkout_max_age``), or a checkout of another
    cart than the browser's. Nothing is counted, no cart is changed.

    .. versionadded:: 0.2
    """


class CurrencyError(PurchaseError):
    """A currency that is not an active ISO 4217 code (``"ZZZ"``, ``"eur"``).

    :param currency: the value refused.

    .. versionadded:: 0.2
    """

    def __init__(self, message: str, *, currency: object = None) -> None:
        super().__init__(message)
        #: The value given as the currency.
        self.currency = currency


class AccountError(InputError):
    """``login`` was given a bad customer id or an unknown ``merge`` policy.

    A customer id is 1-128 printable characters; ``merge`` is ``"add"``,
    ``"replace"`` or ``"keep"``. Raised before anything is sent to Redis.
    """


class StoreError(QSCookiesError):
    """Redis answered with an error qscookies did not expect.

    :param message: what failed.
    :param original_error: the redis-py exception behind it.
    :param reply: the kind of Redis error reply, such as ``"OOM"`` or
        ``"NOPERM"``; empty when Redis could not be reached.
    :param nodes: the cluster nodes (``host:port``) that failed, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        original_error: BaseException | None = None,
        reply: str = "",
        nodes: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(message)
        #: The redis-py exception that caused this one.
        self.original_error = original_error
        #: The kind of error reply (``"OOM"``, ``"NOPERM"``, ``"READONLY"``…).
        self.reply = reply
        #: The cluster nodes that failed, when known (empty otherwise).
        self.nodes = nodes


class StoreUnavailable(StoreError):
    """Redis could not be reached in time, or refused a cart write.

    Also raised for every error reply to a cart write (``OOM`` when Redis is
    full, ``NOPERM``, ``READONLY``, ``LOADING``, ``WRONGTYPE``): :attr:`reply`
    names it.

    Raised by cart operations and :meth:`~qscookies.context.Context.record_purchase`
    instead of losing data silently. When the application does not catch it, the
    middleware answers ``503 Service Unavailable`` with a ``Retry-After`` header.
    Page views never raise it: tracking is skipped while Redis is away.
    """


class NotSent(StoreUnavailable):
    """The reply, in a tracking send's replies, of a command that was not sent.

    On Redis Cluster tracking pauses per node after a failure; the commands
    of a paused node are skipped while the others go out, and a plan's
    reader finds this in place of each skipped command's reply. Never raised.
    """


class CommandRefused(StoreError):
    """The store refused to send a command outside its allow-list, or one
    naming a key outside its key namespace.

    Export-class commands such as ``DUMP``, ``SCAN`` or ``KEYS`` never leave the
    process, nor does a command on a key without the shop's ``key_prefix``;
    nothing is sent to Redis.

    :param command: the refused command name.
    :param key: the key outside the namespace, if that was the refusal.
    :param prefix: the namespace's prefix, with *key*.

    .. versionchanged:: 0.2
        Refuses keys outside the namespace too (*key*, *prefix*).
    """

    def __init__(
        self, command: str, *, key: str | None = None, prefix: str | None = None
    ) -> None:
        where = "" if key is None else f" for the key {key!r}, outside {prefix!r}"
        super().__init__(f"qscookies never sends {command!r} to Redis{where}")
        #: The command name that was refused, upper case.
        self.command = command
        #: The key outside the namespace, or ``None`` (the command was refused).
        self.key = key


class HeadersSentError(QSCookiesError):
    """A new cookie was needed after the response headers had been sent.

    Raised when a cart is first written from inside a streamed response body:
    the browser could never learn the new cart id, so the write would be lost.
    Write to the cart before calling ``start_response``.
    """


class EmbeddedRedisError(QSCookiesError, RuntimeError):
    """A private ``redis-server`` (for the demo or the tests) could not be run."""
