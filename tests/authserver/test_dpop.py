"""DPoP (RFC 9449): sender-constrained tokens at the token endpoint and in the verifier."""

from __future__ import annotations

import base64
import dataclasses
import json
import time

import pytest
from jwcrypto import jwk

from authserver.models import AccessToken, RefreshToken, TokenExchangePolicy
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE as EXCHANGE
from mcp_token_verifier import TokenError, TokenVerifier
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.oauthflow import REDIRECT, get_code
from tests.support.dpop import TOKEN_URL, cc, proof
from tests.support.inprocess import ISSUER, django_fetch
from tests.support.jwt import claims_of

pytestmark = pytest.mark.django_db
MCP_CALL = "https://mcp.example.com/mcp"


def verifier(**kwargs) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, resource=MCP, fetch=django_fetch, **kwargs)


def test_token_request_with_a_proof_issues_a_dpop_bound_token(client, machine, key):
    response = cc(client, machine, proof(key, "POST", TOKEN_URL))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.thumbprint()}
    assert AccessToken.objects.get().jkt == key.thumbprint()


@pytest.mark.parametrize(
    "bad",
    [
        {"htu": "https://elsewhere.example/token"},
        {"htm": "GET"},
        {"iat": int(time.time()) - 3600},
        {"header": {"typ": "JWT"}},
    ],
)
def test_bad_proofs_at_the_token_endpoint_are_invalid_dpop_proof(client, machine, key, bad):
    htm = bad.pop("htm", "POST")
    htu = bad.pop("htu", TOKEN_URL)
    response = cc(client, machine, proof(key, htm, htu, **bad))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def test_proof_with_a_private_key_in_its_header_is_refused(client, machine, key):
    leaked = proof(key, "POST", TOKEN_URL, header={"jwk": json.loads(key.export_private())})
    assert cc(client, machine, leaked).json()["error"] == "invalid_dpop_proof"


def test_replayed_proof_at_the_token_endpoint_is_refused(client, machine, key):
    once = proof(key, "POST", TOKEN_URL)
    assert cc(client, machine, once).status_code == 200
    assert cc(client, machine, once).json()["error"] == "invalid_dpop_proof"


def test_resource_requiring_dpop_refuses_bearer_requests(client, machine, resource):
    resource.require_dpop = True
    resource.save()
    response = cc(client, machine)
    assert response.json()["error"] == "invalid_dpop_proof"


def test_server_nonce_is_demanded_when_configured(client, machine, key, settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, dpop_nonce_required=True)
    first = cc(client, machine, proof(key, "POST", TOKEN_URL))
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first["DPoP-Nonce"]
    second = cc(client, machine, proof(key, "POST", TOKEN_URL, nonce=nonce))
    assert second.status_code == 200


def test_metadata_lists_dpop_algorithms(client):
    doc = client.get("/.well-known/oauth-authorization-server").json()
    assert "ES256" in doc["dpop_signing_alg_values_supported"]


# --- the verifier ------------------------------------------------------------------------------


@pytest.fixture
def bound_token(client, machine, key):
    return cc(client, machine, proof(key, "POST", TOKEN_URL)).json()["access_token"]


def test_verifier_accepts_a_dpop_token_with_its_proof(bound_token, key):
    p = proof(key, "POST", MCP_CALL, token=bound_token)
    claims = verifier().verify(bound_token, dpop_proof=p, http_method="POST", http_uri=MCP_CALL)
    assert claims["cnf"]["jkt"] == key.thumbprint()


def test_verifier_refuses_a_dpop_token_without_its_proof(bound_token):
    with pytest.raises(TokenError) as err:
        verifier().verify(bound_token, http_method="POST", http_uri=MCP_CALL)
    assert err.value.error == "invalid_dpop_proof"


@pytest.mark.parametrize(
    "case", ["other key", "other url", "other method", "stale", "other token", "replay"]
)
def test_verifier_refuses_wrong_proofs(bound_token, key, case):
    v = verifier()
    signer, htm, htu, token, extra = key, "POST", MCP_CALL, bound_token, {}
    if case == "other key":
        signer = jwk.JWK.generate(kty="EC", crv="P-256")
    elif case == "other url":
        htu = "https://mcp.example.com/other"
    elif case == "other method":
        htm = "GET"
    elif case == "stale":
        extra = {"iat": int(time.time()) - 600}
    elif case == "other token":
        token = bound_token + "x"
    p = proof(signer, htm, htu, token=token, **extra)
    if case == "replay":
        v.verify(bound_token, dpop_proof=p, http_method="POST", http_uri=MCP_CALL)
    with pytest.raises(TokenError) as err:
        v.verify(bound_token, dpop_proof=p, http_method="POST", http_uri=MCP_CALL)
    assert err.value.error == "invalid_dpop_proof"


