"""RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1): one use per refresh token, reuse revokes.

Within the reuse grace window (REFRESH_TOKEN_GRACE_SECONDS) a rotated refresh token may be
presented again by its client, as a client refreshing twice in parallel or retrying a lost
answer does: it gets a sibling of the successor, which the family's next rotation supersedes
(authserver.token_endpoint.families). After the window, after any later rotation in the
family, or with a superseded sibling, the presentation is reuse and revokes the family.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from authserver import tool_grants
from authserver.errors import InvalidGrant, InvalidRequest
from authserver.models import AccessToken, RefreshToken
from authserver.protocol import scopes
from authserver.revocation import service as revocation
from authserver.token_endpoint import families, grant_types, lookups
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants.base import Grant, refresh_wanted, register
from authserver.token_endpoint.params import TokenRequest

log = logging.getLogger("authserver.token_endpoint")


def grace_since(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.CONFIG.refresh_token_grace)


@dataclass(frozen=True)
class RotateRefreshToken:
    """Claim the rotation, deciding on the family's locked row: a live token of the current
    generation rotates; the token that opened it, within the grace window, gets a sibling
    (also when it was live on lookup and a parallel refresh rotated it since). Anything else
    writes nothing, and the writer then revokes the family. A failed issuance rolls the
    claim back, so the same refresh token works on retry."""

    pk: int
    family: UUID | None
    live: bool  # not rotated when looked up
    gate = True
    refused = "refresh token already used"
    replay = "refresh_reuse"  # OAuth 2.1 §4.3.1: reuse revokes the family

    def since(self, now: datetime) -> datetime:
        # No family (rows older than families): no sibling, only a live token rotates.
        return grace_since(now) if self.family is not None else now

    def apply(self, *, now: datetime) -> None:
        if self.family is not None:
            outcome = families.rotate_in_transaction(
                self.family,
                self.pk,
                live=self.live,
                now=now,
                grace_since=self.since(now),
                expires=now + timedelta(seconds=settings.CONFIG.refresh_token_lifetime),
            )
            if outcome is None:
                raise InvalidGrant(self.refused)
            if outcome == families.SIBLING and self.live:
                # Rotated in parallel since the lookup: the access token about to be written
                # links to this refresh token too; the link is one-to-one (DOT), so the
                # sibling's token takes it over.
                AccessToken.objects.filter(source_refresh_token_id=self.pk).update(
                    source_refresh_token=None
                )
        claimable = Q(revoked__isnull=True) | Q(revoked__gt=self.since(now))
        if not RefreshToken.objects.filter(claimable, pk=self.pk).update(
            revoked=Coalesce("revoked", Value(now)), updated=now
        ):
            raise InvalidGrant(self.refused)

    def sql(self, *, now: datetime) -> tuple[str, dict]:
        return (
            "UPDATE authserver_refreshtoken SET revoked = COALESCE(revoked, %(claim_now)s), "
            "updated = %(claim_now)s WHERE id = %(claim_pk)s "
            "AND (revoked IS NULL OR revoked > %(fam_grace_since)s)",
            {
                "claim_now": now,
                "claim_pk": self.pk,
                "fam_rt": self.pk,
                "fam_live": self.live,
                "fam_grace_since": self.since(now),
            },
        )


@register
class RefreshTokenGrant(Grant):
    grant_type = grant_types.REFRESH_TOKEN

    def allowed(self, client) -> bool:
        return client.allows_grant_type(grant_types.TO_DOT[self.grant_type])

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        value = req.get("refresh_token")
        if not value:
            raise InvalidRequest("missing refresh_token")
        rt = lookups.find_refresh_token(value) if len(value) <= 512 else None
        if rt is None or rt.application_id != client.pk:
            raise InvalidGrant("invalid refresh token")
        live = rt.revoked is None
        if not live or families.refused_before_writing(rt.token_family, rt.pk):
            self.refuse_reuse(rt, now=now)
        if rt.absolute_expires is not None and now >= rt.absolute_expires:
            raise InvalidGrant("refresh token expired")
        idle = timedelta(seconds=settings.CONFIG.refresh_token_idle_lifetime)
        if rt.access_expires is None or rt.access_expires + idle <= now:
            raise InvalidGrant("refresh token expired")
        if rt.user_pk is None or not rt.user_active:
            raise InvalidGrant("the user of this refresh token is no longer active")
        resource = self.bound_resource(rt.resource, req.resources)
        # RFC 9449 §5: a bound refresh token needs a proof with the same key.
        jkt = self.dpop_key(req, resource, bound=rt.jkt)
        # RFC 6749 §6: narrower or equal to what was granted, never wider.
        granted = scopes.narrow(scopes.parse_scope(req.get("scope")), rt.access_scope.split())
        granted = self.group_policy(rt.user_pk, resource, granted)
        # Only narrower tool grants; today's policy applies (a change reaches refreshed tokens).
        details = self.tool_details(
            req,
            resource,
            granted,
            client=client,
            user=self.user_of(rt.user_pk),
            # RFC 9396 §6.1: at most what was approved; a grant from before the server had
            # tools gets none of those registered since (tool_grants.stored_ceiling).
            ceiling=tool_grants.stored_ceiling(rt.access_authorization_details, resource),
        )
        return Binding(
            grant_type=self.grant_type,
            client=client,
            resource=resource,
            scopes=tuple(granted),
            user_pk=rt.user_pk,
            family=rt.token_family,
            auth_time=rt.access_auth_time,
            jkt=jkt or rt.jkt,
            authorization_details=details,
            claim=RotateRefreshToken(rt.pk, rt.token_family, live=live),
            issue_refresh_token=refresh_wanted(client, resource, granted),
            refresh_absolute_expires=rt.absolute_expires,
            # A sibling's access token is not linked (the link is one-to-one, DOT's).
            previous_refresh_pk=rt.pk if live else None,
            audit_kind="token.refreshed",
            audit_detail=() if live else (("sibling_of", rt.pk),),
        )

    @staticmethod
    def refuse_reuse(rt: lookups.RefreshRow, *, now: datetime) -> None:
        """A rotated (or revoked, or superseded) refresh token: a sibling within the grace
        window, if it opened its family's current generation; otherwise reuse."""
        since = grace_since(now)
        if (
            rt.revoked is not None
            and rt.revoked > since
            and families.may_have_sibling(rt.token_family, rt.pk, grace_since=since)
        ):
            # A client refreshing twice in parallel, or retrying an answer it lost.
            log.info("refresh token re-presented within grace; family %s", rt.token_family)
            return
        # OAuth 2.1 §4.3.1: reuse of a rotated-out refresh token revokes the family.
        log.warning("refresh token reuse detected; revoking family %s", rt.token_family)
        revocation.revoke_family_on_replay(rt.token_family, now=now, reason="refresh_reuse")
        raise InvalidGrant("invalid refresh token")
