"""The person is e-mailed a link to the approval page when a request is created: sent from a
Celery task after commit, once per request, without a token or the argument values."""

from __future__ import annotations

import pytest
from django.core import mail

from approvals import tasks
from approvals.models import ApprovalRequest
from authserver.models import AuditEvent
from tests.approvals.conftest import details

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_request_emails_the_named_user_a_link_to_the_page_after_commit(
    ask, user, django_capture_on_commit_callbacks
):
    user.email = "alice@example.com"
    user.save()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        body = ask(user).json()
    assert mail.outbox == []  # nothing leaves before the commit
    for callback in queued:
        callback()
    (message,) = mail.outbox
    approval = ApprovalRequest.objects.get()
    assert message.to == ["alice@example.com"]
    assert f"/approvals/{approval.pk}" in message.body
    assert "Refund €4,000 to X" in message.body  # the summary
    assert "K7-42" in message.body  # the binding message
    assert body["auth_req_id"] not in message.body + message.subject
    assert "DE89370400440532013000" not in message.body  # no argument values
    assert approval.arguments_digest not in message.body
    assert AuditEvent.objects.filter(kind="approval.emailed", user_id=str(user.pk)).count() == 1


def test_notice_is_sent_once_however_often_the_task_runs(
    ask, user, django_capture_on_commit_callbacks
):
    user.email = "alice@example.com"
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        ask(user)
    approval = ApprovalRequest.objects.get()
    assert tasks.email_person(str(approval.pk)) is False  # ran already, on commit
    assert len(mail.outbox) == 1


def test_user_without_an_address_gets_no_mail_and_the_request_stands(
    ask, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert ask(user).status_code == 200
    assert queued == []
    assert mail.outbox == []
    assert tasks.email_person(str(ApprovalRequest.objects.get().pk)) is False


def test_a_request_decided_before_the_notice_left_sends_none(ask, user, client):
    user.email = "alice@example.com"
    user.save()
    ask(user)
    approval = ApprovalRequest.objects.get()
    ApprovalRequest.objects.filter(pk=approval.pk).update(status="denied")
    assert tasks.email_person(str(approval.pk)) is False
    assert mail.outbox == []


def test_a_failed_send_is_retried_and_still_sent_once(ask, user, monkeypatch):
    user.email = "alice@example.com"
    user.save()
    ask(user, authorization_details=details())
    approval = ApprovalRequest.objects.get()

    def refuse(*args, **kwargs):
        raise OSError("connection refused")

    with monkeypatch.context() as m:
        m.setattr(tasks, "send_mail", refuse)
        with pytest.raises(tasks.MailFailed):  # autoretry_for: Celery retries with backoff
            tasks.email_person(str(approval.pk))
    assert ApprovalRequest.objects.get().emailed_at is None  # released for the retry
    assert tasks.email_person(str(approval.pk)) is True
    assert tasks.email_person(str(approval.pk)) is False
    assert len(mail.outbox) == 1


def test_mail_goes_to_the_log_without_an_smtp_host_and_over_tls_with_one(tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    from authserver import config

    plain = config.load({"VAR_DIR": str(tmp_path)}).email
    assert plain.host == ""
    smtp = config.load(
        {"VAR_DIR": str(tmp_path), "EMAIL_HOST": "smtp.example.com", "EMAIL_USE_SSL": "true"}
    ).email
    assert (smtp.host, smtp.port) == ("smtp.example.com", 465)
    assert smtp.use_ssl
    assert not smtp.use_tls
    with pytest.raises(ImproperlyConfigured):
        config.load({"VAR_DIR": str(tmp_path), "EMAIL_USE_SSL": "1", "EMAIL_USE_TLS": "1"})
