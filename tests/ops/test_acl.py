"""``qscookies acl`` and ``qscookies check``, applied to real Redis 6.2 and 7.x.

Each Redis version found gets one server for the module with the generated
``ACL SETUSER`` lines executed as the default user (left unrestricted, as the
superuser of these tests); the data is flushed after each test.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from werkzeug.test import Client

from qscookies import ConfigurationError
from qscookies import QSCookies
from qscookies import context
from qscookies.advisories import lua_advisory
from qscookies.asgi import QSCookies as ASGIQSCookies
from qscookies.check import classify
from qscookies.check import refusal
from qscookies.embedded import RedisServer
from qscookies.embedded import Version
from qscookies.embedded import free_port
from qscookies.embedded import redis_version
from qscookies.guard import CLIENT_SETTINGS
from qscookies.ops.acl import SCRIPT_RUNNERS
from qscookies.ops.acl import RedisVersion
from qscookies.ops.acl import acl_lines
from qscookies.ops.acl import app_rules
from qscookies.ops.cli import main
from qscookies.probes import EXPORT_PROBES
from qscookies.probes import READER_PROBES
from qscookies.probes import need_probes
from qscookies.probes import probe_commands
from qscookies.report import PromotionReport
from qscookies.scripts import SCRIPT_COMMANDS
from qscookies.store.app import APP_COMMANDS
from qscookies.store.client import connect
from qscookies.store.scripting import SCRIPT_CALLS

from launchers import RedisClusterServers
from shop import SECRET
from shop import get_json
from shop import other_records
from shop import shop

APP_PASSWORD = "app-Secret-1-long-enough"
REPORT_PASSWORD = "report-Secret-2-long-enough"
PASSWORD_A = "a1-sixteen-chars"
PASSWORD_R = "r1-sixteen-chars"
PREFIX = "qs:"
NOW = 1_800_000_000  # 2027-01-15 08:00 UTC
TODAY = date(2027, 1, 15)


def _version(server: RedisServer) -> str:
    return "7" if server.version >= (7,) else "6.2"


def _lua(server: RedisServer) -> tuple[int, list[str]]:
    """What ``check`` ends with about *server*'s version: its exit code (1 when
    the server lacks the 2025 Lua fixes) and the lines (see qscookies.advisories)."""
    advisory = lua_advisory({"redis_version": ".".join(map(str, server.version))})
    word = "WARNING" if advisory.needs_fix else "note"
    return int(advisory.needs_fix), [f"{word:8} {line}" for line in advisory.lines()]


def _verdicts(server: RedisServer, out: list[str]) -> list[str]:
    """*out* without its last lines, script submission and the server's
    version, which it checks."""
    _, lua = _lua(server)
    assert out[-len(lua) :] == lua
    assert "script submission" in out[-len(lua) - 1]
    return out[: -len(lua) - 1]


def _url(server: RedisServer, user: str = "", password: str = "") -> str:
    auth = f"{user}:{password}@" if user else ""
    return f"redis://{auth}{server.host}:{server.port}/0"


def _apply(server: RedisServer, lines: list[str]) -> None:
    with server.client() as admin:
        for line in lines:
            admin.execute_command(*line.split())


@pytest.fixture(scope="module")
def locked_servers(redis_binaries: dict[Version, str]) -> Iterator[dict[str, Any]]:
    """One server per Redis version, with the generated ACL users."""
    with ExitStack() as stack:
        servers = {}
        for binary in redis_binaries.values():
            server = stack.enter_context(RedisServer(binary))
            lines, _ = acl_lines(
                app_password=APP_PASSWORD,
                report_password=REPORT_PASSWORD,
                version=_version(server),
            )
            _apply(server, lines)
            servers[binary] = server
        yield servers


@pytest.fixture
def server(locked_servers: dict[str, RedisServer], redis_binary: str) -> Iterator[Any]:
    server = locked_servers[redis_binary]
    yield server
    with server.client() as admin:
        admin.flushall()


@pytest.fixture
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    with server.client(decode_responses=True) as client:
        yield client


@pytest.fixture
def app_client(server: RedisServer) -> Iterator[redis.Redis]:
    client = connect(_url(server, "qs-app", APP_PASSWORD), socket_timeout=2)
    yield client
    client.close()


@pytest.fixture
def report_client(server: RedisServer) -> Iterator[redis.Redis]:
    client = connect(_url(server, "qs-report", REPORT_PASSWORD), socket_timeout=2)
    yield client
    client.close()


def _assert_refused(client: redis.Redis, admin: redis.Redis, command: Any) -> None:
    """The command is refused by the ACL (``NOPERM``) and nothing ran."""
    try:
        client.execute_command(*command)
    except redis.exceptions.NoPermissionError:
        return
    except redis.ResponseError as error:
        # Redis 7 refuses DEBUG and MODULE to everyone by default before the
        # ACL is consulted; the ACL verdict is then read with ACL DRYRUN.
        assert command[0] in ("DEBUG", "MODULE") and "not allowed" in str(error)
        user = client.connection_pool.connection_kwargs["username"]
        verdict = admin.execute_command("ACL", "DRYRUN", user, *command)
        assert "no permissions" in verdict, (command, verdict)
        return
    pytest.fail(f"{' '.join(command)} was allowed")


# -- the printed rules ----------------------------------------------------------------


def test_setuser_lines_are_allow_lists_from_nothing() -> None:
    lines, comments = acl_lines(app_password=PASSWORD_A, report_password=PASSWORD_R)
    app, report = lines
    assert app.startswith(
        f"ACL SETUSER qs-app on resetpass >{PASSWORD_A} resetkeys ~qs:* resetchannels"
        " -@all +"
    )
    assert report.startswith(
        f"ACL SETUSER qs-report on resetpass >{PASSWORD_R} resetkeys %R~qs:a:*"
        " resetchannels -@all +"
    )
    for line in lines:
        granted = re.findall(r" \+(\S+)", line)
        assert not any(rule.startswith("@") for rule in granted)  # no categories
        assert "allkeys" not in line and "~*" not in line and "&" not in line
    assert set(re.findall(r" \+(\S+)", report)) == {
        "hgetall",
        "pfcount",
        "zrange",
        "select",
        "acl|whoami",
        "acl|dryrun",
    }
    assert "per node" in comments[0]
    assert not any("generated" in comment for comment in comments)


def test_redis_6_2_rules_have_no_read_only_patterns() -> None:
    lines, _ = acl_lines(
        app_password=PASSWORD_A, report_password=PASSWORD_R, version="6.2"
    )
    assert "%R" not in " ".join(lines)
    assert " ~qs:a:* " in lines[1]
    assert "+multi +discard" in lines[0] and "+exec" not in lines[0]
    assert "+acl|dryrun" not in lines[0]


def test_missing_passwords_are_generated_and_shown() -> None:
    lines, comments = acl_lines(prefix="shop1:")
    passwords = [re.search(r" >(\S+)", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert len(set(passwords)) == 2 and all(len(p) >= 32 for p in passwords)
    assert f"# generated password for qs-app: {passwords[0]}" in comments
    assert f"# generated password for qs-report: {passwords[1]}" in comments
    assert "~shop1:* " in lines[0] and "%R~shop1:a:* " in lines[1]
    assert acl_lines()[0] != lines  # fresh passwords every time


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"prefix": "qs *"}, id="prefix-with-glob"),
        pytest.param({"prefix": ""}, id="empty-prefix"),
        pytest.param({"prefix": "qs"}, id="prefix-without-colon"),
        pytest.param({"app_user": "default"}, id="app-user-default"),
        pytest.param({"report_user": "default"}, id="report-user-default"),
        pytest.param({"report_user": "qs-app"}, id="same-name-for-both"),
        pytest.param({"app_password": "short"}, id="weak-password"),
        pytest.param({"app_password": "fifteen-chars-x"}, id="15-characters"),
        pytest.param({"app_password": 'sixteen-"quoted"'}, id="password-with-quote"),
        pytest.param({"other_prefixes": ["qs:a:"]}, id="other-nests-in-prefix"),
        pytest.param({"prefix": "qs:a:", "other_prefixes": ["qs:"]}, id="nested"),
        pytest.param({"other_prefixes": ["shop2:", "qs:"]}, id="same-prefix"),
        pytest.param({"other_prefixes": ["qs"]}, id="other-without-colon"),
        pytest.param({"app_user": "qs app"}, id="user-with-space"),
        pytest.param({"report_password": "two words"}, id="password-with-space"),
        pytest.param({"app_password": ""}, id="empty-password"),
        pytest.param({"version": "6.0"}, id="unsupported-version"),
    ],
)
def test_bad_acl_input_is_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        acl_lines(**options)


def test_acl_command_prints_only_setuser_lines_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """stdout holds the commands and nothing else; every note, the generated
    password included, is on stderr (``qscookies acl | redis-cli`` is safe)."""
    assert main(["acl", "--app-user", "shop", "--app-password", PASSWORD_A]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert [line.split()[:3] for line in out] == [
        ["ACL", "SETUSER", "shop"],
        ["ACL", "SETUSER", "qs-report"],
    ]
    generated = re.search(r" >(\S+)", out[1]).group(1)  # type: ignore[union-attr]
    err = captured.err.splitlines()
    assert all(line.startswith("# ") for line in err)
    assert "per node" in err[0]
    assert f"# generated password for qs-report: {generated}" in err
    assert not any("generated password for shop" in line for line in err)
    assert any("vanish" in line and "ACL SAVE" in line for line in err)


def test_acl_command_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["acl", "--prefix", "a b"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["acl", "--redis-version", "5"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)


def test_aclfile_form_loads_into_a_real_server(
    redis_binary: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    version = "7" if redis_version(redis_binary) >= (7,) else "6.2"
    argv = ["acl", "--aclfile", "--redis-version", version]
    assert main([*argv, "--app-password", PASSWORD_A]) == 0
    captured = capsys.readouterr()
    assert all(line.startswith("user ") for line in captured.out.splitlines())
    assert "generated password for qs-report" in captured.err  # comments apart
    assert "aclfile" in captured.err.splitlines()[-1]
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(captured.out)
    with RedisServer(redis_binary, args=["--aclfile", aclfile]) as server:
        with connect(_url(server, "qs-app", PASSWORD_A), socket_timeout=2) as client:
            assert client.execute_command("HSET", "qs:c:{x}", "sku", 1) == 1
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command("KEYS", "*")


# -- the app user -------------------------------------------------------------------


def test_the_shop_runs_as_the_app_user(
    app_client: redis.Redis, admin: redis.Redis
) -> None:
    app = QSCookies(shop, secret_key=SECRET, redis=app_client, strict=True)
    app.clock = lambda: NOW
    browser = Client(app)
    landing = browser.get("/?promo=WINTER&x=1")
    assert (landing.status_code, landing.headers["Location"]) == (303, "/?x=1")
    assert get_json(browser, "/?x=1")["promotion"] == "WINTER"
    assert get_json(browser, "/add?sku=A&q=2") == 2
    assert get_json(browser, "/add?sku=B") == 1
    assert get_json(browser, "/set?sku=A&q=5") == 5
    get_json(browser, "/remove?sku=B")
    assert get_json(browser, "/cart") == {"A": 5}
    get_json(browser, "/clear")
    assert get_json(browser, "/cart") == {}
    get_json(browser, "/add?sku=C")
    assert get_json(browser, "/buy?order=o-1&total=1999") is True
    assert get_json(browser, "/buy?order=o-1&total=1999") is False  # once per order
    day = f"qs:a:{{WINTER}}:d:{TODAY:%Y%m%d}"
    assert admin.hgetall(day) == {
        "landings": "1",
        "carts": "1",
        "purchases": "1",
        "purchases:EUR": "1",
        "revenue_cents:EUR": "1999",
        "landings@/": "1",
        "carts@/": "1",
        "purchases@/": "1",
        "purchases:EUR@/": "1",
        "revenue_cents:EUR@/": "1999",
    }
    app.clock = lambda: NOW + 3600  # a new visit: a returning visitor
    get_json(browser, "/")
    assert admin.pfcount(f"qs:a:{{WINTER}}:r:{TODAY:%Y%m%d}") == 1
    get_json(browser, "/add?sku=D")
    get_json(browser, "/forget")
    assert not [k for k in admin.keys("qs:*") if k.startswith(("qs:v:", "qs:c:"))]


def test_opt_out_works_as_the_app_user(
    app_client: redis.Redis, admin: redis.Redis
) -> None:
    def page(environ: Any, start_response: Any) -> list[bytes]:
        qs = context(environ)
        qs.visitor  # noqa: B018
        qs.opt_out()
        qs.cart.add("SKU-1")
        start_response("200 OK", [])
        return [b""]

    browser = Client(QSCookies(page, secret_key=SECRET, redis=app_client))
    browser.get("/")
    browser.get("/")  # the visitor record was deleted by the app user
    kept = ("qs:c:", "qs:l:", "qs:a:{_site}:")  # the cart, its lines, the site
    assert [key for key in admin.keys("qs:*") if not key.startswith(kept)] == []


def test_the_app_user_is_refused_every_export_command(
    app_client: redis.Redis, admin: redis.Redis
) -> None:
    admin.hset("qs:c:{qscookies-check}", "SKU-1", 1)  # something to export
    for command in probe_commands(PREFIX):
        _assert_refused(app_client, admin, command)
    assert admin.hgetall("qs:c:{qscookies-check}") == {"SKU-1": "1"}


# -- the report user ----------------------------------------------------------------


def _drive_traffic(app_client: redis.Redis) -> None:
    app = QSCookies(shop, secret_key=SECRET, redis=app_client)
    app.clock = lambda: NOW
    for _ in range(3):
        browser = Client(app)
        browser.get("/?promo=SPRING")
        get_json(browser, "/add?sku=A")
    get_json(browser, "/buy?order=o-9&total=500")


def test_report_user_reads_aggregates_with_raw_commands(
    app_client: redis.Redis, report_client: redis.Redis
) -> None:
    _drive_traffic(app_client)
    day = f"{TODAY:%Y%m%d}"
    assert report_client.zrange(f"qs:a:i:{day}", 0, -1) == ["SPRING"]
    assert report_client.hgetall(f"qs:a:{{SPRING}}:d:{day}")["landings"] == "3"
    # PFCOUNT passes the read-only key pattern of 7.x (its key spec is "access").
    assert report_client.pfcount(f"qs:a:{{SPRING}}:u:{day}") == 3


def test_promotion_report_works_as_the_report_user(
    app_client: redis.Redis, report_client: redis.Redis
) -> None:
    _drive_traffic(app_client)
    with PromotionReport(redis=report_client) as report:
        (row,) = report.counts(since=TODAY, until=TODAY)
    assert (row.promotion, row.landings, row.visitors) == ("SPRING", 3, 3)
    assert (row.carts, row.purchases, row.revenue_cents) == (3, 1, 500)


def test_the_report_user_reads_nothing_but_aggregates(
    app_client: redis.Redis, report_client: redis.Redis, admin: redis.Redis
) -> None:
    _drive_traffic(app_client)
    cart = next(key for key in admin.keys("qs:c:*"))
    order = next(key for key in admin.keys("qs:o:*"))
    aggregate = f"qs:a:{{SPRING}}:d:{TODAY:%Y%m%d}"
    for command in [
        ("HGETALL", cart),
        ("GET", order),
        ("SCAN", "0"),
        ("KEYS", "*"),
        ("DUMP", aggregate),
        ("RANDOMKEY",),
        ("HINCRBY", aggregate, "landings", "1"),  # read only
        ("PFADD", f"qs:a:{{SPRING}}:u:{TODAY:%Y%m%d}", "x"),
        *probe_commands(PREFIX, EXPORT_PROBES + READER_PROBES),
    ]:
        _assert_refused(report_client, admin, command)
    assert admin.hget(aggregate, "landings") == "3"


# -- qscookies check ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password", "code", "last_line"),
    [
        pytest.param("", "", 1, "data exportable: 32 allowed", id="default-user"),
        pytest.param("qs-app", APP_PASSWORD, 0, "locked in: all 32", id="app-user"),
        pytest.param(
            "qs-report", REPORT_PASSWORD, 0, "locked in: all 33", id="report-user"
        ),
    ],
)
def test_check_exit_codes(
    server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    user: str,
    password: str,
    code: int,
    last_line: str,
) -> None:
    lua_code, _ = _lua(server)
    assert main(["check", "--redis-url", _url(server, user, password)]) == (
        code or lua_code
    )
    out = _verdicts(server, capsys.readouterr().out.splitlines())
    method = "ACL DRYRUN" if _version(server) == "7" else "MULTI"
    assert out[0] == f"user {user or 'default'}, asked with {method}"
    assert out[-1].startswith(last_line)
    verdicts = out[1:-1]
    assert len(verdicts) == (33 if user == "qs-report" else 32)
    word = "ALLOWED" if code else "refused"
    assert all(line.startswith(word) for line in verdicts)
    assert any(line.split()[1:] == ["DUMP", "qs:c:{qscookies-check}"] for line in out)


def test_check_runs_none_of_the_probed_commands(
    server: RedisServer, admin: redis.Redis
) -> None:
    admin.set("qs:keep", "1")
    admin.config_resetstat()
    assert main(["check", "--redis-url", _url(server)]) == 1
    stats = admin.info("commandstats")
    ran = {name.removeprefix("cmdstat_") for name, st in stats.items() if st["calls"]}
    probing = {"acl|whoami", "acl|dryrun", "acl", "multi", "discard"}
    handshake = {"hello", "client"}  # redis-py's RESP3 handshake
    version = {"info"}  # INFO server: the Lua advisory
    assert ran <= probing | handshake | version | {"config|resetstat", "config"}
    assert ran & probing
    assert admin.get("qs:keep") == "1" and admin.dbsize() == 1


def test_check_a_user_that_cannot_be_asked(
    server: RedisServer, admin: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    admin.execute_command("ACL", "SETUSER", "mute", "on", ">pw", "~*", "+get")
    try:
        assert main(["check", "--redis-url", _url(server, "mute", "pw")]) == 1
    finally:
        admin.execute_command("ACL", "DELUSER", "mute")
    out = _verdicts(server, capsys.readouterr().out.splitlines())
    assert out[-1] == "not verified: this user may neither ACL DRYRUN nor MULTI"
    assert out[1].startswith("unknown")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("redis://127.0.0.1:1/0", id="nothing-listening"),
        pytest.param("redis://qs-app:wrong@{host}:{port}/0", id="wrong-password"),
        pytest.param("http://{host}:{port}/", id="not-a-redis-url"),
    ],
)
def test_check_unreachable_or_bad_url_is_exit_2(
    server: RedisServer, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    url = url.format(host=server.host, port=server.port)
    assert main(["check", "--redis-url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qscookies check: ")


# -- the start-up check -------------------------------------------------------------


def test_strict_refuses_to_start_as_the_default_user(server: RedisServer) -> None:
    app = QSCookies(shop, secret_key=SECRET, redis_url=_url(server), strict=True)
    with pytest.raises(ConfigurationError, match="strict=True refuses to start"):
        app.startup_check()  # a server's start-up hook
    with pytest.raises(ConfigurationError, match="strict=True refuses to start"):
        app.startup_check()  # checked once: the refusal stays


def test_strict_found_at_the_first_request_answers_503_and_logs_once(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "qscookies")
    app = QSCookies(shop, secret_key=SECRET, redis_url=_url(server), strict=True)
    with server.client() as admin:
        before = admin.dbsize()
        answers = [Client(app).get(path) for path in ("/", "/add?sku=A", "/")]
        assert admin.dbsize() == before  # nothing tracked, no cart
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert answers[0].headers["Retry-After"] == "5"
    assert "qs_visitor" not in answers[0].headers.get("Set-Cookie", "")
    (record,) = other_records(caplog.records)
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith("qscookies: strict=True refuses to start")
    assert record.getMessage().endswith("every request answers 503 until the shop"
        " restarts with a Redis user that passes the check")  # fmt: skip


def test_strict_refuses_to_start_when_it_cannot_check() -> None:
    app = QSCookies(
        shop, secret_key=SECRET, redis_url="redis://127.0.0.1:1/0", strict=True
    )
    with pytest.raises(ConfigurationError, match="cannot check"):
        app.startup_check()


def test_without_strict_one_warning(
    app_client: redis.Redis,
    admin: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "qscookies")
    QSCookies(shop, secret_key=SECRET, redis=admin).startup_check()
    QSCookies(shop, secret_key=SECRET, redis=app_client).startup_check()  # silent
    (record,) = other_records(caplog.records)
    assert "Redis user default: data exportable" in record.getMessage()
    assert "qscookies acl" in record.getMessage()


@pytest.mark.parametrize("door", [QSCookies, ASGIQSCookies], ids=["wsgi", "asgi"])
def test_start_up_with_redis_down_logs_one_line(
    door: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    caplog.set_level(logging.WARNING, "qscookies")
    url = f"redis://qs-app:{APP_PASSWORD}@127.0.0.1:{port}/0"
    app = door(shop, secret_key=SECRET, redis_url=url)
    assert caplog.records == []  # building it reached for no Redis
    app.startup_check()
    app.startup_check()  # once
    (record,) = caplog.records
    message = record.getMessage()
    assert record.levelname == "WARNING"
    assert message.startswith(
        f"qscookies: at start-up, Redis at 127.0.0.1:{port} as user 'qs-app'"
        f" did not answer (Error 111 connecting to 127.0.0.1:{port}."
    )
    assert message.endswith(
        "cart requests answer 503 until Redis is back"
        f" (pid {os.getpid()}; each worker process checks once)"
    )
    assert APP_PASSWORD not in message


@pytest.mark.parametrize("door", [QSCookies, ASGIQSCookies], ids=["wsgi", "asgi"])
def test_start_up_with_a_wrong_password_logs_a_configuration_error(
    door: Any, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "qscookies")
    wrong = "wrong-password-0123456789"
    door(
        shop, secret_key=SECRET, redis_url=_url(server, "qs-app", wrong)
    ).startup_check()
    (record,) = caplog.records
    assert (record.levelname, record.getMessage()) == (
        "ERROR",
        f"qscookies: at start-up, Redis at {server.host}:{server.port} as user"
        " 'qs-app': configuration error: Redis refused the user name or password"
        f" (pid {os.getpid()}; each worker process checks once)",
    )


@pytest.mark.parametrize("version", ["7", "6.2"])
def test_the_start_up_probes_cover_every_command_the_middleware_sends(
    version: RedisVersion,
) -> None:
    """What the app user runs the scripts with depends on the server: the
    library's functions on 7, EVAL and EVALSHA on 6.2."""
    names = {probe[0] for probe in need_probes(version == "7")}
    sent = (APP_COMMANDS - SCRIPT_CALLS) | SCRIPT_RUNNERS[version]
    assert names == sent | SCRIPT_COMMANDS
    assert ("EVAL" in names, "FCALL" in names) == (version == "6.2", version == "7")


