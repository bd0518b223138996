"""Redis ACL rules that lock the data in, and the check that they do.

:func:`acl_lines` builds the rules for two users as allow-lists from ``-@all``
(``+@all -@dangerous`` would still allow ``SCAN``, ``DUMP`` and ``RANDOMKEY``):

- the **app user** (``qs-app``) may touch only keys under the prefix, and run only
  the commands the middleware sends (:data:`~qscookies.store.APP_COMMANDS`), the
  commands its Lua scripts run (:data:`~qscookies.store.SCRIPT_COMMANDS`: Redis
  checks commands called from a script against the user too) and ``SELECT``,
  which redis-py sends on connecting to a database other than 0 (its ``HELLO``
  needs no permission; the ``CLIENT MAINT_NOTIFICATIONS`` redis-py 8 tries is
  refused and redis-py carries on);
- the **report user** (``qs-report``) may only read the aggregate keys
  (``<prefix>a:*``) with :data:`~qscookies.store.REPORT_COMMANDS`. On Redis 7 the
  key pattern is read-only (``%R~``). ``PFCOUNT`` passes it although its key spec
  says ``RW`` (it may rewrite a sketch's cached cardinality): Redis 7 grants key
  access by the spec's ``access``/``insert``/``update``/``delete`` flags, and
  ``PFCOUNT``'s is ``access`` (checked on 7.0 by the tests). Redis 6.2 has no
  read-only patterns: there the command allow-list alone keeps it read-only.

Both users also get what :meth:`~qscookies.store.Store.probe` needs to ask Redis,
without running anything, which commands they may run: ``acl|whoami``, and
``acl|dryrun`` on Redis 7 (``ACL DRYRUN`` shows permissions, never data or
passwords) or ``MULTI`` and ``DISCARD`` on 6.2 (without ``EXEC`` a queued
command never runs). Neither user gets any pub/sub channel, so keyspace notifications
cannot leak key names.

ACLs are per node: apply the rules on every Redis server that holds the data,
each master and replica of a cluster, each server behind Sentinel. On a cluster
redis-py's cluster client also reads the slot map and the command table:
``cluster=True`` (``qscookies acl --cluster``) adds :data:`CLUSTER_RULES` to both
users (tested on a real 3-node cluster).

:func:`check` asks Redis, command by command (:data:`EXPORT_PROBES`), whether
the connection's user could use it to take the data out. ``qscookies check``
prints its answer; ``QSCookies(strict=True)`` refuses to start on a finding.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from typing import Literal

from .errors import ConfigurationError
from .errors import StoreUnavailable
from .settings import Settings
from .core.scripts import SCRIPT_COMMANDS
from .store.app import APP_COMMANDS
from .store.probe import PROBE_COMMANDS
from .store.probe import Prober
from .store.reader import REPORT_COMMANDS

log = logging.getLogger("qscookies")

RedisVersion = Literal["7", "6.2"]

#: redis-py sends ``SELECT`` when the URL names a database other than 0.
CONNECT_COMMANDS = frozenset({"SELECT"})

#: What each user needs for ``qscookies check`` to ask Redis about it.
_PROBE_RULES: dict[str, tuple[str, ...]] = {
    "7": ("+acl|whoami", "+acl|dryrun"),
    "6.2": ("+acl|whoami", "+multi", "+discard"),
}

#: What redis-py's cluster client needs besides: the slot map and command table.
CLUSTER_RULES = ("+cluster|slots", "+command")

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

# A visitor key, a cart key (never existing: the id is not a valid one) and a key
# outside any prefix ("!" is not allowed in a prefix).
_VISITOR = "{prefix}a:{{qscookies-check}}:d:0"
_CART = "{prefix}c:{{qscookies-check}}"
_OUTSIDE = "!qscookies-check"

#: Commands that could take data out of Redis (or open Redis to someone who
#: would), each with harmless arguments of valid arity. They are only ever
#: dry-run or queued and discarded by :meth:`~qscookies.store.Store.probe`.
EXPORT_PROBES: tuple[tuple[str, ...], ...] = (
    ("DUMP", _VISITOR),
    ("RESTORE", _VISITOR, "0", "x"),
    ("MIGRATE", "127.0.0.1", "1", _VISITOR, "0", "1"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("RANDOMKEY",),
    ("SORT", _VISITOR, "BY", "nosort", "GET", "*"),
    ("MONITOR",),
    ("SYNC",),
    ("PSYNC", "?", "-1"),
    ("REPLICAOF", "127.0.0.1", "1"),
    ("SLAVEOF", "127.0.0.1", "1"),
    ("CONFIG", "GET", "*"),
    ("CONFIG", "SET", "dir", "/tmp"),
    ("DEBUG", "OBJECT", _VISITOR),
    ("OBJECT", "ENCODING", _VISITOR),
    ("MODULE", "LOAD", "/dev/null"),
    ("SAVE",),
    ("BGSAVE",),
    ("BGREWRITEAOF",),
    ("CLIENT", "LIST"),
    ("ACL", "LIST"),
    ("ACL", "SETUSER", "qscookies-check"),
    ("SHUTDOWN", "NOSAVE"),
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("SWAPDB", "0", "1"),
    ("MOVE", _VISITOR, "1"),
    ("COPY", _VISITOR, _OUTSIDE),
    ("PSUBSCRIBE", "__key*__:*"),
    ("GET", _OUTSIDE),
    ("HGETALL", _OUTSIDE),
)

#: Reading one visitor's record or cart: the app user's own job, an export for a
#: user who cannot write (a reader such as the report user).
READER_PROBES: tuple[tuple[str, ...], ...] = (
    ("HGETALL", _VISITOR),
    ("HGETALL", _CART),
)

#: Tells a writer (the app user) from a reader.
_WRITER_PROBE: tuple[str, ...] = ("HSET", _CART, "qscookies-check", "1")


@dataclass(frozen=True)
class Verdict:
    """Whether the user may run one probed command."""

    #: The command as probed, e.g. ``"DUMP qs:v:{qscookies-check}"``.
    command: str
    #: ``True`` permitted, ``False`` refused, ``None`` Redis would not say.
    allowed: bool | None


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found out about one Redis connection."""

    #: The ACL user of the connection, when Redis would tell.
    user: str | None
    #: How Redis was asked: ``"ACL DRYRUN"``, ``"MULTI"`` or ``""`` (not at all).
    method: str
    #: One verdict per export-class command (reader probes included for readers).
    verdicts: tuple[Verdict, ...]

    @property
    def allowed(self) -> list[str]:
        """The commands the user could use to export the data."""
        return [v.command for v in self.verdicts if v.allowed]

    @property
    def unknown(self) -> list[str]:
        """The commands Redis would not answer for."""
        return [v.command for v in self.verdicts if v.allowed is None]

    @property
    def locked_in(self) -> bool:
        """Every export-class command is known to be refused."""
        return all(v.allowed is False for v in self.verdicts)

    def summary(self) -> str:
        """One line: locked in, or what is allowed or unknown."""
        if self.locked_in:
            return f"locked in: all {len(self.verdicts)} export commands refused"
        if self.allowed:
            names = sorted({c.split()[0] for c in self.allowed})
            return f"data exportable: {len(self.allowed)} allowed ({' '.join(names)})"
        if not self.method:
            return "not verified: this user may neither ACL DRYRUN nor MULTI"
        return f"not verified: Redis would not say for {len(self.unknown)} commands"


