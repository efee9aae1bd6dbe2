"""RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1): one use per refresh token, reuse revokes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from authserver.errors import InvalidGrant, InvalidRequest
from authserver.models import RefreshToken
from authserver.resources import scopes
from authserver.revocation import service as revocation
from authserver.token_endpoint import grant_types, lookups
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants.base import Grant, refresh_wanted, register
from authserver.token_endpoint.params import TokenRequest

log = logging.getLogger("authserver.token_endpoint")


@dataclass(frozen=True)
class RotateRefreshToken:
    """Claim the rotation: of concurrent refreshes with one token exactly one proceeds; the
    others fail without revoking the family (they are within the grace window). A failed
    issuance rolls the claim back, so the same refresh token works on retry."""

    pk: int
    gate = True
    refused = "refresh token already used"

    def apply(self, *, now: datetime) -> None:
        if not RefreshToken.objects.filter(pk=self.pk, revoked__isnull=True).update(
            revoked=now, updated=now
        ):
            raise InvalidGrant(self.refused)

    def sql(self, *, now: datetime) -> tuple[str, dict]:
        return (
            "UPDATE authserver_refreshtoken SET revoked = %(claim_now)s, updated = %(claim_now)s "
            "WHERE id = %(claim_pk)s AND revoked IS NULL",
            {"claim_now": now, "claim_pk": self.pk},
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
        if rt.revoked is not None:
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
            ceiling=rt.access_authorization_details,
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
            claim=RotateRefreshToken(rt.pk),
            issue_refresh_token=refresh_wanted(client, resource, granted),
            refresh_absolute_expires=rt.absolute_expires,
            previous_refresh_pk=rt.pk,
            audit_kind="token.refreshed",
        )

    @staticmethod
    def refuse_reuse(rt: lookups.RefreshRow, *, now: datetime) -> None:
        grace = timedelta(seconds=settings.CONFIG.refresh_token_grace)
        if now - rt.revoked <= grace:
            # A retry or a second process sharing the token store: refuse, but do not treat
            # it as theft (README: refresh grace window).
            log.info("refresh token re-presented within grace; family %s", rt.token_family)
            raise InvalidGrant("refresh token already used")
        # OAuth 2.1 §4.3.1: reuse of a rotated-out refresh token revokes the family.
        log.warning("refresh token reuse detected; revoking family %s", rt.token_family)
        revocation.revoke_family(rt.token_family, now=now, reason="refresh_reuse")
        raise InvalidGrant("invalid refresh token")
