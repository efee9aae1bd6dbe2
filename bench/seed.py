"""Bench data, written with our models (small sets) or set-based SQL (the large ones).

Needs Django set up against the bench database (bench/run.py does that).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from accounts.models import Consent
from authserver.keys import keyring as keys
from authserver.models import AccessToken, RefreshToken, Resource
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from tests.factories import make_client, make_resource

RESOURCE = "https://mcp.bench.example/mcp"
REDIRECT = "http://127.0.0.1:45678/callback"
USERNAME = "bench-user"
PASSWORD = "bench-only-password-not-a-secret-42"


@dataclass(frozen=True)
class Seeded:
    resource: str
    kid: str
    machine_id: str  # confidential, client credentials for RESOURCE
    machine_secret: str
    rs_id: str  # the resource's introspection client
    rs_secret: str
    app_id: str  # public, code flow + refresh, remembered consent for USERNAME
    app_pk: int
    user_pk: int
    machine_pk: int


def seed_base() -> Seeded:
    """A resource, a machine client, an introspecting resource server, a user with consent."""
    key = keys.active_key(now=timezone.now())
    with transaction.atomic():
        resource = make_resource(RESOURCE, name="Bench MCP server")
        machine, machine_secret = make_client(
            name="bench machine", access={resource: "tools:read tools:write"}
        )
        rs, rs_secret = make_client(name="bench MCP server (introspection)", access={})
        resource.introspection_client = rs
        resource.save()
        app, _ = make_client(
            confidential=False,
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris=REDIRECT,
            name="bench agent",
        )
        user = get_user_model().objects.create_user(username=USERNAME, password=PASSWORD)
        # A remembered consent covers the tools it was shown (re-consent when a scope grows):
        # without them every authorization would show the consent screen again.
        shown = resource.scopes.filter(name="tools:read").values_list("tools", flat=True)
        Consent.objects.create(
            user=user,
            client=app,
            resource=resource,
            scope="tools:read",
            consented_tools=sorted({tool for tools in shown for tool in tools or []}),
        )
    return Seeded(
        resource=RESOURCE,
        kid=key.kid,
        machine_id=machine.client_id,
        machine_secret=machine_secret or "",
        rs_id=rs.client_id,
        rs_secret=rs_secret or "",
        app_id=app.client_id,
        app_pk=app.pk,
        user_pk=user.pk,
        machine_pk=machine.pk,
    )


def _checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def seed_refresh_pool(seeded: Seeded, n: int) -> list[str]:
    """``n`` fresh refresh-token families, as a code exchange leaves them: an access token
    plus its refresh token, stored only as checksums. Returns the plaintext refresh tokens."""
    tokens = [secrets.token_urlsafe(32) for _ in range(n)]
    checksums = [_checksum(token) for token in tokens]
    with transaction.atomic():
        _insert_access("pool-", n, expires_in=900, seeded=seeded, user=True)
        # Row g of the pool gets checksum g (jti "pool-<g>").
        named = {**_REFRESH, "token_checksum": "(%(checksums)s::text[])[substr(at.jti, 6)::int]"}
        source = "FROM authserver_accesstoken AS at WHERE at.jti LIKE 'pool-%%'"
        sql, params = _insert_sql(RefreshToken, named, source)
        with connection.cursor() as cursor:
            cursor.execute(sql, {**params, "checksums": checksums})
    return tokens


def seed_code_pool(seeded: Seeded, n: int) -> list[str]:
    """``n`` unused authorization codes for the bench app and user (stored as SHA-256, as
    authserver.authorization.validators stores them), valid for an hour. Returns request bodies."""
    from urllib.parse import urlencode

    from authserver.models import Grant
    from authserver.protocol import pkce

    verifier = secrets.token_urlsafe(48)
    challenge = pkce.s256(verifier)
    expires = timezone.now() + timedelta(hours=1)
    codes = [secrets.token_urlsafe(24) for _ in range(n)]
    Grant.objects.bulk_create(
        [
            Grant(
                user_id=seeded.user_pk,
                application_id=seeded.app_pk,
                code=_checksum(code),
                expires=expires,
                redirect_uri=REDIRECT,
                scope="tools:read",
                code_challenge=challenge,
                code_challenge_method="S256",
                resource=[RESOURCE],
            )
            for code in codes
        ],
        batch_size=2000,
    )
    return [
        urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": seeded.app_id,
                "code_verifier": verifier,
            }
        )
        for code in codes
    ]


# Set-based inserts for the large tables. Columns follow authserver.models.AccessToken /
# RefreshToken (DOT's abstract models plus ours); token stays '' (RFC 9700 hashed storage),
# token_checksum and jti are unique per row. Columns not named here take the model's
# default, so a field added later does not break the bench.
_ACCESS = {
    "token": "''",
    "token_checksum": "md5(%(tag)s || g) || md5(g || %(tag)s)",
    "expires": "now() + %(expires_in)s * interval '1 second' - (g %% 600) * interval '1 second'",
    "scope": "'tools:read'",
    "created": "now()",
    "updated": "now()",
    "resource": "%(resource)s::jsonb",
    "jti": "%(tag)s || g",
    "kid": "%(kid)s",
    "token_family": "CASE WHEN %(family)s THEN md5(%(tag)s || 'f' || g)::uuid END",
    "revoked_at": "CASE WHEN %(revoked)s THEN now() END",
    "application_id": "%(application)s",
    "user_id": "%(user)s",
}
_REFRESH = {
    "token": "''",
    "token_checksum": "md5('rt' || at.jti) || md5(at.jti || 'rt')",
    "token_family": "at.token_family",
    "resource": "at.resource",
    "created": "now()",
    "updated": "now()",
    "absolute_expires": "now() + interval '30 days'",
    "access_token_id": "at.id",
    "application_id": "at.application_id",
    "user_id": "at.user_id",
}


def _insert_sql(model, named: dict[str, str], source: str) -> tuple[str, dict]:
    """``INSERT ... SELECT`` with ``named`` expressions plus every other NOT NULL column's
    model default (as a parameter); nullable columns are left NULL."""
    columns, values, params = list(named), list(named.values()), {}
    for field in model._meta.concrete_fields:
        if field.column in named or field.primary_key or field.null:
            continue
        default = field.get_default()  # "" for a blank text field without a default
        if default is None:
            raise RuntimeError(f"bench seed: {model.__name__}.{field.name} needs a value")
        name = f"default_{field.column}"
        params[name] = field.get_db_prep_save(default, connection)
        columns.append(field.column)
        values.append(f"%({name})s")
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}"
    return sql, params


def _insert_access(
    tag: str,
    n: int,
    *,
    expires_in: int,
    seeded: Seeded,
    user: bool = False,
    revoked: bool = False,
) -> None:
    sql, params = _insert_sql(AccessToken, _ACCESS, "FROM generate_series(1, %(n)s) AS g")
    params |= {
        "tag": tag,
        "n": n,
        "expires_in": expires_in,
        "resource": f'["{seeded.resource}"]',
        "kid": seeded.kid,
        "family": user,
        "revoked": revoked,
        "application": seeded.app_pk if user else seeded.machine_pk,
        "user": seeded.user_pk if user else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_refresh(prefix: str) -> None:
    source = "FROM authserver_accesstoken AS at WHERE at.jti LIKE %(prefix)s"
    sql, params = _insert_sql(RefreshToken, _REFRESH, source)
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "prefix": prefix})


def seed_revoked(seeded: Seeded, n: int = 10_000) -> None:
    """``n`` revoked access tokens that have not expired: the revocation list's entries."""
    _insert_access("revoked-", n, expires_in=3000, seeded=seeded, revoked=True)


