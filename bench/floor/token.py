"""The token floors: what any token endpoint that keeps a row per token must do, and nothing
else (docs/performance.md, "The right references").

The signature floor (``/floor-sign-raw``) writes nothing, but a token that can be revoked by
token, introspected and cut off with its family must be written down when it is issued. So:

- ``/floor-token``: parse the form, check a client secret held in memory (one SHA-256 and a
  constant-time compare), sign one at+jwt on the one JWS path, ``INSERT`` one row (the jti's
  hash, client, scope, audience, expiry) into an indexed table, answer the JSON. The floor for
  (a), and a generous one for (b) and (b2), which must also read and retire what they redeem.
- ``/floor-redeem``: the same client check, one ``SELECT`` of the presented token's row by its
  hash (a refresh or a code: the new token's claims come from it, so no server can sign
  before it has read), sign, ``INSERT`` the new row. The floor for (b) and (b2): any server
  that keeps a row per token makes these two round trips. It does not retire what it read
  (the bench presents the same token every time), so it stays generous by one UPDATE.
- ``/floor-introspect``: the same client check, hash the presented token, one ``SELECT`` by
  that hash, answer the RFC 7662 JSON. The floor for (g).

No validation, policy, audit, cache generation or client row read: the gap between a floor and
its case is what our server adds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from django.db import connection
from django.http import HttpRequest, JsonResponse

from bench.floor import register
from bench.floor.views import _SIGNER, _claims

CLIENT_ID = "bench-floor-client"
CLIENT_SECRET = "bench-floor-secret"  # the bench floor's own, known to the bench
_SECRET_HASH = hashlib.sha256(CLIENT_SECRET.encode()).digest()
TABLE = "bench_floor_token"
CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    jti_hash varchar(64) NOT NULL UNIQUE,
    client_id varchar(100) NOT NULL,
    scope text NOT NULL,
    audience text NOT NULL,
    expires timestamptz NOT NULL,
    revoked timestamptz NULL
)
"""
INSERT = (
    f"INSERT INTO {TABLE} (jti_hash, client_id, scope, audience, expires) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, to_timestamp(%s))"
)
SELECT = (
    f"SELECT client_id, scope, audience, extract(epoch from expires)::bigint, revoked "  # noqa: S608
    f"FROM {TABLE} WHERE jti_hash = %s"
)


def ensure_table() -> None:
    register.create_once(CREATE, 6749)


def _client_ok(request: HttpRequest) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return False
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    digest = hashlib.sha256(secret.encode()).digest()
    return client_id == CLIENT_ID and hmac.compare_digest(digest, _SECRET_HASH)


def _form(request: HttpRequest) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode(), keep_blank_values=True))


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _row_of(token: str) -> tuple | None:
    """The presented token's row, by its hash: (client_id, scope, audience, exp, revoked)."""
    with connection.cursor() as cursor:
        cursor.execute(SELECT, [_hash(token)])
        return cursor.fetchone()


def floor_token(request: HttpRequest) -> JsonResponse:
    ensure_table()
    form = _form(request)
    if not _client_ok(request):
        return JsonResponse({"error": "invalid_client"}, status=401)
    claims = _claims()
    claims["scope"] = form.get("scope", "")
    claims["aud"] = form.get("resource", claims["aud"])
    token = _SIGNER.sign(claims, typ="at+jwt")
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [_hash(token), CLIENT_ID, claims["scope"], json.dumps([claims["aud"]]), claims["exp"]],
        )
    return JsonResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": claims["scope"]}
    )


def floor_redeem(request: HttpRequest) -> JsonResponse:
    ensure_table()
    form = _form(request)
    if not _client_ok(request):
        return JsonResponse({"error": "invalid_client"}, status=401)
    row = _row_of(form.get("refresh_token", ""))
    if row is None or row[4] is not None:
        return JsonResponse({"error": "invalid_grant"}, status=400)
    client_id, scope, audience, _, _ = row
    claims = _claims()
    claims["scope"], claims["aud"] = scope, json.loads(audience)[0]
    token = _SIGNER.sign(claims, typ="at+jwt")
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [_hash(token), client_id, scope, audience, claims["exp"]])
    return JsonResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": scope}
    )


def floor_introspect(request: HttpRequest) -> JsonResponse:
    ensure_table()
    form = _form(request)
    if not _client_ok(request):
        return JsonResponse({"error": "invalid_client"}, status=401)
    row = _row_of(form.get("token", ""))
    if row is None or row[4] is not None:
        return JsonResponse({"active": False})
    client_id, scope, audience, exp, _ = row
    return JsonResponse(
        {"active": True, "client_id": client_id, "scope": scope, "aud": json.loads(audience),
         "exp": exp}
    )  # fmt: skip
