"""The layout's contracts: who may import whom (import-linter, configured in
pyproject.toml), and what ``import qscookies`` loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes of its own

ROOT = Path(__file__).resolve().parents[2]

#: The operator side and the marketing side: never loaded to serve a request.
OPERATOR = (
    "qscookies.report",
    "qscookies.dashboard",
    "qscookies.ops",
    "qscookies.demo",
)


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(  # the contracts of ROOT's pyproject.toml
        [str(lint), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _loaded(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {name for name in done.stdout.split() if name.startswith("qscookies")}


@pytest.mark.parametrize(
    "statement",
    [
        "import qscookies",
        "from qscookies import QSCookies, context",
        "import qscookies.asgi",
        "import qscookies.flask",
    ],
)
def test_serving_loads_no_operator_code(statement: str) -> None:
    loaded = _loaded(statement)
    assert "qscookies" in loaded
    assert not {m for m in loaded if m.startswith(OPERATOR)}, sorted(loaded)


def test_the_report_loads_on_first_use() -> None:
    loaded = _loaded("import qscookies\nqscookies.PromotionReport")
    assert "qscookies.report.promotion" in loaded


def test_a_misspelt_name_is_still_an_attribute_error() -> None:
    import qscookies

    with pytest.raises(AttributeError, match="PromotionReports"):
        qscookies.PromotionReports  # noqa: B018
