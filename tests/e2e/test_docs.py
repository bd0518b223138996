"""Every code block of the documentation site (``docs/``), run as its reader would.

The blocks are read by :mod:`code_blocks`: scripts run on their own, shell blocks
run in ``bash``, the files of the shops (```` ```python title="myshop.py" ````) are
written into fresh projects (Django's from ``startproject``) whose own tests, the
ones the pages show, run with pytest or ``manage.py test`` in a new process. A
block that includes a repository file must name one the suite runs; a block that
is not run says so on its fence (``{ .LANG .norun }``) and is listed in
:data:`NOT_RUN` with the reason. The developer's Redis (``QSCOOKIES_REDIS_URL``)
is never written to by the shops' tests.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from datetime import date
from pathlib import Path
from types import ModuleType

import promotion_script
import pytest
import redis
from code_blocks import ROOT
from code_blocks import Block
from code_blocks import project_files
from code_blocks import read_blocks
from test_examples import SHOPS

from qscookies.embedded import RedisServer
from qscookies.settings import Settings
from qscookies.testing import ShopClient
from qscookies.words import DOCS_URL
from qscookies.words import docs_url

pytestmark = pytest.mark.slow  # starts processes of its own

DOCS = ROOT / "docs"
SECRET = "docs-test-secret-0123456789"

#: The pages in the order of the site's navigation (``mkdocs.yml``), which is the
#: order in which the blocks of one file are joined.
PAGES = [
    DOCS / page
    for page in re.findall(
        r"^\s+- [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M
    )
]

#: The blocks that are not run: ``(page, first line) -> why``.
NOT_RUN = {
    ("docs/install.md", "pip install qscookies"): "installs from PyPI",
    (
        "docs/install.md",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[demo]'"
        " && .venv/bin/qscookies demo",
    ): "serves until stopped; tests/ops/test_demo.py runs the demo",
    (
        "docs/install.md",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'"
        " && .venv/bin/python -m pytest",
    ): "the whole suite; .ci/run runs this very line",
    (
        "docs/install.md",
        '.venv/bin/python -m pytest -m "not slow"',
    ): "a part of the suite this block belongs to",
    (
        "docs/cart.md",
        'qs.login(customer.id, merge="add")  # at sign-in: the shop\'s own id,'
        " 1-128 printable chars",
    ): "three calls in outline; the recipes below run them",
    ("docs/privacy.md", '<form method="post" action="/privacy">'): "HTML for a browser",
    (
        "docs/operations.md",
        "qscookies acl --prefix qs: | redis-cli   # as an admin, once per node",
    ): "changes the ACL users of your own Redis",
    (
        "docs/operations.md",
        "qscookies functions --redis-url redis://admin:PASSWORD@localhost:6379/0",
    ): "loads functions into your own Redis",
    ("docs/scale.md", "from redis.backoff import NoBackoff"): (
        "connects to a Cluster and Sentinels at 10.0.0.x"
    ),
    ("docs/scale.md", "failover (the cluster's shards from CLUSTER SHARDS):"): (
        "output of qscookies check --cluster"
    ),
    ("docs/how-it-works.md", "qscookies/"): "a map of the package",
}

#: The repository files the pages include, and the test that runs each.
INCLUDED = {
    "examples/wsgi_shop.py": "tests/e2e/test_examples.py",
    "qscookies/demo/shop.py": "tests/e2e/test_examples.py (examples/wsgi_shop.py)",
    "examples/flask_shop.py": "tests/e2e/test_examples.py",
    "examples/django_shop/shop.py": "tests/e2e/test_examples.py",
    "examples/fastapi_shop.py": "tests/e2e/test_fastapi_shop.py",
}


def _all_blocks() -> list[Block]:
    return [block for page in PAGES for block in read_blocks(page)[0]]


BLOCKS = _all_blocks()
FILES = project_files(BLOCKS)


def _of_kind(kind: str) -> list[pytest.param]:  # type: ignore[valid-type]
    return [
        pytest.param(block, id=f"{block.page}:{block.line}")
        for block in BLOCKS
        if block.kind == kind
    ]


def test_every_page_is_in_the_navigation() -> None:
    assert sorted(PAGES) == sorted(DOCS.rglob("*.md"))


def test_every_fence_is_one_the_site_renders() -> None:
    errors = [error for page in PAGES for error in read_blocks(page)[1]]
    assert errors == []


def test_the_blocks_not_run_are_the_listed_ones() -> None:
    marked = {(b.page, b.first_line) for b in BLOCKS if b.kind == "norun"}
    assert marked == set(NOT_RUN)


def test_every_included_file_exists_and_is_run_by_the_suite() -> None:
    included = {b.text for b in BLOCKS if b.kind == "include"}
    assert included == set(INCLUDED)
    assert all((ROOT / path).is_file() for path in included)
    examples = {str(path.relative_to(ROOT)) for path in SHOPS.values()}
    assert {
        p for p, by in INCLUDED.items() if by == "tests/e2e/test_examples.py"
    } <= examples


def test_the_settings_reference_lists_every_setting_with_its_default() -> None:
    """Each row of the settings table: a field of ``Settings`` and its default."""
    rows = re.findall(
        r"^\| `(\w+)` \| `([^`]+)`", (DOCS / "settings.md").read_text(), re.M
    )
    settings = {name: default for name, default in rows if name not in ("secret_key",)}
    assert list(settings) == [field.name for field in fields(Settings)]
    for field in fields(Settings):
        assert ast.literal_eval(settings[field.name]) == field.default, field.name


def _anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, as the site's ``toc`` makes them."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h).strip().lower())
            for h in headings}  # fmt: skip


def test_the_messages_point_at_pages_and_sections_of_the_site() -> None:
    """``DOCS_URL`` is the site's ``site_url``; each ``docs_url(page, section)``
    of the package names a page of ``docs/`` and one of its headings."""
    site_url = re.search(r"^site_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert site_url is not None and site_url[1] == DOCS_URL
    calls = [
        call
        for path in (ROOT / "qscookies").rglob("*.py")
        for call in re.findall(
            r"""docs_url\(\s*["']([\w/-]+)["'](?:,\s*["']([\w-]+)["'])?\s*\)""",
            path.read_text(),
        )
    ]
    assert len(calls) >= 2  # check.py's client settings, the Django check's hint
    for page, section in calls:
        assert (DOCS / f"{page}.md").is_file(), page
        assert not section or section in _anchors(DOCS / f"{page}.md"), section
    assert docs_url("scale", "client-settings") == f"{DOCS_URL}scale/#client-settings"


