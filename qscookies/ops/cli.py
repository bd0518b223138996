"""The ``qscookies`` command: promotions, acl, functions, check, dashboard, demo.

The arguments of each sub-command are built in :mod:`qscookies.ops.arguments`;
this module runs them.

Exit codes: 0 success, 1 a finding (e.g. ``check`` found the data exportable),
2 bad usage or unreachable Redis, always with a one-line message and no traceback.
Every command that talks to Redis takes ``--redis-url``, defaulting to the
``QSCOOKIES_REDIS_URL`` environment variable.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from ..advisories import lua_advisory
from ..check import check
from ..dashboard import DEFAULT_NETWORKS
from ..dashboard import Dashboard
from ..dashboard.server import require_waitress
from ..dashboard.server import serve
from ..errors import ConfigurationError
from ..errors import QSCookiesError
from ..report import PromotionReport
from ..report.days import parse_day
from ..report.days import utc_today
from ..report.figures import DailyCounts
from ..report.figures import PromotionCounts
from ..report.render import COLUMNS
from ..report.render import DAY_COLUMNS
from ..report.render import columns_of
from ..report.render import render_csv
from ..report.render import render_daily_table
from ..report.render import render_table
from ..report.render import row_dict
from ..report.render import sort_rows
from ..store.client import connect
from ..store.functions import install
from ..store.probe import Prober
from .acl import acl_lines
from .arguments import FINDING
from .arguments import OK
from .arguments import USAGE
from .arguments import build_parser as _build_parser
from .topology import failover


class UsageError(QSCookiesError):
    """Bad command-line input; printed as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qscookies`` command and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return OK
    except (QSCookiesError, OSError) as error:
        print(f"qscookies {args.command}: {error}", file=sys.stderr)
        return USAGE


def _connect(args: argparse.Namespace, timeout: float = 5.0) -> Any:
    """The client for ``--redis-url`` (and ``--cluster``); the caller closes it."""
    try:
        return connect(args.redis_url, socket_timeout=timeout, cluster=args.cluster)
    except ValueError as error:
        raise UsageError(f"bad Redis URL: {error}") from error


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo alone runs a shop, so only it loads the middleware;
    # the other commands stay readers.
    from ..demo.run import serve
    from ..demo.shop import create_app

    factory = partial(create_app, consent=args.consent or "opt-out")
    serve(factory, host=args.host, port=args.port, redis_url=args.redis_url)
    return OK


# -- promotions and dashboard (marketing's side: aggregate reads only) ------


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
        # on 6.2 the open door is the server's (the advisory says so)
        open_door = result.submits_scripts and not advisory.scripts_open
        print(f"{'WARNING' if open_door else 'note':8} {result.submission_line()}")
        for line in advisory.lines():
            print(f"{'WARNING' if advisory.needs_fix else 'note':8} {line}")
        if args.cluster:
            sys.stdout.flush()  # the verdicts stand even if the survey fails
            method, findings = failover(client)
            print(f"failover (the cluster's shards from {method}):")
            print("\n".join(str(finding) for finding in findings))
    # The failover findings are warnings: the exit code is the export verdict's,
    # a server without the Lua fixes, and a user of Redis 7 who may submit Lua.
    sound = result.locked_in and not advisory.needs_fix and not open_door
    return OK if sound else FINDING


def _functions(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        nodes = install(client, prune=args.prune)
    print("\n".join(node.line() for node in nodes))
    return OK if all(node.functions for node in nodes) else FINDING


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command (see :mod:`qscookies.ops.arguments`)."""
    return _build_parser(
        {
            "promotions": _promotions,
            "acl": _acl,
            "functions": _functions,
            "check": _check,
            "dashboard": _dashboard,
            "demo": _demo,
        }
    )
