"""``INSTALLED_APPS += ["qscookies.django"]``: ``manage.py check`` checks QSCOOKIES."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks

from ..errors import ConfigurationError
from ..words import docs_url
from .config import configuration


class QSCookiesConfig(AppConfig):  # type: ignore[misc]
    """Registers :func:`check_settings` with Django's system-check framework."""

    name = "qscookies.django"
    label = "qscookies"
    verbose_name = "qscookies"

    def ready(self) -> None:
        checks.register(check_settings)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``qscookies.E001``: ``settings.QSCOOKIES`` (or the secret key) is bad.

    Reads the settings as the middleware does, without connecting to Redis.
    """
    try:
        configuration()
    except ConfigurationError as error:
        return [
            checks.Error(
                str(error),
                hint=f"see {docs_url('settings')}",
                id="qscookies.E001",
            )
        ]
    return []