def check(store: Prober) -> CheckResult:
    """Ask Redis what the store's connection user could use to export the data.

    One ``ACL WHOAMI`` and one pipelined round trip of ``ACL DRYRUN`` (Redis 7),
    or ``MULTI``, the probes queued, ``DISCARD`` (see
    :meth:`~qscookies.store.Store.probe`): no probed command is ever run.

    :param store: a store allowed :data:`~qscookies.store.PROBE_COMMANDS`.
    :raises StoreUnavailable: Redis could not be reached.
    """
    probes = [
        tuple(arg.format(prefix=store.prefix) for arg in probe)
        for probe in (*EXPORT_PROBES, *READER_PROBES, _WRITER_PROBE)
    ]
    user, method, answers = store.probe(probes)
    reader = answers[-1] is False
    count = len(EXPORT_PROBES) + (len(READER_PROBES) if reader else 0)
    verdicts = tuple(
        Verdict(" ".join(probe), allowed)
        for probe, allowed in zip(probes[:count], answers[:count], strict=True)
    )
    return CheckResult(user, method, verdicts)


def enforce(client: Any, *, prefix: str, strict: bool) -> None:
    """The start-up check of :class:`~qscookies.QSCookies`.

    With *strict*, raise when the connection's user could export the data (or
    when that cannot be checked); otherwise log one warning on a finding.

    :raises ConfigurationError: *strict* and the data is not locked in.
    """
    store = Prober(client, prefix=prefix)
    try:
        result = check(store)
    except StoreUnavailable as error:
        if strict:
            raise ConfigurationError(
                f"strict=True: cannot check the Redis user ({error})"
            ) from error
        return
    if result.locked_in:
        return
    message = (
        f"Redis user {result.user or '?'}: {result.summary()};"
        " connect as the user of `qscookies acl`"
    )
    if strict:
        raise ConfigurationError(f"strict=True refuses to start: {message}")
    log.warning("qscookies: %s", message)


