"""The operator's side: what an operator runs, never a request.

- :mod:`~qscookies.ops.cli`: the ``qscookies`` command (``acl``, ``check``,
  ``functions``, ``promotions``, ``dashboard``, ``demo``), its arguments in
  :mod:`~qscookies.ops.arguments`;
- :mod:`~qscookies.ops.acl`: the Redis ACL rules that lock the data in;
- :mod:`~qscookies.ops.topology`: what bounds a request on a cluster
  (``qscookies check --cluster``).

The doors, the core and the store never import it (the contracts of
``pyproject.toml``, checked by ``tests/e2e/test_layout.py``).
"""
