"""Case (i) alone, without a server: `TokenVerifier.verify` against raw `cryptography` ES256.

The full bench (bench/run.py) measures the same ratio against a live issuer; this one serves
metadata, the JWKS and a signed revocation list (10,000 revoked jtis) through the verifier's
``fetch`` hook, so it runs in seconds and anywhere. The two loops alternate in short batches
and the fastest batch of each is compared, which evens out a shared machine's noise.

    .venv/bin/python -m bench.verifier_ratio [--rounds 60] [--batch 200]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import statistics
import time

from jwcrypto import jwk, jws

from bench.inprocess import raw_es256_parse_and_verify, raw_es256_verify

ISSUER = "https://auth.example.com"
RESOURCE = "https://mcp.example.com/mcp"


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _sign(key: jwk.JWK, claims: dict, typ: str) -> str:
    token = jws.JWS(json.dumps(claims).encode())
    header = {"alg": "ES256", "kid": key.thumbprint(), "typ": typ}
    token.add_signature(key, alg="ES256", protected=json.dumps(header))
    return token.serialize(compact=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    from mcp_token_verifier import TokenVerifier

    key = jwk.JWK.generate(kty="EC", crv="P-256")
    public = {**json.loads(key.export_public()), "kid": key.thumbprint(), "alg": "ES256"}
    now = int(time.time())
    tokens = [
        _sign(key, {"iss": ISSUER, "sub": f"user-{i}", "aud": RESOURCE, "client_id": "c",
                    "scope": "tools:read", "iat": now, "exp": now + 3600, "jti": f"t-{i}"},
              "at+jwt")
        for i in range(200)
    ]  # fmt: skip
    revoked = {"iss": ISSUER, "iat": now, "exp": now + 3600,
               "jti": [f"revoked-{i}" for i in range(10_000)]}  # fmt: skip
    documents = {
        f"{ISSUER}/.well-known/oauth-authorization-server": json.dumps(
            {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"}
        ).encode(),
        f"{ISSUER}/jwks": json.dumps({"keys": [public]}).encode(),
        f"{ISSUER}/revocations": _sign(key, revoked, "revocation-list+jwt").encode(),
    }

    def fetch(url: str, headers: dict) -> tuple[int, dict, bytes]:
        return 200, {"Cache-Control": "max-age=3600"}, documents[url]

    verifier = TokenVerifier(
        ISSUER, RESOURCE, fetch=fetch, revocation_list_uri=f"{ISSUER}/revocations"
    )
    for token in tokens:  # warm: metadata, JWKS and revocation list fetched once
        verifier.verify(token, ["tools:read"])

    verifying = itertools.cycle(tokens)
    raw_verify = raw_es256_verify(key, tokens)

    def per_call(fn, calls: int) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - started) / calls

    def verify() -> None:
        verifier.verify(next(verifying), ["tools:read"])

    # Short alternating batches; the fastest batch of each is the one least disturbed by
    # other processes, so best-vs-best is the ratio (the median per-batch ratio is shown too).
    parse_verify = raw_es256_parse_and_verify(key, tokens)
    best_verify = best_raw = best_parse = float("inf")
    ratios = []
    for _ in range(args.rounds):
        v, r = per_call(verify, args.batch), per_call(raw_verify, args.batch)
        p = per_call(parse_verify, args.batch)
        best_verify, best_raw, best_parse = (
            min(best_verify, v),
            min(best_raw, r),
            min(best_parse, p),
        )
        ratios.append(r / v)
    print(
        f"verify {best_verify * 1e6:.1f} us, raw cryptography {best_raw * 1e6:.1f} us: "
        f"ratio {best_raw / best_verify:.3f} (best of {args.rounds} batches of {args.batch}); "
        f"median batch ratio {statistics.median(ratios):.3f}; raw parse + verify "
        f"{best_parse * 1e6:.1f} us: ratio {best_parse / best_verify:.3f}"
    )


if __name__ == "__main__":
    main()
