"""``qscookies acl`` and ``qscookies check``, applied to real Redis 6.2 and 7.x.

Each Redis version found gets one server for the module with the generated
``ACL SETUSER`` lines executed as the default user (left unrestricted, as the
superuser of these tests); the data is flushed after each test.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from werkzeug.test import Client

from qscookies import ConfigurationError
from qscookies import QSCookies
from qscookies import context
from qscookies.acl import EXPORT_PROBES
from qscookies.acl import READER_PROBES
from qscookies.acl import acl_lines
from qscookies.acl import probe_commands
from qscookies.cli import main
from qscookies.embedded import RedisClusterServers
from qscookies.embedded import RedisServer
from qscookies.embedded import Version
from qscookies.embedded import redis_version
from qscookies.report import PromotionReport
from qscookies.store import connect

from shop import SECRET
from shop import get_json
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
        "revenue_cents": "1999",
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
    assert [key for key in admin.keys("qs:*") if not key.startswith("qs:c:")] == []


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
    assert report_client.zrange("qs:a:promotions", 0, -1) == ["SPRING"]
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
    assert main(["check", "--redis-url", _url(server, user, password)]) == code
    out = capsys.readouterr().out.splitlines()
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
    assert ran <= probing | handshake | {"config|resetstat", "config"}
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
    out = capsys.readouterr().out.splitlines()
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
    with pytest.raises(ConfigurationError, match="strict=True refuses to start"):
        QSCookies(shop, secret_key=SECRET, redis_url=_url(server), strict=True)


def test_strict_refuses_to_start_when_it_cannot_check() -> None:
    with pytest.raises(ConfigurationError, match="cannot check"):
        QSCookies(
            shop, secret_key=SECRET, redis_url="redis://127.0.0.1:1/0", strict=True
        )


def test_without_strict_one_warning(
    app_client: redis.Redis,
    admin: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "qscookies")
    QSCookies(shop, secret_key=SECRET, redis=admin)
    QSCookies(shop, secret_key=SECRET, redis=app_client)  # locked in: silent
    (record,) = caplog.records
    assert "Redis user default: data exportable" in record.getMessage()
    assert "qscookies acl" in record.getMessage()


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
