"""``settings.QSCOOKIES``, read and checked for the middleware and the checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import MutableMapping
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
    conceal(raw)
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
        raise named(error) from error


def named(error: ConfigurationError) -> ConfigurationError:
    """*error* led by the ``QSCOOKIES`` key of its setting, if it names one."""
    if error.setting is None:
        return error
    return error.at(f"QSCOOKIES[{error.setting!r}]")


class RedisURL(str):
    """A Redis URL whose ``repr()`` hides its password.

    Django's error reports (the debug page, the mail to ``ADMINS``) print
    settings and the local variables of each frame with ``repr()``; its
    cleansing hides the values of names such as ``PASSWORD`` or ``KEY`` but
    not a password inside ``QSCOOKIES["redis_url"]``. As a ``str`` it is the
    URL itself, so redis-py and the shop's own code read it unchanged.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(hide_password(str(self)))


_USERINFO = re.compile(r"(?P<scheme>[^:/?#]+://)(?P<user>[^:@/]*)(?P<secret>[^@/]*)@")
_QUERY_PASSWORD = re.compile(r"(?P<name>[?&]password=)[^&#]*", re.IGNORECASE)


def hide_password(url: str) -> str:
    """*url* with its password (``:secret@``, ``?password=``) as ``********``.

    ``redis://user:secret@host`` gives ``redis://user:********@host``; a lone
    ``redis://secret@host`` is hidden too (redis-py may read it as one).
    """

    def userinfo(match: re.Match[str]) -> str:
        scheme, user, secret = match.group("scheme", "user", "secret")
        if not secret:
            return f"{scheme}********@"
        return f"{scheme}{user}:********@"

    url = _USERINFO.sub(userinfo, url, count=1)
    return _QUERY_PASSWORD.sub(r"\g<name>********", url)


def conceal(raw: Mapping[str, Any]) -> None:
    """Put the ``redis_url`` of ``settings.QSCOOKIES`` in a :class:`RedisURL`.

    Done in place, so Django's error reports of ``settings.QSCOOKIES`` print
    it without the password, with nothing to change in the shop's settings.
    """
    url = raw.get("redis_url")
    if isinstance(raw, MutableMapping) and isinstance(url, str):
        if not isinstance(url, RedisURL):
            raw["redis_url"] = RedisURL(url)