@pytest.mark.parametrize(
    ("prefix", "dropped", "refused"),
    [
        pytest.param(
            "qs:", {"+zincrby", "+pfadd"}, "PFADD ZINCRBY", id="rules-missing"
        ),
        pytest.param(  # WAIT touches no key: allowed whatever the prefix
            "other:", set(), None, id="prefix"
        ),
    ],
)
def test_start_up_names_the_commands_a_user_is_refused(
    server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    prefix: str,
    dropped: set[str],
    refused: str | None,
) -> None:
    """A user short of the middleware's rules is a configuration error, said at once
    (Redis 7 answers ``ACL DRYRUN``; 6.2 is asked with ``MULTI``)."""
    if refused is None:  # every command on a key, and the scripts' way
        needs = need_probes(_version(server) == "7")
        refused = " ".join(p[0] for p in needs if p[0] != "WAIT")
    rules = [
        rule for rule in app_rules(prefix, _version(server)) if rule not in dropped
    ]
    password = "short-of-rules-password-1"
    with server.client() as admin:
        admin.execute_command(
            "ACL", "SETUSER", "qs-short", "on", f">{password}", *rules
        )
    try:
        caplog.set_level(logging.WARNING, "qscookies")
        url = _url(server, "qs-short", password)
        QSCookies(shop, secret_key=SECRET, redis_url=url).startup_check()
        (record,) = other_records(caplog.records)
        assert (record.levelname, record.getMessage()) == (
            "ERROR",
            f"qscookies: at start-up, Redis at {server.host}:{server.port} as user"
            f" 'qs-short': configuration error: the user is refused {refused} on the"
            " keys of 'qs:', which the middleware needs; apply the rules of"
            f" `qscookies acl` (pid {os.getpid()}; logged once for the worker"
            f" processes of parent pid {os.getppid()})",
        )
        strict = QSCookies(shop, secret_key=SECRET, redis_url=url, strict=True)
        with pytest.raises(ConfigurationError, match=f"refused {refused} on"):
            strict.startup_check()
    finally:
        with server.client() as admin:
            admin.execute_command("ACL", "DELUSER", "qs-short")


