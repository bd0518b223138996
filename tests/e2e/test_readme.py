"""The README: short, its two commands word for word, and each door's example run.

The README's code blocks are read as the documentation's are (:mod:`code_blocks`):
the two quick-start commands (``.ci/run`` runs the test one; ``tests/ops/test_demo.py``
the demo), and one file per door, each imported or set up here as its reader would
and driven through a request, on a private Redis; the developer's Redis
(``QSCOOKIES_REDIS_URL``) is never written to.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import redis
from code_blocks import ROOT
from code_blocks import project_files
from code_blocks import read_blocks

from qscookies.embedded import RedisServer
from qscookies.testing import ShopClient

pytestmark = pytest.mark.slow  # starts processes of its own

README = ROOT / "README.md"
SECRET = "readme-test-secret-0123456789"
DEMO = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[demo]'"
    " && .venv/bin/qscookies demo\n"
)
SUITE = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'"
    " && .venv/bin/python -m pytest\n"
)
BLOCKS, ERRORS = read_blocks(README)
FILES = project_files(BLOCKS)


def test_the_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_the_readme_has_the_two_commands_and_one_file_per_door() -> None:
    assert ERRORS == []
    assert [b.text for b in BLOCKS if b.kind == "shell"] == [DEMO, SUITE]
    assert {b.kind for b in BLOCKS} == {"shell", "file"}
    assert set(FILES) == {
        "shop.py",
        "flaskshop.py",
        "mysite/settings.py",
        "mysite/views.py",
        "mysite/urls.py",
        "starletteshop.py",
    }


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    assert SUITE.strip() + " || status=$?" in (ROOT / ".ci" / "run").read_text()


def test_every_test_file_of_the_fresh_machine_run_exists() -> None:
    """A renamed test module left in ``.ci/run``'s list fails CI (pytest exit 4)."""
    script = (ROOT / ".ci" / "run").read_text()
    listed = script.split("FRESH=(", 1)[1].split(")", 1)[0].split()
    assert len(listed) >= 10
    assert [name for name in listed if not (ROOT / name).is_file()] == []


@pytest.fixture
def dev_redis(fresh_redis_server: RedisServer) -> Iterator[redis.Redis]:
    """The developer's own Redis, which the examples' tests must leave alone."""
    with fresh_redis_server.client() as client:
        yield client


def _module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, redis_url: str
) -> ModuleType:
    """The README's file *name*, imported as its user would, bound to *redis_url*."""
    for variable in ("QSCOOKIES_SECRET_KEY", "FLASK_SECRET_KEY"):
        monkeypatch.setenv(variable, SECRET)
    for variable in ("QSCOOKIES_REDIS_URL", "FLASK_QSCOOKIES_REDIS_URL"):
        monkeypatch.setenv(variable, redis_url)
    path = tmp_path / name
    path.write_text(FILES[name])
    spec = importlib.util.spec_from_file_location(f"readme_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_wsgi_example(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dev_redis: redis.Redis,
    fresh_redis_server: RedisServer,
    qscookies_rebind: object,
) -> None:
    shop = _module(tmp_path, monkeypatch, "shop.py", fresh_redis_server.url)
    client = ShopClient(qscookies_rebind(shop.app))  # type: ignore[operator]
    assert client.post("/").text == "2 in your cart, visit 1"
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    client.post("/", headers=cross_site)  # another site's form adds nothing
    assert client.cart_items() == {"TEA-01": 2}
    assert dev_redis.dbsize() == 0


def test_the_flask_example(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dev_redis: redis.Redis,
    fresh_redis_server: RedisServer,
    qscookies_rebind: object,
) -> None:
    shop = _module(tmp_path, monkeypatch, "flaskshop.py", fresh_redis_server.url)
    client = ShopClient(qscookies_rebind(shop.app))  # type: ignore[operator]
    assert client.post("/cart/add").text == "1 in your cart"
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    assert client.post("/cart/add", headers=cross_site).status_code == 403
    assert client.cart_items() == {"TEA-01": 1}
    assert dev_redis.dbsize() == 0


def test_the_asgi_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_redis_server: RedisServer
) -> None:
    shop = _module(tmp_path, monkeypatch, "starletteshop.py", fresh_redis_server.url)

    async def visit() -> list[str]:
        transport = httpx.ASGITransport(app=shop.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            answers = [(await c.post("/cart/add")).text for _ in range(2)]
            cross = await c.post("/cart/add", headers={"Sec-Fetch-Site": "cross-site"})
            answers.append(f"{cross.status_code} {cross.text}")
        await shop.app.aclose()
        return answers

    answers = asyncio.run(visit())
    assert answers == ["1 in your cart", "2 in your cart", "403 refused"]


_DJANGO_TEST = """
from django.test import SimpleTestCase

from qscookies.embedded import RedisServer


class ReadmeTest(SimpleTestCase):
    def test_add(self):
        with RedisServer() as server:
            with self.settings(QSCOOKIES={"redis_url": server.url}):
                added = self.client.post("/cart/add")
                self.assertContains(added, "1 in your cart")
                self.assertContains(self.client.post("/cart/add"), "2 in your cart")
                self.assertEqual(self.client.get("/cart/add").status_code, 405)
"""


def test_the_django_example(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    """``startproject``, the README's lines, ``manage.py check`` and a request."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
        check=True,
        timeout=60,
    )
    for path, text in FILES.items():
        if path.startswith("mysite/"):
            target = tmp_path / path
            if target.exists():  # settings.py, urls.py: appended to Django's own
                text = target.read_text() + "\n" + text
            target.write_text(text)
    (tmp_path / "mysite" / "tests.py").write_text(_DJANGO_TEST)
    env = {**os.environ, "QSCOOKIES_REDIS_URL": fresh_redis_server.url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for command in (["check"], ["test", "mysite"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 1 test" in result.stderr and "OK" in result.stderr
    assert dev_redis.dbsize() == 0