# -- the rules ------


def app_rules(prefix: str, version: RedisVersion) -> list[str]:
    """ACL rules of the app user: prefix keys, the middleware's commands only."""
    commands = APP_COMMANDS | SCRIPT_COMMANDS | CONNECT_COMMANDS
    return [
        "resetkeys",
        f"~{prefix}*",
        "resetchannels",
        "-@all",
        *(f"+{name.lower()}" for name in sorted(commands)),
        *_PROBE_RULES[version],
    ]


def report_rules(prefix: str, version: RedisVersion) -> list[str]:
    """ACL rules of the report user: read the aggregate keys, nothing else."""
    pattern = f"~{prefix}a:*"
    commands = REPORT_COMMANDS | CONNECT_COMMANDS
    return [
        "resetkeys",
        f"%R{pattern}" if version == "7" else pattern,
        "resetchannels",
        "-@all",
        *(f"+{name.lower()}" for name in sorted(commands)),
        *_PROBE_RULES[version],
    ]


def acl_lines(
    *,
    prefix: str = "qs:",
    app_user: str = "qs-app",
    app_password: str | None = None,
    report_user: str = "qs-report",
    report_password: str | None = None,
    version: RedisVersion = "7",
    aclfile: bool = False,
    cluster: bool = False,
) -> tuple[list[str], list[str]]:
    """The ACL rules for the app and report users, ready to print.

    :param prefix: the middleware's ``key_prefix``.
    :param app_user: name of the app user.
    :param app_password: its password; ``None`` generates one.
    :param report_user: name of the report user.
    :param report_password: its password; ``None`` generates one.
    :param version: ``"7"`` (read-only key patterns) or ``"6.2"``.
    :param aclfile: ``user …`` lines for an aclfile instead of ``ACL SETUSER``.
    :param cluster: add :data:`CLUSTER_RULES` for redis-py's cluster client.
    :return: the rule lines, and ``#`` comment lines (generated passwords and
        the per-node note). An aclfile cannot hold comments: keep them apart.
    :raises ConfigurationError: a bad prefix, name, password or version.
    """
    Settings(key_prefix=prefix)  # the same validation as the middleware's
    if version not in _PROBE_RULES:
        raise ConfigurationError("version must be '7' or '6.2'")
    comments = [
        f"# qscookies ACL users for Redis {version}. ACLs are per node: apply"
        " them on every server (each cluster master and replica, each server"
        " behind Sentinel).",
        "# The default user is left as it is: give it a strong password or turn"
        " it off, and connect qscookies as these users.",
    ]
    lines = []
    users = (
        (app_user, app_password, app_rules(prefix, version)),
        (report_user, report_password, report_rules(prefix, version)),
    )
    for name, password, rules in users:
        if not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"user name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -"
            )
        if password is None:
            password = secrets.token_urlsafe(24)
            comments.append(f"# generated password for {name}: {password}")
        elif (
            not password
            or not password.isprintable()
            or any(char.isspace() for char in password)
        ):
            raise ConfigurationError(f"password of {name}: printable, no spaces")
        head = f"user {name}" if aclfile else f"ACL SETUSER {name}"
        if cluster:
            rules = [*rules, *CLUSTER_RULES]
        lines.append(" ".join([head, "on", "resetpass", f">{password}", *rules]))
    return lines, comments
