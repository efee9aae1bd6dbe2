"""Plain django-oauth-toolkit 3.4.1 as a bench reference: DOT's stock TokenView, client
credentials, opaque tokens, client secret hashing off, no middleware.

Same PostgreSQL server as our server (its own database, ``DOT_DATABASE_URL``), same
gunicorn settings (bench/gunicorn.conf.py). Bench-only; never deployed.
"""

import os

import dj_database_url

SECRET_KEY = "bench-dot-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.dot.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
]
MIDDLEWARE: list[str] = []
DATABASES = {"default": dj_database_url.parse(os.environ["DOT_DATABASE_URL"], conn_max_age=60)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
LOGGING_CONFIG = None
OAUTH2_PROVIDER = {"SCOPES": {"tools:read": "read"}, "DEFAULT_SCOPES": ["tools:read"]}
