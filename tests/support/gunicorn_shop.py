"""The test shop of ``shop.py`` wrapped for gunicorn (see ``gunicorn_server.py``).

``QS_TEST_REDIS_URL`` says where Redis is; ``QS_TEST_SOCKET_TIMEOUT`` and
``QS_TEST_RETRY_INTERVAL`` (seconds) are passed on when set.
"""

from __future__ import annotations

import os
from typing import Any

from qscookies import QSCookies

from shop import SECRET
from shop import shop

_SETTINGS = ("socket_timeout", "retry_interval")

options: dict[str, Any] = {
    name: float(os.environ[f"QS_TEST_{name.upper()}"])
    for name in _SETTINGS
    if f"QS_TEST_{name.upper()}" in os.environ
}

#: What gunicorn serves.
app = QSCookies(
    shop, secret_key=SECRET, redis_url=os.environ["QS_TEST_REDIS_URL"], **options
)
