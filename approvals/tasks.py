"""CIBA Core §10.2 ping: after a decision, tell the MCP server's client that its token request
will now get an answer. Queued on commit; safe to rerun (a request is pinged once)."""

from __future__ import annotations

import json
import logging

import httpx
from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from approvals.models import ApprovalRequest
from authserver.keys import secretbox

log = logging.getLogger("approvals")
TIMEOUT = httpx.Timeout(5.0)


class PingFailed(Exception):
    """The client's notification endpoint did not take the ping; retried with backoff."""


def secret_ad(approval_id) -> bytes:
    """AES-GCM associated data: an encrypted token only decrypts for its own request."""
    return f"approval-notification:{approval_id}".encode()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, PingFailed),
    retry_backoff=True,
    max_retries=5,
)
def notify_client(approval_id: str) -> bool:
    """CIBA §10.2: POST {"auth_req_id": ...} with the client_notification_token as Bearer
    credential. Both are kept encrypted (secretbox) for ping-mode requests only."""
    # Claim the ping first, so that two workers never both send it.
    claimed = ApprovalRequest.objects.filter(pk=approval_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    if not claimed:
        return False
    approval = ApprovalRequest.objects.select_related("client").get(pk=approval_id)
    sealed = json.loads(
        secretbox.decrypt(
            approval.notification_token_encrypted,
            associated_data=secret_ad(approval.id),
            keys=settings.CONFIG.key_encryption_keys,
        )
    )
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            response = http.post(
                approval.notification_endpoint,
                content=json.dumps({"auth_req_id": sealed["auth_req_id"]}),
                headers={
                    "Authorization": f"Bearer {sealed['token']}",
                    "Content-Type": "application/json",
                },
            )
        ok = 200 <= response.status_code < 300  # §10.2: the client answers 204 (or 200)
    except httpx.HTTPError:
        ok = False
    if not ok:
        ApprovalRequest.objects.filter(pk=approval_id).update(notified_at=None)
        log.warning("ping to client %s failed", approval.client.client_id)
        raise PingFailed(approval_id)
    return True
