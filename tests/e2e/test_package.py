"""What a shop installs: the wheel and the sdist hold the whole package.

The distributions are built once per run from this checkout with ``python -m build
--no-isolation`` (offline), or taken from ``$QSCOOKIES_DIST`` (a folder holding the
one wheel and the one sdist that ``.ci/run`` built and then installs). Every file of
the source tree's package is looked for in both, so a new subpackage, a module or a
data file that the build leaves out fails here before a user meets it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest

import qscookies

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "qscookies"
VERSION = qscookies.__version__
BASE = f"qscookies-{VERSION}"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ROOT / "pyproject.toml").is_file(),
        reason="not a source checkout: there is no pyproject.toml to build from",
    ),
]


def _tree(top: Path, *, skip: tuple[str, ...] = ()) -> set[str]:
    """The files under *top*, as ``/``-paths relative to *top*'s parent."""
    return {
        path.relative_to(top.parent).as_posix()
        for path in top.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc", ".pyo")
        and not any(part in skip for part in path.relative_to(top).parts)
    }


#: What a checkout holds besides its sources: never part of a build's input.
_LEFTOVERS = (".git", ".venv", ".tox", "*_cache", "*.egg-info", "build", "dist")
_LEFTOVERS += ("__pycache__", "test-artifacts")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder holding the wheel and the sdist under test."""
    given = os.environ.get("QSCOOKIES_DIST")
    if given:
        yield Path(given)
        return
    # From a copy without the checkout's leftovers: a stale *.egg-info would put
    # files in the sdist that the package configuration no longer finds.
    source = tmp_path_factory.mktemp("source") / "qscookies"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_LEFTOVERS))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    yield out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def wheel(dist: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(_one(dist, f"{BASE}-py3-none-any.whl"))


@pytest.fixture(scope="module")
def sdist_names(dist: Path) -> set[str]:
    with tarfile.open(_one(dist, f"{BASE}.tar.gz")) as archive:
        return {
            member.name.removeprefix(f"{BASE}/")
            for member in archive.getmembers()
            if member.isfile()
        }


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> Message:
    text = wheel.read(f"{BASE}.dist-info/METADATA").decode()
    return HeaderParser().parsestr(text)


def test_the_source_tree_package_is_found() -> None:
    """The comparisons below would pass on an empty tree: make sure it is not."""
    files = _tree(PACKAGE)
    assert "qscookies/__init__.py" in files
    assert "qscookies/core/request.py" in files
    assert "qscookies/dashboard/page.html" in files


def test_the_wheel_holds_every_file_of_the_package(wheel: zipfile.ZipFile) -> None:
    missing = sorted(_tree(PACKAGE) - set(wheel.namelist()))
    assert not missing, f"the wheel leaves out {missing} (an __init__.py missing?)"


def test_every_package_folder_is_a_package() -> None:
    """A folder of modules without ``__init__.py`` is what setuptools skips."""
    folders = {path.parent for path in PACKAGE.rglob("*.py")}
    bare = sorted(
        str(folder.relative_to(ROOT))
        for folder in folders
        if "__pycache__" not in folder.parts and not (folder / "__init__.py").is_file()
    )
    assert not bare, f"modules outside any package: {bare}"


def test_the_wheel_holds_nothing_but_the_package(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert tops == {"qscookies", f"{BASE}.dist-info"}


def test_the_sdist_holds_the_package_its_tests_examples_and_docs(
    sdist_names: set[str],
) -> None:
    wanted = (
        _tree(PACKAGE)
        | _tree(ROOT / "tests", skip=("test-artifacts",))
        | _tree(ROOT / "examples")
        | _tree(ROOT / "bench")
        | _tree(ROOT / "docs")
        | {"mkdocs.yml"}
        | {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "tox.ini"}
        | {"ruff.toml", "MANIFEST.in"}
    )
    missing = sorted(wanted - sdist_names)
    assert not missing, f"the sdist leaves out {missing}"


def test_the_licence_ships_in_both(wheel: zipfile.ZipFile, sdist_names: set[str]):
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("BSD 3-Clause License")
    assert wheel.read(f"{BASE}.dist-info/licenses/LICENSE").decode() == licence
    assert "LICENSE" in sdist_names


def test_the_metadata_names_the_licence_in_its_current_form(
    metadata: Message,
) -> None:
    assert metadata["Metadata-Version"] >= "2.4"
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["License"] is None  # the older free-text field, superseded


def test_the_version_is_the_packages(metadata: Message) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert metadata["Version"] == VERSION


def test_the_metadata_has_urls_and_classifiers(metadata: Message) -> None:
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL"))
    assert {"Homepage", "Source", "Changelog", "Issue tracker"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    classifiers = set(metadata.get_all("Classifier"))
    assert {
        "Framework :: AsyncIO",
        "Framework :: Django",
        "Framework :: FastAPI",
        "Framework :: Flask",
        "Framework :: Pytest",
        "Typing :: Typed",
    } <= classifiers
    # License-Expression supersedes the licence classifiers (PEP 639).
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert metadata["Requires-Python"] == ">=3.10"
    assert {f"Programming Language :: Python :: 3.{n}" for n in (10, 11, 12, 13)} <= (
        classifiers
    )


def test_the_wheel_registers_the_command_and_the_plugin(
    wheel: zipfile.ZipFile,
) -> None:
    points = wheel.read(f"{BASE}.dist-info/entry_points.txt").decode()
    assert "[console_scripts]\nqscookies = qscookies.ops.cli:main" in points
    assert "[pytest11]\nqscookies = qscookies.testing" in points


def test_the_changelog_describes_this_release() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.M)
    assert releases and releases[0] == VERSION
