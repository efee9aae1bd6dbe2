"""The registration floor: what any RFC 7591 registration must do, and nothing else.

The bare floor view has no database, so it is not the reference for (f): a registration
parses a JSON body and writes one client row whose secret (our RFC 7592 registration access
token) is stored hashed. This view does exactly that: ``json.loads``, one HMAC-SHA-256, one
``INSERT`` through Django's connection into a table shaped like a client row, a 201 with the
metadata echoed. No validation, no policy, no audit, no cache generation: the gap between it
and (f) is what our registration adds (docs/performance.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse

_HASH_KEY = secrets.token_bytes(32)
TABLE = "bench_floor_client"
CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    client_id varchar(100) NOT NULL UNIQUE,
    token_hash varchar(128) NOT NULL,
    metadata jsonb NOT NULL,
    created timestamptz NOT NULL
)
"""
INSERT = (
    f"INSERT INTO {TABLE} (client_id, token_hash, metadata, created) "  # noqa: S608
    "VALUES (%s, %s, %s, now())"
)


_created: set[str] = set()


def create_once(create: str, lock_key: int) -> None:
    """``create`` (a ``CREATE TABLE IF NOT EXISTS``) once per worker, on its first request
    (the bench's warm-up), so the floor views that need no table never touch the database;
    the advisory lock keeps workers from racing on ``CREATE TABLE IF NOT EXISTS``, which is
    not safe under concurrency in PostgreSQL."""
    if create in _created:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
        cursor.execute(create)
    _created.add(create)


def ensure_table() -> None:
    create_once(CREATE, 7591)


def floor_register(request: HttpRequest) -> JsonResponse:
    ensure_table()
    try:
        metadata = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "invalid_client_metadata"}, status=400)
    if not isinstance(metadata, dict):
        return JsonResponse({"error": "invalid_client_metadata"}, status=400)
    client_id = secrets.token_urlsafe(24)
    token = secrets.token_urlsafe(32)
    digest = hmac.new(_HASH_KEY, token.encode(), hashlib.sha256).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [client_id, digest, json.dumps(metadata)])
    body = {
        **metadata,
        "client_id": client_id,
        "client_id_issued_at": int(time.time()),
        "registration_access_token": token,
    }
    return JsonResponse(body, status=201)
