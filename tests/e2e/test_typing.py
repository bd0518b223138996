"""Types a shop's mypy sees: the typed settings, and the examples under --strict."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import get_type_hints

import pytest

import qscookies
from qscookies.settings import Options
from qscookies.settings import Settings

pytestmark = pytest.mark.slow  # starts processes of its own

ROOT = Path(__file__).resolve().parents[2]

SHOP = """\
from qscookies import QSCookies
from qscookies.asgi import QSCookies as ASGIQSCookies


def app(environ: object, start_response: object) -> list[bytes]:
    return []


async def asgi_app(scope: object, receive: object, send: object) -> None:
    pass


KEY = "k" * 32
QSCookies(app, secret_key=KEY, redis_url="redis://x", visit_gap=60)
QSCookies(app, secret_key=KEY, redis_url="redis://x", visit_gaps=60)
ASGIQSCookies(asgi_app, secret_key=KEY, redis_url="redis://x", consent="opt_in")
"""


def _mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """mypy on *args*, seeing the qscookies these tests import (mypy cannot
    follow an editable install's import hook: then its folder is named)."""
    package = Path(qscookies.__file__).resolve().parents[1]
    env = dict(os.environ)
    if package.name != "site-packages":
        env["MYPYPATH"] = str(package)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_options_name_every_setting() -> None:
    assert set(get_type_hints(Options)) == {f.name for f in fields(Settings)}


def test_a_misspelt_or_mistyped_setting_is_a_mypy_error(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(SHOP)
    result = _mypy("--strict", "shop.py", cwd=tmp_path)
    errors = [line for line in result.stdout.splitlines() if line.startswith("shop.py")]
    errors = [line for line in errors if ": error:" in line]
    assert len(errors) == 2, result.stdout
    assert 'shop.py:15: error: Unexpected keyword argument "visit_gaps"' in errors[0]
    assert "shop.py:16: error:" in errors[1] and '"consent"' in errors[1]


@pytest.mark.parametrize("path", ["examples"])
def test_the_examples_pass_mypy_strict(path: str) -> None:
    result = _mypy("--strict", path, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


PUBLIC = [
    "qscookies",
    "qscookies.wsgi",
    "qscookies.asgi",
    "qscookies.django",
    "qscookies.flask",
    "qscookies.testing",
    "qscookies.testclient",
    "qscookies.dashboard",
    "qscookies.context",
    "qscookies.errors",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_modules_list_their_names(name: str) -> None:
    """``__all__`` names what exists, and every class and function the module
    defines without a leading ``_`` (the plugin's fixtures included)."""
    module = importlib.import_module(name)
    listed = set(module.__all__)
    assert all(hasattr(module, item) for item in listed)
    defined = {
        item
        for item, value in vars(module).items()
        if not item.startswith("_")
        and getattr(value, "__module__", None) == name
        and (inspect.isclass(value) or inspect.isfunction(value))
    }
    assert defined <= listed, defined - listed
