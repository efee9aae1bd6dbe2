"""Metadata documents that cannot be fetched (this test machine has no internet access, like
an air-gapped server): the failure is diagnosed, logged and audited, and the pinned
documents of known clients stand in (clients/cimd_fetch.py, clients/pinned.py)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from authserver.models import AuditEvent
from clients import cimd_fetch, pinned
from clients.models import Client
from tests.factories import MCP, make_resource
from tests.oauthflow import pkce_pair

pytestmark = pytest.mark.django_db

CODEX = "https://chatgpt.com/oauth/codex/client.json"
CLAUDE_CODE = "https://claude.ai/oauth/claude-code-client-metadata"
COPILOT_CLI = "https://github.com/copilot/cli/client-metadata.json"


def authorize(http, client_id: str, redirect_uri: str):
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": MCP,
        "scope": "tools:read",
    }
    return http.get("/authorize?" + urlencode(query))


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        (CODEX, "http://127.0.0.1:40861/callback"),
        (CLAUDE_CODE, "http://localhost:58135/callback"),
        (COPILOT_CLI, "http://127.0.0.1:35503/"),
    ],
)
def test_known_client_is_accepted_from_its_pinned_document_when_its_host_is_unreachable(
    signed_in, client_id, redirect_uri
):
    """Codex, Claude Code and Copilot prefer CIMD; without internet access their documents
    cannot be fetched and every authorization failed with "Invalid client_id"."""
    make_resource()
    response = authorize(signed_in, client_id, redirect_uri)
    assert response.status_code == 200, response.content[:300]  # the consent screen
    client = Client.objects.get(client_id=client_id)
    assert client.registration_source == Client.RegistrationSource.CIMD
    failure = AuditEvent.objects.get(kind="client.metadata_fetch_failed", client_id=client_id)
    assert failure.detail["stage"] == "dns"


def test_unreachable_unpinned_document_is_diagnosed_logged_and_audited(signed_in, caplog):
    make_resource()
    url = "https://tools.unreachable.invalid/oauth/client.json"
    with caplog.at_level(logging.WARNING, logger="clients.cimd"):
        response = authorize(signed_in, url, "http://127.0.0.1:5000/callback")
    assert response.status_code == 400
    assert not Client.objects.filter(client_id=url).exists()
    event = AuditEvent.objects.get(kind="client.metadata_fetch_failed", client_id=url)
    assert event.detail["host"] == "tools.unreachable.invalid"
    assert event.detail["stage"] == "dns"
    assert "host=tools.unreachable.invalid stage=dns" in caplog.text
    diagnosis = cimd_fetch.last_failure(url)
    assert diagnosis is not None
    assert "cannot resolve the host" in diagnosis.message


@pytest.mark.parametrize(
    ("message", "stage"),
    [
        ("could not resolve client_id host: [Errno -2] Name or service not known", "dns"),
        ("client_id host resolves to a non-public address (10.0.0.1)", "address"),
        ("could not fetch client_id document: SSLError(certificate verify failed)", "tls"),
        ("could not fetch client_id document: ConnectTimeoutError(timed out)", "timeout"),
        ("could not fetch client_id document: NewConnectionError(refused)", "connect"),
        ("client_id document returned HTTP 403", "status"),
        ("client_id document is not JSON (Content-Type: 'text/html')", "content_type"),
        ("client_id document exceeds the maximum allowed size", "size"),
        ("client_id document is not valid JSON", "json"),
    ],
)
def test_each_failure_is_sorted_into_a_stage_an_operator_can_act_on(message, stage):
    diagnosis = cimd_fetch.diagnose("https://h.example/c.json", Exception(message))
    assert (diagnosis.stage, diagnosis.host) == (stage, "h.example")


def test_operator_pin_replaces_a_shipped_seed(settings, tmp_path):
    import dataclasses

    settings.CONFIG = dataclasses.replace(settings.CONFIG, var_dir=tmp_path)
    folder = tmp_path / "cimd-pinned"
    folder.mkdir()
    mine = {**pinned.lookup(CODEX), "redirect_uris": ["http://127.0.0.1/cb"]}
    (folder / "codex.json").write_text(json.dumps(mine))
    assert pinned.lookup(CODEX)["redirect_uris"] == ["http://127.0.0.1/cb"]
    (folder / "broken.json").write_text("{not json")
    assert pinned.lookup(CLAUDE_CODE) is not None  # a broken file is skipped, not fatal


def test_every_shipped_seed_passes_the_document_rules():
    from clients.cimd import validate_document

    seeds = pinned._documents(pinned.SEEDS)
    assert set(seeds) == {CODEX, CLAUDE_CODE, COPILOT_CLI}
    for client_id, document in seeds.items():
        validate_document(client_id, document)
