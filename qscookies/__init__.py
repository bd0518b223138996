"""qscookies: signed cookies for cart, return visitors and promotions, in Redis."""

__version__ = "0.1.0"

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
from .figures import PromotionCounts as PromotionCounts
from .report import PromotionReport as PromotionReport
from .wsgi import QSCookies as QSCookies
from .wsgi import context as context

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
