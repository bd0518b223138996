"""``settings.QSCOOKIES``, read and checked for the middleware and the checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings

from ..codec import CookieCodec
from ..codec import framework_keys
from ..errors import ConfigurationError
from ..settings import Settings

#: Keys of ``settings.QSCOOKIES`` that say where Redis is, beside the settings.
CONNECTION_KEYS = ("redis_url", "redis", "async_redis")


def configuration() -> tuple[dict[str, Any], Any, Settings]:
    """Read ``settings.QSCOOKIES``: the connection, the secret keys, the settings.

    :raises ConfigurationError: a missing or bad value, its message led by the
        key at fault (``QSCOOKIES['visit_gap']``, ``SECRET_KEY``).
    """
    raw = getattr(django_settings, "QSCOOKIES", None)
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            "settings.QSCOOKIES must be a dict, e.g."
            ' {"redis_url": "redis://localhost:6379/0"}'
        )
    options = dict(raw)
    connection = {key: options.pop(key) for key in CONNECTION_KEYS if key in options}
    if ("redis_url" in connection) == ("redis" in connection):
        raise ConfigurationError(
            "settings.QSCOOKIES needs exactly one of 'redis_url' and 'redis'"
        )
    try:
        keys = options.pop("secret_key", None) or framework_keys(
            [django_settings.SECRET_KEY, *django_settings.SECRET_KEY_FALLBACKS],
            framework="django",
            setting="SECRET_KEY",
        )
        CookieCodec(keys)
        return connection, keys, Settings.from_options(**options)
    except ConfigurationError as error:
        if error.setting is None:
            raise
        raise error.at(f"QSCOOKIES[{error.setting!r}]") from error
