"""The only package that talks to Redis, one module per role.

- :mod:`~qscookies.store.client`: opening clients, and the :class:`Guard` every
  command passes through (allow-list, scripts by SHA1, error mapping);
- :mod:`~qscookies.store.app` and :mod:`~qscookies.store.aio`: the middleware's
  store, sync and ``redis.asyncio``;
- :mod:`~qscookies.store.reader`: the report's aggregate reads;
- :mod:`~qscookies.store.probe`: the ACL probe of ``qscookies check``.
- :mod:`~qscookies.store.survey`: the shard map and failover settings read by
  ``qscookies check --cluster``.

Each role has its own allow-list; the raw client stays private to it.
"""
