"""The bare-stack floor: Django with no apps and no middleware; the bench's database only for
the registration floor (bench/floor/register.py), which writes one row.

Served by the same gunicorn configuration as our server (bench/gunicorn.conf.py), it shows
what the framework and the server cost before any OAuth work (docs/performance.md).
"""

import os

import dj_database_url

SECRET_KEY = "bench-floor-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.floor.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
# The same connection settings as our server (authserver/settings.py), when the bench gives
# one; the other floor views never touch it.
DATABASES: dict = (
    {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    if os.environ.get("DATABASE_URL")
    else {}
)
USE_TZ = True
LOGGING_CONFIG = None
