"""The person's pages: only the user a request names sees or decides it; Deny is one POST;
the pending list; shown, denied and expired are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals.models import ApprovalRequest
from authserver.models import AuditEvent
from tests.approvals.conftest import details

pytestmark = pytest.mark.django_db
Status = ApprovalRequest.Status


@pytest.fixture
def request_for_alice(ask, user):
    body = ask(user).json()
    return ApprovalRequest.objects.get(), body


def test_owner_sees_who_asks_tool_summary_escaped_arguments_and_binding_message(
    client, user, request_for_alice, ask
):
    approval, _ = request_for_alice
    client.force_login(user)
    page = client.get(f"/approvals/{approval.pk}").content.decode()
    for text in ("Bank MCP", "Bank", "transfer", "Refund €4,000 to X", "K7-42", "DE8937"):
        assert text in page
    assert AuditEvent.objects.filter(kind="approval.shown").count() == 1
    client.get(f"/approvals/{approval.pk}")  # shown once, however often it is opened
    assert AuditEvent.objects.filter(kind="approval.shown").count() == 1


def test_arguments_are_escaped_on_the_page(client, user, ask):
    ask(user, authorization_details=details({"note": "<script>alert(1)</script>"}))
    client.force_login(user)
    page = client.get(f"/approvals/{ApprovalRequest.objects.get().pk}").content.decode()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_forwarded_approval_link_shows_nothing_to_another_person(
    client, make_user, request_for_alice
):
    approval, _ = request_for_alice
    client.force_login(make_user("mallory"))
    response = client.get(f"/approvals/{approval.pk}")
    assert response.status_code == 404
    assert "transfer" not in response.content.decode()
    assert not AuditEvent.objects.filter(kind="approval.shown").exists()


def test_forwarded_approval_link_cannot_be_denied_or_approved_by_another_person(
    client, make_user, request_for_alice
):
    approval, _ = request_for_alice
    client.force_login(make_user("mallory"))
    assert client.post(f"/approvals/{approval.pk}/deny").status_code == 404
    assert client.post(f"/approvals/{approval.pk}/options").status_code == 409
    assert (
        client.post(f"/approvals/{approval.pk}/approve", b"{}", "application/json").status_code
        == 404
    )
    assert ApprovalRequest.objects.get().status == Status.PENDING


def test_deny_is_one_post(client, user, request_for_alice, poll):
    approval, body = request_for_alice
    client.force_login(user)
    response = client.post(f"/approvals/{approval.pk}/deny")
    assert response.status_code == 302
    assert ApprovalRequest.objects.get().status == Status.DENIED
    assert poll(body["auth_req_id"]).json()["error"] == "access_denied"


def test_deny_needs_csrf(user, request_for_alice):
    approval, _ = request_for_alice
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(f"/approvals/{approval.pk}/deny").status_code == 403
    assert ApprovalRequest.objects.get().status == Status.PENDING


def test_signed_out_person_is_sent_to_sign_in(client, request_for_alice):
    approval, _ = request_for_alice
    response = client.get(f"/approvals/{approval.pk}")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_pending_list_shows_only_live_requests_of_this_person(client, user, make_user, ask):
    ask(user)
    ask(user)
    ApprovalRequest.objects.filter(
        pk=ApprovalRequest.objects.order_by("created_at").first().pk
    ).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(user)
    page = client.get("/approvals/").content.decode()
    assert page.count("Refund €4,000 to X") == 1
    client.force_login(make_user("bob"))
    assert "Refund" not in client.get("/approvals/").content.decode()


def test_expired_request_page_offers_no_approve(client, user, request_for_alice):
    approval, _ = request_for_alice
    ApprovalRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(user)
    page = client.get(f"/approvals/{approval.pk}").content.decode()
    assert 'id="approve"' not in page
    assert "Expired" in page
    assert AuditEvent.objects.filter(kind="approval.expired").count() == 1
