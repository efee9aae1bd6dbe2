"""RFC 8693 token exchange: a confidential client acting for resource A trades one of our
access tokens with ``aud`` A for one for resource B, where an admin configured A -> B."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from authserver import tool_grants
from authserver.errors import InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget
from authserver.models import AccessToken, TokenExchangePolicy
from authserver.protocol import scopes
from authserver.resources import registry as resources
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants import subject_token
from authserver.token_endpoint.grants.base import Grant, register
from authserver.token_endpoint.params import TokenRequest


@dataclass(frozen=True)
class AssignFamily:
    """A client-credentials subject token has no family: give it the new token's, so
    revoking the original cascades to every hop."""

    pk: int
    family: uuid.UUID
    gate = False  # not single-use: nothing to refuse
    refused = replay = ""

    def apply(self, *, now: datetime) -> None:
        AccessToken.objects.filter(pk=self.pk, token_family__isnull=True).update(
            token_family=self.family
        )

    def sql(self, *, now: datetime) -> tuple[str, dict]:
        return (
            "UPDATE authserver_accesstoken SET token_family = %(side_family)s "
            "WHERE id = %(side_pk)s AND token_family IS NULL",
            {"side_family": self.family, "side_pk": self.pk},
        )


@register
class TokenExchange(Grant):
    grant_type = subject_token.GRANT_TYPE

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        subject_token.check_parameters(req)  # RFC 8693 §2.1, as every strategy checks them
        claims, row = subject_token.verify_subject_token(req.get("subject_token"), now=now)
        source = self.find_resource(resources.canonicalize(str(claims.get("aud", ""))))
        policies = {
            p.target_id: p
            for p in TokenExchangePolicy.objects.filter(client=client, source=source, enabled=True)
        }
        if not policies:
            # The subject token is not for a resource this client speaks for.
            raise InvalidGrant(
                "subject_token audience is not a resource this client may exchange from",
                detail=f"client {client.client_id}, aud {source.identifier}",
            )
        wanted = resources.requested_resources(list(req.resources))
        if len(wanted) != 1:
            raise InvalidTarget("name exactly one resource to exchange for")
        target = self.find_resource(wanted[0])
        policy = policies.get(target.pk)
        if policy is None:
            raise InvalidTarget("no exchange to this resource is configured for this client")
        # RFC 9449 §7.1: a resource requiring DPoP gets no Bearer token, exchange included.
        jkt = self.dpop_key(req, target)
        subject_token.check_sender_constraint(claims, source=source, target=target, jkt=jkt)
        allowed = [s for s in str(claims.get("scope", "")).split() if s in policy.scope.split()]
        requested = scopes.parse_scope(req.get("scope"))
        granted = scopes.narrow(requested, allowed) if requested else allowed
        if not granted:
            raise InvalidScope("the subject token carries no scope the policy allows")
        # The target's group policy binds the user an exchanged token acts for.
        granted = self.group_policy(row.user_id, target, granted)
        act = {"sub": client.client_id}
        if isinstance(claims.get("act"), dict):
            act["act"] = claims["act"]
        if subject_token.chain_depth(act) > subject_token.MAX_CHAIN:
            raise InvalidRequest("delegation chain too long")
        family = row.token_family or uuid.uuid4()
        # The target's tools: its scopes granted here ∩ its policy ∩ what is asked for, never
        # beyond what the subject token carries or its user unticked (an exchange narrows).
        ceiling = tool_grants.exchange_ceiling(
            claims, source=source, target=target, user=row.user, subject_client=row.application
        )
        details = self.tool_details(
            req, target, granted, client=client, user=row.user, ceiling=ceiling
        )
        return Binding(
            grant_type=self.grant_type,
            client=client,
            resource=target,
            scopes=tuple(granted),
            user_pk=row.user_id,
            subject=str(claims["sub"]),
            family=family,
            auth_time=row.auth_time,
            jkt=jkt,
            act_json=json.dumps(act, separators=(",", ":")),
            authorization_details=details,
            # RFC 8693 §2.2.1 leaves the lifetime to us: never outlive the subject token.
            not_after=int(claims["exp"]),
            claim=None if row.token_family else AssignFamily(row.pk, family),
            audit_kind="token.exchanged",
            audit_detail=(("subject_jti", claims.get("jti", "")), ("act", act)),
            response_extras=(("issued_token_type", subject_token.ACCESS_TOKEN_TYPE),),
        )
