"""Helpers that drive the authorization code flow like an MCP client would."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from jwcrypto import jwk, jws

from authserver.keys import keyring as keys

REDIRECT = "http://127.0.0.1:45678/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def authorize_url(client_id: str, *, resource: str | None, scope: str = "", **extra) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st-" + secrets.token_hex(4),
        **extra,
    }
    if scope:
        params["scope"] = scope
    if resource is not None:
        params["resource"] = resource
    return "/authorize?" + urlencode(params)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def consent_request_id(response) -> str:
    html = response.content.decode()
    marker = 'name="request_id" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def get_code(client, client_id: str, *, resource: str, scope: str = "", allow: bool = True):
    """Authorize (answering the consent screen if shown); returns (code, verifier, query)."""
    verifier, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            client_id,
            resource=resource,
            scope=scope,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    if response.status_code == 200:
        answer = {"request_id": consent_request_id(response)}
        answer["allow" if allow else "deny"] = "1"
        response = client.post("/authorize", answer)
    assert response.status_code == 302, response.content[:500]
    query = query_of(response["Location"])
    return query.get("code"), verifier, query


def exchange(client, client_id: str, code: str, verifier: str, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
        **extra,
    }
    return client.post("/token", data)


def refresh(client, client_id: str, refresh_token: str, **extra):
    return client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            **extra,
        },
    )


def claims_of(token: str) -> dict:
    parsed = jws.JWS()
    parsed.deserialize(token)
    jwks = jwk.JWKSet.from_json(json.dumps(keys.jwks_document()))
    parsed.verify(jwks.get_key(parsed.jose_header["kid"]), alg=parsed.jose_header["alg"])
    return json.loads(parsed.payload)
