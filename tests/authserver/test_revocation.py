"""Revocation that sticks: RFC 7009, the signed revocation list, cut-offs, the audit trail."""

from __future__ import annotations

import base64
import io
import json
import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from jwcrypto import jwk, jws

from authserver import audit
from authserver.keys import keyring as keys
from authserver.models import AccessToken, AuditEvent, RefreshToken
from authserver.revocation import service as revocation
from mcp_token_verifier import TokenError, TokenVerifier
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code
from tests.support.inprocess import ISSUER, django_fetch

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now().timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    return client


@pytest.fixture
def resource():
    return make_resource()


@pytest.fixture
def tokens(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="offline_access")
    return exchange(signed_in, app.client_id, code, verifier).json()


def revoke(client, app, token, hint=None):
    data = {"token": token, "client_id": app.client_id}
    if hint:
        data["token_type_hint"] = hint
    return client.post("/revoke", data)


def verifier(clock, **kwargs) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER,
        resource=MCP,
        fetch=django_fetch,
        clock=clock,
        revocation_list_uri=f"{ISSUER}/revocations",
        **kwargs,
    )


def published_list(client) -> dict:
    token = client.get("/revocations").content.decode()
    parsed = jws.JWS()
    parsed.deserialize(token)
    jwks = jwk.JWKSet.from_json(json.dumps(keys.jwks_document()))
    parsed.verify(jwks.get_key(parsed.jose_header["kid"]), alg=parsed.jose_header["alg"])
    assert parsed.jose_header["typ"] == "revocation-list+jwt"
    return json.loads(parsed.payload)


# --- RFC 7009 -----------------------------------------------------------------------------


def test_public_client_revokes_its_access_token_by_client_id(signed_in, app, tokens):
    response = revoke(signed_in, app, tokens["access_token"], "access_token")
    assert response.status_code == 200
    assert AccessToken.objects.get().revoked_at is not None


def test_unknown_token_still_answers_200(signed_in, app):
    assert revoke(signed_in, app, "no-such-token").status_code == 200


def test_client_cannot_revoke_another_clients_token(signed_in, app, tokens):
    other, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
    )
    assert revoke(signed_in, other, tokens["access_token"]).status_code == 200
    assert AccessToken.objects.get().revoked_at is None


def test_revoking_a_refresh_token_revokes_its_family(signed_in, app, tokens):
    rotated = signed_in.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
        },
    ).json()
    assert revoke(signed_in, app, rotated["refresh_token"], "refresh_token").status_code == 200
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0