# -- scripts and shell blocks -----------------------------------------------------


@pytest.fixture
def seeded_redis(fresh_redis_server: RedisServer) -> Iterator[RedisServer]:
    """A Redis holding three UTC days of the suite's scripted promotions, from
    2026-11-01 (the dates the Marketing page reports on)."""
    with fresh_redis_server.client() as client:
        promotion_script.run(client, date(2026, 11, 1))
    yield fresh_redis_server


def _env(redis_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "QSCOOKIES_SECRET_KEY": SECRET,
        "FLASK_SECRET_KEY": SECRET,
        "QSCOOKIES_REDIS_URL": redis_url,
        "FLASK_QSCOOKIES_REDIS_URL": redis_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _run(cwd: Path, redis_url: str, *command: str) -> str:
    """Run *command* in *cwd* as the page's reader would, with their Redis set."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=_env(redis_url),
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.mark.parametrize("block", _of_kind("script"))
def test_script(block: Block, tmp_path: Path, seeded_redis: RedisServer) -> None:
    (tmp_path / "block.py").write_text(block.text)
    output = _run(tmp_path, seeded_redis.url, sys.executable, "block.py")
    if "print(" in block.text:
        assert output.strip(), "the page's script printed nothing"


@pytest.mark.parametrize("block", _of_kind("shell"))
def test_shell(block: Block, tmp_path: Path, seeded_redis: RedisServer) -> None:
    output = _run(
        tmp_path, seeded_redis.url, "bash", "-euo", "pipefail", "-c", block.text
    )
    assert output.strip(), "the page's commands printed nothing"


# -- the shops' projects ----------------------------------------------------------


@pytest.fixture
def dev_redis(fresh_redis_server: RedisServer) -> Iterator[redis.Redis]:
    """The developer's own Redis, which the shops' tests must leave alone."""
    with fresh_redis_server.client() as client:
        yield client


def _tests_in(texts: list[str]) -> int:
    return sum(len(re.findall(r"^\s*def test_", text, re.M)) for text in texts)


def test_the_shops_pass_the_tests_of_their_pages(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    """Every file of the pages outside ``mysite/``, in one project, and its tests."""
    files = {
        path: text for path, text in FILES.items() if not path.startswith("mysite/")
    }
    tests = [
        text for path, text in files.items() if Path(path).name.startswith("test_")
    ]
    assert len(tests) >= 7  # WSGI, Flask, ASGI, Flask-Login, the plugins' pages
    for path, text in files.items():
        (tmp_path / path).write_text(text)
    output = _run(
        tmp_path, fresh_redis_server.url, sys.executable, "-m", "pytest", "-q",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert f"{_tests_in(tests)} passed" in output, output
    assert dev_redis.dbsize() == 0


def test_the_django_project_passes_the_tests_of_its_pages(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    """``startproject``, the pages' lines, ``manage.py check`` and ``test``."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
        check=True,
        timeout=60,
    )
    files = {path: text for path, text in FILES.items() if path.startswith("mysite/")}
    for path, text in files.items():
        target = tmp_path / path
        if target.exists():  # settings.py, urls.py: appended to Django's own
            text = target.read_text() + "\n" + text
        target.write_text(text)
    url = fresh_redis_server.url
    assert "no issues" in _run(tmp_path, url, sys.executable, "manage.py", "check")
    tested = _run(tmp_path, url, sys.executable, "manage.py", "test", "mysite")
    assert f"Ran {_tests_in([files['mysite/tests.py']])} tests" in tested, tested
    assert "OK" in tested
    assert dev_redis.dbsize() == 0


