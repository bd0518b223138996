"""The Django door: a project configured by settings only, on real servers.

``tests/support/django_site`` adds ``qscookies.django`` to ``INSTALLED_APPS`` and its
middleware to ``MIDDLEWARE``; its ``wsgi.py`` and ``asgi.py`` are Django's own.
Each test runs it in new processes (Django's settings are global to a
process): gunicorn for WSGI, uvicorn for Django's ASGI handler, ``django-admin
check``, and a script with ``django.test.Client``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from qscookies.embedded import RedisServer
from qscookies.embedded import free_port
from qscookies.embedded import wait_until

pytestmark = pytest.mark.slow  # starts processes of its own

#: The test project (``django_site``) and the checkout under test.
SUPPORT = Path(__file__).resolve().parents[1] / "support"
ROOT = SUPPORT.parents[1]
OLD_KEY = "django-old-secret-key-0123456789"
NEW_KEY = "django-new-secret-key-9876543210"

Serve = Callable[..., str]


def _env(redis_url: str, **site: Any) -> dict[str, str]:
    """The environment of the test project (see ``django_site/settings.py``).

    *site*: ``django_key`` (Django's ``SECRET_KEY``), ``fallbacks`` (its
    ``SECRET_KEY_FALLBACKS``), and ``QSCOOKIES`` entries.
    """
    env = {
        **os.environ,
        # the checkout under test first: an installed qscookies may be another
        "PYTHONPATH": os.pathsep.join(
            [str(SUPPORT), str(ROOT), os.environ.get("PYTHONPATH", "")]
        ),
        "DJANGO_SETTINGS_MODULE": "django_site.settings",
        "DJANGO_SITE_REDIS_URL": redis_url,
        "DJANGO_SITE_SECRET_KEY": site.pop("django_key", OLD_KEY),
    }
    if "fallbacks" in site:
        env["DJANGO_SITE_FALLBACKS"] = json.dumps(site.pop("fallbacks"))
    if site:
        env["DJANGO_SITE_QSCOOKIES"] = json.dumps(site)
    return env


def _python(
    redis_url: str, *args: str, **site: Any
) -> subprocess.CompletedProcess[str]:
    """Run Python with *args* in the test project's environment (see :func:`_env`)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=SUPPORT,
        env=_env(redis_url, **site),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_site(
    stack: ExitStack, logs: Path, server: str, redis_url: str, **site: Any
) -> str:
    """Serve the test project with ``"gunicorn"`` (WSGI) or ``"uvicorn"`` (ASGI)
    until *stack* closes; its URL (its log in *logs*)."""
    port = free_port()
    command = {
        "gunicorn": ["gunicorn", "--bind", f"127.0.0.1:{port}", "--threads", "4"],
        "uvicorn": ["uvicorn", "--port", str(port), "--lifespan", "off"],
    }[server]
    module = "wsgi" if server == "gunicorn" else "asgi"
    log_path = logs / f"{server}-{port}.log"
    log = log_path.open("w")
    stack.callback(log.close)
    process = subprocess.Popen(
        [sys.executable, "-m", *command, f"django_site.{module}:application"],
        cwd=SUPPORT,
        env=_env(redis_url, **site),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(process.wait, 10)
    stack.callback(process.terminate)
    try:
        wait_until(lambda: _answers(port) or process.poll() is not None, server, 30)
    finally:
        if process.poll() is not None:
            raise AssertionError(log_path.read_text())
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve("gunicorn" | "uvicorn", redis_url, **site)``: the project's URL."""
    with ExitStack() as stack:
        yield lambda server, redis_url, **site: start_site(
            stack, tmp_path, server, redis_url, **site
        )


def _json(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_cart_landing_and_visitor_through_settings_only(
    serve: Serve, server: str, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    base = serve(server, redis_server.url)
    with httpx.Client(base_url=base, timeout=10) as browser:
        landing = browser.get("/?promo=SUMMER24&page=2")
        assert (landing.status_code, landing.headers["location"]) == (303, "/?page=2")
        first = _json(browser, "/")
        assert first == {
            "visits": 1,
            "returning": False,
            "promotion": "SUMMER24",
            "badge": {},
            "same_as_environ": True,
        }
        added = browser.get("/add?sku=TEA-01&q=2")  # the cart's first line
        assert added.json() == 2
        cookies = added.headers.get_list("set-cookie")
        assert any(c.startswith("qs_cart=") and "HttpOnly" in c for c in cookies)
        assert all("SameSite=Lax" in c and "Path=/" in c for c in cookies)
        assert _json(browser, "/cart") == {"TEA-01": 2}
        assert _json(browser, "/")["badge"] == {"TEA-01": 2}
        assert _json(browser, "/add?sku=MUG") == 1
        assert _json(browser, "/buy?order=dj-1") is True
    with redis_server.client(decode_responses=True) as admin:
        (day,) = admin.keys("dj:a:{SUMMER24}:d:*")
        figures = admin.hgetall(day)
        assert all(admin.ttl(key) > 0 for key in admin.keys("dj:*"))
    assert (figures["landings"], figures["carts"], figures["purchases"]) == (
        "1",
        "1",
        "1",
    )


@pytest.mark.parametrize(
    ("server", "views"), [("gunicorn", "/"), ("uvicorn", "/async/")]
)
def test_a_payment_return_without_cookies_pays_the_checkout(
    serve: Serve,
    server: str,
    views: str,
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    """``qs.cart.checkout()`` and ``record_purchase(..., paid=)`` in Django
    views (awaited in async ones): the cookieless cross-site return takes away
    only what was checked out, once, credited to the landing's promotion."""
    base = serve(server, redis_server.url)
    with httpx.Client(base_url=base, timeout=10) as browser:
        browser.get("/?promo=SUMMER24")
        _json(browser, "/add?sku=TEA-01&q=2")
        token = _json(browser, f"{views}checkout")["token"]
        assert _json(browser, "/add?sku=MUG") == 1  # after the checkout
        with httpx.Client(base_url=base, timeout=10) as provider:
            for _ in range(2):  # a return sent twice
                answer = provider.post(
                    f"{views}pay?order=dj-{server}",
                    data={"paid": token},
                    headers={"Sec-Fetch-Site": "cross-site"},
                )
                assert answer.status_code == 200, answer.text
        assert _json(browser, "/cart") == {"MUG": 1}
    with redis_server.client(decode_responses=True) as admin:
        (day,) = admin.keys("dj:a:{SUMMER24}:d:*")
        assert admin.hget(day, "purchases") == "1"


#: A journey through Django's own test client, run in the test project.
CLIENT_JOURNEY = """
import json, django
django.setup()
from django.test import Client
browser, seen = Client(), {}
add = lambda client, **q: client.get("/add", q).json()
seen["ada"] = add(browser, sku="MUG", **{"opt.engraving": "Ada", "opt.wrap": "g"})
seen["again"] = add(browser, sku="MUG", **{"opt.wrap": "g", "opt.engraving": "Ada"})
seen["bob"] = add(browser, sku="MUG", **{"opt.engraving": "Bob"})
seen["lines"] = browser.get("/lines").json()
seen["token"] = browser.get("/checkout").json()["token"]
tab = Client()
tab.cookies = browser.cookies  # another tab of the same browser
seen["tab"] = add(tab, sku="TEA")
provider = Client(headers={"Sec-Fetch-Site": "cross-site"})  # no cookie of ours
seen["paid"] = provider.post("/pay?order=dj-lines", {"paid": seen["token"]}).json()
seen["cart"] = browser.get("/cart").json()
print(json.dumps(seen))
"""


def test_lines_with_options_through_djangos_test_client(
    redis_server: RedisServer,
) -> None:
    ran = _python(redis_server.url, "-c", CLIENT_JOURNEY)
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert (seen["ada"], seen["again"], seen["bob"], seen["tab"]) == (1, 2, 1, 1)
    ada, bob = seen["lines"]
    assert (ada["sku"], ada["options"]) == ("MUG", {"engraving": "Ada", "wrap": "g"})
    assert (bob["quantity"], bob["options"]) == (1, {"engraving": "Bob"})
    assert seen["paid"] is False  # no promotion to credit; the lines are taken
    assert seen["cart"] == {"TEA": 1}  # the other tab's add survives


def test_async_and_sync_views_under_the_asgi_handler(
    serve: Serve, redis_server: RedisServer
) -> None:
    """An ``async def`` view awaits its cart; a sync one (in a thread) does not."""
    with httpx.Client(base_url=serve("uvicorn", redis_server.url), timeout=10) as b:
        assert _json(b, "/async/add?sku=A") == 1
        assert _json(b, "/add?sku=A") == 2
        assert _json(b, "/async/cart") == {"A": 2}
        assert _json(b, "/cart") == {"A": 2}
        assert _json(b, "/async/")["visits"] == 1


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_secret_key_fallbacks_keep_old_cookies_valid(
    serve: Serve, server: str, redis_server: RedisServer
) -> None:
    with httpx.Client(base_url=serve(server, redis_server.url), timeout=10) as old:
        assert _json(old, "/add?sku=A") == 1
        cookies = dict(old.cookies)
    rotated = serve(server, redis_server.url, django_key=NEW_KEY, fallbacks=[OLD_KEY])
    with httpx.Client(base_url=rotated, cookies=cookies, timeout=10) as browser:
        assert _json(browser, "/cart") == {"A": 1}
        assert _json(browser, "/")["visits"] == 1  # the same visit, recognised
    other = serve(server, redis_server.url, django_key=NEW_KEY)
    with httpx.Client(base_url=other, cookies=cookies, timeout=10) as browser:
        assert _json(browser, "/cart") == {}  # without the fallback: not ours


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_redis_down_is_a_503_with_retry_after(
    serve: Serve, server: str, fresh_redis_server: RedisServer
) -> None:
    base = serve(server, fresh_redis_server.url, socket_timeout=0.5)
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert _json(browser, "/add?sku=A") == 1
        fresh_redis_server.stop()
        assert _json(browser, "/")["badge"] is None  # the page renders
        for path in ("/add?sku=B", "/cart", "/async/add?sku=B"):
            response = browser.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "5"
            assert response.text.startswith("The shop is briefly unavailable")


def test_excluded_paths_get_no_cookie(serve: Serve, redis_server: RedisServer) -> None:
    with httpx.Client(base_url=serve("gunicorn", redis_server.url), timeout=10) as b:
        response = b.get("/static/app.css")
        assert response.status_code == 404
        assert "set-cookie" not in response.headers


def test_the_privacy_switch(serve: Serve, redis_server: RedisServer) -> None:
    base = serve("gunicorn", redis_server.url, privacy_path="/privacy")
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.get("/?promo=SUMMER24").status_code == 303
        assert _json(browser, "/")["promotion"] == "SUMMER24"
        switched = browser.post(
            "/privacy?next=x",
            data={"choice": "out"},
            headers={"Origin": base, "Referer": f"{base}/cart"},
        )
        assert (switched.status_code, switched.headers["location"]) == (303, "/cart")
        assert _json(browser, "/") == {
            "visits": 0,
            "returning": False,
            "promotion": None,
            "badge": {},
            "same_as_environ": True,
        }
        forged = browser.post(
            "/privacy", data={"choice": "in"}, headers={"Origin": "http://evil.test"}
        )
        assert forged.status_code == 403


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_opt_in_mode_tracks_from_the_yes(
    serve: Serve, server: str, redis_server: RedisServer
) -> None:
    prefix = f"{server}:"  # a shop of its own
    options = {"consent": "opt-in", "privacy_path": "/privacy", "key_prefix": prefix}
    base = serve(server, redis_server.url, **options)
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.get("/?promo=SUMMER24").status_code == 303
        assert _json(browser, "/add?sku=A") == 1  # the cart works
        page = _json(browser, "/")
        assert (page["visits"], page["promotion"]) == (0, None)
        assert set(browser.cookies) == {"qs_cart"}
        with redis_server.client(decode_responses=True) as admin:
            (day,) = admin.keys(prefix + "a:{SUMMER24}:d:*")
            assert admin.hgetall(day) == {"landings": "1", "landings@/": "1"}
            assert admin.keys(prefix + "a:{_site}:*") == []
        same = {"Origin": base}
        assert browser.post("/privacy", data={"choice": "x"}, headers=same).is_error
        yes = browser.post("/privacy", data={"choice": "in"}, headers=same)
        assert yes.status_code == 303 and "qs_visitor" in yes.cookies
        assert _json(browser, "/")["visits"] == 1
        gpc = browser.get("/", headers={"Sec-GPC": "1"}).json()
        assert gpc["visits"] == 0  # Sec-GPC wins over the yes


def test_wrapping_djangos_wsgi_app_too_is_refused(redis_server: RedisServer) -> None:
    """The WSGI wrap and the middleware together would count everything twice."""
    url = redis_server.url
    script = (
        "import django_site.wsgi as site\n"
        "from qscookies import QSCookies\n"
        "from werkzeug.test import Client\n"
        f"app = QSCookies(site.application, secret_key='x' * 32, redis_url={url!r})\n"
        "print(Client(app).get('/').status_code)\n"
    )
    result = _python(redis_server.url, "-c", script)
    assert result.stdout.strip() == "500", result.stderr
    assert "use the Django middleware or the WSGI wrap" in result.stderr


def _check(redis_url: str, **site: Any) -> subprocess.CompletedProcess[str]:
    return _python(redis_url, "-m", "django", "check", **site)


@pytest.mark.parametrize(
    ("site", "named"),
    [
        pytest.param(
            {"visit_gap": -1}, "QSCOOKIES['visit_gap']: visit_gap must be", id="value"
        ),
        pytest.param(
            {"visitgap": 60}, "QSCOOKIES['visitgap']: unknown option", id="typo"
        ),
        pytest.param(
            {"secret_key": "short"}, "QSCOOKIES['secret_key']: secret_key", id="key"
        ),
        pytest.param({"key_prefix": "qs"}, "QSCOOKIES['key_prefix']", id="prefix"),
    ],
)
def test_manage_py_check_names_a_bad_setting(site: dict[str, Any], named: str) -> None:
    result = _check("redis://127.0.0.1:1/0", **site)  # checks never connect
    assert result.returncode == 1, result.stdout + result.stderr
    assert "qscookies.E001" in result.stderr
    assert named in result.stderr
    assert "HINT: see https://qscookies.github.io/qscookies/settings/" in result.stderr


def test_manage_py_check_passes_a_good_configuration() -> None:
    result = _check("redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_short_django_secret_key_is_refused() -> None:
    result = _check("redis://127.0.0.1:1/0", django_key="too-short")
    assert result.returncode == 1
    assert "SECRET_KEY must be set, each key at least 16 characters" in result.stderr


_CLIENT_SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client()
seen = [client.get("/add?sku=A").json(), client.get("/add?sku=A").json()]
seen.append(client.get("/cart").json())
landing = client.get("/?promo=SPRING")
seen.append([landing.status_code, landing["Location"]])
seen.append(client.get("/")["Content-Type"])
seen.append(client.get("/").json()["promotion"])
print(json.dumps(seen))
"""


def test_djangos_test_client_works_unchanged(redis_server: RedisServer) -> None:
    result = _python(redis_server.url, "-c", _CLIENT_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        1,
        2,
        {"A": 2},
        [303, "/"],
        "application/json",
        "SPRING",
    ]


_ASYNC_CLIENT_SCRIPT = """
import asyncio, json, django
django.setup()
from django.test import AsyncClient

async def journey():
    client = AsyncClient()
    seen = [(await client.get("/add?sku=A")).json()]
    seen.append((await client.get("/add?sku=A")).json())
    seen.append((await client.get("/cart")).json())
    landing = await client.get("/?promo=SPRING")
    seen.append([landing.status_code, landing["Location"]])
    seen.append((await client.get("/")).json()["promotion"])
    return seen

print(json.dumps(asyncio.run(journey())))
"""


def test_djangos_async_client_works_unchanged(redis_server: RedisServer) -> None:
    """Django's ``AsyncClient`` gives a ``str`` query string, not ASGI's bytes."""
    result = _python(redis_server.url, "-c", _ASYNC_CLIENT_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [1, 2, {"A": 2}, [303, "/"], "SPRING"]


_PASSED_CLIENTS_SCRIPT = """
import asyncio, json, os, django, redis, redis.asyncio
django.setup()
from django.test import AsyncClient, override_settings
from qscookies import ConfigurationError
from qscookies.django import QSCookiesMiddleware
from qscookies.store.client import client_options

url = os.environ["DJANGO_SITE_REDIS_URL"]
sync = redis.Redis.from_url(url, **client_options(1.0))
seen = []

async def view(request):
    raise AssertionError("never reached")

with override_settings(QSCOOKIES={"redis": sync}):
    try:
        QSCookiesMiddleware(view)  # an async get_response: Django's ASGI handler
    except ConfigurationError as error:
        seen.append(str(error))

async def journey():
    options = client_options(1.0, asynchronous=True)
    aclient = redis.asyncio.Redis.from_url(url, **options)
    with override_settings(QSCOOKIES={"redis": sync, "async_redis": aclient}):
        browser = AsyncClient()
        seen.append((await browser.get("/add?sku=A")).json())
        seen.append((await browser.get("/add?sku=A")).json())
    await aclient.aclose()

asyncio.run(journey())
print(json.dumps(seen))
"""


def test_passed_clients_under_the_asgi_handler_need_async_redis(
    redis_server: RedisServer,
) -> None:
    result = _python(redis_server.url, "-c", _PASSED_CLIENTS_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "under Django's ASGI handler, QSCOOKIES with 'redis' needs 'async_redis'"
        " too (a redis.asyncio client of the same server)",
        1,
        2,
    ]


_REBOUND_SCRIPT = """
import asyncio, json, os, sys, django
django.setup()
from django.http import JsonResponse
from django.test import AsyncRequestFactory
from qscookies.django import QSCookiesMiddleware

other = sys.argv[1]
QSCookiesMiddleware.clock = staticmethod(lambda: 1_800_000_000)

async def view(request):
    return JsonResponse(await request.qs.cart.add("A"), safe=False)

middleware = QSCookiesMiddleware(view)  # an async get_response: Django's ASGI handler
factory = AsyncRequestFactory()

async def journey():
    with middleware.rebound(other, key_prefix="rebound:"):
        inside = await middleware(factory.get("/add"))
    after = await middleware(factory.get("/add"))
    return [json.loads(inside.content), json.loads(after.content)]

print(json.dumps(asyncio.run(journey())))
"""


def test_rebound_points_the_asgi_handlers_store_at_the_other_redis(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Under Django's ASGI handler the middleware sends on its asyncio store:
    ``rebound()`` points that one at the other Redis too, and puts it back."""
    other = redis_server.url.rsplit("/", 1)[0] + "/7"  # another database
    before = set(redis_client.keys("dj:c:*"))
    result = _python(redis_server.url, "-c", _REBOUND_SCRIPT, other)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [1, 1]
    with redis.Redis.from_url(other) as moved:
        try:
            assert len(moved.keys("rebound:c:*")) == 1
        finally:
            moved.flushdb()
    assert redis_client.keys("rebound:*") == []
    assert len(set(redis_client.keys("dj:c:*")) - before) == 1  # the site's own


_RULES_SCRIPT = """
import json, django
django.setup()
from django.test import Client
from werkzeug.http import http_date
from qscookies.django import QSCookiesMiddleware

QSCookiesMiddleware.clock = staticmethod(lambda: 1_800_000_000)
client = Client()
seen = {"visits": [client.get("/", headers={"Sec-GPC": gpc}).json()["visits"]
                   for gpc in ("1, 0", "0,1")]}
refused = client.post("/privacy", {"choice": "out"})
seen["refused"] = [refused.status_code, refused.content.decode(),
                   refused["Content-Length"] == str(len(refused.content))]
added = client.get("/add?sku=A")
seen["expires"] = added.cookies["qs_cart"]["expires"] == http_date(
    1_800_000_000 + 30 * 86400)
print(json.dumps(seen))
"""


def test_the_http_rules_of_every_door(redis_server: RedisServer) -> None:
    """Comma-joined privacy signals, the refusals' bodies, ``Expires`` by our clock."""
    result = _python(redis_server.url, "-c", _RULES_SCRIPT, privacy_path="/privacy")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["visits"] == [0, 0]
    status, body, framed = seen["refused"]
    assert status == 403 and "neither an Origin nor a Referer" in body and framed
    assert seen["expires"] is True


_DOWN_SCRIPT = """
import logging, django
django.setup()
from django.test import Client
client = Client()
client.get("/")  # the visit starts: start-up and tracking warnings, then quiet
lines = []
class Keep(logging.Handler):
    def emit(self, record):
        lines.append((record.name, record.getMessage(), bool(record.exc_info)))
logging.getLogger().addHandler(Keep())
for logger in ("qscookies", "django.request"):
    logging.getLogger(logger).addHandler(Keep())
    logging.getLogger(logger).propagate = False
statuses = [client.get("/add?sku=B").status_code for _ in range(3)]
print(statuses)
for line in lines:
    print(line)
"""


def test_redis_down_is_one_log_line_per_failed_request() -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = _python(down, "-c", _DOWN_SCRIPT, socket_timeout=0.5)
    assert result.returncode == 0, result.stderr
    statuses, *lines = result.stdout.splitlines()
    assert statuses == "[503, 503, 503]"
    assert len(lines) == 3, lines
    assert all("cart write or read failed" in line for line in lines)
    assert all(line.endswith("False)") for line in lines)  # no traceback


_REPORT_SCRIPT = """
import sys, django
django.setup()
from django.conf import settings
from django.views.debug import ExceptionReporter
from qscookies.django import QSCookiesMiddleware

QSCookiesMiddleware(lambda request: None)  # what Django's handler does at start

def view():
    url = settings.QSCOOKIES["redis_url"]  # a frame's local, as in a traceback
    raise RuntimeError("boom")

try:
    view()
except RuntimeError:
    reporter = ExceptionReporter(None, *sys.exc_info())
    print(reporter.get_traceback_text())
    print(reporter.get_traceback_html())
print(settings.QSCOOKIES["redis_url"] == sys.argv[1])
"""


def test_djangos_error_report_hides_the_redis_password(
    redis_server: RedisServer,
) -> None:
    """The debug page and the mail to ADMINS, with the shop's settings unchanged."""
    url = redis_server.url.replace("redis://", "redis://:s3cret-pw@", 1)
    result = _python(url, "-c", _REPORT_SCRIPT, url)
    assert result.returncode == 0, result.stderr
    assert "s3cret-pw" not in result.stdout
    assert "redis://:********@" in result.stdout
    assert result.stdout.rstrip().endswith("True")  # the URL itself is unchanged
