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

Both users also get what :meth:`~qscookies.store.probe.Prober.probe` needs to ask Redis,
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
What counts is what the user may do, not only under the prefix it is told: a
``NOPERM`` says why a command was refused, and an export command refused only
because of the probed key (or channel) is allowed for other keys, which is a
finding (see :func:`classify`).

Several shops on one Redis: ACL key patterns know neither databases nor shops,
so two shops whose prefixes nest (``qs:`` and ``qs:a:``, or the same prefix in
two databases) cannot be kept apart: ``qs:a:c:{id}``, a cart of the second shop,
lies under the first shop's app pattern ``qs:*`` and its report pattern
``qs:a:*``. :func:`acl_lines` takes the other shops' prefixes
(``qscookies acl --other-prefix``) and refuses nested ones.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal
from urllib.parse import quote

from .core.scripts import SCRIPT_COMMANDS
from .errors import ConfigurationError
from .errors import StoreUnavailable
from .keys import KeySchema
from .store.app import APP_COMMANDS
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

#: The shortest password :func:`acl_lines` accepts.
MIN_PASSWORD_LENGTH = 16

#: Not in a password: ``redis-cli`` reads quotes and backslashes as quoting.
_UNQUOTABLE = frozenset("\"'\\")

# Placeholders of the probes, for a cart key and an aggregate key of the prefix
# (see probe_commands: never existing, the id is not a valid one, the day is
# 00000000), and a key outside any prefix ("!" is not allowed in a prefix).
_CART = "<cart>"
_AGGREGATE = "<aggregate>"
_OUTSIDE = "!qscookies-check"
_CHECK_ID = "qscookies-check"

