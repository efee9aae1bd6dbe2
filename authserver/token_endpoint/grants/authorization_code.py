"""RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6, S256 only): redeem an authorization code once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings

# models.Grant: the stored authorization code (DOT's model)
from authserver import models, tool_grants
from authserver.errors import InvalidGrant, InvalidRequest
from authserver.protocol import pkce, scopes
from authserver.revocation import service as revocation
from authserver.token_endpoint import families, grant_types, lookups
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants.base import Grant, refresh_wanted, register
from authserver.token_endpoint.params import TokenRequest

log = logging.getLogger("authserver.token_endpoint")


@dataclass(frozen=True)
class ConsumeCode:
    """Single use, race-free: of two concurrent redemptions one updates the row, the other
    (blocked on its lock until the first commits) matches nothing (RFC 6749 §4.1.2;
    OAuth 2.1 §4.1.3), and the writer then revokes what the first issued. A failed issuance
    rolls the update back: the code stays usable. The code's family must not be revoked."""

    pk: int
    family: UUID
    gate = True
    refused = "authorization code already used"
    replay = "code_replay"  # RFC 6749 §4.1.2: revoke what the first redemption issued

    def apply(self, *, now: datetime) -> None:
        lifetime = timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
        if not families.join_in_transaction(self.family, expires=now + lifetime):
            raise InvalidGrant(self.refused)
        if not models.Grant.objects.filter(pk=self.pk, consumed_at__isnull=True).update(
            consumed_at=now
        ):
            raise InvalidGrant(self.refused)

    def sql(self, *, now: datetime) -> tuple[str, dict]:
        return (
            "UPDATE authserver_grant SET consumed_at = %(claim_now)s "
            "WHERE id = %(claim_pk)s AND consumed_at IS NULL",
            {"claim_now": now, "claim_pk": self.pk},
        )


@register
class AuthorizationCode(Grant):
    grant_type = grant_types.AUTHORIZATION_CODE

    def allowed(self, client) -> bool:
        return client.allows_grant_type(grant_types.TO_DOT[self.grant_type])

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        code = req.get("code")
        if not code:
            raise InvalidRequest("missing code")
        if len(code) > 512:
            raise InvalidGrant("invalid authorization code")
        grant = lookups.find_code(code, client.pk)
        if grant is None:
            raise InvalidGrant("invalid authorization code")
        if grant.consumed_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
            log.warning("authorization code replayed; revoking family %s", grant.token_family)
            revocation.revoke_family_on_replay(grant.token_family, now=now, reason="code_replay")
            raise InvalidGrant("invalid authorization code")
        if grant.expires <= now:
            raise InvalidGrant("authorization code expired")
        # RFC 6749 §4.1.3: redirect_uri identical to the authorization request's.
        redirect_uri = req.get("redirect_uri")
        if redirect_uri is None:
            raise InvalidRequest("missing redirect_uri")
        if redirect_uri != grant.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the authorization request")
        # RFC 7636 §4.6 (S256 only, OAuth 2.1 §4.1.1); compared in constant time.
        verifier = req.get("code_verifier")
        if not verifier:
            raise InvalidRequest("missing code_verifier")
        if not pkce.verify_s256(verifier, grant.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge")
        if grant.user_pk is None or not grant.user_active:
            raise InvalidGrant("the user of this code is no longer active")
        resource = self.bound_resource(grant.resource, req.resources)
        jkt = self.dpop_key(req, resource)
        granted = scopes.narrow(scopes.parse_scope(req.get("scope")), grant.scope.split())
        granted = self.group_policy(grant.user_pk, resource, granted)
        details = self.tool_details(
            req,
            resource,
            granted,
            client=client,
            user=self.user_of(grant.user_pk),
            # RFC 9396 §6.1: at most what was approved; a grant from before the server had
            # tools gets none of those registered since (tool_grants.stored_ceiling).
            ceiling=tool_grants.stored_ceiling(grant.authorization_details, resource),
        )
        return Binding(
            grant_type=self.grant_type,
            client=client,
            resource=resource,
            scopes=tuple(granted),
            user_pk=grant.user_pk,
            family=grant.token_family,
            auth_time=grant.auth_time,
            jkt=jkt,
            authorization_details=details,
            claim=ConsumeCode(grant.pk, grant.token_family),
            issue_refresh_token=refresh_wanted(client, resource, granted),
        )
