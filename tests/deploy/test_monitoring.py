"""deploy/monitoring: the alert rules pass promtool's checks and unit tests, the Grafana
dashboard is well-formed and only queries metrics the server really exports, and the Compose
file provisions both."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.utils import timezone
from prometheus_client import REGISTRY

from authserver.introspection.service import introspect_row, lookup
from authserver.models import AccessToken
from tests.factories import make_client, make_resource

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "authserver.json"
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "delta", "max", "min", "histogram_quantile", "le", "up",
    "without", "on", "avg", "count",
}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: make test installs Debian's 'prometheus' package as root"
    return subprocess.run([tool, *args], cwd=MONITORING, capture_output=True, text=True)


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_on_bursts_reuse_floods_list_lag_and_overdue_keys():
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_does_reject_a_broken_rule(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("groups: [{name: x, rules: [{alert: A, expr: 'sum(rate(x[5m])'}]}]\n")
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_alerts_cover_what_operators_must_hear_about():
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {
        "ClientAuthenticationFailureBurst",
        "RefreshTokenReuseDetected",
        "RegistrationFlood",
        "IntrospectionAudienceMismatch",
        "RevocationListPublicationLag",
        "SigningKeyRotationOverdue",
    } <= names


def metric_names_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', "", expr)
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\bby \([^)]*\)", "", without_strings)
    return {w for w in re.findall(r"[a-z_][a-z0-9_]*", without_labels) if w not in PROMQL_WORDS}


@pytest.fixture
def exported_metrics(client, db) -> set[str]:
    """Every series name the real /metrics serves (counters and histograms with suffixes)."""
    resource = make_resource()
    machine, secret = make_client(access={resource: "tools:read"})
    auth = base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    client.post("/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {auth}")
    assert AccessToken.objects.exists()
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    names = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", body, re.M):
        name, kind = match.groups()
        names.add(name)
        if kind == "counter":
            names.add(f"{name}_total")
        if kind == "histogram":
            names.update(f"{name}_{s}" for s in ("bucket", "count", "sum"))
    return names


def security_events(event: str) -> float:
    return REGISTRY.get_sample_value("authserver_security_events_total", {"event": event}) or 0


def test_audience_mismatch_and_failed_client_authentication_are_counted(client, db):
    resource = make_resource()
    machine, secret = make_client(access={resource: "tools:read"})
    auth = base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    token = client.post(
        "/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {auth}"
    ).json()["access_token"]
    before = security_events("introspection_audience_mismatch")
    other = {"https://other.example.com/mcp"}
    _generation, row = lookup(token)
    now = timezone.now()
    assert introspect_row(row, audiences=frozenset(other), issuer="x", now=now) == {"active": False}
    assert security_events("introspection_audience_mismatch") == before + 1
    mine = frozenset({resource.identifier})
    assert introspect_row(row, audiences=mine, issuer="x", now=now)["active"] is True
    assert security_events("introspection_audience_mismatch") == before + 1

    before = security_events("client_auth_failed")
    wrong = base64.b64encode(f"{machine.client_id}:nope".encode()).decode()
    client.post("/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {wrong}")
    assert security_events("client_auth_failed") == before + 1


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_dashboard_queries_only_metrics_the_server_exports(exported_metrics):
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = set().union(*(metric_names_in(e) for e in exprs))
    assert "authserver_security_events_total" in used
    assert used <= exported_metrics


def test_dashboard_panels_fit_the_grid_without_overlapping():
    board = dashboard()
    assert board["uid"] == "mcp-authserver"
    assert isinstance(board["schemaVersion"], int)
    cells: set[tuple[int, int]] = set()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"]["uid"] == "prometheus"
        assert panel["targets"], panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_compose_provisions_prometheus_with_the_rules_and_grafana_with_the_dashboard():
    compose = yaml.safe_load((MONITORING.parent / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    prometheus = " ".join(services["prometheus"]["volumes"])
    assert "../monitoring/alerts.yml:/etc/prometheus/alerts.yml" in prometheus
    assert "metrics_token" in services["prometheus"]["secrets"]
    grafana = " ".join(services["grafana"]["volumes"])
    assert "../monitoring/grafana/provisioning:/etc/grafana/provisioning" in grafana
    assert "../monitoring/grafana/dashboards:/var/lib/grafana/dashboards" in grafana
    datasource = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["uid"] == "prometheus"
    scrape = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert "web" in services["web"]["environment"]["ALLOWED_HOSTS"]
    result = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