#: Commands that could take data out of Redis (or open Redis to someone who
#: would), each with harmless arguments of valid arity. They are only ever
#: dry-run or queued and discarded by :meth:`~qscookies.store.probe.Prober.probe`.
#: ``<cart>`` and ``<aggregate>`` stand for keys: see :func:`probe_commands`.
EXPORT_PROBES: tuple[tuple[str, ...], ...] = (
    ("DUMP", _CART),
    ("RESTORE", _CART, "0", "x"),
    ("MIGRATE", "127.0.0.1", "1", _CART, "0", "1"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("RANDOMKEY",),
    ("SORT", _CART, "BY", "nosort", "GET", "*"),
    ("MONITOR",),
    ("SYNC",),
    ("PSYNC", "?", "-1"),
    ("REPLICAOF", "127.0.0.1", "1"),
    ("SLAVEOF", "127.0.0.1", "1"),
    ("CONFIG", "GET", "*"),
    ("CONFIG", "SET", "dir", "/tmp"),
    ("DEBUG", "OBJECT", _AGGREGATE),
    ("OBJECT", "ENCODING", _AGGREGATE),
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
    ("MOVE", _CART, "1"),
    ("COPY", _AGGREGATE, _OUTSIDE),
    ("PSUBSCRIBE", "__key*__:*"),
    ("GET", _OUTSIDE),
    ("HGETALL", _OUTSIDE),
)

#: Reading a cart: the app user's own job, an export for a user who cannot write
#: (a reader such as the report user). Nothing is kept per visitor.
READER_PROBES: tuple[tuple[str, ...], ...] = (("HGETALL", _CART),)

#: Tells a writer (the app user) from a reader.
_WRITER_PROBE: tuple[str, ...] = ("HSET", _CART, _CHECK_ID, "1")

#: Probes whose point is the key: refused for that key is refused. (For every
#: other probe, a refusal of the key alone means the command runs on others.)
KEY_PROBES: frozenset[tuple[str, ...]] = frozenset(
    {("GET", _OUTSIDE), ("HGETALL", _OUTSIDE), *READER_PROBES, _WRITER_PROBE}
)


def probe_commands(
    prefix: str, probes: tuple[tuple[str, ...], ...] = EXPORT_PROBES
) -> list[tuple[str, ...]]:
    """The *probes* with the keys of *prefix* (see :class:`~qscookies.keys.KeySchema`).

    :raises ConfigurationError: a malformed prefix.
    """
    schema = KeySchema(prefix)
    keys = {
        _CART: schema.cart(_CHECK_ID),
        _AGGREGATE: schema.aggregate(_CHECK_ID, "d", "00000000"),
    }
    return [tuple(keys.get(arg, arg) for arg in probe) for probe in probes]


Refusal = Literal["command", "key", "channel"]

_QUOTED = re.compile(r"'[^']*'")


def refusal(reason: str) -> Refusal | None:
    """What a ``NOPERM`` reply (or an ``ACL DRYRUN`` answer) says was refused.

    Redis 7's ``ACL DRYRUN`` answers ``This user has no permissions to run the
    'dump' command`` or ``... to access the 'zz:x' key``; a command queued in
    ``MULTI`` (6.2 and 7) gets ``no permissions to run the 'dump' command`` or
    ``... to access one of the keys used as arguments`` (or channels).

    :return: ``"command"``, ``"key"``, ``"channel"``, or ``None`` when the text
        says none of these.
    """
    text = _QUOTED.sub("''", reason.lower())  # a key name could say "key"
    if "permissions to run" in text:
        return "command"
    kinds: tuple[Refusal, ...] = ("key", "channel")
    for kind in kinds:
        if f"access the '' {kind}" in text or f"access one of the {kind}s" in text:
            return kind
    return None


def classify(answer: bool | str | None, *, key_probe: bool) -> bool | None:
    """Turn one answer of :meth:`~qscookies.store.probe.Prober.probe` into a verdict.

    A command refused only because of the probed key (or channel) is allowed for
    other keys: for an export command that is a finding (``True``), whatever the
    prefix the check was told. Only for a *key_probe* (reading a key outside the
    user's share) does a refused key mean refused.

    :param answer: ``True`` (permitted), the refusal text, ``False`` (refused,
        no reason given) or ``None`` (unknown).
    :return: ``True`` allowed, ``False`` refused, ``None`` unknown.
    """
    if answer is True or answer is None or answer is False:
        return answer
    kind = refusal(answer)
    if kind is None:
        return None  # a refusal that says nothing we know: not verified
    return False if kind == "command" or key_probe else True


@dataclass(frozen=True)
class Verdict:
    """Whether the user may run one probed command."""

    #: The command as probed, e.g. ``"DUMP qs:c:{qscookies-check}"``.
    command: str
    #: ``True`` permitted, ``False`` refused, ``None`` Redis would not say.
    allowed: bool | None
    #: Why, when Redis refused this key (or channel) but not the command, e.g.
    #: ``"refused for this key only: allowed for others"``; else ``""``.
    note: str = ""


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
    :meth:`~qscookies.store.probe.Prober.probe`): no probed command is ever run. The
    verdicts follow :func:`classify`: an export command the user may run on
    keys outside the store's prefix counts as allowed.

    :param store: the prober of the connection to check.
    :raises StoreUnavailable: Redis could not be reached.
    """
    templates = (*EXPORT_PROBES, *READER_PROBES, _WRITER_PROBE)
    probes = probe_commands(store.prefix, templates)
    user, method, answers = store.probe(probes)
    reader = classify(answers[-1], key_probe=True) is False
    count = len(EXPORT_PROBES) + (len(READER_PROBES) if reader else 0)
    verdicts = []
    for template, probe, answer in zip(
        templates[:count], probes[:count], answers[:count], strict=True
    ):
        allowed = classify(answer, key_probe=template in KEY_PROBES)
        kind = refusal(answer) if isinstance(answer, str) else None
        note = ""
        if allowed and kind in ("key", "channel"):
            note = f"refused for this {kind} only: allowed for others"
        verdicts.append(Verdict(" ".join(probe), allowed, note))
    return CheckResult(user, method, tuple(verdicts))


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
        f"~{KeySchema(prefix).all_keys}",
        "resetchannels",
        "-@all",
        *(f"+{name.lower()}" for name in sorted(commands)),
        *_PROBE_RULES[version],
    ]


def report_rules(prefix: str, version: RedisVersion) -> list[str]:
    """ACL rules of the report user: read the aggregate keys, nothing else."""
    pattern = f"~{KeySchema(prefix).aggregate_keys}"
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
    other_prefixes: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The ACL rules for the app and report users, ready to print.

    The lines are commands only (``qscookies acl | redis-cli`` is safe); every
    note, including the generated passwords, is a separate ``#`` comment line.

    :param prefix: the middleware's ``key_prefix``, ending in ``:``.
    :param app_user: name of the app user (not ``default``).
    :param app_password: its password, at least :data:`MIN_PASSWORD_LENGTH`
        printable characters without spaces, quotes or backslashes; ``None``
        generates one.
    :param report_user: name of the report user (not ``default``, nor
        *app_user*).
    :param report_password: its password; ``None`` generates one.
    :param version: ``"7"`` (read-only key patterns) or ``"6.2"``.
    :param aclfile: ``user …`` lines for an aclfile instead of ``ACL SETUSER``.
    :param cluster: add :data:`CLUSTER_RULES` for redis-py's cluster client.
    :param other_prefixes: the key prefixes of other shops on the same Redis;
        a prefix that nests in *prefix* or *prefix* in it (or equals it) is
        refused, as no ACL pattern could keep the two shops apart.
    :return: the rule lines, and ``#`` comment lines (generated passwords,
        connection URLs, the per-node and persistence notes). An aclfile
        cannot hold comments: keep them apart.
    :raises ConfigurationError: a bad prefix, name, password or version.

    >>> lines, comments = acl_lines(app_password="a" * 16, report_password="b" * 16)
    >>> lines[0].split()[:6]
    ['ACL', 'SETUSER', 'qs-app', 'on', 'resetpass', '>aaaaaaaaaaaaaaaa']
    """
    KeySchema(prefix)  # the key layout's validation: ends in ":"
    for other in other_prefixes:
        KeySchema(other)
        if other.startswith(prefix) or prefix.startswith(other):
            raise ConfigurationError(
                f"prefixes {prefix!r} and {other!r} nest: one shop's keys would lie"
                " under the other's ACL patterns; give each shop a prefix that"
                " neither starts nor is started by another's"
            )
    if version not in _PROBE_RULES:
        raise ConfigurationError("version must be '7' or '6.2'")
    for name in (app_user, report_user):
        if not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"user name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -"
            )
        if name == "default":
            raise ConfigurationError(
                "user name 'default': that is the user every unauthenticated"
                " connection gets; choose another name"
            )
    if app_user == report_user:
        raise ConfigurationError(
            f"app user and report user are both {app_user!r}: give them two names"
        )
    comments = [
        f"# qscookies ACL users for Redis {version}. ACLs are per node: apply"
        " them on every server (each cluster master and replica, each server"
        " behind Sentinel).",
        "# The default user is left as it is: give it a strong password or turn"
        " it off, and connect qscookies as these users.",
    ]
    lines = []
    urls = []
    users = (
        (app_user, app_password, app_rules(prefix, version)),
        (report_user, report_password, report_rules(prefix, version)),
    )
    for name, password, rules in users:
        if password is None:
            password = secrets.token_urlsafe(24)
            comments.append(f"# generated password for {name}: {password}")
        else:
            _check_password(name, password)
        urls.append(f"redis://{name}:{quote(password, safe='')}@HOST:6379/0")
        head = f"user {name}" if aclfile else f"ACL SETUSER {name}"
        if cluster:
            rules = [*rules, *CLUSTER_RULES]
        lines.append(" ".join([head, "on", "resetpass", f">{password}", *rules]))
    comments += [
        f"# the shop connects with redis_url={urls[0]}",
        f"# the reports (qscookies promotions, dashboard) with --redis-url {urls[1]}",
        _PERSISTENCE_ACLFILE if aclfile else _PERSISTENCE_SETUSER,
    ]
    return lines, comments


_PERSISTENCE_SETUSER = (
    "# ACL SETUSER changes only the running server: the users vanish when it"
    " restarts unless you save them, with ACL SAVE when the server loads an"
    " aclfile (see --aclfile), else with CONFIG REWRITE (into the redis.conf the"
    " server was started with)."
)

_PERSISTENCE_ACLFILE = (
    "# Save these lines as the file the server's aclfile setting names"
    " (redis-server --aclfile PATH), then ACL LOAD or restart. Redis refuses"
    " an aclfile together with user lines in redis.conf."
)


def _check_password(name: str, password: str) -> None:
    """Refuse a weak password, or one ``redis-cli`` would misread.

    :raises ConfigurationError: shorter than :data:`MIN_PASSWORD_LENGTH`, or with
        white space, control characters, quotes or backslashes.
    """
    if (
        len(password) < MIN_PASSWORD_LENGTH
        or not password.isprintable()
        or any(char.isspace() or char in _UNQUOTABLE for char in password)
    ):
        raise ConfigurationError(
            f"password of {name}: at least {MIN_PASSWORD_LENGTH} printable"
            " characters without spaces, quotes or backslashes (leave it out to"
            " have one generated)"
        )
