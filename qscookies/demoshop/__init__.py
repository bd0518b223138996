"""The demo storefront: what ``qscookies demo`` runs and the examples share.

- :mod:`~qscookies.demoshop.catalogue`: the products and the HTML pages, shared by
  the plain-WSGI storefront here and the Flask and Django storefronts in
  ``examples/``;
- :mod:`~qscookies.demoshop.wsgi`: the plain-WSGI storefront, no framework.

They live in the package, not in ``examples/``, so that ``qscookies demo`` works
from any installation, not only from a source checkout.
"""
