"""Writes for approvals: a request is created, shown, approved with a passkey, denied, expires,
and is used once. Each validates first, then writes with its audit event in one transaction;
the ping to the MCP server is queued on commit (approvals.tasks)."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from kombu import exceptions as kombu_errors

from approvals import ciba, tasks
from approvals.models import (
    ApprovalClient,
    ApprovalPolicy,
    ApprovalRequest,
    Method,
    Passkey,
    ToolApprovalRule,
)
from authserver import audit
from authserver.errors import InvalidGrant, InvalidRequest, UnauthorizedClient
from authserver.keys import secretbox
from authserver.loopback import is_loopback_host
from authserver.models import AccessToken
from authserver.protocol import metadata
from authserver.resources import registry as resources
from authserver.token_hash import token_hash
from authserver.tool_grants import details as tool_details

log = logging.getLogger("approvals")
Status = ApprovalRequest.Status
SLOW_DOWN_STEP = 5  # CIBA Core §11: the interval grows by at least 5 seconds
MAX_PENDING = 20  # per client and person: a client cannot flood someone's approval list


class NotYours(Exception):
    """The signed-in person is not the user the request names."""


class NotPending(Exception):
    """The request was decided, expired or used already."""


def approval_url(approval: ApprovalRequest) -> str:
    """The page a person approves on; what an MCP server sends in a URL-mode elicitation."""
    return metadata.origin(settings.ISSUER) + reverse("approvals:detail", args=[approval.id])


def find_user(req: ciba.BackchannelRequest, resource, *, now: datetime):
    """§7.1 hints: ``login_hint`` is the access token's ``sub``; ``login_hint_token`` is a
    live access token of ours for this MCP server (the one the agent presented)."""
    users = get_user_model().objects.filter(is_active=True)
    if req.login_hint:
        # Our access tokens' sub is the user's primary key, in decimal; nothing else matches.
        hint = req.login_hint
        if not hint.isascii() or not hint.isdigit() or len(hint) > 18 or hint != str(int(hint)):
            raise ciba.UnknownUserId("no such user")
        user = users.filter(pk=int(hint)).first()
    else:
        row = AccessToken.objects.filter(
            token_checksum=token_hash(req.login_hint_token),
            revoked_at__isnull=True,
            expires__gt=now,
            user__isnull=False,
        ).first()
        if row is None or resource.identifier not in (row.resource or []):
            raise ciba.UnknownUserId("login_hint_token is not a live token for this MCP server")
        user = users.filter(pk=row.user_id).first()
    if user is None:
        raise ciba.UnknownUserId("no such user")  # §13
    return user


def check_tool(resource, tool: str) -> None:
    registered = tool_details.registered_tools(resource)
    if registered and tool not in registered:
        raise InvalidRequest("this MCP server registered no such tool")


def settings_for(client, resource) -> ApprovalClient:
    """The client's approval settings, if it speaks for this MCP server (else refused: a
    client cannot ask a person to approve calls of a server that is not its own)."""
    cfg = ApprovalClient.objects.filter(client=client, resources=resource).first()
    if cfg is None:
        raise UnauthorizedClient("this client does not speak for this MCP server")  # §13
    return cfg


def delivery(cfg: ApprovalClient, token: str) -> tuple[str, str]:
    """(mode, endpoint): CIBA §7.1, the token is REQUIRED in ping mode, pointless in poll."""
    mode = cfg.delivery_mode
    if mode == ApprovalClient.Mode.PING:
        if not token:
            raise InvalidRequest("client_notification_token is required in ping mode")
        endpoint = cfg.notification_endpoint
        parts = urlsplit(endpoint)
        # CIBA §4: the endpoint MUST be HTTPS (loopback allowed for development and tests).
        if not (parts.scheme == "https" or is_loopback_host(parts.hostname)):
            raise UnauthorizedClient("the client's notification endpoint is not HTTPS")
        return mode, endpoint
    if token:
        raise InvalidRequest("client_notification_token is only for ping mode")
    return mode, ""


def create_request(client, raw: ciba.BackchannelRequest, *, ip, now: datetime):
    """CIBA §7: validate everything, then store the request (hashed id) and audit it."""
    if ciba.GRANT_TYPE not in (client.grant_types or []) or client.is_public:
        raise UnauthorizedClient("this client may not use CIBA")  # §13
    resource = resources.find_resource(resources.canonicalize(raw.resource))
    cfg = settings_for(client, resource)
    check_tool(resource, raw.tool)
    user = find_user(raw, resource, now=now)
    mode, endpoint = delivery(cfg, raw.notification_token)
    if pending_for(user, now=now).filter(client=client).count() >= MAX_PENDING:
        raise InvalidRequest("too many pending approval requests for this user")
    auth_req_id = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=raw.requested_expiry or 300)
    with transaction.atomic():
        approval = ApprovalRequest(
            auth_req_hash=token_hash(auth_req_id),
            client=client,
            user=user,
            resource=resource,
            tool=raw.tool,
            arguments=raw.arguments,
            arguments_digest=raw.arguments_digest,
            summary=raw.summary,
            binding_message=raw.binding_message,
            authorization_details=[approved_detail(resource.identifier, raw)],
            expires_at=now + lifetime,
            delivery_mode=mode,
            notification_endpoint=endpoint,
        )
        if mode == ApprovalClient.Mode.PING:
            approval.notification_token_encrypted = secretbox.encrypt(
                json.dumps({"token": raw.notification_token, "auth_req_id": auth_req_id}).encode(),
                associated_data=tasks.secret_ad(approval.id),
                keys=settings.CONFIG.key_encryption_keys,
            )
        approval.save(force_insert=True)
        _audit("approval.requested", approval, ip=ip)
        if user.email:
            transaction.on_commit(lambda: queue_email(approval.pk))
    return approval, auth_req_id


def queue_email(approval_id) -> None:
    """The person's notice; a broker that is down costs the e-mail, not the request."""
    try:
        tasks.email_person.delay(str(approval_id))
    except kombu_errors.OperationalError:
        log.warning("approval notice for request %s not queued: broker down", approval_id)