def test_the_rules_lock_a_redis_cluster_on_every_node(
    redis_cluster: RedisClusterServers,
) -> None:
    """ACLs are per node: applied on each node, the shop and the report run
    through redis-py's cluster client as their users, and every node refuses
    the export commands."""
    lines, _ = acl_lines(
        app_user="qs-app-cluster",
        app_password="app-cluster-password",
        report_user="qs-report-cluster",
        report_password="report-cluster-password",
        version="7" if redis_cluster.nodes[0].version >= (7, 0, 0) else "6.2",
        cluster=True,
    )
    for node in redis_cluster.nodes:
        with node.client() as admin:
            for line in lines:
                admin.execute_command(*line.split())

    def as_user(name: str, password: str) -> RedisCluster:
        return RedisCluster(
            startup_nodes=redis_cluster.startup_nodes,
            username=name,
            password=password,
            driver_info=None,
        )

    users = (
        ("qs-app-cluster", "app-cluster-password"),
        ("qs-report-cluster", "report-cluster-password"),
    )
    with ExitStack() as stack:
        app_client = stack.enter_context(as_user(*users[0]))
        report_client = stack.enter_context(as_user(*users[1]))
        stack.callback(_delete_cluster_keys, redis_cluster)
        client = Client(QSCookies(shop, secret_key=SECRET, redis=app_client))
        client.get("/?promo=CLUSTERED")
        assert get_json(client, "/add?sku=A&q=2") == 2
        assert get_json(client, "/buy?order=c-1&total=700") is True
        get_json(client, "/forget")
        today = date.today()
        report = stack.enter_context(PromotionReport(redis=report_client))
        (row,) = report.counts(today, today)
        assert (row.promotion, row.carts, row.purchases) == ("CLUSTERED", 1, 1)
        harmless_exports = (
            ("KEYS", "*"),
            ("SCAN", "0"),
            ("RANDOMKEY",),
            ("DUMP", "qs:c:{x}"),
            ("CONFIG", "GET", "*"),
            ("CLIENT", "LIST"),
        )
        for node in redis_cluster.nodes:  # each node, as each user
            for user, password in users:
                with node.client(username=user, password=password) as direct:
                    for command in harmless_exports:
                        with pytest.raises(redis.exceptions.NoPermissionError):
                            direct.execute_command(*command)


