"""Cart lines: what a valid sku, quantity and set of options are, and line ids.

No I/O. A line is a sku with its options (an engraving, a gift wrap); the same
sku with the same options, in any key order, is the same line. Its id is the
sku for a line without options, else ``<sku>~<8 characters>``: a stable hash
(BLAKE2b, the same in every process and after a key rotation) of the sku and
its canonical options (JSON, keys sorted). A sku may not end in that shape, so
a line id always says which kind of line it names. The canonical options are
stored beside the quantity (see :data:`~qscookies.scripts.CART_PUT`), and
an add whose options differ from those stored under its id (a hash collision)
is refused, never merged into another line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CartError
from ..memo import Memo
from ..privacy import looks_like_card_number

#: Longest sku accepted.
MAX_SKU_LENGTH = 128

#: The skus found valid lately (a shop adds its catalogue's skus again and
#: again): the checks run once per sku, within this bound.
_VALID_SKUS: Memo[str, bool] = Memo(4096)

#: Longest option value accepted (characters).
MAX_OPTION_VALUE = 128

#: An option key.
OPTION_KEY = re.compile(r"[a-z0-9_-]{1,32}")

#: A line id of a line with options: the sku, ``~`` and the options' hash.
OPTION_LINE = re.compile(r"(.+)~([a-z2-7]{8})")


@dataclass(frozen=True)
class CartLine:
    """One line of a cart (:meth:`~qscookies.context.Cart.lines`).

    .. versionadded:: 0.2
    """

    #: The line's id, for ``cart.set`` and ``cart.remove``: the sku for a line
    #: without options, else ``<sku>~<hash of the options>``.
    line_id: str
    #: The product.
    sku: str
    #: How many.
    quantity: int
    #: The line's options (a copy: ``{}`` for none).
    options: dict[str, str]


def check_sku(sku: object) -> str:
    """Return *sku* when it is a valid sku, else raise :class:`CartError`.

    A sku is non-empty printable text of at most 128 characters, without
    surrounding white space, that does not look like a payment card number nor
    end like a line id with options (``~`` and 8 of ``a-z2-7``).
    """
    if type(sku) is str and sku in _VALID_SKUS:
        return sku
    if not isinstance(sku, str):
        raise CartError(f"sku must be text, not {type(sku).__name__}")
    if not sku or len(sku) > MAX_SKU_LENGTH:
        raise CartError(f"sku must be 1 to {MAX_SKU_LENGTH} characters", sku=sku[:32])
    if not sku.isprintable() or sku != sku.strip():
        raise CartError("sku must be printable text without surrounding spaces")
    if looks_like_card_number(sku):
        raise CartError("sku looks like a payment card number; refused")
    if sku[-9:-8] == "~" and OPTION_LINE.fullmatch(sku):
        raise CartError(
            "sku may not end in '~' and 8 of a-z2-7: that is a line id with options",
            sku=sku[:32],
        )
    if type(sku) is str:  # a subclass may compare equal to what it is not
        _VALID_SKUS.keep(sku, True)
    return sku


def check_quantity(quantity: object, *, minimum: int, maximum: int) -> int:
    """Return *quantity* when it is a whole number in range, else raise."""
    if type(quantity) is not int:
        raise CartError(f"quantity must be an int, not {type(quantity).__name__}")
    if not minimum <= quantity <= maximum:
        raise CartError(f"quantity must be from {minimum} to {maximum}")
    return quantity


def check_write_id(write_id: object) -> str:
    """Return *write_id* when it is 1-128 printable characters, else raise
    :class:`CartError`."""
    if not isinstance(write_id, str) or not 0 < len(write_id) <= 128:
        raise CartError("write_id must be 1 to 128 characters")
    if not write_id.isprintable():
        raise CartError("write_id must be printable text")
    return write_id


def canonical_options(options: object, most: int) -> str:
    """The canonical JSON of *options* (``""`` for none), else raise.

    :param options: ``None`` or a mapping of at most *most* keys matching
        :data:`OPTION_KEY` to printable text of at most 128 characters that
        does not look like a payment card number.
    :raises CartError: anything else (checked before anything is sent).
    """
    if options is None:
        return ""
    if not isinstance(options, Mapping):
        raise CartError(f"options must be a dict, not {type(options).__name__}")
    if len(options) > most:
        raise CartError(f"a cart line has at most {most} options")
    for key, value in options.items():
        if not isinstance(key, str) or not OPTION_KEY.fullmatch(key):
            raise CartError("an option key must be 1-32 of a-z, 0-9, '_' or '-'")
        if not isinstance(value, str):
            raise CartError(f"option {key} must be text, not {type(value).__name__}")
        if len(value) > MAX_OPTION_VALUE or not value.isprintable():
            raise CartError(
                f"option {key} must be printable text of at most"
                f" {MAX_OPTION_VALUE} characters"
            )
        if looks_like_card_number(value):
            raise CartError(f"option {key} looks like a payment card number; refused")
    if not options:
        return ""
    return json.dumps(dict(sorted(options.items())), separators=(",", ":"))


def line_id(sku: str, canonical: str) -> str:
    """The id of the line of *sku* with the *canonical* options."""
    if not canonical:
        return sku
    digest = hashlib.blake2b(f"{sku}\0{canonical}".encode(), digest_size=5).digest()
    return f"{sku}~{base64.b32encode(digest).decode().lower()}"


def check_line_id(line: object) -> bool:
    """Check a line id given to ``set`` or ``remove``.

    :return: whether it names a line with options (which only ``add`` starts).
    :raises CartError: neither a valid sku nor a valid sku and options hash.
    """
    found = OPTION_LINE.fullmatch(line) if isinstance(line, str) else None
    check_sku(found.group(1) if found else line)
    return found is not None


def read_lines(quantities: dict[str, int], details: dict[str, str]) -> list[CartLine]:
    """The :class:`CartLine` of a cart, in the order first added.

    :param quantities: line id -> quantity (the cart's hash).
    :param details: line id -> ``<sequence>:<canonical options>`` (the lines'
        hash); a line missing there (stored by an earlier version) has no
        options and comes last.
    """
    order: list[tuple[float, str, dict[str, Any]]] = []
    for line in quantities:
        sequence, _, canonical = details.get(line, "").partition(":")
        options = json.loads(canonical) if canonical else {}
        order.append((int(sequence) if sequence else float("inf"), line, options))
    order.sort(key=lambda entry: entry[:2])
    return [
        CartLine(line, _sku_of(line, options), quantities[line], options)
        for _, line, options in order
    ]


def _sku_of(line: str, options: dict[str, str]) -> str:
    found = OPTION_LINE.fullmatch(line) if options else None
    return found.group(1) if found else line
