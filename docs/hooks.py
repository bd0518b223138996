"""MkDocs hooks: the package's reST docstrings read well in the API reference.

mkdocstrings parses the ``:param:`` fields of the docstrings but leaves Sphinx's
cross-reference roles and literal-block markers as they are. This hook shows
``:class:`~qscookies.QSCookies``` as ``QSCookies`` (the role dropped, ``~`` keeping
the last name, as Sphinx does) and ends a paragraph before a code block with one
colon instead of reST's two.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:class|func|meth|attr|mod|data|exc|obj):<code>(~?)([^<]*)</code>"
)


def _name(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """Drop the reST roles and the ``::`` markers from a rendered page."""
    return _ROLE.sub(_name, html).replace("::</p>", ":</p>")