def _delete_cluster_keys(cluster: RedisClusterServers) -> None:
    for node in cluster.nodes:
        with node.client() as admin:
            for key in admin.keys("qs:*"):
                admin.delete(key)


def test_acl_cluster_flag_adds_the_cluster_client_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["acl", "--cluster", "--app-password", PASSWORD_A]
    assert main([*args, "--report-password", PASSWORD_R]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith("ACL")]
    assert len(lines) == 2
    assert all(line.endswith("+cluster|slots +command") for line in lines)


# -- stdout is for redis-cli: commands only ----------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_acl_output_piped_line_by_line_into_redis_makes_working_users(
    redis_binary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ``qscookies acl | redis-cli`` does: every stdout line is sent as a
    command (split on spaces, as redis-cli does); the generated passwords are
    read from stderr, and the users they make work, and refuse an export."""
    version = "7" if redis_version(redis_binary) >= (7,) else "6.2"
    code, out, err = _run(capsys, "acl", "--redis-version", version)
    assert code == 0
    passwords = dict(re.findall(r"^# generated password for (\S+): (\S+)$", err, re.M))
    assert set(passwords) == {"qs-app", "qs-report"}
    assert all(line.startswith("# ") for line in err.splitlines())
    with RedisServer(redis_binary) as server, server.client() as admin:
        for line in out.splitlines():
            assert line.startswith("ACL SETUSER ")
            assert admin.execute_command(*line.split()) in (b"OK", "OK")
        app = _url(server, "qs-app", passwords["qs-app"])
        with connect(app, socket_timeout=2) as client:
            assert client.execute_command("HSET", "qs:c:{x}", "sku", 1) == 1
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command("DUMP", "qs:c:{x}")
        report = _url(server, "qs-report", passwords["qs-report"])
        with connect(report, socket_timeout=2) as client:
            assert client.execute_command("ZRANGE", "qs:a:i:20270115", 0, -1) == []
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command("HGETALL", "qs:c:{x}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--prefix", "qs"], "ending in ':'", id="prefix-without-colon"),
        pytest.param(["--app-user", "default"], "'default'", id="app-user-default"),
        pytest.param(
            ["--report-user", "default"], "'default'", id="report-user-default"
        ),
        pytest.param(
            ["--app-user", "shop", "--report-user", "shop"],
            "both 'shop'",
            id="same-name",
        ),
        pytest.param(
            ["--app-password", "short"], "at least 16 printable", id="weak-app"
        ),
        pytest.param(
            ["--report-password", "fifteen-chars-x"],
            "at least 16 printable",
            id="weak-report",
        ),
        pytest.param(
            ["--prefix", "qs:", "--prefix", "qs:a:"], "given twice", id="two-prefixes"
        ),
        pytest.param(["--other-prefix", "qs:a:"], "nest", id="other-under-ours"),
        pytest.param(
            ["--prefix", "qs:a:", "--other-prefix", "qs:"],
            "nest",
            id="ours-under-other",
        ),
        pytest.param(["--other-prefix", "qs:"], "nest", id="same-prefix"),
    ],
)
def test_acl_refuses_unsafe_input_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code, out, err = _run(capsys, "acl", *argv)
    except SystemExit as exit_info:  # argparse's own errors
        code, out, err = int(exit_info.code or 0), *capsys.readouterr()
    assert code == 2
    assert out == ""  # nothing for redis-cli to run
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_acl_accepts_a_shop_beside_another(capsys: pytest.CaptureFixture[str]) -> None:
    """``qs:`` and ``qs2:`` do not nest (the ':' ends each): both may share Redis."""
    code, out, _ = _run(capsys, "acl", "--prefix", "qs2:", "--other-prefix", "qs:")
    assert code == 0 and " ~qs2:* " in out and " %R~qs2:a:* " in out


def test_acl_url_example_percent_encodes_the_password(
    redis_binary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed URL works as it is: redis-py decodes the password."""
    password = "p@ss/w:rd#%?&+=x"
    version = "7" if redis_version(redis_binary) >= (7,) else "6.2"
    code, out, err = _run(
        capsys, "acl", "--redis-version", version, "--app-password", password
    )
    assert code == 0
    (url,) = re.findall(r"redis_url=(\S+)", err)
    assert url == "redis://qs-app:p%40ss%2Fw%3Ard%23%25%3F%26%2B%3Dx@HOST:6379/0"
    assert password not in out.replace(f">{password} ", "")  # only in its rule
    with RedisServer(redis_binary) as server:
        with server.client() as admin:
            for line in out.splitlines():
                admin.execute_command(*line.split())
        where = f"{server.host}:{server.port}"
        with connect(url.replace("HOST:6379", where), socket_timeout=2) as client:
            assert client.execute_command("ACL", "WHOAMI") in (b"qs-app", "qs-app")


