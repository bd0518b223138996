"""The plain-WSGI storefront: no framework, wrapped by ``QSCookies`` in one line.

Its code is :mod:`qscookies.demoshop.wsgi` (in the package, so that
``qscookies demo`` runs it from any installation). Run it with::

    python examples/wsgi_shop.py      # the same as: qscookies demo

It runs over an embedded Redis (see :func:`qscookies.demo.serve`).
"""

from __future__ import annotations

from qscookies.demo import serve
from qscookies.demoshop.wsgi import create_app

__all__ = ["create_app"]

if __name__ == "__main__":
    serve(create_app)
