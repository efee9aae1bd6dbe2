"""DPoP (RFC 9449) helpers: a proof, a client-credentials request that may carry one, and the
fixtures they use (``key``, ``resource``, ``machine``; import them into the test module)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic
from tests.support.inprocess import ISSUER

TOKEN_URL = f"{ISSUER}/token"


def proof(key: jwk.JWK, htm: str, htu: str, *, token: str | None = None, **overrides) -> str:
    claims = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time())}
    if token is not None:
        digest = hashlib.sha256(token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())}
    header.update(overrides.pop("header", {}))
    claims.update(overrides)
    signed = jws.JWS(json_encode(claims).encode())
    signed.add_signature(key, alg=header["alg"], protected=json_encode(header))
    return signed.serialize(compact=True)


@pytest.fixture
def key():
    return jwk.JWK.generate(kty="EC", crv="P-256")


@pytest.fixture
def resource():
    return make_resource()


@pytest.fixture
def machine(resource):
    return make_client(access={resource: "tools:read"})


def cc(client, machine, dpop: str | None = None, **data):
    c, secret = machine
    extra = {"HTTP_DPOP": dpop} if dpop else {}
    return client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, **data},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
        **extra,
    )
