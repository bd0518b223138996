"""The Flask door: ``QSCookies(app)``, configured by ``app.config``.

::

    from qscookies.flask import QSCookies, qs

    app = Flask(__name__)
    app.config["QSCOOKIES_REDIS_URL"] = "redis://localhost:6379/0"
    QSCookies(app)                  # or: ext = QSCookies(); ext.init_app(app)

    @app.post("/cart/add")
    def add():
        return f"{qs.cart.add(request.form['sku'])} in your cart"

It puts the WSGI door, :class:`qscookies.QSCookies`, around ``app.wsgi_app``:
the same cookies, keys and behaviour, and the app's own test client works
unchanged. Config keys: ``QSCOOKIES_REDIS_URL`` (or ``QSCOOKIES_REDIS``, a
ready client), ``QSCOOKIES_SECRET_KEY`` (default: keys derived from
``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``, so Flask's key rotation rotates
ours and neither signature verifies as the other's), and
``QSCOOKIES_<SETTING>`` for every setting of :class:`~qscookies.settings.Settings`
(``QSCOOKIES_VISIT_GAP``, ``QSCOOKIES_EXCLUDED_PATHS``…). Importing
:mod:`qscookies` never imports Flask; this module does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING
from typing import Any

from flask import Response
from flask import request
from werkzeug.local import LocalProxy

from .codec import framework_keys
from .context import Context
from .core.messages import reason
from .errors import ConfigurationError
from .errors import StoreUnavailable
from .settings import Settings
from .wsgi import QSCookies as WSGIQSCookies
from .wsgi import context

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "PREFIX",
    "QSCookies",
    "config_options",
    "context",
    "qs",
]


#: The prefix of every config key of qscookies.
PREFIX = "QSCOOKIES_"
_CONNECTION = ("REDIS_URL", "REDIS", "SECRET_KEY")
_SETTINGS = {f.name.upper(): f.name for f in fields(Settings)}

#: The qscookies context of the current request (a proxy, as ``flask.request``).
qs: Context = LocalProxy(lambda: context(request.environ))  # type: ignore[assignment]


class QSCookies:
    """The qscookies extension of a Flask app.

    :param app: the app, or ``None`` to call :meth:`init_app` later (an app
        factory).
    :raises ConfigurationError: see :meth:`init_app`.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Wrap ``app.wsgi_app`` in the middleware, configured by ``app.config``.

        The middleware is ``app.extensions["qscookies"]``.

        :raises ConfigurationError: a missing, unknown or bad config value; the
            message names its key, e.g. ``QSCOOKIES_VISIT_GAP``.
        """
        config = app.config
        options = config_options(config)
        connection = {
            name.lower(): config[PREFIX + name]
            for name in ("REDIS_URL", "REDIS")
            if config.get(PREFIX + name) is not None
        }
        if len(connection) != 1:
            raise ConfigurationError(
                f"set exactly one of {PREFIX}REDIS_URL and {PREFIX}REDIS in app.config"
            )
        try:
            middleware = WSGIQSCookies(
                app.wsgi_app, secret_key=_secret_keys(app), **connection, **options
            )
        except ConfigurationError as error:
            raise _named(error) from error
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions["qscookies"] = middleware
        if StoreUnavailable not in app.error_handler_spec[None][None]:
            app.register_error_handler(StoreUnavailable, _unavailable(middleware))


def _unavailable(middleware: WSGIQSCookies) -> Callable[[StoreUnavailable], Response]:
    """The handler that answers the core's ``503`` to a view's StoreUnavailable.

    Handled, the error is not logged again by Flask (a traceback per request
    while Redis is down): the store already logged one line naming the cause.
    An app's own handler for StoreUnavailable, registered before or after,
    takes precedence.
    """

    def handle(_error: StoreUnavailable) -> Response:
        answer = middleware.unavailable()
        line = f"{answer.status} {reason(answer.status)}"  # werkzeug's is upper case
        return Response(answer.body, line, answer.headers)

    return handle


def config_options(config: Any) -> dict[str, Any]:
    """The settings in a Flask *config*: ``QSCOOKIES_VISIT_GAP`` → ``visit_gap``.

    :raises ConfigurationError: a ``QSCOOKIES_`` key that names no setting (a
        typo would otherwise be ignored), or a bad value.
    """
    options = {}
    for key, value in config.items():
        if not key.startswith(PREFIX) or key[len(PREFIX) :] in _CONNECTION:
            continue
        name = _SETTINGS.get(key[len(PREFIX) :])
        if name is None:
            known = ", ".join(PREFIX + n for n in (*_CONNECTION, *_SETTINGS))
            raise ConfigurationError(f"unknown config key {key}; known keys: {known}")
        options[name] = value
    try:
        Settings.from_options(**options)
    except ConfigurationError as error:
        raise _named(error) from error
    return options


def _secret_keys(app: Flask) -> Any:
    own = app.config.get(PREFIX + "SECRET_KEY")
    if own is not None:
        return own
    keys = [app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or [])]
    return framework_keys(keys, framework="flask", setting="SECRET_KEY")


def _named(error: ConfigurationError) -> ConfigurationError:
    """*error* with the config key of its setting in front."""
    if error.setting is None:
        return error
    return error.at(f"app.config[{PREFIX + error.setting.upper()!r}]")
