"""What every door shares: the wrapped app, settings, codec, store, one clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar

from .codec import CookieCodec
from .context import RAISE
from .core.cycle import Cycle
from .core.cycle import Startup
from .core.messages import Answer
from .core.request import Rules
from .errors import ConfigurationError
from .errors import QSCookiesError
from .guard import enforce
from .guard import warn_unbounded
from .settings import Settings
from .store.aio import AsyncAppStore
from .store.app import AppStore
from .store.client import aconnect
from .store.client import connect
from .store.client import is_cluster
from .store.client import open_client
from .store.functions import load_library

if TYPE_CHECKING:
    from typing_extensions import Self
    from typing_extensions import Unpack

    from .settings import Options

_App = TypeVar("_App")
_S = TypeVar("_S")


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


def sync_client(
    redis_url: str | None, redis: Any, settings: Settings
) -> tuple[Any, bool, Callable[[], bool | None]]:
    """The sync client of a door, whether we own it, and its start-up check.

    Nothing reaches Redis here: the check (:func:`~qscookies.guard.enforce`)
    runs later, once (see :class:`~qscookies.core.cycle.Startup`).

    :raises ConfigurationError: a bad location (see
        :func:`~qscookies.store.client.open_client`).
    """
    client, owned = open_client(
        redis_url,
        redis,
        socket_timeout=settings.socket_timeout,
        max_connections=settings.max_connections,
    )
    if not owned:
        warn_unbounded(client)
    return client, owned, partial(_check, client, settings, close=False)


def async_client(
    redis_url: str | None, redis: Any, settings: Settings
) -> tuple[Any, bool, Callable[[], bool | None] | None]:
    """The ``redis.asyncio`` client of a door, whether we own it, and its check.

    A client opened from *redis_url* is checked on a short-lived sync client
    of the same URL; one passed in gets no check (it would need a blocking
    call on its event loop): ``qscookies check`` that user instead.

    :raises ConfigurationError: a bad location, as :func:`sync_client`.
    """
    probe, owned = open_client(redis_url, redis, socket_timeout=settings.socket_timeout)
    client = async_for(redis_url if owned else None, redis, settings)
    return (
        client,
        owned,
        partial(_check, probe, settings, close=True) if owned else None,
    )


def async_for(redis_url: str | None, redis: Any, settings: Settings) -> Any:
    """The ``redis.asyncio`` client a door sends on: the one it opens for
    *redis_url* (and owns), by the settings' timeout and pool size, else
    *redis* as given (named in a warning if it can outwait the timeout)."""
    if redis_url is None:
        warn_unbounded(redis)
        return redis
    return aconnect(
        str(redis_url),
        socket_timeout=settings.socket_timeout,
        max_connections=settings.max_connections,
    )


def _check(client: Any, settings: Settings, *, close: bool) -> bool | None:
    """Load the library (given an admin URL), then :func:`~qscookies.guard.enforce`.

    :return: the server has functions, or ``None`` when that is unknown.
    """
    try:
        if settings.admin_redis_url is not None:
            load_library(
                settings.admin_redis_url,
                cluster=is_cluster(client),
                socket_timeout=settings.socket_timeout,
            )
        return enforce(client, prefix=settings.key_prefix, strict=settings.strict)
    finally:
        if close:
            client.close()


_Store = TypeVar("_Store", AppStore, AsyncAppStore)


class Door(Generic[_App, _Store]):
    """The parts of a door that know no protocol.

    A door (:mod:`qscookies.wsgi`, :mod:`qscookies.asgi`, :mod:`qscookies.django`)
    validates its options, then calls :meth:`_connect`, which opens its client
    and starts the store for it with its start-up check; each request then walks
    the :class:`~qscookies.core.cycle.Cycle`. The codec's expiry checks, the
    visit rules and the store's breaker all read :attr:`clock`, so a test
    moves time by replacing it on an instance.
    """

    #: The clock (Unix seconds); replace it on an instance to move time in tests.
    clock: Callable[[], float] = staticmethod(time.time)

    def _connect(
        self,
        app: _App,
        settings: Settings,
        codec: CookieCodec,
        store: type[_Store],
        redis_url: str | None,
        redis: Any,
    ) -> None:
        """Open the client of exactly one of *redis_url* and *redis*, sync or
        asyncio by *store* (:func:`sync_client`, :func:`async_client`), then
        :meth:`_start` serving *app* on it.

        :raises ConfigurationError: a bad Redis location.
        """
        opener = async_client if store is AsyncAppStore else sync_client
        client, owned, check = opener(redis_url, redis, settings)
        self._start(app, settings, codec, store, client, owned=owned, check=check)

    def _start(
        self,
        app: _App,
        settings: Settings,
        codec: CookieCodec,
        store: Callable[..., _Store],
        client: object,
        *,
        owned: bool,
        check: Callable[[], bool | None] | None = None,
    ) -> None:
        #: The wrapped application.
        self.app = app
        #: The validated settings.
        self.settings = settings
        #: The cookie codec (signing and verification).
        self.codec = codec
        self._store: _Store = self._store_for(store, client, owned=owned)
        rules = Rules(settings, codec, cluster=self._store.is_cluster, clock=self._now)
        self._cycle = Cycle(
            rules, Startup(None if check is None else self._learn(check))
        )

    def _learn(self, check: Callable[[], bool | None]) -> Callable[[], None]:
        """*check*, telling the store what it learnt: whether the server has
        functions (the store calls them), so no request has to find out."""

        def run() -> None:
            functions = check()
            if functions is not None:
                self._store.use_functions(functions)

        return run

    def _store_for(
        self, store: Callable[..., _S], client: object, *, owned: bool
    ) -> _S:
        """A store (sync or asyncio) on *client*, by the settings and the clock."""
        settings = self.settings
        return store(
            client,
            prefix=settings.key_prefix,
            retry_interval=settings.retry_interval,
            clock=self._now,
            durable_writes=settings.durable_writes,
            wait_ms=settings.durable_wait_ms,
            owned=owned,
        )

    def startup_check(self) -> None:
        """Run the start-up check now, from a server's start-up hook.

        Building a door contacts no Redis: the check (is the Redis user locked
        down? does the server have the Lua fixes?) runs once, here or else at
        the first request. Called here, a ``strict=True`` refusal raises, so
        the server does not start; found at the first request, it is logged
        and every request answers ``503``. A second call checks nothing again.

        :raises ConfigurationError: ``strict=True``, and the Redis user could
            export the data (or could not be checked).
        """
        self._cycle.startup.run(explicit=True)

    async def _astartup(self) -> None:
        """The first request's start-up check, off the event loop."""
        if not self._cycle.startup.done:
            await asyncio.to_thread(self._cycle.startup.run)

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
        self._rebind_more(redis_url)
        try:
            yield self
        finally:
            if isinstance(self._store, AppStore):
                self._store.close()
            vars(self).clear()
            vars(self).update(saved)

    def _rebind_more(self, redis_url: str) -> None:
        """What else a door sends on, pointed at *redis_url* by :meth:`rebound`
        (and put back with the rest on leaving): nothing, but in the Django door."""

    def unavailable(self) -> Answer:
        """The ``503`` (with ``Retry-After``) answered for an unavailable store.

        For a framework's own error handler (the Flask door's), so that what
        it answers is the middleware's ``503``.
        """
        return self._cycle.rules.unavailable()

    def _now(self) -> float:
        return self.clock()

    def __repr__(self) -> str:
        name = type(self).__module__.rsplit(".", 1)[-1].upper()
        return f"<QSCookies({name}) {self.app!r} prefix={self.settings.key_prefix!r}>"
