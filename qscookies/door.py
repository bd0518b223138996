"""What every door shares: the wrapped app, settings, codec, store, one clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar

from .check import enforce
from .check import warn_unbounded
from .codec import CookieCodec
from .context import RAISE
from .core.messages import Answer
from .core.request import Rules
from .errors import ConfigurationError
from .errors import QSCookiesError
from .settings import Settings
from .store.aio import AsyncAppStore
from .store.app import AppStore
from .store.client import aconnect
from .store.client import connect
from .store.client import open_client

if TYPE_CHECKING:
    from typing_extensions import Self
    from typing_extensions import Unpack

    from .settings import Options

_App = TypeVar("_App")


def found(context: object | None, default: Any, path: str, fix: str) -> Any:
    """What ``context()`` answers: the context, else *default*, else an error.

    :param path: the request's path, named in the error.
    :param fix: what to do instead, for the error message.
    :raises QSCookiesError: no context and no *default*.
    """
    if context is not None:
        return context
    if default is not RAISE:
        return default
    raise QSCookiesError(f"no qscookies context for {path!r}: {fix}")


def checked_client(
    redis_url: str | None, redis: Any, settings: Settings
) -> tuple[Any, bool]:
    """The sync client of a door, checked at start-up, and whether we own it.

    See :func:`~qscookies.store.client.open_client` and
    :func:`~qscookies.check.enforce`; a client we opened is closed when the
    check refuses to start.

    :raises ConfigurationError: a bad location, or ``strict`` and a finding.
    """
    client, owned = open_client(
        redis_url,
        redis,
        socket_timeout=settings.socket_timeout,
        max_connections=settings.max_connections,
    )
    if not owned:
        warn_unbounded(client)
    try:
        enforce(client, prefix=settings.key_prefix, strict=settings.strict)
    except ConfigurationError:
        if owned:
            client.close()
        raise
    return client, owned


_Store = TypeVar("_Store", AppStore, AsyncAppStore)


class Door(Generic[_App, _Store]):
    """The parts of a door that know no protocol.

    A door (:mod:`qscookies.wsgi`, :mod:`qscookies.asgi`) validates its options,
    opens its client, then calls :meth:`_start` with the store for that client.
    The codec's expiry checks, the visit rules and the store's breaker all read
    :attr:`clock`, so a test moves time by replacing it on an instance.
    """

    #: The clock (Unix seconds); replace it on an instance to move time in tests.
    clock: Callable[[], float] = staticmethod(time.time)

    def _start(
        self,
        app: _App,
        settings: Settings,
        codec: CookieCodec,
        store: Callable[..., _Store],
        client: object,
        *,
        owned: bool,
    ) -> None:
        #: The wrapped application.
        self.app = app
        #: The validated settings.
        self.settings = settings
        #: The cookie codec (signing and verification).
        self.codec = codec
        self._store: _Store = store(
            client,
            prefix=settings.key_prefix,
            retry_interval=settings.retry_interval,
            clock=self._now,
            durable_writes=settings.durable_writes,
            wait_ms=settings.durable_wait_ms,
            owned=owned,
        )
        self._rules = Rules(
            settings, codec, cluster=self._store.is_cluster, clock=self._now
        )

    @contextmanager
    def rebound(
        self,
        redis_url: str,
        *,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        **options: Unpack[Options],
    ) -> Iterator[Self]:
        """Serve from another Redis, key and settings inside a ``with`` block.

        For tests of a shop whose module builds its own middleware: the
        middleware is pointed at *redis_url* (a client it opens and owns, with
        no start-up check), signs with *secret_key* if given and takes
        *options* over its settings; on leaving the block it is as it was
        (its :attr:`clock` included) and the sync client is closed. An asyncio
        client's connections close with the event loop that opened them (see
        :mod:`qscookies.store.loops`)::

            with app.rebound("redis://127.0.0.1:6390/0", visit_gap=60):
                ...

        :raises ConfigurationError: a bad option or URL.

        .. versionadded:: 0.2
        """
        saved = dict(vars(self))
        settings = self.settings.replace(**options)
        codec = self.codec if secret_key is None else CookieCodec(secret_key)
        kind = type(self._store)
        opener = aconnect if kind is AsyncAppStore else connect
        try:
            client = opener(
                redis_url,
                socket_timeout=settings.socket_timeout,
                max_connections=settings.max_connections,
            )
        except ValueError as error:
            raise ConfigurationError(
                f"bad Redis URL: {error}", setting="redis_url"
            ) from error
        self._start(self.app, settings, codec, kind, client, owned=True)
        try:
            yield self
        finally:
            if isinstance(self._store, AppStore):
                self._store.close()
            vars(self).clear()
            vars(self).update(saved)

    def unavailable(self) -> Answer:
        """The ``503`` (with ``Retry-After``) answered for an unavailable store.

        For a framework's own error handler (the Flask door's), so that what
        it answers is the middleware's ``503``.
        """
        return self._rules.unavailable()

    def _now(self) -> float:
        return self.clock()

    def __repr__(self) -> str:
        name = type(self).__module__.rsplit(".", 1)[-1].upper()
        return f"<QSCookies({name}) {self.app!r} prefix={self.settings.key_prefix!r}>"
