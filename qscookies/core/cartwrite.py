"""One cart write: its arguments checked, laid out for the cart script, its answer read.

No I/O. :meth:`~qscookies.core.cart.CartState.put` decides which cart a write
goes to and what the cookie does; this module holds the write's side of the
scripts' protocol: what a write of one line is (:func:`check_write`), the
command that carries it or empties the cart, its KEYS and ARGV in the
script's order, and what a refusal the script answers means
(:class:`CartWrites`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import scripts
from ..codec import CookieCodec
from ..command import Command
from ..command import script
from ..keys import KeySchema
from ..settings import Settings
from .cartcookie import lifetime
from .lines import canonical_options
from .lines import check_line_id
from .lines import check_quantity
from .lines import check_sku
from .lines import check_write_id
from .lines import line_id

#: What the cart script answers for each refusal (``max_*`` a setting's name).
_REFUSALS = {
    scripts.OVER_QUANTITY: "a cart line holds at most {max_quantity}",
    scripts.OVER_LINES: "a cart holds at most {max_cart_lines} lines",
    scripts.OVER_ITEMS: "a cart holds at most {max_cart_items} items in all",
    scripts.CLASH: "the line id of these options holds other options; refused",
}

#: Write markers kept per cart: past this, the oldest is forgotten (a write
#: re-sent after that many later ones would apply again).
MAX_WRITE_MARKERS = 64


def check_write(
    settings: Settings,
    line: str,
    quantity: int,
    *,
    add: bool,
    options: Mapping[str, str] | None = None,
    write_id: str | None = None,
) -> tuple[str, str, str]:
    """Check one write of one line, before anything is sent.

    With *add*, *line* is a sku and the line is the one of that sku and
    *options* (mode ``"add"``); without, *line* is a line id
    (:mod:`~qscookies.core.lines`): a sku's line without options (mode
    ``"set"``, started when not there) or a line with options (mode
    ``"edit"``, changed only while it is there).

    :param settings: the limits (options per line, quantity of a line).
    :return: the line id, the mode and the canonical options (``""``: none).
    :raises CartError: a bad sku, line id, option, quantity or write id.
    """
    mode = "add"
    canonical = ""
    if add:
        check_sku(line)
        if options is not None:
            canonical = canonical_options(options, settings.max_line_options)
            line = line_id(line, canonical)
    else:
        mode = "edit" if check_line_id(line) else "set"
    check_quantity(quantity, minimum=int(add), maximum=settings.max_quantity)
    if write_id is not None:
        check_write_id(write_id)
    return line, mode, canonical


class CartWrites:
    """The writes of a cart as the cart scripts take them: commands, no I/O.

    :param settings: the limits sent to the scripts.
    :param codec: hashes a write's marker.
    :param keys: the key layout.
    """

    def __init__(self, settings: Settings, codec: CookieCodec, keys: KeySchema) -> None:
        self._settings = settings
        self._codec = codec
        self._keys = keys

    def put(
        self,
        cart_id: str,
        line: str,
        quantity: int,
        mode: str,
        canonical: str = "",
        write_id: str | None = None,
        generation: str | None = None,
    ) -> Command:
        """The ``EVAL`` of :data:`~qscookies.scripts.CART_PUT` writing one line.

        KEYS: the cart *cart_id* and its lines' hash, then, with *write_id*,
        its write markers, and last, signed in, the customer's generation.
        ARGV: the line id, *quantity*, the mode, the limits and the TTL (the
        cart's :func:`~qscookies.core.cartcookie.lifetime`), then as far as
        needed the canonical options, the write's marker and
        :data:`MAX_WRITE_MARKERS` (ARGV 8 to 10) and the cookie's generation
        (ARGV 11).

        :param line: the line id, *mode* and *canonical* its options, as
            :func:`check_write` answers them.
        :param write_id: the write's id: the script sets its marker, and a
            write re-sent with it for that line changes nothing.
        :param generation: the cookie's sign-in generation, checked first by
            the script; ``None``: not signed in.
        """
        keys, settings = self._keys, self._settings
        names: list[str] = [keys.cart(cart_id), keys.lines(cart_id)]
        tail: list[int | str] = [canonical, "", 0]  # ARGV 8 to 10
        if write_id is not None:  # the markers: a third key, ARGV 9 and 10
            names.append(keys.writes(cart_id))
            tail[1:] = [self._codec.write_hash(line, write_id), MAX_WRITE_MARKERS]
        if generation is not None:  # the generation: the last key, ARGV 11
            names.append(keys.generation(cart_id))
            tail.append(generation)
        elif write_id is None:  # the options alone, if any
            del tail[int(bool(canonical)) :]
        return script(
            scripts.CART_PUT,
            tuple(names),
            line,
            quantity,
            mode,
            settings.max_quantity,
            settings.max_cart_lines,
            settings.items_bound,
            lifetime(settings, cart_id) * 1000,
            *tail,
        )

    def clear(self, cart_id: str, generation: str | None = None) -> Command:
        """The command that empties the cart *cart_id*: ``DEL`` of the
        quantities and the lines' hash; signed in (*generation*: the cookie's),
        :data:`~qscookies.scripts.CART_CLEAR`, which checks the customer's
        generation first."""
        keys = self._keys
        key, lines = keys.cart(cart_id), keys.lines(cart_id)
        if generation is None:
            return Command("DEL", (key, lines))
        generated = (key, lines, keys.generation(cart_id))
        return script(scripts.CART_CLEAR, generated, generation)

    def refusal(self, answer: int) -> str:
        """Why the cart script refused a write (*answer*: one of its negative
        answers but :data:`~qscookies.scripts.REVOKED`), for the
        :class:`~qscookies.errors.CartError`."""
        return _REFUSALS[answer].format(**vars(self._settings))