def approved_detail(resource_identifier: str, raw: ciba.BackchannelRequest) -> dict:
    return {
        "type": "mcp_tool",
        "locations": [resource_identifier],
        "actions": [raw.tool],
        "arguments_digest": raw.arguments_digest,
    }


def _audit(kind: str, approval: ApprovalRequest, *, ip=None, **detail) -> None:
    audit.record(
        kind,
        client_id=approval.client.client_id,
        user_id=approval.user_id,
        resource=approval.resource.identifier,
        ip=ip,
        detail={"approval": str(approval.id), "tool": approval.tool, **detail},
    )


def expire_if_due(approval: ApprovalRequest, *, now: datetime) -> ApprovalRequest:
    """A pending or approved request past its time becomes ``expired`` (audited once)."""
    if approval.status in (Status.PENDING, Status.APPROVED) and approval.expires_at <= now:
        with transaction.atomic():
            changed = ApprovalRequest.objects.filter(
                pk=approval.pk, status__in=(Status.PENDING, Status.APPROVED)
            ).update(status=Status.EXPIRED)
            if changed:
                _audit("approval.expired", approval)
        approval.status = Status.EXPIRED
    return approval


def for_person(approval_id, user, *, now: datetime) -> ApprovalRequest:
    """The request, only for the user it names (a forwarded link shows nothing to others)."""
    approval = (
        ApprovalRequest.objects.select_related("client", "resource", "user")
        .filter(pk=approval_id)
        .first()
    )
    if approval is None or approval.user_id != user.pk:
        raise NotYours
    return expire_if_due(approval, now=now)


def record_shown(approval: ApprovalRequest, *, now: datetime) -> None:
    if approval.status == Status.PENDING and approval.shown_at is None:
        with transaction.atomic():
            if ApprovalRequest.objects.filter(pk=approval.pk, shown_at__isnull=True).update(
                shown_at=now
            ):
                _audit("approval.shown", approval)


class NotAllowed(Exception):
    """This way of approving is not open to this person (the policy needs a passkey)."""


