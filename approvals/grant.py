"""CIBA Core §10.1 at ``/token``: ``grant_type=urn:openid:params:grant-type:ciba`` with the
``auth_req_id``. Registered into the core's grant registry from ``ApprovalsConfig.ready()``.

An approved request yields one short-lived access token whose ``authorization_details``
names exactly the approved tool, MCP server and ``arguments_digest``; the request is claimed
(``approved`` -> ``used``) in the same statement that writes the token, so a second poll, or
two racing ones, get ``invalid_grant``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from approvals import ciba, services
from approvals.models import ApprovalRequest
from authserver.errors import InvalidGrant, InvalidRequest
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants.base import Grant
from authserver.token_endpoint.params import TokenRequest
from authserver.token_hash import token_hash

TOKEN_LIFETIME = 60  # seconds: long enough for the one call it approves


@dataclass(frozen=True)
class UseApproval:
    """Claims the approved request with the token write (token_endpoint.binding.Claim)."""

    pk: object
    gate: bool = True
    refused: str = "this auth_req_id was used already"
    replay: str = ""  # continues no token family

    def apply(self, *, now: datetime) -> None:
        rows = ApprovalRequest.objects.filter(
            pk=self.pk, status=ApprovalRequest.Status.APPROVED, expires_at__gt=now
        )
        if not rows.update(status=ApprovalRequest.Status.USED, used_at=now):
            raise InvalidGrant(self.refused)

    def sql(self, *, now: datetime) -> tuple[str, dict]:
        return (
            "UPDATE approvals_approvalrequest SET status = 'used', used_at = %(approval_now)s "
            "WHERE id = %(approval_pk)s AND status = 'approved' AND expires_at > %(approval_now)s",
            {"approval_now": now, "approval_pk": self.pk},
        )


class CibaGrant(Grant):
    grant_type = ciba.GRANT_TYPE

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        auth_req_id = req.get("auth_req_id")
        if not auth_req_id:
            raise InvalidRequest("missing auth_req_id")  # CIBA Core §10.1
        approval = (
            ApprovalRequest.objects.select_related("resource", "user")
            .filter(auth_req_hash=token_hash(auth_req_id))
            .first()
        )
        # §11: an auth_req_id of another client is as unknown as a made-up one.
        if approval is None or approval.client_id != client.pk:
            raise InvalidGrant("unknown auth_req_id")
        services.poll(approval, now=now)  # raises unless approved
        if not approval.user.is_active:
            raise InvalidGrant("the user is no longer active")
        resource = self.find_resource(approval.resource.canonical)
        detail = {**approval.authorization_details[0], "approval": str(approval.pk)}
        return Binding(
            grant_type=self.grant_type,
            client=client,
            resource=resource,
            scopes=(),
            user_pk=approval.user_id,
            jkt=self.dpop_key(req, resource),
            authorization_details=json.dumps([detail], separators=(",", ":")),
            not_after=int(now.timestamp()) + TOKEN_LIFETIME,
            claim=UseApproval(approval.pk),
            audit_kind="approval.used",
            audit_detail=(
                ("approval", str(approval.pk)),
                ("tool", approval.tool),
                ("credential_id", approval.credential_id),
            ),
        )
