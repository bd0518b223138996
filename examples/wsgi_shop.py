"""The plain-WSGI storefront: no framework, wrapped by ``QSCookies`` in one line.

Its code is :mod:`qscookies.demo.shop` (in the package, so that
``qscookies demo`` runs it from any installation). Run it with::

    python examples/wsgi_shop.py      # the same as: qscookies demo

It runs over an embedded Redis (see :func:`qscookies.demo.run.serve`).
"""

from __future__ import annotations

from qscookies.demo.run import serve
from qscookies.demo.shop import create_app

__all__ = ["create_app"]

if __name__ == "__main__":
    serve(create_app)
