"""Redis ACL rules that lock the data in (the check is :mod:`qscookies.check`).

:func:`acl_lines` builds the rules for two users as allow-lists from ``-@all``
(``+@all -@dangerous`` would still allow ``SCAN``, ``DUMP`` and ``RANDOMKEY``):

- the **app user** (``qs-app``) may touch only keys under the prefix, and run only
  the commands the middleware sends (:data:`~qscookies.store.APP_COMMANDS`;
  on Redis 7 the scripts as functions, ``FCALL`` and ``FCALL_RO``, and no
  ``EVAL``, ``EVALSHA`` or ``SCRIPT``, so it can submit no Lua: see
  :mod:`~qscookies.scripts.library`), the
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
from typing import Literal
from urllib.parse import quote

from ..errors import ConfigurationError
from ..keys import KeySchema
from ..scripts import SCRIPT_COMMANDS
from ..scripts.library import FUNCTION_CALLS
from ..store.app import APP_COMMANDS
from ..store.reader import REPORT_COMMANDS
from ..store.scripting import SCRIPT_CALLS

log = logging.getLogger("qscookies")

RedisVersion = Literal["7", "6.2"]

#: redis-py sends ``SELECT`` when the URL names a database other than 0.
CONNECT_COMMANDS = frozenset({"SELECT"})

#: How the app user runs the scripts: the library's functions on Redis 7
#: (``qscookies functions`` loads it), ``EVALSHA``/``EVAL`` on 6.2, which has none.
SCRIPT_RUNNERS: dict[str, frozenset[str]] = {"7": FUNCTION_CALLS, "6.2": SCRIPT_CALLS}

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

# -- the rules ------


def app_rules(prefix: str, version: RedisVersion) -> list[str]:
    """ACL rules of the app user: prefix keys, the middleware's commands only.

    On Redis 7 it calls the scripts as functions (:data:`SCRIPT_RUNNERS`) and
    may submit none: no ``EVAL``, ``EVALSHA`` or ``SCRIPT``.
    """
    commands = (APP_COMMANDS - SCRIPT_CALLS) | SCRIPT_RUNNERS[version]
    commands |= SCRIPT_COMMANDS | CONNECT_COMMANDS
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
