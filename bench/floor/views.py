"""A trivial JSON view, and the same view plus one jwcrypto ES256 signature (an at+jwt)."""

from __future__ import annotations

import secrets
import time

from django.http import HttpRequest, JsonResponse
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

_KEY = jwk.JWK.generate(kty="EC", crv="P-256")
_KID = _KEY.thumbprint()


def floor(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def floor_sign(request: HttpRequest) -> JsonResponse:
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1",
        "sub": "bench",
        "aud": "https://mcp.bench.example/mcp",
        "client_id": "bench",
        "scope": "tools:read",
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(16),
    }
    token = jws.JWS(json_encode(claims))
    token.add_signature(_KEY, None, json_encode({"alg": "ES256", "kid": _KID, "typ": "at+jwt"}))
    return JsonResponse(
        {"access_token": token.serialize(compact=True), "token_type": "Bearer", "expires_in": 300}
    )