def seed_scale(seeded: Seeded, *, expired: int, live: int) -> dict[str, int]:
    """``expired`` expired and ``live`` live token rows.

    Expired: access tokens of the machine client (no refresh token), plus 5% user families
    (access + refresh token) idle for longer than REFRESH_TOKEN_IDLE_LIFETIME, so the cleanup
    must remove both tables' rows. Live: half access tokens, half their refresh tokens.
    """
    families = expired // 20 // 2  # access + refresh rows each
    with transaction.atomic():
        _insert_access("exp-", expired - 2 * families, expires_in=-86400, seeded=seeded)
        _insert_access("expfam-", families, expires_in=-9 * 86400, seeded=seeded, user=True)
        _insert_access("live-", live // 2, expires_in=3000, seeded=seeded, user=True)
        _insert_refresh("expfam-%")
        _insert_refresh("live-%")
    # What an operator does after a bulk load. Without the VACUUM, autovacuum's insert-driven
    # pass over the fresh million rows (and the first readers setting hint bits) ran during
    # the measurement and halved it; a table that grows by issuing tokens never sees that.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) authserver_accesstoken")
        cursor.execute("VACUUM (ANALYZE) authserver_refreshtoken")
    return table_counts()


# The scale seed's rows by their jti ("exp-<n>", "expfam-<n>", "live-<n>"), matched whole:
# a token the server issues has a random jti (secrets.token_urlsafe), which now and then
# begins with "exp" (one in 262,144) and was counted as a seeded row left behind.
SEEDED_EXPIRED = r"^(exp|expfam)-[0-9]+$"
SEEDED_FAMILY = r"^expfam-[0-9]+$"
SEEDED_LIVE = r"^live-[0-9]+$"


def table_counts() -> dict[str, int]:
    """Rows per kind. Of the seeded expired access tokens, ``scale_expired_access_kept`` are
    kept by rule (a refresh token still points at them: authserver.ops.cleanup keeps those
    while the refresh token stays); the rest, and any seeded refresh token (every seeded
    family is over), are what a cleanup wrongly left."""
    now = timezone.now()
    expired = AccessToken.objects.filter(jti__regex=SEEDED_EXPIRED)
    return {
        "access_tokens": AccessToken.objects.count(),
        "access_tokens_expired": AccessToken.objects.filter(expires__lt=now).count(),
        "refresh_tokens": RefreshToken.objects.count(),
        "scale_expired_access": expired.count(),
        "scale_expired_access_kept": expired.filter(refresh_token__isnull=False).count(),
        "scale_expired_refresh": RefreshToken.objects.filter(
            access_token__jti__regex=SEEDED_FAMILY
        ).count(),
        "scale_live_access": AccessToken.objects.filter(jti__regex=SEEDED_LIVE).count(),
        "scale_live_refresh": RefreshToken.objects.filter(
            access_token__jti__regex=SEEDED_LIVE
        ).count(),
    }


def resource_pk() -> int:
    return Resource.objects.get(identifier=RESOURCE).pk