def test_setuser_users_vanish_on_restart_unless_saved(
    redis_binary: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the stderr note says: ACL SETUSER changes only the running server;
    with an aclfile, ACL SAVE keeps the users across a restart."""
    version = "7" if redis_version(redis_binary) >= (7,) else "6.2"
    code, out, err = _run(
        capsys, "acl", "--redis-version", version, "--app-password", PASSWORD_A
    )
    assert code == 0
    assert "vanish" in err.splitlines()[-1] and "ACL SAVE" in err.splitlines()[-1]
    aclfile = tmp_path / "users.acl"
    aclfile.write_text("")
    with RedisServer(redis_binary, args=["--aclfile", aclfile]) as server:

        def users() -> set[str]:
            with server.client(decode_responses=True) as admin:
                return set(admin.execute_command("ACL", "USERS"))

        with server.client() as admin:
            for line in out.splitlines():
                admin.execute_command(*line.split())
        assert {"qs-app", "qs-report"} <= users()
        server.restart()
        assert "qs-app" not in users()  # gone
        with server.client() as admin:
            for line in out.splitlines():
                admin.execute_command(*line.split())
            admin.execute_command("ACL", "SAVE")
        server.restart()
        assert {"qs-app", "qs-report"} <= users()
        with connect(_url(server, "qs-app", PASSWORD_A), socket_timeout=2) as client:
            assert client.execute_command("HSET", "qs:c:{x}", "sku", 1) == 1


# -- check: what the user can do, not only under the prefix it is told ----------------


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        pytest.param(
            "This user has no permissions to run the 'dump' command",
            "command",
            id="dryrun-command",
        ),
        pytest.param(
            "This user has no permissions to access the 'zz:c:{x}' key",
            "key",
            id="dryrun-key",
        ),
        pytest.param(
            "This user has no permissions to access the '__key*__:*' channel",
            "channel",
            id="dryrun-channel-named-key",
        ),
        pytest.param(
            "this user has no permissions to run the 'config' command or its"
            " subcommand",
            "command",
            id="multi-6.2-command",
        ),
        pytest.param(
            "this user has no permissions to access one of the keys used as arguments",
            "key",
            id="multi-key",
        ),
        pytest.param(
            "this user has no permissions to access one of the channels used as"
            " arguments",
            "channel",
            id="multi-channel",
        ),
        pytest.param(
            "This user has no permissions to access the 'keys' key",
            "key",
            id="key-named-keys",
        ),
        pytest.param("something else entirely", None, id="unknown"),
    ],
)
def test_refusal_reads_why_redis_refused(reason: str, kind: str | None) -> None:
    assert refusal(reason) == kind


@pytest.mark.parametrize(
    ("answer", "key_probe", "verdict"),
    [
        pytest.param(True, False, True, id="permitted"),
        pytest.param(None, False, None, id="unknown"),
        pytest.param(False, False, False, id="refused-without-reason"),
        pytest.param(
            "no permissions to run the 'dump' command", False, False, id="command"
        ),
        pytest.param(
            "no permissions to access the 'zz:x' key", False, True, id="key-only"
        ),
        pytest.param(
            "no permissions to access the 'zz:x' key", True, False, id="key-probe"
        ),
        pytest.param(
            "no permissions to access the 'x' channel", False, True, id="channel-only"
        ),
        pytest.param("a refusal we cannot read", False, None, id="unreadable"),
    ],
)
def test_classify(
    answer: bool | str | None, key_probe: bool, verdict: bool | None
) -> None:
    """A refusal of the key (or channel) alone is a finding, unless the key is
    the point of the probe."""
    assert classify(answer, key_probe=key_probe) is verdict


@pytest.fixture
def dumper(server: RedisServer, admin: redis.Redis) -> Iterator[str]:
    """A user who may DUMP (and read) every key under ``qs:``, and ask about itself."""
    probe = (
        ("+acl|whoami", "+acl|dryrun")
        if _version(server) == "7"
        else ("+acl|whoami", "+multi", "+discard")
    )
    admin.execute_command(
        "ACL", "SETUSER", "dumper", "on", ">dumper-password", "resetkeys", "~qs:*",
        "resetchannels", "-@all", "+dump", "+hgetall", *probe,
    )  # fmt: skip
    yield _url(server, "dumper", "dumper-password")
    admin.execute_command("ACL", "DELUSER", "dumper")


@pytest.mark.parametrize("prefix", ["zz:", "qs:"])
def test_check_finds_dump_whatever_the_prefix(
    server: RedisServer,
    admin: redis.Redis,
    dumper: str,
    capsys: pytest.CaptureFixture[str],
    prefix: str,
) -> None:
    """``~qs:* +dump`` checked with ``--prefix zz:``: Redis refuses ``DUMP zz:…``
    for its key alone, so the command runs on other keys: exportable (Redis 7 by
    ACL DRYRUN, 6.2 by MULTI)."""
    admin.hset("qs:c:{real}", "SKU-1", 1)
    code, out, _ = _run(capsys, "check", "--redis-url", dumper, "--prefix", prefix)
    assert code == 1
    lines = _verdicts(server, out.splitlines())
    method = "ACL DRYRUN" if _version(server) == "7" else "MULTI"
    assert lines[0] == f"user dumper, asked with {method}"
    dump = f"DUMP {prefix}c:{{qscookies-check}}"
    note = "  (refused for this key only: allowed for others)"
    assert f"ALLOWED  {dump}{note if prefix == 'zz:' else ''}" in lines
    assert lines[-1].startswith("data exportable: ") and "DUMP" in lines[-1]
    assert "refused  KEYS *" in lines and "refused  GET !qscookies-check" in lines
    with redis.Redis.from_url(dumper, driver_info=None) as client:  # it can
        assert client.execute_command("DUMP", "qs:c:{real}")


def test_the_app_user_is_locked_in_whatever_the_prefix(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The contrast: the app user has no export command at all, so another
    prefix changes nothing (its refusals are of the command, not the key)."""
    url = _url(server, "qs-app", APP_PASSWORD)
    code, out, _ = _run(capsys, "check", "--redis-url", url, "--prefix", "zz:")
    assert code == _lua(server)[0], out
    lines = _verdicts(server, out.splitlines())
    assert lines[-1].startswith("locked in: all 33")  # a reader of zz:


def test_check_refuses_a_prefix_without_colon(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(server, "qs-app", APP_PASSWORD)
    code, out, err = _run(capsys, "check", "--redis-url", url, "--prefix", "qs")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "ending in ':'" in err


def test_a_client_passed_in_that_retries_is_warned_of_once(
    server: RedisServer,
    redis_cluster: RedisClusterServers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client without a socket timeout waits as long as Redis hangs, one
    without a connect timeout 5 s a connection. Its retries are not named: the
    store never lets a client re-send (redis-py's cluster defaults have no
    timeout, but their 10 retries are no problem)."""
    url = _url(server, "qs-app", APP_PASSWORD)
    no_retry = Retry(NoBackoff(), 0)
    retrying = redis.Redis.from_url(
        url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 3)
    )
    with caplog.at_level(logging.WARNING, "qscookies"):
        QSCookies(shop, secret_key=SECRET, redis=retrying).close()
    assert not [r for r in caplog.records if "passed in" in r.getMessage()]
    clients = [
        (
            "has no socket_timeout",
            redis.Redis.from_url(url, socket_timeout=None, retry=no_retry),
        ),
        # redis-py 8 waits 5 s to connect unless told, whatever the socket_timeout
        (
            "sets no socket_connect_timeout",
            redis.Redis.from_url(url, socket_timeout=1, retry=no_retry),
        ),
        (
            "waits up to 3 s to connect",
            redis.Redis.from_url(
                url, socket_timeout=1, socket_connect_timeout=3, retry=no_retry
            ),
        ),
        # redis-py's cluster defaults (10 retries: not named)
        ("has no socket_timeout", redis_cluster.client()),
    ]
    for problem, client in clients:
        caplog.clear()
        with caplog.at_level(logging.WARNING, "qscookies"):
            QSCookies(shop, secret_key=SECRET, redis=client)
        client.close()
        warned = [
            r.getMessage() for r in caplog.records if "passed in" in r.getMessage()
        ]
        assert warned == [
            f"qscookies: the Redis client passed in {problem}: a request can wait"
            " past socket_timeout; give it a socket_timeout and a"
            " socket_connect_timeout no longer than it (see"
            " https://qscookies.github.io/qscookies/scale/#client-settings)"
            f" (pid {os.getpid()}; each worker process checks once)"
        ]
        assert f"give it {CLIENT_SETTINGS} (pid" in warned[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, "qscookies"):
        ASGIQSCookies(shop, secret_key=SECRET, redis=redis.asyncio.Redis.from_url(url))
        warned = other_records(caplog.records)
        assert [r.getMessage().split(":")[1] for r in warned] == [
            " the Redis client passed in has no socket_timeout"
        ]
        caplog.clear()
        with connect(url, socket_timeout=0.25) as ours:  # qscookies' own options
            QSCookies(shop, secret_key=SECRET, redis=ours)
        assert other_records(caplog.records) == []
