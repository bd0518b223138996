"""Settings of the test project: qscookies is one app and one middleware line."""

from __future__ import annotations

import json
import os

SECRET_KEY = os.environ["DJANGO_SITE_SECRET_KEY"]
SECRET_KEY_FALLBACKS = json.loads(os.environ.get("DJANGO_SITE_FALLBACKS", "[]"))
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "django_site.urls"
USE_TZ = True
INSTALLED_APPS = ["qscookies.django"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "qscookies.django.QSCookiesMiddleware",
    "django.middleware.common.CommonMiddleware",
]
QSCOOKIES = {
    "redis_url": os.environ["DJANGO_SITE_REDIS_URL"],
    "key_prefix": "dj:",
    "retry_interval": 0.2,
    **json.loads(os.environ.get("DJANGO_SITE_QSCOOKIES", "{}")),
}
LOGGING = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "qscookies": {"handlers": ["stderr"], "level": "WARNING"},
        "django.request": {"handlers": ["stderr"], "level": "ERROR"},
    },
}