def test_verifier_requiring_dpop_refuses_bearer_tokens(client, machine):
    bearer = cc(client, machine).json()["access_token"]
    with pytest.raises(TokenError):
        verifier(require_dpop=True).verify(bearer, http_method="POST", http_uri=MCP_CALL)


# --- refresh tokens of public clients are bound too ----------------------------------------------


def test_bound_refresh_token_is_useless_without_its_key(client, user, resource, key):
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    client.force_login(user)
    code, verifier_, _ = get_code(client, app.client_id, resource=MCP, scope="offline_access")
    tokens = client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier_,
            "redirect_uri": REDIRECT,
            "client_id": app.client_id,
        },
        HTTP_DPOP=proof(key, "POST", TOKEN_URL),
    ).json()
    assert tokens["token_type"] == "DPoP"
    assert RefreshToken.objects.get().jkt == key.thumbprint()

    def refresh(dpop=None):
        extra = {"HTTP_DPOP": dpop} if dpop else {}
        return client.post(
            "/token",
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": app.client_id,
            },
            **extra,
        )

    assert refresh().json()["error"] == "invalid_dpop_proof"
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    assert refresh(proof(other, "POST", TOKEN_URL)).json()["error"] == "invalid_dpop_proof"
    good = refresh(proof(key, "POST", TOKEN_URL))
    assert good.status_code == 200
    assert good.json()["token_type"] == "DPoP"


def test_non_ascii_nonce_is_refused_not_a_server_error():
    # A client-chosen nonce with non-ASCII characters once reached compare_digest as str.
    from authserver.dpop import nonce_is_valid

    assert nonce_is_valid("nonce-\u00e9\u00e8", time.time()) is False


# --- token exchange of a DPoP-bound subject token (docs/protocol.md) ---------------------


@pytest.fixture
def gateway(resource):
    target = make_resource(OTHER_MCP)
    gw, secret = make_client(name="gateway", grant_types=(EXCHANGE,))
    TokenExchangePolicy.objects.create(
        client=gw, source=resource, target=target, scope="tools:read"
    )
    return "Basic " + base64.b64encode(f"{gw.client_id}:{secret}".encode()).decode(), target


def exchange_for_other(client, gateway, subject: str, dpop: str | None = None):
    auth, _ = gateway
    extra = {"HTTP_DPOP": dpop} if dpop else {}
    data = {
        "grant_type": EXCHANGE,
        "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "resource": OTHER_MCP,
    }
    return client.post("/token", data, HTTP_AUTHORIZATION=auth, **extra)


def test_exchanging_a_dpop_bound_token_gives_bearer_where_nothing_requires_dpop(
    client, bound_token, gateway
):
    # The documented rule: the gateway cannot prove the client's key, so it cannot keep it.
    body = exchange_for_other(client, gateway, bound_token).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in claims_of(body["access_token"])


@pytest.mark.parametrize("where", ["source", "target"])
def test_dpop_bound_token_exchanged_for_bearer_is_refused_when_exchange_must_stay_bound(
    client, bound_token, gateway, resource, key, where
):
    flagged = resource if where == "source" else gateway[1]
    flagged.require_sender_constrained_exchange = True
    flagged.save()
    refused = exchange_for_other(client, gateway, bound_token)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert "sender-constrained" in refused.json()["error_description"]
    # With the gateway's own proof, the exchanged token is bound to the gateway's key.
    own = jwk.JWK.generate(kty="EC", crv="P-256")
    body = exchange_for_other(client, gateway, bound_token, proof(own, "POST", TOKEN_URL)).json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"]["jkt"] == own.thumbprint()
    assert claims_of(body["access_token"])["cnf"]["jkt"] != key.thumbprint()


def test_bearer_subject_token_is_exchanged_as_before_when_exchange_must_stay_bound(
    client, machine, gateway
):
    gateway[1].require_sender_constrained_exchange = True
    gateway[1].save()
    bearer = cc(client, machine).json()["access_token"]
    assert exchange_for_other(client, gateway, bearer).json()["token_type"] == "Bearer"
