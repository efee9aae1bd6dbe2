"""Streaming the audit trail to a SIEM: sealed events after a cursor, as NDJSON, never a
secret; the chain's verification from the admin."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from authserver import audit

pytestmark = pytest.mark.django_db


def _sealed(n: int) -> None:
    old = timezone.now() - timedelta(minutes=1)
    for i in range(n):
        audit.record("token.issued", client_id=f"client-{i}", at=old)
    audit.seal_pending()


def _read(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


def test_stream_resumes_from_its_cursor_without_loss_or_repeat(admin_client):
    _sealed(5)
    url = reverse("admin:audit_stream")
    first = admin_client.get(url, {"since": 0, "limit": 3})
    assert first["Content-Type"] == "application/x-ndjson"
    events = _read(first)
    assert [e["chain_index"] for e in events] == [1, 2, 3]
    rest = _read(admin_client.get(url, {"since": first["X-Audit-Cursor"]}))
    assert [e["chain_index"] for e in rest] == [4, 5]
    # Each line carries the chain links a collector can check.
    assert rest[0]["prev_hash"] == events[-1]["hash"]


def test_unsealed_events_wait_for_their_place_in_the_chain(admin_client):
    audit.record("token.issued", client_id="fresh")  # sealed only after SEAL_MIN_AGE
    response = admin_client.get(reverse("admin:audit_stream"))
    assert _read(response) == []
    assert response["X-Audit-Cursor"] == "0"


def test_stream_never_includes_secret_named_detail(admin_client):
    old = timezone.now() - timedelta(minutes=1)
    audit.record(
        "odd.event",
        detail={"refresh_token": "rt-secret", "nested": {"client_secret": "s3"}, "kid": "k1"},
        at=old,
    )
    audit.seal_pending()
    body = b"".join(admin_client.get(reverse("admin:audit_stream")).streaming_content).decode()
    assert "rt-secret" not in body
    assert "s3" not in body
    assert '"kid":"k1"' in body


def test_stream_refuses_staff_without_audit_permission_and_bad_cursors(client, make_user):
    client.force_login(make_user("bare", staff=True))
    assert client.get(reverse("admin:audit_stream")).status_code == 403
    viewer = make_user("auditor", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(viewer)
    assert client.get(reverse("admin:audit_stream"), {"since": "-1"}).status_code == 400
    assert client.get(reverse("admin:audit_stream"), {"since": "²"}).status_code == 400
    assert client.get(reverse("admin:audit_stream"), {"since": "0"}).status_code == 200


def test_export_audit_command_prints_the_same_lines():
    _sealed(2)
    out = io.StringIO()
    call_command("export_audit", "--since", "1", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["chain_index"] for e in lines] == [2]


def test_chain_verification_is_visible_in_the_admin(admin_client):
    _sealed(3)
    url = reverse("admin:audit_stream_help")
    assert "3 events sealed" in admin_client.get(url).content.decode()
    page = admin_client.post(url).content.decode()
    assert "Verified: 3 events" in page