def test_wrapping_the_flask_shop_again_is_refused_before_redis(
    tmp_path: Path, dev_redis: redis.Redis, fresh_redis_server: RedisServer
) -> None:
    """The old mistake: ``qscookies_wrap(app)`` of an app that wraps itself."""
    (tmp_path / "myshop.py").write_text(FILES["myshop.py"])
    (tmp_path / "test_wrap.py").write_text(
        "import pytest\n"
        "from qscookies import QSCookiesError\n"
        "from myshop import app\n\n"
        "def test_wrap(qscookies_wrap, qscookies_redis):\n"
        "    with pytest.raises(QSCookiesError, match=r'qscookies_rebind\\(app\\)'):\n"
        "        qscookies_wrap(app)\n"
        "    assert qscookies_redis.dbsize() == 0\n"
    )
    output = _run(
        tmp_path, fresh_redis_server.url, sys.executable, "-m", "pytest", "-q",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert "1 passed" in output
    assert dev_redis.dbsize() == 0


# -- the outage the Operations page describes ---------------------------------------


def _flask_shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> ModuleType:
    """The Flask quick start's shop, imported as its user would, on *redis_url*."""
    monkeypatch.setenv("FLASK_SECRET_KEY", SECRET)
    monkeypatch.setenv("FLASK_QSCOOKIES_REDIS_URL", redis_url)
    path = tmp_path / "myshop.py"
    path.write_text(FILES["myshop.py"])
    spec = importlib.util.spec_from_file_location("docs_myshop", path)
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
    """Each row of the "When Redis is down" table, on the Flask quick start's shop."""
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
