"""The demo: what ``qscookies demo`` runs and the examples share.

- :mod:`~qscookies.demo.run`: :func:`~qscookies.demo.run.serve`, a storefront
  over an embedded Redis with the dashboard beside it;
- :mod:`~qscookies.demo.catalogue`: the products and the HTML pages, shared by
  the plain-WSGI storefront here and the Flask and Django storefronts in
  ``examples/``;
- :mod:`~qscookies.demo.shop`: the plain-WSGI storefront, no framework.

They live in the package, not in ``examples/``, so that ``qscookies demo`` works
from any installation, not only from a source checkout. Importing this package
loads none of them.
"""
