"""In-process measurements of single primitives, each beside its reference in the same run
and reported as CPU per call (``time.process_time``), which moves far less than wall time
on a shared machine:

- signing: one ES256 access token through the one JWS path's ``Signer`` against jwcrypto's
  ``JWS.add_signature`` (what ``keys.sign`` used before), same header and claims;
- fast path: one replayed JWKS 200 and 304 (``FastDocumentsApp``) against one request to a
  bare Django view through Django's own WSGI handler (the floor's stack, in-process);
- revocation list: bytes per revoked token, and what the verifier pays for one new list
  (signature, JSON, the set) at 10,000 and 100,000 revoked tokens.
"""

from __future__ import annotations

import io
import secrets
import time
import tracemalloc

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

CLAIMS = {
    "iss": "http://127.0.0.1:8000",
    "sub": "client:bench-machine",
    "aud": "https://mcp.example.com/mcp",
    "client_id": "bench-machine-client-id",
    "scope": "tools:read",
    "iat": 1_800_000_000,
    "exp": 1_800_000_300,
    "jti": "abcdefghijklmnopqrstuv",
}


def cpu_us(call, *, n: int, rounds: int = 3) -> float:
    """Best of ``rounds``: CPU microseconds per call."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            call()
        best = min(best, (time.process_time() - started) / n * 1e6)
    return round(best, 2)


def signing_case(n: int) -> dict:
    from mcp_token_verifier.jws_sign import Signer

    key = jwk.JWK.generate(kty="EC", crv="P-256")
    kid = key.thumbprint()
    signer = Signer(key, alg="ES256", kid=kid)
    header = json_encode({"alg": "ES256", "kid": kid, "typ": "at+jwt"})

    def reference() -> str:
        token = jws.JWS(json_encode(CLAIMS).encode())
        token.add_signature(key, alg="ES256", protected=header)
        return token.serialize(compact=True)

    ours = cpu_us(lambda: signer.sign(CLAIMS, typ="at+jwt"), n=n)
    theirs = cpu_us(reference, n=n)
    return {
        "title": "ES256 access token signature, CPU us per token",
        "one_jws_path_us": ours,
        "jwcrypto_jws_us": theirs,
        "speedup": round(theirs / ours, 2),
    }


def fastpath_case(n: int) -> dict:
    """Needs Django set up (settings only: the documents are cached by hand)."""
    from authserver.ops import fastpath, localcache
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import JsonResponse
    from django.test.utils import override_settings
    from django.urls import path

    body = b'{"keys":[{"kty":"EC","crv":"P-256","x":"' + b"x" * 43 + b'","y":"'
    body += b"y" * 43 + b'","kid":"' + b"k" * 43 + b'","alg":"ES256","use":"sig"}]}'
    etag = '"' + "0" * 32 + '"'
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "public, max-age=3600"),
        ("ETag", etag),
        ("Access-Control-Allow-Origin", "*"),
        ("X-Content-Type-Options", "nosniff"),
        ("Vary", "Origin"),
    ]
    jwks_path = "/.well-known/jwks.json"
    app = fastpath.FastDocumentsApp(None)  # never falls through: the copy stays live
    localcache._entries[("fastpath", jwks_path)] = (
        time.monotonic() + 3600,
        fastpath.document(200, body, headers),
    )

    def start_response(status, response_headers, exc_info=None):
        return None

    def environ(target: str, **extra) -> dict:
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": target,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": io.StringIO(),
            **extra,
        }

    plain, revalidate = environ(jwks_path), environ(jwks_path, HTTP_IF_NONE_MATCH=etag)
    ours_200 = cpu_us(lambda: app(plain, start_response), n=n)
    ours_304 = cpu_us(lambda: app(revalidate, start_response), n=n)
    localcache.clear("fastpath")

    # The floor's stack: Django's WSGI handler, no middleware, one JSON view.
    urlconf = type("FloorUrls", (), {"urlpatterns": [path("floor", lambda r: JsonResponse({}))]})
    with override_settings(MIDDLEWARE=[], ROOT_URLCONF=urlconf, ALLOWED_HOSTS=["*"]):
        handler = WSGIHandler()
        floor_env = environ("/floor")
        floor = cpu_us(lambda: b"".join(handler(dict(floor_env), start_response)), n=n // 4)
    return {
        "title": "JWKS replay (WSGI fast path) vs a bare Django view, CPU us per request",
        "fastpath_200_us": ours_200,
        "fastpath_304_us": ours_304,
        "bare_django_view_us": floor,
        "ratio_200": round(floor / ours_200, 2),
        "ratio_304": round(floor / ours_304, 2),
    }


class _Keys:
    def __init__(self, check) -> None:
        self.check = check

    def check_for(self, alg: str, kid: str | None, header: dict):
        return self.check


def revocation_list_case(sizes: tuple[int, ...] = (10_000, 100_000)) -> list[dict]:
    """The list as the server signs it, at each size, and one verifier's cost to take it."""
    from mcp_token_verifier import jws as one_path
    from mcp_token_verifier.jws_sign import Signer
    from mcp_token_verifier.revocation import LIST_TYPE, RevocationList

    key = jwk.JWK.generate(kty="EC", crv="P-256")
    signer = Signer(key, alg="ES256", kid=key.thumbprint())
    public = jwk.JWK(**key.export_public(as_dict=True))
    keys = _Keys(one_path.signature_check(public, "ES256"))
    out = []
    for size in sizes:
        now = int(time.time())
        claims = {
            "iss": "http://127.0.0.1:8000",
            "iat": now,
            "exp": now + 60,
            # As access_token.sign_access_token makes them: token_urlsafe(16).
            "jti": sorted(secrets.token_urlsafe(16) for _ in range(size)),
            "sub_before": {},
            "client_before": {},
            "kid": [],
        }
        token = signer.sign(claims, typ=LIST_TYPE)
        verifier = RevocationList(
            "http://127.0.0.1:8000/revocations",
            issuer="http://127.0.0.1:8000",
            keys=keys,
            fetch=None,
            clock=time.time,
            algorithms=("ES256",),
        )
        rounds = 3 if size <= 10_000 else 2
        take_ms = cpu_us(lambda: verifier._verify(token, now), n=1, rounds=rounds) / 1000  # noqa: B023
        tracemalloc.start()
        held = verifier._verify(token, now)
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        out.append(
            {
                "revoked_tokens": size,
                "bytes": len(token),
                "bytes_per_revoked_token": round(len(token) / size, 1),
                "verifier_cpu_ms_per_new_list": round(take_ms, 1),
                "verifier_memory_bytes": memory,
                "verifier_memory_bytes_per_token": round(memory / size, 1),
                "jtis_held": len(held.jtis),
            }
        )
    return out
