"""Keys, token minting and a fake issuer for the token-verifier tests (no Django, no DB)."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass, field

from jwcrypto import jwk, jws

from mcp_token_verifier import TokenVerifier

ISSUER = "http://127.0.0.1:8000"
RESOURCE = "https://mcp.example.com/mcp"
METADATA_URL = f"{ISSUER}/.well-known/oauth-authorization-server"
JWKS_URL = f"{ISSUER}/oauth/jwks/"
NOW = 1_800_000_000.0
ALGS = ("ES256", "RS256", "EdDSA")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate(alg: str) -> jwk.JWK:
    if alg == "ES256":
        return jwk.JWK.generate(kty="EC", crv="P-256")
    if alg == "RS256":
        return jwk.JWK.generate(kty="RSA", size=2048)
    if alg == "EdDSA":
        return jwk.JWK.generate(kty="OKP", crv="Ed25519")
    raise ValueError(alg)


@functools.cache
def signing_key(alg: str) -> jwk.JWK:
    """One key per algorithm for the whole session (RSA generation is slow)."""
    return generate(alg)


def public_jwk(key: jwk.JWK, alg: str | None = None) -> dict:
    """As our JWKS endpoint publishes it: public members plus kid, alg, use."""
    data = json.loads(key.export_public())
    data["kid"] = key.thumbprint()
    if alg:
        data.update(alg=alg, use="sig")
    return data


def make_claims(**overrides) -> dict:
    claims = {
        "iss": ISSUER,
        "sub": "user-42",
        "aud": RESOURCE,
        "client_id": "client-7",
        "scope": "tools:read tools:write",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": "jti-1",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(
    claims: dict | bytes,
    alg: str = "ES256",
    *,
    key: jwk.JWK | None = None,
    **header_overrides,
) -> str:
    """A compact JWS over ``claims`` (or raw payload bytes); None header members are left out."""
    key = key or signing_key(alg)
    header = {"alg": alg, "kid": key.thumbprint(), "typ": "at+jwt", **header_overrides}
    header = {name: value for name, value in header.items() if value is not None}
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    token = jws.JWS(payload)
    token.add_signature(key, alg=alg, protected=json.dumps(header))
    return token.serialize(compact=True)


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    """A token assembled by hand, for headers jwcrypto would refuse to sign."""
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64url(p) for p in parts), b64url(signature)])


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeIssuer:
    """Serves RFC 8414 metadata and a JWKS through the verifier's ``fetch`` hook."""

    keys: list[dict] = field(default_factory=list)
    metadata_issuer: str = ISSUER
    max_age: int = 300
    down: bool = False
    requests: list[tuple[str, dict]] = field(default_factory=list)

    @classmethod
    def with_keys(cls, *algs: str, **kwargs) -> FakeIssuer:
        return cls(keys=[public_jwk(signing_key(alg), alg) for alg in algs], **kwargs)

    def publish(self, key: jwk.JWK, alg: str) -> None:
        self.keys.append(public_jwk(key, alg))

    def jwks_requests(self) -> list[dict]:
        return [headers for url, headers in self.requests if url == JWKS_URL]

    def fetch(self, url: str, headers: dict) -> tuple[int, dict, bytes]:
        self.requests.append((url, dict(headers)))
        if self.down:
            raise OSError("connection refused")
        if url == METADATA_URL:
            doc = {"issuer": self.metadata_issuer, "jwks_uri": JWKS_URL}
            return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        if url == JWKS_URL:
            body = json.dumps({"keys": self.keys}).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            response_headers = {"ETag": etag, "Cache-Control": f"public, max-age={self.max_age}"}
            if headers.get("If-None-Match") == etag:
                return 304, response_headers, b""
            return 200, response_headers, body
        return 404, {}, b"not found"


def make_verifier(issuer: FakeIssuer | None = None, **kwargs) -> TokenVerifier:
    """A verifier of ``RESOURCE`` tokens from a fake issuer (keys for ``ALGS``) on a fixed clock."""
    issuer = issuer or FakeIssuer.with_keys(*ALGS)
    kwargs.setdefault("clock", Clock())
    return TokenVerifier(ISSUER, RESOURCE, fetch=issuer.fetch, **kwargs)
