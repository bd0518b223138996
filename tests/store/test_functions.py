"""The lock-down without EVAL (issue 26): the scripts as one function library.

On Redis 7 the app user of ``qscookies acl`` calls the library's functions
(``FCALL``) and may submit no Lua (``EVAL``, ``EVALSHA``, ``SCRIPT`` refused);
an operator loads the library (``qscookies functions``, or the start-up check
given ``admin_redis_url``). On 6.2, which has no functions, the scripts go by
``EVALSHA`` as before and ``check`` names the open door. Every test runs real
``redis-server`` processes of each version found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from werkzeug.test import Client

from qscookies import QSCookies
from qscookies import scripts
from qscookies.command import script
from qscookies.embedded import RedisServer
from qscookies.embedded import wait_until
from qscookies.ops.acl import acl_lines
from qscookies.ops.cli import main
from qscookies.scripts.library import CALLS
from qscookies.scripts.library import LIBRARY
from qscookies.scripts.library import NAME
from qscookies.store.client import Guard
from qscookies.store.functions import FUNCTION_COMMANDS
from qscookies.store.functions import libraries
from qscookies.store.scripting import Runner

from launchers import RedisClusterServers
from launchers import kill
from shop import SECRET
from shop import get_json
from shop import shop

pytestmark = pytest.mark.slow  # starts processes of its own

APP_PASSWORD = "app-Secret-1-long-enough"
OLD = "#!lua name=qscookies_0ld\nredis.register_function('qs_0ld_x', function() end)"


def _url(server: RedisServer, user: str = "", password: str = "") -> str:
    auth = f"{user}:{password}@" if user else ""
    return f"redis://{auth}{server.host}:{server.port}/0"


def _libraries(client: redis.Redis) -> list[str]:
    """The qscookies libraries on *client*'s server (``FUNCTION LIST``)."""
    return libraries(Guard(client, FUNCTION_COMMANDS, owned=False))


@pytest.fixture
def bare(redis_binary: str) -> Iterator[RedisServer]:
    """A server without the library, with the users of ``qscookies acl``."""
    with RedisServer(redis_binary, functions=False) as server:
        version = "7" if server.version >= (7,) else "6.2"
        lines, _ = acl_lines(
            app_password=APP_PASSWORD, report_password=APP_PASSWORD, version=version
        )
        with server.client() as admin:
            for line in lines:
                admin.execute_command(*line.split())
        yield server


def _app(url: str, **options: Any) -> QSCookies:
    return QSCookies(shop, secret_key=SECRET, redis_url=url, **options)


def _functions_only(server: RedisServer) -> None:
    if server.version < (7,):
        pytest.skip("Redis 6.2 has no functions")


def _stats(admin: redis.Redis) -> set[str]:
    return {name.removeprefix("cmdstat_") for name in admin.info("commandstats")}


# -- the library ---------------------------------------------------------------------


def test_the_library_holds_every_script_once() -> None:
    sources = {
        value
        for name, value in vars(scripts).items()
        if name.isupper()
        and not name.startswith("_")
        and isinstance(value, str)
        and "redis.call" in value
    }
    assert set(CALLS) == sources
    assert len({name for _, name in CALLS.values()}) == len(sources)
    read_only = [name for kind, name in CALLS.values() if kind == "FCALL_RO"]
    assert [name.rsplit("_", 2)[-2:] for name in read_only] == [["cart", "lines"]]
    assert LIBRARY.startswith(f"#!lua name={NAME}\n")


def test_the_library_defines_each_shared_helper_once() -> None:
    """A helper the scripts share is closed (it reads no ``KEYS`` or ``ARGV``,
    which a function's callback takes), defined once at the library's top, and
    no function keeps its copy; each script, sent by ``EVALSHA``, keeps its own."""
    assert scripts.HELPERS
    for helper in scripts.HELPERS:
        assert "KEYS" not in helper and "ARGV" not in helper
        assert LIBRARY.count(helper) == 1
        assert LIBRARY.index(helper) < LIBRARY.index("redis.register_function")
    holders = [source for source in CALLS if any(h in source for h in scripts.HELPERS)]
    assert scripts.CART_PUT in holders and scripts.LOGIN in holders


