"""Words for people: a count with its noun in the right number, and notes."""

from __future__ import annotations

#: Where the documentation site is (``site_url`` in ``mkdocs.yml``); messages
#: point into it with :func:`docs_url`.
DOCS_URL = "https://qscookies.github.io/qscookies/"

#: Which figures count everyone and which only the visitors who may be tracked
#: (who consented, with ``consent="opt-in"``, or did not opt out): a note under
#: every table of promotion counts.
CONSENT_NOTE = (
    "Landings count everyone; visitors, returning, carts and purchases only"
    " tracked visitors (consented, or not opted out)."
)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """*count* and *noun*, the noun plural unless the count is one.

    >>> plural(1, "promotion"), plural(2, "promotion"), plural(0, "day")
    ('1 promotion', '2 promotions', '0 days')
    >>> plural(3, "unique visitor")
    '3 unique visitors'

    :param nouns: the plural, where adding an ``s`` is wrong.
    """
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def docs_url(page: str, section: str = "") -> str:
    """The address of a page of the documentation site, and of a section of it.

    >>> docs_url("scale", "client-settings")
    'https://qscookies.github.io/qscookies/scale/#client-settings'

    :param page: the page's file in ``docs/``, without ``.md``.
    :param section: the anchor of one of its headings.
    """
    return f"{DOCS_URL}{page}/" + (f"#{section}" if section else "")
