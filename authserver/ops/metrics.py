"""Prometheus metrics, and the counters behind the admin overview.

Counters live in the process (prometheus_client; set PROMETHEUS_MULTIPROC_DIR under
gunicorn with several workers, see deploy/). Gauges that describe shared state (key ages,
revocation-list age, active grants, Celery task failures) are computed from the database and
the cache at scrape time, so every replica reports the same values.

``/metrics`` is not public: callers need ``Authorization: Bearer <METRICS_TOKEN>`` or an
address inside ``METRICS_ALLOWED_NETWORKS`` (default: loopback only).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from authserver.celery import app
from authserver.errors.writer import error_code_of
from authserver.models import AccessToken, Resource, RevocationListSnapshot, SigningKey
from authserver.ops import client_address

log = logging.getLogger("authserver.ops.metrics")
TOKENS_ISSUED = Counter(
    "authserver_tokens_issued_total", "Access tokens issued", ["grant_type", "resource"]
)
OAUTH_ERRORS = Counter(
    "authserver_oauth_errors_total", "OAuth error responses", ["endpoint", "error"]
)
# What operators must hear about (deploy/monitoring/alerts.yml): counted where the audit
# trail records them, so each has an audit event with the ids to investigate.
SECURITY_EVENTS = Counter(
    "authserver_security_events_total",
    "Security-relevant events: client_auth_failed, client_registered, refresh_token_reuse, "
    "code_replay, introspection_audience_mismatch",
    ["event"],
)
_AUDIT_TO_EVENT = {
    "client.auth_failed": "client_auth_failed",
    "client.registered": "client_registered",
}
_FAMILY_REVOCATION_EVENT = {
    "refresh_reuse": "refresh_token_reuse",
    "reuse": "refresh_token_reuse",
    "code_replay": "code_replay",
}
LATENCY = Histogram(
    "authserver_request_seconds",
    "Request latency by endpoint",
    ["endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
HOURLY_TTL = 26 * 3600
ENDPOINTS = {
    "/token": "token",
    "/authorize": "authorize",
    "/register": "register",
    "/revoke": "revoke",
    "/introspect": "introspect",
    "/revocations": "revocation_list",
    "/.well-known/jwks.json": "jwks",
    "/.well-known/oauth-authorization-server": "metadata",
    "/.well-known/openid-configuration": "metadata",
}


def endpoint_of(path: str) -> str:
    if path.startswith("/register/"):
        return "register"
    return ENDPOINTS.get(path, "other")


def _hour_key(kind: str, when=None) -> str:
    when = when or timezone.now()
    return f"metrics:{kind}:{when:%Y%m%d%H}"


def count_hourly(kind: str) -> None:
    """A shared per-hour counter (Redis in production) for the admin overview's charts."""
    key = _hour_key(kind)
    try:
        if not cache.add(key, 1, HOURLY_TTL):
            cache.incr(key)
    except Exception:  # metrics must never break a request
        log.debug("hourly counter %s not counted (cache unavailable)", kind)


def hourly_series(kind: str, hours: int = 24) -> list[tuple[str, int]]:
    now = timezone.now()
    stamps = [now - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    try:
        values = cache.get_many([_hour_key(kind, t) for t in stamps])
    except Exception:
        values = {}
    return [(f"{t:%H}:00", int(values.get(_hour_key(kind, t), 0))) for t in stamps]


def token_issued(grant_type: str, resource: str) -> None:
    # In-process only: the overview counts tokens per hour from the audit trail, so the
    # token endpoint pays no cache round trip for it.
    TOKENS_ISSUED.labels(grant_type, resource).inc()


def oauth_error(endpoint: str, error: str) -> None:
    OAUTH_ERRORS.labels(endpoint, error[:40]).inc()
    count_hourly("errors")


def security_event(event: str) -> None:
    SECURITY_EVENTS.labels(event).inc()


def audited(kind: str, actor: str) -> None:
    """Called by authserver.audit.record: counts the kinds that alerts watch."""
    event = _AUDIT_TO_EVENT.get(kind)
    if event is None and kind == "tokens.revoked":
        event = _FAMILY_REVOCATION_EVENT.get(actor)
    if event is not None:
        SECURITY_EVENTS.labels(event).inc()


def task_failed(task_name: str) -> None:
    try:
        key = f"metrics:task_failures:{task_name}"
        if not cache.add(key, 1, None):
            cache.incr(key)
    except Exception:
        log.debug("task failure of %s not counted (cache unavailable)", task_name)


class SharedStateCollector:
    """Gauges computed at scrape time from the database and the cache."""

    def collect(self):
        now = timezone.now()
        key_age = GaugeMetricFamily(
            "authserver_active_key_age_seconds", "Age of the active signing key", labels=["alg"]
        )
        for key in SigningKey.objects.filter(state=SigningKey.State.ACTIVE):
            key_age.add_metric([key.alg], (now - key.activated_at).total_seconds())
        yield key_age

        list_age = GaugeMetricFamily(
            "authserver_revocation_list_age_seconds", "Age of the published revocation list"
        )
        snapshot = RevocationListSnapshot.objects.filter(id=1).first()
        if snapshot is not None:
            list_age.add_metric([], (now - snapshot.issued_at).total_seconds())
        yield list_age

        grants = GaugeMetricFamily(
            "authserver_active_tokens", "Unexpired, unrevoked access tokens", labels=["resource"]
        )
        for resource in Resource.objects.values_list("identifier", flat=True):
            live = AccessToken.objects.filter(
                resource=[resource], expires__gt=now, revoked_at__isnull=True
            ).count()
            grants.add_metric([resource], live)
        yield grants

        failures = GaugeMetricFamily(
            "authserver_celery_task_failures",
            "Celery task failures (since cache start)",
            labels=["task"],
        )
        for name in sorted(app.tasks):
            if name.startswith(("authserver.", "clients.")):
                try:
                    value = cache.get(f"metrics:task_failures:{name}") or 0
                except Exception:
                    value = 0
                failures.add_metric([name], value)
        yield failures


def observe_latency(endpoint: str, seconds: float) -> None:
    if endpoint != "other":
        LATENCY.labels(endpoint).observe(seconds)


class MetricsMiddleware:
    """Latency per endpoint, and the OAuth error each error response answers with, as the
    error writer recorded it on the response (authserver.errors.writer.error_code_of):
    no response body or ``Location`` header is read."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        endpoint = endpoint_of(request.path)
        observe_latency(endpoint, time.perf_counter() - start)
        error = error_code_of(response)
        if error and endpoint != "other":
            oauth_error(endpoint, error)
        return response


_collector_registered = False


def _registry() -> CollectorRegistry:
    global _collector_registered
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(SharedStateCollector())
        return registry
    if not _collector_registered:
        REGISTRY.register(SharedStateCollector())
        _collector_registered = True
    return REGISTRY


def allowed(request: HttpRequest) -> bool:
    """METRICS_TOKEN as a Bearer token (constant time), or an address in
    METRICS_ALLOWED_NETWORKS, but only when no proxy is trusted: behind a proxy every
    caller arrives from the proxy's (often loopback) address, so the allow-list would admit
    the whole internet, and the forwarded address is only as good as the proxy config."""
    token = settings.CONFIG.metrics_token
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].encode(), token.encode())
    if client_address.behind_proxy():
        return False  # fail closed: TRUSTED_PROXY_COUNT > 0 needs METRICS_TOKEN
    try:
        address = ipaddress.ip_address(client_address.client_ip(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n) for n in settings.CONFIG.metrics_networks)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse(status=404)  # do not even confirm it exists
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
