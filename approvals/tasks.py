"""Messages about a request, queued on commit, each sent once however often the task runs:
the e-mail telling the person an approval waits for them, and the CIBA Core §10.2 ping that
tells the MCP server's client its token request will now get an answer."""

from __future__ import annotations

import json
import logging
import smtplib

import httpx
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest
from authserver import audit
from authserver.keys import secretbox
from authserver.protocol import metadata

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


class MailFailed(Exception):
    """The mail server did not take the notice; retried with backoff."""


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, MailFailed),
    retry_backoff=True,
    max_retries=5,
)
def email_person(approval_id: str) -> bool:
    """E-mail the person the request names a link to its page: who asks, which tool, the
    summary, the binding message and the expiry; no token, no argument values. Claimed
    first, so that two workers, a retry after a lost ack, or a second queueing send it once."""
    approval = (
        ApprovalRequest.objects.select_related("client", "resource", "user")
        .filter(pk=approval_id)
        .first()
    )
    if approval is None or not approval.user.email:
        return False
    if approval.status != ApprovalRequest.Status.PENDING or approval.expires_at <= timezone.now():
        return False  # decided or expired before the notice left: nothing to ask
    claimed = ApprovalRequest.objects.filter(pk=approval_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    url = metadata.origin(settings.ISSUER) + reverse("approvals:detail", args=[approval.id])
    context = {"approval": approval, "url": url}
    try:
        send_mail(
            # One line: a header cannot carry a line break (Django refuses one).
            subject=" ".join(f"Approve {approval.tool} on {approval.resource.name}?".split()),
            message=render_to_string("approvals/email.txt", context),
            from_email=None,  # DEFAULT_FROM_EMAIL
            recipient_list=[approval.user.email],
        )
    except (smtplib.SMTPException, OSError):
        ApprovalRequest.objects.filter(pk=approval_id).update(emailed_at=None)
        log.warning("approval notice for request %s not sent", approval_id)
        raise MailFailed(approval_id) from None
    audit.record(
        "approval.emailed",
        client_id=approval.client.client_id,
        user_id=approval.user_id,
        resource=approval.resource.identifier,
        detail={"approval": str(approval.id), "tool": approval.tool},
    )
    return True
