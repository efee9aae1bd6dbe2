"""The admin's switch "require passkeys for approvals": on (the default) Approve needs a
passkey; off, a person without a passkey approves by re-entering their password (throttled as
sign-in is), a person with one still uses it; which method approved is audited."""

from __future__ import annotations

import pytest
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalPolicy, ApprovalRequest
from authserver.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
Status = ApprovalRequest.Status


@pytest.fixture
def pending(ask, user, client):
    body = ask(user).json()
    client.force_login(user)
    return ApprovalRequest.objects.get(), body


@pytest.fixture
def password_allowed(db):
    ApprovalPolicy.objects.create(pk=1, require_passkeys=False)


def approve_by_password(client, approval, password=PASSWORD):
    return client.post(f"/approvals/{approval.pk}/approve-password", {"password": password})


def test_passkeys_are_required_by_default_and_a_password_approves_nothing(client, pending):
    approval, _ = pending
    assert ApprovalPolicy.current().require_passkeys
    page = client.get(f"/approvals/{approval.pk}").content.decode()
    assert "approve-password" not in page
    assert "Approving needs a passkey" in page
    assert approve_by_password(client, approval).status_code == 403
    assert ApprovalRequest.objects.get().status == Status.PENDING
    with pytest.raises(services.NotAllowed):
        services.decide(
            approval, approve=True, credential=None, reauthenticated=True, now=timezone.now()
        )


def test_with_the_switch_off_a_person_without_passkey_approves_by_reentering_the_password(
    client, pending, password_allowed, poll
):
    approval, body = pending
    page = client.get(f"/approvals/{approval.pk}").content.decode()
    assert 'id="approve-password"' in page
    response = approve_by_password(client, approval)
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == Status.APPROVED
    assert approval.approved_with == "password"
    assert approval.credential_id == ""
    event = AuditEvent.objects.get(kind="approval.approved")
    assert event.detail["method"] == "password"
    assert PASSWORD not in str(event.detail)
    assert poll(body["auth_req_id"]).status_code == 200  # the one-time token


def test_a_wrong_password_approves_nothing(client, pending, password_allowed):
    approval, _ = pending
    approve_by_password(client, approval, "wrong")
    assert ApprovalRequest.objects.get().status == Status.PENDING
    assert AuditEvent.objects.filter(kind="approval.reauth_failed").count() == 1


def test_password_guessing_on_the_approval_page_is_throttled_like_sign_in(
    client, pending, password_allowed
):
    approval, _ = pending
    for _ in range(6):
        approve_by_password(client, approval, "guess")
    approve_by_password(client, approval)  # the right one, too late
    assert ApprovalRequest.objects.get().status == Status.PENDING


def test_with_the_switch_off_a_person_with_a_passkey_must_still_use_it(
    client, pending, password_allowed, passkey
):
    approval, _ = pending
    assert "approve-password" not in client.get(f"/approvals/{approval.pk}").content.decode()
    assert approve_by_password(client, approval).status_code == 403
    assert ApprovalRequest.objects.get().status == Status.PENDING


def test_another_person_cannot_approve_by_password(client, pending, password_allowed, make_user):
    approval, _ = pending
    client.force_login(make_user("mallory"))
    assert approve_by_password(client, approval).status_code == 404
    assert ApprovalRequest.objects.get().status == Status.PENDING


def test_passkey_approval_audits_its_method_and_credential(pending, passkey):
    approval, _ = pending
    services.decide(approval, approve=True, credential=passkey, now=timezone.now())
    event = AuditEvent.objects.get(kind="approval.approved")
    assert event.detail["method"] == "passkey"
    assert event.detail["credential_id"] == passkey.credential_id
    assert ApprovalRequest.objects.get().approved_with == "passkey"


def test_the_switch_is_one_admin_row_and_changing_it_is_audited(client, make_user):
    client.force_login(make_user("root", superuser=True))
    response = client.post("/admin/approvals/approvalpolicy/add/", {})  # unchecked: off
    assert response.status_code == 302, response.content[:500]
    assert ApprovalPolicy.current().require_passkeys is False
    assert ApprovalPolicy.objects.get().pk == 1
    event = AuditEvent.objects.get(kind="approval.policy_changed")
    assert event.detail == {"require_passkeys": False}
    assert client.get("/admin/approvals/approvalpolicy/add/").status_code == 403  # one row
