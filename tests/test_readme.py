"""The README's Flask and Django shops and their tests, run as a new user would.

Every code block of the README whose fence names a file (```` ```python myshop.py ````)
is that file's text. The tests copy the blocks into fresh projects (Django's
from ``startproject``), run the README's own test example there with pytest in a
new process, and show that it passes with only the installed plugin, and that
the developer's Redis (``QSCOOKIES_REDIS_URL``) is never written to.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from qscookies.embedded import RedisServer
from qscookies.testing import ShopClient

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```python (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SECRET = "readme-test-secret-0123456789"


def snippets() -> dict[str, str]:
    """The README's files: ``{path: text}`` (blocks for one path are joined)."""
    files: dict[str, str] = {}
    for name, text in _BLOCK.findall(README.read_text()):
        files[name] = files.get(name, "") + text
    return files


def test_the_readme_names_the_files_of_both_shops() -> None:
    assert set(snippets()) == {
        "myshop.py",
        "test_shop.py",
        "mysite/settings.py",
        "mysite/shop.py",
        "mysite/urls.py",
        "mysite/tests.py",
    }


@pytest.fixture
def dev_redis(fresh_redis_server: RedisServer) -> Iterator[redis.Redis]:
    """The developer's own Redis, which the shop's tests must leave alone."""
    with fresh_redis_server.client() as client:
        yield client


def _run(project: Path, dev_url: str, *command: str) -> str:
    """Run *command* in *project* as its developer would, with their Redis set."""
    env = {
        **os.environ,
        "FLASK_SECRET_KEY": SECRET,
        "FLASK_QSCOOKIES_REDIS_URL": dev_url,
        "QSCOOKIES_REDIS_URL": dev_url,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, *command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _pytest(project: Path, dev_url: str) -> str:
    return _run(project, dev_url, "-m", "pytest", "-q", "-p", "no:cacheprovider")


def test_flask_shop_passes_the_readme_test(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    files = snippets()
    for name in ("myshop.py", "test_shop.py"):
        (tmp_path / name).write_text(files[name])
    assert "2 passed" in _pytest(tmp_path, fresh_redis_server.url)
    assert dev_redis.dbsize() == 0


def test_django_project_passes_the_readme_test(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    """``startproject``, the README's lines, ``manage.py check`` and ``test``."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
        check=True,
        timeout=60,
    )
    files = snippets()
    for name in ("mysite/shop.py", "mysite/tests.py"):
        (tmp_path / name).write_text(files[name])
    for name in ("mysite/settings.py", "mysite/urls.py"):  # appended to Django's
        with (tmp_path / name).open("a") as generated:
            generated.write("\n" + files[name])
    url = fresh_redis_server.url
    assert "no issues" in _run(tmp_path, url, "manage.py", "check")
    tested = _run(tmp_path, url, "manage.py", "test", "mysite")
    assert "Ran 1 test" in tested and "OK" in tested
    assert dev_redis.dbsize() == 0


def test_wrapping_the_flask_shop_again_is_refused_before_redis(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    """The README's old mistake: ``qscookies_wrap(app)`` of an app that wraps itself."""
    (tmp_path / "myshop.py").write_text(snippets()["myshop.py"])
    (tmp_path / "test_wrap.py").write_text(
        "import pytest\n"
        "from qscookies import QSCookiesError\n"
        "from myshop import app\n\n"
        "def test_wrap(qscookies_wrap, qscookies_redis):\n"
        "    with pytest.raises(QSCookiesError, match=r'qscookies_rebind\\(app\\)'):\n"
        "        qscookies_wrap(app)\n"
        "    assert qscookies_redis.dbsize() == 0\n"
    )
    assert "1 passed" in _pytest(tmp_path, fresh_redis_server.url)
    assert dev_redis.dbsize() == 0


# -- the outage the README describes ------------------------------------------------


def _flask_shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> ModuleType:
    """The README's Flask shop, imported as its user would, bound to *redis_url*."""
    monkeypatch.setenv("FLASK_SECRET_KEY", SECRET)
    monkeypatch.setenv("FLASK_QSCOOKIES_REDIS_URL", redis_url)
    path = tmp_path / "myshop.py"
    path.write_text(snippets()["myshop.py"])
    spec = importlib.util.spec_from_file_location("readme_myshop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_page_with_the_cart_badge_renders_while_redis_is_down(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each row of the README's "When Redis is down" table, on its Flask shop."""
    shop = _flask_shop(tmp_path, monkeypatch, fresh_redis_server.url)
    client = ShopClient(shop.app.wsgi_app)
    client.post("/cart/add", data={"sku": "TEA-01", "quantity": "2"})
    assert "Cart (2)" in client.get("/").text
    cart_cookie = client.get_cookie("qs_cart")
    assert cart_cookie is not None

    fresh_redis_server.stop()
    caplog.set_level(logging.WARNING, logger="qscookies")
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome!" in page.text and "Cart (" not in page.text
    assert client.get("/static/app.css").status_code == 404  # the app's own answer
    landing = client.get("/?promo=SUMMER24")
    assert (landing.status_code, landing.headers["Location"]) == (303, "/")
    for response in (
        client.get("/cart"),
        client.post("/cart/add", data={"sku": "TEA-02"}),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"]
    assert client.get_cookie("qs_cart").value == cart_cookie.value  # type: ignore[union-attr]
    assert any("a cart write or read failed" in r.message for r in caplog.records)

    stranger = ShopClient(shop.app.wsgi_app)
    assert stranger.post("/cart/add", data={"sku": "TEA-01"}).status_code == 503
    assert stranger.get_cookie("qs_cart") is None  # no cookie for a cart never stored
