"""PostgreSQL: everything one issuance writes, as a single statement (atomic by itself).

``WITH`` clauses check the cache generation (hotcache), take the token family's row and
check its cut-off (authserver.token_endpoint.families: a revocation and this write never
miss each other), claim the code or refresh token (a conditional ``UPDATE``: PostgreSQL
locks the row and re-checks the condition on the latest version, so of two concurrent claims
exactly one matches), insert the access token row, the rotated refresh token row and the
audit event, and stamp the client's last use when due. Each insert selects from the step
before it: if the generation moved, the family was revoked or the claim failed, nothing at
all is written. One round trip instead of BEGIN, five statements and COMMIT.

A claim refused while the generation matched is a replay (a code redeemed twice, a refresh
token used after its successor): the family is revoked in a second statement, which sees
what the concurrent winner committed (RFC 6749 §4.1.2; OAuth 2.1 §4.3.1).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache

from django.db import connection, transaction

from authserver.models import AccessToken, AuditEvent, RefreshToken
from authserver.token_endpoint import families, sql

# Columns we always set, with their SQL expression; any other NOT NULL column a later
# migration adds gets its model default (so a new field does not break the statement).
ACCESS = {
    "user_id": "%(user_id)s",
    "source_refresh_token_id": "(SELECT id FROM src)",  # families.SOURCE*
    "token": "''",  # RFC 9700 storage: only the checksum (DOT's COMPLIANT_..._TOKEN_STORAGE)
    "token_checksum": "%(access_checksum)s",
    "application_id": "%(client_pk)s",
    "expires": "%(expires)s",
    "scope": "%(scope)s",
    "resource": "%(resource)s::jsonb",
    "created": "%(now)s",
    "updated": "%(now)s",
    "jti": "%(jti)s",
    "kid": "%(kid)s",
    "token_family": "%(family)s",
    "auth_time": "%(auth_time)s",
    "jkt": "%(jkt)s",
    "authorization_details": "%(authorization_details)s::jsonb",
}
REFRESH = {
    "user_id": "%(user_id)s",
    "token": "''",
    "token_checksum": "%(refresh_checksum)s",
    "application_id": "%(client_pk)s",
    "access_token_id": "at.id",
    "token_family": "%(refresh_family)s",
    "resource": "%(resource)s::jsonb",
    "created": "%(now)s",
    "updated": "%(now)s",
    "absolute_expires": "%(absolute_expires)s",
    "jkt": "%(jkt)s",
}
AUDIT = {
    "at": "%(now)s",
    "kind": "%(audit_kind)s",
    "actor": "%(audit_actor)s",
    "client_id": "%(client_id)s",
    "user_id": "%(audit_user)s",
    "resource": "%(resource_id)s",
    "jti": "%(jti)s",
    "family": "%(audit_family)s",
    "scope": "%(scope)s",
    "ip": "NULL",
    "detail": "%(audit_detail)s::jsonb",
    "prev_hash": "''",
    "hash": "''",
}


@cache
def insert_columns(model_label: str) -> tuple[str, str, tuple[tuple[str, object], ...]]:
    """``(columns, select list, default params)`` for one of the three tables."""
    model, named = {
        "access": (AccessToken, ACCESS),
        "refresh": (RefreshToken, REFRESH),
        "audit": (AuditEvent, AUDIT),
    }[model_label]
    fields = {f.column: f for f in model._meta.concrete_fields}
    columns, values, defaults = list(named), [], []
    for column, expression in named.items():
        # INSERT ... SELECT types its select list on its own: cast every parameter to its
        # column's type (an untyped parameter would be taken for text).
        if "%(" in expression:
            expression = f"CAST({expression} AS {fields[column].db_type(connection)})"
        values.append(expression)
    for field in model._meta.concrete_fields:
        if field.column in named or field.primary_key or field.null:
            continue
        name = f"default_{model_label}_{field.column}"
        defaults.append((name, field.get_db_prep_save(field.get_default(), connection)))
        columns.append(field.column)
        values.append(f"CAST(%({name})s AS {field.db_type(connection)})")
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    return quoted, ", ".join(values), tuple(defaults)


RESULT = (
    "SELECT (SELECT id FROM at), (SELECT count(*) FROM gen), "
    "(SELECT value FROM authserver_cachegeneration WHERE id = 1)"
)


@dataclass(frozen=True)
class Outcome:
    written: bool  # every row is in
    generation_matched: bool  # False: the cache was stale, nothing written
    generation: int | None  # the committed generation, as the statement saw it


def write(
    params: dict,
    *,
    generation: int | None,
    claim: tuple[str, dict] | None,
    side: tuple[str, dict] | None,
    with_refresh: bool,
    touch_client: bool,
    replay: str = "",
) -> Outcome:
    """Run the statement; ``claim`` and ``side`` are ``UPDATE`` texts with their parameters
    (see grants), ``replay`` what a refused ``claim`` means (binding.Claim.replay), the reason
    the family's revocation is audited under.

    Every piece of SQL text here is a constant of this module or of a grant's claim, and
    column names come from the models; values only ever travel as parameters (S608)."""
    params = {**params, "generation": generation}
    claim_params = dict(claim[1]) if claim is not None else {}
    ctes = [
        "gen AS (SELECT 1 AS ok FROM authserver_cachegeneration "
        "WHERE id = 1 AND value = %(generation)s)"
        if generation is not None
        else "gen AS (SELECT 1 AS ok)"
    ]
    family_step, source_step = families.statement_parts(params, claim_params)
    if family_step is not None:
        params["fam_expires"] = params["absolute_expires"] if with_refresh else params["expires"]
        ctes.append(family_step)
        ctes.append("gate AS (SELECT 1 AS ok FROM fam WHERE fam.ok)")
    else:
        ctes.append("gate AS (SELECT ok FROM gen)")
    ctes.append(source_step)
    if claim is not None:
        # EXISTS (gate) is a one-time filter, evaluated before the claim's row is touched:
        # the family's row is always locked before the code's or refresh token's.
        ctes.append(
            f"claimed AS ({claim[0]} AND EXISTS (SELECT 1 FROM gate) RETURNING 1 AS ok)"  # noqa: S608
        )
        params.update(claim_params)
    else:
        ctes.append("claimed AS (SELECT ok FROM gate)")
    cols, values, defaults = insert_columns("access")
    params.update(defaults)
    ctes.append(
        f"at AS (INSERT INTO authserver_accesstoken ({cols}) "  # noqa: S608
        f"SELECT {values} FROM claimed RETURNING id)"
    )
    if with_refresh:
        cols, values, defaults = insert_columns("refresh")
        params.update(defaults)
        ctes.append(
            f"rt AS (INSERT INTO authserver_refreshtoken ({cols}) SELECT {values} FROM at "  # noqa: S608
            "RETURNING id)"
        )
    cols, values, defaults = insert_columns("audit")
    params.update(defaults)
    ctes.append(f"ev AS (INSERT INTO authserver_auditevent ({cols}) SELECT {values} FROM at)")  # noqa: S608
    if touch_client:
        ctes.append(
            "touched AS (UPDATE clients_client SET last_used_at = %(now)s "
            "WHERE id = %(client_pk)s AND EXISTS (SELECT 1 FROM at))"
        )
    if side is not None:
        side_sql, side_params = side
        ctes.append(f"side AS ({side_sql} AND EXISTS (SELECT 1 FROM at))")  # noqa: S608
        params.update(side_params)
    ctes_sql = ",\n".join(ctes)
    statement = f"WITH {ctes_sql}\n{RESULT}"
    # Autocommit: the statement is its own transaction. Inside a caller's transaction (tests,
    # a management command), a savepoint keeps a failed statement from aborting it.
    scope = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with scope:
        access_id, matched, current = sql.fetchone(statement, params)
    if access_id is None and matched and claim is not None:
        families.refused(params.get("family"), now=params["now"], reason=replay or "replay")
    return Outcome(
        written=access_id is not None,
        generation_matched=bool(matched),
        generation=None if current is None else int(current),
    )


def audit_detail(detail: dict) -> str:
    return json.dumps(detail, separators=(",", ":"), default=str)