def password_may_approve(user) -> bool:
    """The admin's switch is off, and the person has no passkey (with one, they use it)."""
    return (
        not ApprovalPolicy.current().require_passkeys
        and user.has_usable_password()
        and not user.passkeys.exists()
    )


def decide(
    approval: ApprovalRequest,
    *,
    approve: bool,
    credential: Passkey | None,
    now,
    reauthenticated: bool = False,
) -> None:
    """Approve (with the passkey that verified, or, only where ``password_may_approve``, a
    password just re-entered) or deny, once, while pending and unexpired."""
    method = ""
    if approve:
        if credential is not None:
            method = Method.PASSKEY
        elif reauthenticated and password_may_approve(approval.user):
            method = Method.PASSWORD
        else:
            raise NotAllowed  # never approve without a fresh proof the policy accepts
    with transaction.atomic():
        changed = ApprovalRequest.objects.filter(
            pk=approval.pk, status=Status.PENDING, expires_at__gt=now
        ).update(
            status=Status.APPROVED if approve else Status.DENIED,
            decided_at=now,
            credential_id=credential.credential_id if credential is not None else "",
            approved_with=method,
        )
        if not changed:
            raise NotPending
        if method == Method.PASSKEY:
            _audit(
                "approval.approved", approval, method=method, credential_id=credential.credential_id
            )
        elif method == Method.PASSWORD:
            _audit("approval.approved", approval, method=method)
        else:
            _audit("approval.denied", approval)
        if approval.delivery_mode == ApprovalClient.Mode.PING:
            transaction.on_commit(lambda: tasks.notify_client.delay(str(approval.pk)))


def pending_for(user, *, now: datetime):
    return (
        ApprovalRequest.objects.select_related("client", "resource")
        .filter(user=user, status=Status.PENDING, expires_at__gt=now)
        .order_by("-created_at")
    )


def poll(approval: ApprovalRequest, *, now: datetime) -> None:
    """CIBA §11: refuse unless approved; a poll sooner than ``interval`` is ``slow_down``.
    Writes only the poll's time (and a longer interval), which must stick whatever follows."""
    approval = expire_if_due(approval, now=now)
    if approval.status == Status.EXPIRED:
        raise ciba.ExpiredToken("the approval request expired")
    if approval.status == Status.DENIED:
        raise ciba.AccessDenied("the person denied the request")
    if approval.status == Status.USED:
        raise InvalidGrant("this auth_req_id was used already")
    if approval.status != Status.PENDING:
        return  # approved: the grant claims it with the token write
    too_soon = approval.last_polled_at is not None and now - approval.last_polled_at < timedelta(
        seconds=approval.interval
    )
    rows = ApprovalRequest.objects.filter(pk=approval.pk)
    if too_soon:
        rows.update(last_polled_at=now, interval=F("interval") + SLOW_DOWN_STEP)
        raise ciba.SlowDown(f"poll at most every {approval.interval + SLOW_DOWN_STEP} seconds")
    rows.update(last_polled_at=now)
    raise ciba.AuthorizationPending("the person has not decided yet")


def pretty_arguments(approval: ApprovalRequest) -> str:
    """The full arguments as indented JSON, for the page (the template escapes it)."""
    return json.dumps(approval.arguments, indent=2, ensure_ascii=False, sort_keys=True)


def rules_for(client, resource_identifier: str) -> dict[str, str]:
    """The tools of one MCP server whose calls need approval, and their rules ("" = every
    call), for that server's CIBA client to pass to ``authorize_tool_call``."""
    if ciba.GRANT_TYPE not in (client.grant_types or []) or client.is_public:
        raise UnauthorizedClient("this client may not use CIBA")
    resource = resources.find_resource(resources.canonicalize(resource_identifier))
    settings_for(client, resource)
    rows = ToolApprovalRule.objects.filter(resource=resource).order_by("tool")
    return {row.tool: row.rule for row in rows}


KEEP_DECIDED = timedelta(days=7)  # the audit trail keeps the events for good


def purge_old_requests(*, now: datetime) -> int:
    """Requests past their expiry for a week are deleted (ops.cleanup); events stay."""
    deleted, _ = ApprovalRequest.objects.filter(expires_at__lt=now - KEEP_DECIDED).delete()
    return deleted
