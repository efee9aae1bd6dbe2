"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from authserver import version

logger = logging.getLogger(__name__)


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("readiness: database unreachable", exc_info=True)
        return False


def check_redis() -> bool:
    try:
        client = cache._cache.get_client(write=True)  # RedisCache: the raw redis client
        return bool(client.ping())
    except Exception:
        logger.warning("readiness: redis unreachable", exc_info=True)
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests; checks nothing else. Names the running
    version (pyproject.toml's, authserver.version), so an operator sees what an upgrade
    rolled out."""
    return JsonResponse({"status": "ok", "version": version.current()})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers, and Redis too when REDIS_URL is configured."""
    checks = {"database": "ok" if check_database() else "unavailable"}
    if settings.CONFIG.redis_url:
        checks["redis"] = "ok" if check_redis() else "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
