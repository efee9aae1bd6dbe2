"""The bare-stack floor: Django with no apps, no middleware and no database.

Served by the same gunicorn configuration as our server (bench/gunicorn.conf.py), it shows
what the framework and the server cost before any OAuth work (docs/performance.md).
"""

SECRET_KEY = "bench-floor-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.floor.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
LOGGING_CONFIG = None