# -- the app user of Redis 7 submits no script; the journeys go through functions --


def test_the_app_user_may_submit_no_script_on_redis_7(bare: RedisServer) -> None:
    with redis.Redis.from_url(_url(bare, "qs-app", APP_PASSWORD)) as app_user:
        commands = [("EVAL", "return 1", 0), ("EVALSHA", "0" * 40, 0)]
        commands.append(("SCRIPT", "LOAD", "return 1"))
        for command in commands:
            if bare.version >= (7,):
                with pytest.raises(redis.exceptions.NoPermissionError):
                    app_user.execute_command(*command)
            elif command[0] != "SCRIPT":  # 6.2: the open door, which check names
                try:
                    app_user.execute_command(*command)
                except redis.exceptions.NoScriptError:
                    pass  # allowed, the script is just unknown


def test_a_journey_as_the_app_user_goes_through_functions(
    bare: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with bare.client() as admin:
        assert main(["functions", "--redis-url", _url(bare)]) == (
            0 if bare.version >= (7,) else 1
        )
        admin.config_resetstat()
        app = _app(_url(bare, "qs-app", APP_PASSWORD), strict=True)
        browser = Client(app)
        browser.get("/?promo=WINTER")
        assert get_json(browser, "/add?sku=A&q=2") == 2
        assert get_json(browser, "/cart") == {"A": 2}
        assert [line["quantity"] for line in get_json(browser, "/lines")] == [2]
        assert get_json(browser, "/login?customer=ada")["cart"] == {"A": 2}
        assert get_json(browser, "/buy?order=o-1&total=100") is True
        stats = _stats(admin)
    if bare.version >= (7,):
        assert {"fcall", "fcall_ro"} <= stats
        assert not stats & {"eval", "evalsha", "script"}
        assert capsys.readouterr().out.startswith(
            f"{bare.host}:{bare.port}: {NAME} loaded"
        )
    else:
        assert "evalsha" in stats and "fcall" not in stats
        assert "no functions on this server (Redis 6.2)" in capsys.readouterr().out


def test_check_names_script_submission(
    bare: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["check", "--redis-url", _url(bare, "qs-app", APP_PASSWORD)])
    out = capsys.readouterr().out
    if bare.version >= (7,):
        assert "note     script submission closed: EVAL, EVALSHA and SCRIPT" in out
        old_rules = ["+eval", "+evalsha"]
        with bare.client() as admin:  # the rules of an older qscookies acl
            admin.execute_command("ACL", "SETUSER", "qs-app", *old_rules)
        assert main(["check", "--redis-url", _url(bare, "qs-app", APP_PASSWORD)]) == 1
        assert "WARNING  script submission open: EVAL EVALSHA allowed" in (
            capsys.readouterr().out
        )
    else:
        assert "note     script submission open: EVAL EVALSHA allowed" in out
        assert "leaves script submission (EVAL) open to the app user" in out


# -- a missing library: one clear error, then fixed without a restart ---------------


def test_a_missing_library_is_a_503_naming_qscookies_functions(
    bare: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    _functions_only(bare)
    app = _app(_url(bare, "qs-app", APP_PASSWORD))
    browser = Client(app)
    caplog.set_level(logging.WARNING, "qscookies")
    assert browser.get("/add?sku=A").status_code == 503
    failures = [
        r.getMessage() for r in caplog.records if "cart write" in r.getMessage()
    ]
    assert failures == [
        "qscookies: a cart write or read failed: configuration error: the function"
        f" library {NAME} is not loaded on this server; load it with"
        " `qscookies functions`"
    ]
    assert browser.get("/").status_code == 200  # pages still render
    assert main(["functions", "--redis-url", _url(bare)]) == 0
    assert get_json(browser, "/add?sku=A") == 1  # the same process, no restart


def test_a_user_that_may_eval_falls_back_to_evalsha_and_is_told_once(
    bare: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    _functions_only(bare)
    caplog.set_level(logging.WARNING, "qscookies")
    browser = Client(_app(_url(bare)))  # the default user, library not loaded
    for quantity in (1, 2, 3):
        assert get_json(browser, "/add?sku=A") == quantity
    told = [r.getMessage() for r in caplog.records if NAME in r.getMessage()]
    assert len(told) == 1 and "`qscookies functions`" in told[0]


def test_the_start_up_check_loads_the_library_with_an_admin_url(
    bare: RedisServer,
) -> None:
    _functions_only(bare)
    app = _app(_url(bare, "qs-app", APP_PASSWORD), admin_redis_url=_url(bare))
    assert "admin_redis_url" not in repr(app.settings)  # its password never shown
    app.startup_check()
    with bare.client() as admin:
        assert _libraries(admin) == [NAME]
    assert get_json(Client(app), "/add?sku=A") == 1


def test_functions_prunes_the_libraries_of_other_releases(
    bare: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _functions_only(bare)
    with bare.client() as admin:
        admin.execute_command("FUNCTION", "LOAD", OLD)
        assert main(["functions", "--redis-url", _url(bare)]) == 0
        assert _libraries(admin) == sorted([NAME, "qscookies_0ld"])
        assert "kept qscookies_0ld (--prune deletes them)" in capsys.readouterr().out
        assert main(["functions", "--redis-url", _url(bare), "--prune"]) == 0
        assert _libraries(admin) == [NAME]
        out = capsys.readouterr().out
    assert out == f"{bare.host}:{bare.port}: {NAME} present; deleted qscookies_0ld\n"
    refused = _url(bare, "qs-app", APP_PASSWORD)
    assert main(["functions", "--redis-url", refused]) == 2  # NOPERM: one line


# -- Cluster: on every master, and on a promoted replica by replication ------------


def test_a_promoted_replica_has_the_library_by_replication(
    redis_server_binary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with RedisClusterServers(
        redis_server_binary, replicas=1, functions=False
    ) as cluster:
        if cluster.nodes[0].version < (7,):
            pytest.skip("Redis 6.2 has no functions")
        assert main(["functions", "--redis-url", cluster.url, "--cluster"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 3 and all(f"{NAME} loaded" in line for line in lines)
        for replica in cluster.replicas:  # loaded on masters only, replicated
            with replica.client() as client:
                wait_until(lambda c=client: _libraries(c) == [NAME], "replication", 10)
        client = cluster.client(
            socket_timeout=2.0, socket_connect_timeout=2.0, decode_responses=True
        )
        app = QSCookies(shop, secret_key=SECRET, redis=client)
        browser = Client(app)
        assert get_json(browser, "/add?sku=A") == 1
        carts = []
        for node in cluster.masters:  # KEYS of a cluster client asks one node
            with node.client(decode_responses=True) as each:
                carts += each.keys("qs:c:*")
        (cart,) = carts
        master = cluster.master_of(cart)
        kill(master)

        def promoted() -> bool:
            try:
                return cluster.master_of(cart) is not master
            except LookupError:
                return False

        wait_until(promoted, "a replica to be promoted", 20)
        wait_until(lambda: browser.get("/add?sku=A").status_code == 200, "the shop", 20)
        with cluster.master_of(cart).client() as new_master:
            assert _libraries(new_master) == [NAME]
            assert "fcall" in _stats(new_master)
        client.close()


def test_a_way_learnt_by_another_request_meanwhile_does_not_strand_a_reply() -> None:
    """Two first requests on 6.2: the second's FCALL is answered ``unknown
    command`` after the first switched the store to EVALSHA; it still goes
    again by EVALSHA (the way is judged by what was sent, not the new mode)."""
    runner = Runner()
    planned = script(scripts.CART_LINES, ("qs:c:{x}", "qs:l:{x}"))
    sent = runner.form(planned)
    assert sent[:2] == CALLS[scripts.CART_LINES]
    runner.use_functions(False)  # another request learnt it meanwhile
    attempts = runner.attempts([planned], [sent])
    unknown = redis.ResponseError("unknown command `FCALL`, with args beginning with")
    assert attempts.again([unknown]) == [0]
    assert attempts.sent[0][0] == "EVALSHA"
