"""Prometheus metrics per decision (on /metrics with the rest, authserver.ops.metrics)."""

from prometheus_client import Counter, Histogram

DECISIONS = Counter(
    "authserver_authzen_decisions_total",
    "AuthZEN access decisions by outcome and reason code",
    ["decision", "code"],
)
DECISION_SECONDS = Histogram(
    "authserver_authzen_decision_seconds",
    "Time to decide one AuthZEN evaluation",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
