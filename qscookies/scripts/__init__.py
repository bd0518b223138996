"""The Lua scripts of the request rules (planned by :mod:`qscookies.core`, sent or
loaded as functions by :mod:`qscookies.store`): each one atomic step in Redis.

Each script touches only the keys it is given (``KEYS``), so Redis Cluster runs
it on the slot of those keys; Redis checks the commands it calls against the
connection's ACL user too (:data:`SCRIPT_COMMANDS`).
"""

from __future__ import annotations

from .cart import CART_CLEAR as CART_CLEAR
from .cart import CART_LINES as CART_LINES
from .cart import CART_MERGE as CART_MERGE
from .cart import CART_PUT as CART_PUT
from .cart import CART_TAKE as CART_TAKE
from .cart import CLASH as CLASH
from .cart import HELPERS as _CART_HELPERS
from .cart import LOGIN as LOGIN
from .cart import OVER_ITEMS as OVER_ITEMS
from .cart import OVER_LINES as OVER_LINES
from .cart import OVER_QUANTITY as OVER_QUANTITY
from .cart import REVOKED as REVOKED
from .tracking import ADMIT as ADMIT
from .tracking import CART_PAY as CART_PAY
from .tracking import HELPERS as _TRACKING_HELPERS
from .tracking import LANDING as LANDING
from .tracking import ORDER_MARK as ORDER_MARK
from .tracking import PAID as PAID
from .tracking import PURCHASE as PURCHASE

#: The helper functions the scripts share, each closed (it reads no ``KEYS`` and
#: no ``ARGV``): each script holds its own copy; a function library defines
#: each once, at its top (:mod:`~qscookies.scripts.library`).
HELPERS: tuple[str, ...] = _CART_HELPERS + _TRACKING_HELPERS

#: The commands the scripts call (the app user's ACL must allow them).
SCRIPT_COMMANDS = frozenset(
    {
        "DEL",
        "EXPIRE",
        "HDEL",
        "HGET",
        "HGETALL",
        "HINCRBY",
        "HLEN",
        "HSET",
        "HVALS",
        "PEXPIRE",
        "PFADD",
        "SET",
        "ZCARD",
        "ZINCRBY",
        "ZSCORE",
    }
)
