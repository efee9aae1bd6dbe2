"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
    """The process is alive and serving requests; checks nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready (200) when the database answers: nothing is served without it.

    Redis, when configured, is reported but does not fail readiness. Every replica shares
    it, so a 503 would take them all out of rotation at once, while tokens, JWKS, metadata
    and the revocation list keep working without it (sign-in and DPoP fail closed on their
    own). The body says "degraded" so monitoring still sees it.
    """
    checks = {"database": "ok" if check_database() else "unavailable"}
    if settings.CONFIG.redis_url:
        checks["redis"] = "ok" if check_redis() else "unavailable"
    if checks["database"] != "ok":
        status = "unavailable"
    elif all(v == "ok" for v in checks.values()):
        status = "ready"
    else:
        status = "degraded"
    return JsonResponse(
        {"status": status, "checks": checks},
        status=503 if status == "unavailable" else 200,
    )
