"""Token families: the cut-off every write into a family checks, and the rotation state.

A family is everything issued from one authorization code (or one exchanged subject):
its access tokens, its refresh tokens, one after the other. Its row
(authserver.models.tokens.TokenFamily) is the one place where writes into the family and
revocations of it meet:

* Every write that continues a family takes that row first, with ``INSERT ... ON CONFLICT
  DO UPDATE ... WHERE revoked_at IS NULL``: PostgreSQL locks the row and decides on its
  latest committed version, whatever the statement's snapshot, so a write never slips past
  a revocation that committed while it waited. (A plain check would read the snapshot the
  statement started with.)
* Every revocation takes the row first too, in its own statement, then marks the tokens in
  later statements, which see what a write it waited for has committed. So neither order
  leaves a token of a revoked family alive.
* Rotation (OAuth 2.1 §4.3.1): the refresh token ``rotated_from`` opened the current
  generation, the family's refresh tokens with ``id >= floor``. Presented again within the
  reuse grace window (REFRESH_TOKEN_GRACE_SECONDS) by its client, it gets a sibling in that
  generation; any rotation raises ``floor``, so the next one supersedes every sibling.
  Anything else (a token of an older generation, the window over) is reuse, and the
  family is revoked.

On PostgreSQL these are fragments of the token writer's single statement
(authserver.token_endpoint.writer); elsewhere (SQLite, where ``transaction_mode =
IMMEDIATE`` serialises every writing transaction) the same decisions through the ORM inside
the issuing transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import Max

from authserver.models import RefreshToken
from authserver.models.tokens import TokenFamily
from authserver.revocation import service as revocation

log = logging.getLogger("authserver.token_endpoint")

# Any write that continues a family (code redemption, token exchange): the family must not
# be revoked. A new family gets its row here.
JOIN = (
    "fam AS (INSERT INTO authserver_tokenfamily AS tf (id, floor, expires_at) "
    "SELECT %(family)s, 0, %(fam_expires)s FROM gen "
    "ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(tf.expires_at, EXCLUDED.expires_at) "
    "WHERE tf.revoked_at IS NULL RETURNING true AS ok)"
)

# A refresh (parameters from RotateRefreshToken.sql): either a rotation, the presented
# token being of the current generation (``fam_live``: it was not rotated when looked up),
# which opens a new generation; or a sibling, the presented token having opened the current
# generation within the grace window. A family seen for the first time (created before this
# table) is rotated only from a live token. Everything is decided on the locked row.
FRESH = "(%(fam_live)s AND %(fam_rt)s >= tf.floor)"
ROTATE = (
    "fam AS (INSERT INTO authserver_tokenfamily AS tf "  # noqa: S608 (constants only)
    "(id, rotated_from, rotated_at, floor, expires_at) "
    "SELECT %(family)s, CASE WHEN %(fam_live)s THEN %(fam_rt)s END, %(now)s, "
    "nextval(pg_get_serial_sequence('authserver_refreshtoken', 'id')), %(fam_expires)s "
    "FROM gen ON CONFLICT (id) DO UPDATE SET "
    f"rotated_from = CASE WHEN {FRESH} THEN EXCLUDED.rotated_from ELSE tf.rotated_from END, "
    f"rotated_at = CASE WHEN {FRESH} THEN EXCLUDED.rotated_at ELSE tf.rotated_at END, "
    # nextval here, not in the proposed row: evaluated once the row is locked, so it is above
    # every refresh token a write this one waited for inserted.
    f"floor = CASE WHEN {FRESH} "
    "THEN nextval(pg_get_serial_sequence('authserver_refreshtoken', 'id')) ELSE tf.floor END, "
    "expires_at = GREATEST(tf.expires_at, EXCLUDED.expires_at) "
    f"WHERE tf.revoked_at IS NULL AND ({FRESH} OR "
    "(tf.rotated_from = %(fam_rt)s AND tf.rotated_at > %(fam_grace_since)s)) "
    "RETURNING tf.revoked_at IS NULL AND tf.rotated_from IS NOT NULL AS ok, "
    "tf.rotated_at = %(now)s AS fresh)"
)

# The access token's link to the refresh token it was minted from (DOT's one-to-one
# ``source_refresh_token``): only the rotation itself links; a sibling's token does not.
SOURCE = "src AS (SELECT CAST(%(previous_refresh_id)s AS bigint) AS id)"
SOURCE_OF_ROTATION = (
    "src AS (SELECT CASE WHEN fam.fresh THEN CAST(%(previous_refresh_id)s AS bigint) END AS id "
    "FROM fam)"
)


def statement_parts(params: dict, claim_params: dict) -> tuple[str | None, str]:
    """The ``fam`` step of the writer's statement (None for a write outside any family) and
    its ``src`` step."""
    if params.get("family") is None:
        return None, SOURCE
    if "fam_rt" in claim_params:
        return ROTATE, SOURCE_OF_ROTATION
    return JOIN, SOURCE


def refused(family: UUID | None, *, now: datetime, reason: str) -> None:
    """A gating claim matched nothing while the cache was current: the code was redeemed or
    the refresh token rotated by someone else first (or the family was revoked). RFC 6749
    §4.1.2 and OAuth 2.1 §4.3.1: revoke what was issued from it. Runs after the refused
    statement, so it sees what a concurrent redemption committed."""
    if family is None:
        return
    log.warning("%s; revoking family %s", reason.replace("_", " "), family)
    revocation.revoke_family_on_replay(family, now=now, reason=reason)


# --- the same decisions through the ORM (inside the issuing transaction) --------------------


def join_in_transaction(family: UUID, *, expires: datetime) -> bool:
    row = TokenFamily.objects.select_for_update().filter(pk=family).first()
    if row is None:
        TokenFamily.objects.create(id=family, expires_at=expires)
        return True
    if row.revoked_at is not None:
        return False
    if row.expires_at < expires:
        TokenFamily.objects.filter(pk=family).update(expires_at=expires)
    return True


def next_refresh_id() -> int:
    """Above every refresh token id so far (SQLite serialises writers; ids are never reused
    with AUTOINCREMENT)."""
    return (RefreshToken.objects.aggregate(top=Max("id"))["top"] or 0) + 1


ROTATION, SIBLING = "rotation", "sibling"


def rotate_in_transaction(
    family: UUID, rt_pk: int, *, live: bool, now: datetime, grace_since: datetime, expires
) -> str | None:
    """ROTATION, SIBLING, or None when the family refuses (revoked, or reuse)."""
    row = TokenFamily.objects.select_for_update().filter(pk=family).first()
    if row is None:
        TokenFamily.objects.create(
            id=family,
            rotated_from=rt_pk if live else None,
            rotated_at=now,
            floor=next_refresh_id(),
            expires_at=expires,
        )
        return ROTATION if live else None
    if row.revoked_at is not None:
        return None
    if live and rt_pk >= row.floor:
        TokenFamily.objects.filter(pk=family).update(
            rotated_from=rt_pk, rotated_at=now, floor=next_refresh_id()
        )
        return ROTATION
    if row.rotated_from == rt_pk and row.rotated_at > grace_since:
        return SIBLING
    return None


def refused_before_writing(family: UUID | None, rt_pk: int) -> bool:
    """Without the single statement (SQLite), a refusal inside the issuing transaction rolls
    back with it, revocation included; so a live refresh token the family has superseded is
    recognised before it. (PostgreSQL decides in the statement and revokes after it.)"""
    if family is None or connection.vendor == "postgresql":
        return False
    return TokenFamily.objects.filter(pk=family, floor__gt=rt_pk).exists()


def may_have_sibling(family: UUID | None, rt_pk: int, *, grace_since: datetime) -> bool:
    """Whether ``rt_pk``, already rotated, opened its family's current generation within the
    grace window (read before issuing; the write decides again on the locked row)."""
    if family is None:
        return False
    return TokenFamily.objects.filter(
        pk=family, revoked_at__isnull=True, rotated_from=rt_pk, rotated_at__gt=grace_since
    ).exists()
