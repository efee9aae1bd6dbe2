"""Refresh rotation, the reuse grace window and reuse detection, through ``POST /token``.

Runs on PostgreSQL with the suite, and on the embedded default (SQLite) through
tests/authserver/test_embedded_refresh.py. Parallel presentations are in test_races.py.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from authserver.models import AccessToken, AuditEvent, RefreshToken, Resource
from authserver.models.tokens import TokenFamily
from authserver.revocation import service as revocation
from authserver.token_endpoint import lookups
from authserver.token_endpoint.grants.authorization_code import ConsumeCode
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    make_resource()
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    return client


@pytest.fixture
def tokens(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="offline_access")
    return exchange(signed_in, app.client_id, code, verifier).json()


def live() -> tuple[int, int]:
    return (
        RefreshToken.objects.filter(revoked__isnull=True).count(),
        AccessToken.objects.filter(revoked_at__isnull=True).count(),
    )


def test_refresh_rotates_and_the_old_token_is_marked_used(client, app, tokens):
    body = refresh(client, app.client_id, tokens["refresh_token"]).json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert live() == (1, 2)
    assert refresh(client, app.client_id, body["refresh_token"]).status_code == 200


def test_second_presentation_within_the_grace_window_gets_a_working_sibling(client, app, tokens):
    first = refresh(client, app.client_id, tokens["refresh_token"]).json()
    second = refresh(client, app.client_id, tokens["refresh_token"]).json()
    assert second["refresh_token"] not in (first["refresh_token"], tokens["refresh_token"])
    assert second["access_token"] != first["access_token"]
    assert live() == (2, 3)
    # The sibling works: its rotation supersedes the first successor.
    assert refresh(client, app.client_id, second["refresh_token"]).status_code == 200


def test_sibling_superseded_by_the_next_rotation_is_reuse_and_revokes_the_family(
    client, app, tokens
):
    first = refresh(client, app.client_id, tokens["refresh_token"]).json()
    second = refresh(client, app.client_id, tokens["refresh_token"]).json()
    third = refresh(client, app.client_id, first["refresh_token"]).json()
    replay = refresh(client, app.client_id, second["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    assert live() == (0, 0)
    assert refresh(client, app.client_id, third["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )


def test_replay_after_the_successor_was_used_is_reuse_even_within_the_window(client, app, tokens):
    first = refresh(client, app.client_id, tokens["refresh_token"]).json()
    refresh(client, app.client_id, first["refresh_token"])
    replay = refresh(client, app.client_id, tokens["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    assert live() == (0, 0)


def test_replay_after_the_grace_window_is_reuse_and_revokes_the_family(
    client, app, tokens, settings
):
    refresh(client, app.client_id, tokens["refresh_token"])
    RefreshToken.objects.exclude(revoked=None).update(
        revoked=timezone.now() - timedelta(seconds=settings.CONFIG.refresh_token_grace + 1)
    )
    TokenFamily.objects.update(
        rotated_at=timezone.now() - timedelta(seconds=settings.CONFIG.refresh_token_grace + 1)
    )
    assert refresh(client, app.client_id, tokens["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )
    assert live() == (0, 0)


def test_no_grace_window_when_it_is_set_to_zero(client, app, tokens, settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, refresh_token_grace=0)
    refresh(client, app.client_id, tokens["refresh_token"])
    assert refresh(client, app.client_id, tokens["refresh_token"]).status_code == 400
    assert live() == (0, 0)


def test_another_client_presenting_the_token_gets_no_sibling(client, app, tokens):
    other, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
    )
    refresh(client, app.client_id, tokens["refresh_token"])
    stolen = refresh(client, other.client_id, tokens["refresh_token"])
    assert stolen.json()["error"] == "invalid_grant"
    assert RefreshToken.objects.filter(application=other).count() == 0


def test_no_sibling_once_the_family_is_revoked(client, app, tokens):
    refresh(client, app.client_id, tokens["refresh_token"])
    family = RefreshToken.objects.first().token_family
    revocation.revoke_family(family, now=timezone.now())
    assert refresh(client, app.client_id, tokens["refresh_token"]).status_code == 400
    assert live() == (0, 0)


def test_no_sibling_once_the_user_revoked_the_app(client, app, tokens, user):
    refresh(client, app.client_id, tokens["refresh_token"])
    resource = Resource.objects.get(identifier=MCP)
    revocation.revoke_user_client_resource(user, app, resource, now=timezone.now())
    assert refresh(client, app.client_id, tokens["refresh_token"]).status_code == 400
    assert live() == (0, 0)


def test_second_redemption_of_a_code_revokes_what_the_first_issued(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="offline_access")
    first = exchange(signed_in, app.client_id, code, verifier).json()
    assert exchange(signed_in, app.client_id, code, verifier).json()["error"] == "invalid_grant"
    assert live() == (0, 0)
    assert refresh(signed_in, app.client_id, first["refresh_token"]).status_code == 400


def test_code_redeemed_concurrently_is_revoked_under_the_claims_replay_reason(
    signed_in, app, monkeypatch
):
    """The writer's own refusal: a second redemption that read the code unused (as one racing
    the first does, before it committed) is refused by the claim, and the family is revoked
    under the claim's ``replay`` attribute, by the PostgreSQL statement and by the SQLite
    transaction alike."""
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="offline_access")
    first = exchange(signed_in, app.client_id, code, verifier).json()
    read = lookups.find_code
    monkeypatch.setattr(
        lookups, "find_code", lambda *a: dataclasses.replace(read(*a), consumed_at=None)
    )
    monkeypatch.setattr(ConsumeCode, "replay", "code_replay_seen_by_the_writer")
    assert exchange(signed_in, app.client_id, code, verifier).json()["error"] == "invalid_grant"
    assert live() == (0, 0)
    assert refresh(signed_in, app.client_id, first["refresh_token"]).status_code == 400
    revoked = AuditEvent.objects.filter(kind="tokens.revoked")
    assert list(revoked.values_list("actor", flat=True)) == ["code_replay_seen_by_the_writer"]


def test_introspection_answers_on_the_embedded_default_instead_of_failing(client, app, tokens):
    """SQLite hands raw SELECTs naive datetimes: /introspect compared them with an aware
    ``now`` and answered 500 for every token on the embedded default."""
    rs, secret = make_client(name="mcp server")
    Resource.objects.filter(identifier=MCP).update(introspection_client=rs)
    auth = "Basic " + base64.b64encode(f"{rs.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/introspect", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200
    assert response.json()["active"] is True
