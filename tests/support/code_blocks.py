"""The code blocks of a Markdown page, as the documentation's tests read them.

A fence opens with one of the forms the site renders (pymdownx.superfences):

- ```` ```python ````: a whole script, run on its own;
- ```` ```sh ````: shell commands, run by ``bash``;
- ```` ```python title="PATH" ````: (part of) the file *PATH* of a project; the
  blocks of one path are joined in the order of the pages; a block that holds
  only ``--8<-- "FILE"`` includes a file of the repository instead;
- ```` ``` { .LANG .norun } ````: not run, and listed with the reason in the test.

Any other fence (one superfences would not render as code, an indented one) is an
error of the page, reported by :func:`read_blocks`, never skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_OPEN = re.compile(
    r'^```(?:(?P<lang>python|sh)(?: title="(?P<title>[^"]+)")?'
    r"| \{ \.(?P<norun>\w+) \.norun \})$"
)
_INCLUDE = re.compile(r'^--8<-- "(?P<path>[^"]+)"\n$')


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    #: The page, relative to the repository root.
    page: str
    #: The line of the opening fence (1-based).
    line: int
    #: ``"script"``, ``"shell"``, ``"file"``, ``"include"`` or ``"norun"``.
    kind: str
    #: The path of a ``"file"`` or ``"include"`` block, else ``None``.
    title: str | None
    #: The block's text (for an include: the included path).
    text: str

    @property
    def first_line(self) -> str:
        """The block's first line, which names it in the lists of the tests."""
        return self.text.splitlines()[0] if self.text else ""


def read_blocks(page: Path) -> tuple[list[Block], list[str]]:
    """The code blocks of *page*, and the errors of its fences."""
    name = str(page.relative_to(ROOT))
    blocks: list[Block] = []
    errors: list[str] = []
    lines = page.read_text().splitlines(keepends=True)
    number = 0
    while number < len(lines):
        line = lines[number].rstrip("\n")
        number += 1
        if not line.lstrip().startswith("```"):
            continue
        opened = _OPEN.match(line)
        if opened is None:
            errors.append(f"{name}:{number}: a fence the site would not render: {line}")
            continue
        start, body = number, []
        while number < len(lines) and lines[number].rstrip("\n") != "```":
            body.append(lines[number])
            number += 1
        if number == len(lines):
            errors.append(f"{name}:{start}: a fence never closed")
            break
        number += 1
        blocks.append(_block(name, start, opened, "".join(body)))
    return blocks, errors


def _block(page: str, line: int, opened: re.Match[str], text: str) -> Block:
    title = opened["title"]
    if opened["norun"]:
        return Block(page, line, "norun", None, text)
    if title is None:
        return Block(
            page, line, "script" if opened["lang"] == "python" else "shell", None, text
        )
    included = _INCLUDE.match(text)
    if included:
        return Block(page, line, "include", title, included["path"])
    return Block(page, line, "file", title, text)


def project_files(blocks: list[Block]) -> dict[str, str]:
    """The files of the ``"file"`` blocks, ``{path: text}``; a path's blocks joined."""
    files: dict[str, str] = {}
    for block in blocks:
        if block.kind == "file":
            assert block.title is not None
            files[block.title] = files.get(block.title, "") + block.text
    return files
