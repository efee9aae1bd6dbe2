"""A trivial JSON view, the same view plus one jwcrypto ES256 signature (an at+jwt), and
plus one signature on the one JWS path (``cryptography`` directly, as our server signs:
the honest floor for the token cases; jwcrypto's costs 4-6x as much)."""

from __future__ import annotations

import secrets
import time

from django.http import HttpRequest, JsonResponse
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode
from mcp_token_verifier.jws_sign import Signer

_KEY = jwk.JWK.generate(kty="EC", crv="P-256")
_KID = _KEY.thumbprint()
_SIGNER = Signer(_KEY, alg="ES256", kid=_KID)


def floor(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def _claims() -> dict:
    now = int(time.time())
    return {
        "iss": "http://127.0.0.1",
        "sub": "bench",
        "aud": "https://mcp.bench.example/mcp",
        "client_id": "bench",
        "scope": "tools:read",
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(16),
    }


def floor_sign(request: HttpRequest) -> JsonResponse:
    token = jws.JWS(json_encode(_claims()))
    token.add_signature(_KEY, None, json_encode({"alg": "ES256", "kid": _KID, "typ": "at+jwt"}))
    return JsonResponse(
        {"access_token": token.serialize(compact=True), "token_type": "Bearer", "expires_in": 300}
    )


def floor_sign_raw(request: HttpRequest) -> JsonResponse:
    token = _SIGNER.sign(_claims(), typ="at+jwt")
    return JsonResponse({"access_token": token, "token_type": "Bearer", "expires_in": 300})
