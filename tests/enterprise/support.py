"""A small issuer on loopback HTTP for tests: it holds its own signing key, serves its JWKS
(``/jwks.json``, counting fetches) and, as an enterprise IdP, issues ID-JAGs at ``/token``
(the RFC 8693 leg-1 exchange of SEP-990, reduced to what tests need)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
_kids = itertools.count(1)


def new_key(kty: str = "EC", **params) -> jwk.JWK:
    kid = f"k{next(_kids)}"
    if kty == "RSA":
        return jwk.JWK.generate(kty="RSA", size=params.get("size", 2048), kid=kid)
    if kty == "oct":
        return jwk.JWK.generate(kty="oct", size=256, kid=kid)
    return jwk.JWK.generate(kty="EC", crv="P-256", kid=kid)


def alg_for(key: jwk.JWK) -> str:
    return {"EC": "ES256", "RSA": "RS256", "oct": "HS256"}[key["kty"]]


def sign(claims: dict, key: jwk.JWK, *, alg: str | None = None, **header) -> str:
    protected = {"alg": alg or alg_for(key), "kid": key["kid"], **header}
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(key, alg=protected["alg"], protected=json_encode(protected))
    return token.serialize(compact=True)


def public_jwks(*keys: jwk.JWK) -> dict:
    return {"keys": [json.loads(k.export_public()) for k in keys]}


class LoopbackIssuer:
    """An issuer at http://127.0.0.1:<port>; ``jwks`` is what it publishes (changeable)."""

    def __init__(self, key: jwk.JWK | None = None, *, max_age: int = 300) -> None:
        self.key = key or new_key()
        self.jwks = public_jwks(self.key)
        self.max_age = max_age
        self.jwks_fetches = 0
        self.issued: list[dict] = []
        self.default_claims: dict = {}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                issuer.jwks_fetches += 1
                self.reply(issuer.jwks, {"Cache-Control": f"max-age={issuer.max_age}"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if self.path != "/token" or form.get("requested_token_type") != ID_JAG_TYPE:
                    self.send_error(400)
                    return
                token = issuer.id_jag(
                    subject=form["subject_token"],  # the signed-in employee, simplified
                    audience=form["audience"],
                    client_id=form["client_id"],
                    resource=form["resource"],
                    scope=form.get("scope"),
                )
                self.reply(
                    {"access_token": token, "issued_token_type": ID_JAG_TYPE, "token_type": "N_A"}
                )

            def reply(self, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.jwks_uri = f"{self.url}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, claims: dict, **header) -> str:
        return sign(claims, self.key, **header)

    def claims(self, *, now: float | None = None, lifetime: int = 300, **claims) -> dict:
        now = time.time() if now is None else now
        base = {
            "iss": self.url,
            "iat": int(now),
            "exp": int(now) + lifetime,
            "jti": str(uuid.uuid4()),
        }
        return {**base, **self.default_claims, **claims}

    def id_jag(self, *, subject, audience, client_id, resource, scope=None, **over) -> str:
        """ID-JAG draft §3: typ oauth-id-jag+jwt; iss, sub, aud, client_id, resource, jti,
        exp, iat, optional scope."""
        claims = self.claims(
            sub=subject, aud=audience, client_id=client_id, resource=resource, **over
        )
        if scope is not None:
            claims["scope"] = scope
        self.issued.append(claims)
        return self.sign(claims, typ="oauth-id-jag+jwt")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
