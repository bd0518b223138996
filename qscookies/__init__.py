"""qscookies: signed cookies for cart, return visitors and promotions, in Redis.

The marketing side (:class:`PromotionReport`, :class:`PromotionCounts`) is
imported on first use: a shop that only serves requests loads no report code.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING
from typing import Any

from .context import Context as Context
from .core.checkout import CartSnapshot as CartSnapshot
from .core.checkout import Purchase as Purchase
from .core.lines import CartLine as CartLine
from .core.visits import Visitor as Visitor
from .errors import AccountError as AccountError
from .errors import CartError as CartError
from .errors import CommandRefused as CommandRefused
from .errors import ConfigurationError as ConfigurationError
from .errors import CrossSiteError as CrossSiteError
from .errors import CurrencyError as CurrencyError
from .errors import HeadersSentError as HeadersSentError
from .errors import InputError as InputError
from .errors import PaidTokenError as PaidTokenError
from .errors import PurchaseError as PurchaseError
from .errors import QSCookiesError as QSCookiesError
from .errors import StoreError as StoreError
from .errors import StoreUnavailable as StoreUnavailable
from .wsgi import QSCookies as QSCookies
from .wsgi import context as context

if TYPE_CHECKING:
    from .report import PromotionCounts as PromotionCounts
    from .report import PromotionReport as PromotionReport

#: The names loaded on first use, and the module that has them.
_LAZY = {"PromotionCounts": "report", "PromotionReport": "report"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "AccountError",
    "CartError",
    "CartLine",
    "CartSnapshot",
    "CommandRefused",
    "ConfigurationError",
    "Context",
    "CrossSiteError",
    "CurrencyError",
    "HeadersSentError",
    "InputError",
    "PaidTokenError",
    "PromotionCounts",
    "PromotionReport",
    "Purchase",
    "PurchaseError",
    "QSCookies",
    "QSCookiesError",
    "StoreError",
    "StoreUnavailable",
    "Visitor",
    "context",
]