def test_confidential_client_with_wrong_secret_cannot_revoke(client, resource):
    machine, _ = make_client(access={resource: "tools:read"})
    auth = "Basic " + base64.b64encode(f"{machine.client_id}:wrong".encode()).decode()
    response = client.post("/revoke", {"token": "x"}, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- the signed revocation list --------------------------------------------------------------


def test_revocation_list_is_signed_with_our_jwks_and_names_revoked_jtis(signed_in, app, tokens):
    revoke(signed_in, app, tokens["access_token"])
    listed = published_list(signed_in)
    jti = AccessToken.objects.get().jti
    assert listed["jti"] == [jti]
    assert listed["iss"] == ISSUER
    assert listed["exp"] > listed["iat"]


def test_revocation_list_has_etag_and_answers_304(client):
    first = client.get("/revocations")
    assert first["Content-Type"] == "application/jwt"
    assert client.get("/revocations", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_expired_tokens_leave_the_list(signed_in, app, tokens):
    revoke(signed_in, app, tokens["access_token"])
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    from authserver.revocation import published as revocation_list

    revocation_list.publish()
    assert published_list(signed_in)["jti"] == []


def test_verifier_rejects_a_revoked_token_within_the_polling_bound(
    signed_in, app, tokens, django_capture_on_commit_callbacks
):
    clock = Clock()
    v = verifier(clock, revocation_poll_interval=5)
    assert v.verify(tokens["access_token"])["aud"] == MCP
    with django_capture_on_commit_callbacks(execute=True):  # publication runs on commit
        revoke(signed_in, app, tokens["access_token"])
    clock.now += 4.9  # inside the bound the cached list may still pass it ...
    v.verify(tokens["access_token"])
    clock.now += 0.1  # ... at the configured bound it is refused
    with pytest.raises(TokenError, match="revoked"):
        v.verify(tokens["access_token"])


def test_verifier_fails_closed_when_the_list_has_expired_and_cannot_be_refreshed(tokens):
    clock = Clock()
    failing = {"on": False}

    def fetch(url, headers):
        if failing["on"] and url.endswith("/revocations"):
            return 503, {}, b""
        return django_fetch(url, headers)

    v = TokenVerifier(
        issuer=ISSUER,
        resource=MCP,
        fetch=fetch,
        clock=clock,
        revocation_list_uri=f"{ISSUER}/revocations",
    )
    v.verify(tokens["access_token"])
    failing["on"] = True
    clock.now += 301  # past the list's exp (REVOCATION_LIST_LIFETIME 300)
    with pytest.raises(TokenError, match="unavailable"):
        v.verify(tokens["access_token"])


def test_deactivated_user_is_cut_off_everywhere(
    signed_in, app, tokens, user, django_capture_on_commit_callbacks
):
    clock = Clock()
    v = verifier(clock)
    v.verify(tokens["access_token"])
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    listed = published_list(signed_in)
    assert str(user.pk) in listed["sub_before"]
    clock.now += 5
    with pytest.raises(TokenError, match="revoked"):
        v.verify(tokens["access_token"])


def test_deleted_user_stays_cut_off_after_their_rows_are_gone(signed_in, app, tokens, user):
    pk = str(user.pk)
    get_user_model().objects.filter(pk=user.pk).first().delete()
    assert AccessToken.objects.count() == 0  # cascaded
    assert pk in published_list(signed_in)["sub_before"]


def test_compromised_key_is_named_in_the_list(signed_in, tokens):
    kid = keys.active_key().kid
    revocation.revoke_compromised_key(kid, now=timezone.now())
    assert kid in published_list(signed_in)["kid"]


def test_revoke_command_by_user(tokens, user):
    out = io.StringIO()
    call_command("revoke", user=user.username, stdout=out)
    assert json.loads(out.getvalue())["tokens_revoked"] == 1


# --- the audit trail -------------------------------------------------------------------------


def test_audit_trail_records_the_flow_without_any_token(signed_in, app, tokens):
    revoke(signed_in, app, tokens["access_token"])
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))
    assert {"token.issued", "token.revoked"} <= kinds
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    for secret in (tokens["access_token"], tokens["refresh_token"]):
        assert secret not in dump
    issued = AuditEvent.objects.get(kind="token.issued")
    assert issued.jti == AccessToken.objects.get().jti
    assert issued.resource == MCP


def test_chain_verifies_then_an_edited_row_is_found(signed_in, app, tokens):
    later = timezone.now() + timedelta(seconds=5)
    assert audit.seal_pending(now=later) >= 1
    assert audit.verify_chain().ok
    event = AuditEvent.objects.order_by("chain_index").first()
    AuditEvent.objects.filter(pk=event.pk).update(scope="everything")
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_bad_index == event.chain_index
    assert report.reason == "edited event"


def test_chain_check_finds_a_deleted_row(signed_in, app, tokens):
    revoke(signed_in, app, tokens["access_token"])
    audit.seal_pending(now=timezone.now() + timedelta(seconds=5))
    middle = AuditEvent.objects.order_by("chain_index")[1]
    AuditEvent.objects.filter(pk=middle.pk).delete()
    assert not audit.verify_chain().ok


def test_verify_audit_chain_command_exits_nonzero_on_tampering(signed_in, app, tokens):
    audit.seal_pending(now=timezone.now() + timedelta(seconds=5))
    call_command("verify_audit_chain", "--no-seal", stdout=io.StringIO())
    AuditEvent.objects.update(actor="mallory")
    with pytest.raises(Exception, match="audit chain broken"):
        call_command("verify_audit_chain", "--no-seal", stdout=io.StringIO())


def test_no_token_code_or_secret_reaches_the_logs(client, user, resource, caplog):
    caplog.set_level(logging.DEBUG)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
    )
    machine, secret = make_client(access={resource: "tools:read"})
    client.force_login(user)
    code, verifier_, _ = get_code(client, app.client_id, resource=MCP, scope="offline_access")
    issued = exchange(client, app.client_id, code, verifier_).json()
    replay = exchange(client, app.client_id, code, verifier_)  # reuse detection logs
    assert replay.status_code == 400
    auth = "Basic " + base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    cc = client.post(
        "/token", {"grant_type": "client_credentials", "resource": MCP}, HTTP_AUTHORIZATION=auth
    ).json()
    client.post("/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth + "x")
    client.post("/revoke", {"token": issued["refresh_token"], "client_id": app.client_id})
    logged = caplog.text
    assert len(caplog.records) > 0
    for value in (
        issued["access_token"],
        issued["refresh_token"],
        code,
        verifier_,
        secret,
        cc["access_token"],
        auth.split()[1],
    ):
        assert value not in logged
