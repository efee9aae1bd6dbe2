"""The two reads a redemption needs, as single raw SELECTs returning plain values.

A code or refresh token is found by its SHA-256, with what the grant checks (its user's
state, the access token a refresh token came with) joined in one round trip. Raw SQL: the
ORM spent more time compiling these queries than PostgreSQL spent answering them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import connection

from authserver.token_endpoint import sql as statements
from authserver.token_hash import token_hash


def _resource(value) -> list[str]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _plain(row: tuple, family: int) -> list:
    """Raw rows as PostgreSQL returns them, whatever the database: SQLite (the embedded
    default) gives naive UTC datetimes, and the family UUID as 32 hex characters."""
    values = [
        v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for v in row  # USE_TZ: stored in UTC
    ]
    if isinstance(values[family], str):
        values[family] = UUID(hex=values[family])
    return values


@dataclass(frozen=True)
class CodeRow:
    pk: int
    application_id: int
    user_pk: int | None
    user_active: bool
    expires: datetime
    redirect_uri: str
    scope: str
    code_challenge: str
    resource: list[str]
    token_family: UUID
    auth_time: datetime | None
    consumed_at: datetime | None
    authorization_details: list | None  # RFC 9396: what the user approved


@dataclass(frozen=True)
class RefreshRow:
    pk: int
    application_id: int
    user_pk: int | None
    user_active: bool
    revoked: datetime | None
    absolute_expires: datetime | None
    token_family: UUID | None
    resource: list[str]
    jkt: str
    access_expires: datetime | None  # None: its access token is gone
    access_scope: str
    access_auth_time: datetime | None
    access_authorization_details: list | None  # RFC 9396: the ceiling for a refresh


def user_table() -> str:
    return connection.ops.quote_name(get_user_model()._meta.db_table)


def find_code(code: str, client_pk: int) -> CodeRow | None:
    """The code issued to this client (authserver.authorization.validators stores its SHA-256)."""
    # The only interpolation is the quoted name of the user model's table.
    sql = (
        "SELECT g.id, g.application_id, g.user_id, COALESCE(u.is_active, false), g.expires, "  # noqa: S608
        "g.redirect_uri, g.scope, g.code_challenge, g.resource, g.token_family, g.auth_time, "
        f"g.consumed_at, g.authorization_details FROM authserver_grant g "
        f"LEFT JOIN {user_table()} u ON u.id = g.user_id "
        "WHERE g.code = %s AND g.application_id = %s"
    )
    row = statements.fetchone(sql, [token_hash(code), client_pk])
    if row is None:
        return None
    row = _plain(row, family=9)
    return CodeRow(*row[:8], _resource(row[8]), *row[9:12], _json(row[12]))


def find_refresh_token(value: str) -> RefreshRow | None:
    """Unique per (checksum, revoked): the live row first, if there is one."""
    sql = (
        "SELECT rt.id, rt.application_id, rt.user_id, COALESCE(u.is_active, false), "  # noqa: S608
        "rt.revoked, rt.absolute_expires, rt.token_family, rt.resource, rt.jkt, at.expires, "
        "COALESCE(at.scope, ''), at.auth_time, at.authorization_details "
        "FROM authserver_refreshtoken rt "
        "LEFT JOIN authserver_accesstoken at ON at.id = rt.access_token_id "
        f"LEFT JOIN {user_table()} u ON u.id = rt.user_id "
        "WHERE rt.token_checksum = %s ORDER BY rt.revoked DESC NULLS FIRST LIMIT 1"
    )
    row = statements.fetchone(sql, [token_hash(value)])
    if row is None:
        return None
    row = _plain(row, family=6)
    return RefreshRow(*row[:7], _resource(row[7]), *row[8:12], _json(row[12]))
