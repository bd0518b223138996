"""Does this Redis (or Valkey) server need the 2025 Lua fixes?

The Lua flaws of 2025 (:data:`LUA_CVES`; CVE-2025-49844 is rated 10) let any
user who may submit a script escape the script sandbox of an unpatched server.
:func:`lua_advisory` reads the fields of ``INFO server`` (``redis_version``, and
``server_name`` / ``valkey_version`` where Valkey reports them; ``HELLO``'s
``server`` and ``version`` do as well) and says whether the server has the
fixes, and which release to move to. Pure: no I/O. ``qscookies check`` prints
its lines, the middleware's start-up check logs them once, and ``qscookies
demo`` warns with them about its embedded server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Version = tuple[int, int, int]
Server = Literal["Redis", "Valkey"]

#: The flaws fixed together in the releases of :data:`FIXED`.
LUA_CVES = ("CVE-2025-49844", "CVE-2025-46817", "CVE-2025-46818", "CVE-2025-46819")

#: The first fixed release of each release line that got the fixes.
FIXED: dict[Server, dict[tuple[int, int], int]] = {
    "Redis": {(6, 2): 20, (7, 2): 11, (7, 4): 6, (8, 0): 4, (8, 2): 2},
    "Valkey": {(7, 2): 11, (8, 0): 6, (8, 1): 4},
}

#: Every release from this one on has the fixes.
FIXED_FROM: dict[Server, Version] = {"Redis": (8, 4, 0), "Valkey": (9, 0, 0)}

#: Functions (``FUNCTION LOAD``, ``FCALL``) exist from this release on; before
#: it a script can only be submitted (``EVAL``), so submission stays open.
FUNCTIONS_FROM: Version = (7, 0, 0)

_VERSION = re.compile(r"\s*(\d{1,5})\.(\d{1,5})\.(\d{1,5})(?!\d)")


def parse_version(text: object) -> Version | None:
    """``"7.2.11"`` → ``(7, 2, 11)``; ``None`` for junk or nothing."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    match = _VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    major, minor, patch = map(int, match.groups())
    return major, minor, patch


def fixed_release(server: Server, version: Version) -> Version | None:
    """The release *version* should move to for the fixes; ``None`` when it has them."""
    if version >= FIXED_FROM[server]:
        return None
    lines = FIXED[server]
    line = version[:2]
    if line in lines:
        return None if version[2] >= lines[line] else (*line, lines[line])
    later = sorted(up for up in lines if up > line)
    return (*later[0], lines[later[0]]) if later else FIXED_FROM[server]


@dataclass(frozen=True)
class LuaAdvisory:
    """What :func:`lua_advisory` found about one server."""

    #: ``"Redis"`` or ``"Valkey"``.
    server: Server
    #: The version as the server reported it (``""`` when it reported none).
    reported: str
    #: The parsed version; ``None`` for a missing or malformed one.
    version: Version | None
    #: The release to move to for the fixes; ``None`` when it has them (or the
    #: version is unknown).
    upgrade_to: Version | None

    @property
    def needs_fix(self) -> bool:
        """The server is known to lack the Lua fixes."""
        return self.upgrade_to is not None

    @property
    def scripts_open(self) -> bool:
        """A server without functions: the app user must keep ``EVAL``."""
        return self.version is not None and self.version < FUNCTIONS_FROM

    def lines(self) -> list[str]:
        """What to tell the operator: the verdict, then the 6.2 note if any."""
        cves = ", ".join(LUA_CVES)
        name = f"{self.server} {self.reported or '(no version reported)'}"
        if self.version is None:
            lines = [f"{name}: unknown version, cannot tell whether it has the fixes"]
        elif self.upgrade_to is None:
            lines = [f"{name} has the fixes of the 2025 Lua flaws ({cves})"]
        else:
            target = ".".join(map(str, self.upgrade_to))
            no_fix = ""
            if self.upgrade_to[:2] != self.version[:2]:
                no_fix = f"; the {self.version[0]}.{self.version[1]} line got no fix"
            lines = [
                f"{name} lacks the fixes of the 2025 Lua flaws ({cves}): a user who"
                f" may submit a script can escape the Lua sandbox; upgrade to"
                f" {self.server} {target} or later{no_fix}"
            ]
        if self.scripts_open:
            lines.append(
                f"{name} has no functions (FUNCTION LOAD, {self.server} 7.0 on), so"
                " this server leaves script submission (EVAL) open to the app user;"
                " move to a fixed 7.2 or later release to close it"
            )
        return lines


def lua_advisory(info: Mapping[str, object]) -> LuaAdvisory:
    """Judge a server by the fields of its ``INFO server`` (or ``HELLO``).

    Valkey is told apart by ``server_name: valkey`` or a ``valkey_version``
    (``HELLO``: ``server: valkey``); its ``redis_version`` is the Redis release
    it is compatible with, not its own, so ``valkey_version`` wins.

    :param info: field names to values, as ``INFO server`` parses; anything else
        in it (junk, a missing version) gives an unknown version, never an error.
    """
    name = _text(info.get("server_name") or info.get("server")).lower()
    server: Server = (
        "Valkey" if name == "valkey" or "valkey_version" in info else "Redis"
    )
    raw = info.get("valkey_version") if server == "Valkey" else None
    reported = _text(raw or info.get("redis_version") or info.get("version"))
    reported = "".join(c for c in reported if c.isprintable()).strip()[:40]
    version = parse_version(reported)
    upgrade = fixed_release(server, version) if version is not None else None
    return LuaAdvisory(server, reported, version, upgrade)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return "" if value is None else str(value)
