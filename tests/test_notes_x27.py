"""The runnable example of ``notes/x27-options.md`` (cart lines with options)."""

from __future__ import annotations

import re
from pathlib import Path

NOTES = Path(__file__).resolve().parent.parent / "notes" / "x27-options.md"


def test_the_notes_example_runs() -> None:
    (block,) = re.findall(r"^```python\n(.*?)^```$", NOTES.read_text(), re.M | re.S)
    exec(compile(block, str(NOTES), "exec"), {})  # its asserts are the test
