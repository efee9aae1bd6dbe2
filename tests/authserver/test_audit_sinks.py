"""Streaming the audit trail to SIEM sinks as it happens, with no loss: real receivers on
loopback (an HTTP endpoint that fails, hangs or goes away; syslog over UDP and TCP)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections as db_connections
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from authserver import audit, tasks
from authserver.audit_sinks import delivery, syslog, targets, webhook
from authserver.audit_sinks.targets import SinkUnavailable
from authserver.models import AuditEvent, AuditSink
from tests.authserver.sink_receivers import RFC5424, HttpReceiver, TcpSyslog, UdpSyslog
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code
from tests.support.http import free_port

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def receiver():
    server = HttpReceiver()
    yield server
    server.stop()


def _events(n: int, kind: str = "token.issued", **fields) -> None:
    old = timezone.now() - timedelta(minutes=1)
    for i in range(n):
        audit.record(kind, client_id=f"client-{i}", at=old, **fields)
    audit.seal_pending()


def _sink(url: str, kind: str = "webhook", **fields) -> AuditSink:
    sink = AuditSink(name=f"{kind} sink", kind=kind, url=url, **fields)
    if kind == "webhook":
        delivery.seal_secret(sink, SECRET)
    sink.save()
    return sink


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    """A receiver's check, written from the Standard Webhooks spec, not from our code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given_ = [s.split(",", 1)[1] for s in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, s) for s in given_)


@pytest.mark.django_db
def test_webhook_delivers_every_sealed_event_in_chain_order_in_bounded_batches(receiver):
    _events(5)
    sink = _sink(receiver.url, batch_size=2)
    assert delivery.deliver(sink.pk) == 5
    assert [len(json.loads(r["body"])) for r in receiver.accepted] == [2, 2, 1]
    assert [e["chain_index"] for e in receiver.accepted_events()] == [1, 2, 3, 4, 5]
    sink.refresh_from_db()
    assert sink.cursor == 5
    assert delivery.deliver(sink.pk) == 0  # nothing new: nothing sent
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_sink_down_then_back_gets_every_event_once_in_order_after_its_cursor(receiver):
    _events(3)
    sink = _sink(receiver.url, batch_size=2)
    assert delivery.deliver(sink.pk) == 3
    _events(2)
    receiver.mode = "fail"
    with pytest.raises(SinkUnavailable, match="HTTP 500"):
        delivery.deliver(sink.pk)
    sink.refresh_from_db()
    assert (sink.cursor, sink.failures, sink.last_error) == (3, 1, "answered HTTP 500")
    receiver.server.shutdown()  # now it refuses connections altogether
    receiver.server.server_close()
    with pytest.raises(SinkUnavailable, match="connection failed"):
        delivery.deliver(sink.pk)
    _events(2)  # the trail goes on meanwhile
    back = HttpReceiver()
    try:
        AuditSink.objects.filter(pk=sink.pk).update(url=back.url)
        assert delivery.deliver(sink.pk) == 4
        assert [e["chain_index"] for e in back.accepted_events()] == [4, 5, 6, 7]
    finally:
        back.stop()
    sink.refresh_from_db()
    assert (sink.cursor, sink.failures, sink.last_error) == (7, 0, "")
    assert [e["chain_index"] for e in receiver.accepted_events()] == [1, 2, 3]


@pytest.mark.django_db
def test_webhook_signature_verifies_with_the_sink_secret_and_fails_with_another(receiver):
    _events(2)
    sink = _sink(receiver.url)
    delivery.deliver(sink.pk)
    (request,) = receiver.accepted
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "audit-1-2"
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 300
    assert _verify(SECRET, headers, request["body"])
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert not _verify(other, headers, request["body"])
    assert not _verify(SECRET, headers, request["body"] + b" ")
    # The secret is stored encrypted, bound to this sink.
    sink.refresh_from_db()
    assert SECRET not in sink.secret_encrypted
    assert delivery.open_secret(sink) == SECRET


@pytest.mark.django_db
def test_slow_sink_times_out_and_the_same_batch_is_sent_again(receiver):
    _events(2)
    sink = _sink(receiver.url, timeout=1)
    receiver.mode = "hold"  # answers only once released: longer than the sink's timeout
    with pytest.raises(SinkUnavailable, match="timeout"):
        delivery.deliver(sink.pk)
    sink.refresh_from_db()
    assert sink.cursor == 0
    receiver.mode = "ok"
    receiver.release.set()
    assert delivery.deliver(sink.pk) == 2
    first, second = receiver.requests[0], receiver.requests[-1]
    # At least once: the same events under the same webhook-id, for the receiver to drop.
    assert first["body"] == second["body"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]


def test_retries_back_off_and_are_bounded():
    task = tasks.deliver_audit_events
    assert SinkUnavailable in task.autoretry_for
    assert task.retry_backoff
    assert task.max_retries


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_do_not_deliver_twice(receiver):
    _events(3)
    sink = _sink(receiver.url)
    receiver.mode = "hold"
    results: list[int] = []

    def run() -> None:
        try:
            results.append(delivery.deliver(sink.pk))
        finally:
            db_connections.close_all()

    first = threading.Thread(target=run)
    first.start()
    assert receiver.arrived.wait(10)  # the first run is sending, its lease taken
    assert delivery.deliver(sink.pk) == 0
    receiver.mode = "ok"
    receiver.release.set()
    first.join(30)
    assert results == [3]
    assert len(receiver.requests) == 1
    assert delivery.deliver(sink.pk) == 0
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_syslog_over_udp_sends_one_rfc5424_message_per_event_in_order():
    listener = UdpSyslog()
    try:
        _events(3, kind="client.registered")
        sink = _sink(listener.url, kind="syslog")
        assert delivery.deliver(sink.pk) == 3
        messages = [RFC5424.match(m) for m in listener.receive(3)]
    finally:
        listener.stop()
    assert all(messages)
    assert {m["msgid"] for m in messages} == {b"client.registered"}
    records = [json.loads(m["json"]) for m in messages]
    assert [r["chain_index"] for r in records] == [1, 2, 3]
    assert messages[0]["at"].decode() == records[0]["at"]


@pytest.mark.django_db
def test_syslog_over_tcp_frames_messages_by_octet_count():
    listener = TcpSyslog()
    try:
        _events(4)
        sink = _sink(listener.url, kind="syslog", batch_size=3)
        assert delivery.deliver(sink.pk) == 4
    finally:
        listener.stop()
    records = [json.loads(RFC5424.match(f)["json"]) for f in listener.frames()]
    assert [r["chain_index"] for r in records] == [1, 2, 3, 4]


@pytest.mark.django_db
def test_syslog_over_tcp_refused_keeps_the_cursor():
    _events(1)
    sink = _sink(f"tcp://127.0.0.1:{free_port()}", kind="syslog")
    with pytest.raises(SinkUnavailable, match="connection failed"):
        delivery.deliver(sink.pk)
    sink.refresh_from_db()
    assert sink.cursor == 0


@pytest.mark.django_db
def test_opentelemetry_collector_gets_log_records_in_order(receiver):
    _events(2, kind="token.revoked")
    sink = _sink(receiver.url.replace("/audit", "/v1/logs"), kind="otlp")
    assert delivery.deliver(sink.pk) == 2
    (request,) = receiver.accepted
    assert request["path"] == "/v1/logs"
    (resource_logs,) = json.loads(request["body"])["resourceLogs"]
    (scope_logs,) = resource_logs["scopeLogs"]
    records = scope_logs["logRecords"]
    assert [r["eventName"] for r in records] == ["token.revoked", "token.revoked"]
    assert [json.loads(r["body"]["stringValue"])["chain_index"] for r in records] == [1, 2]
    attributes = {a["key"]: a["value"] for a in records[0]["attributes"]}
    assert attributes["audit.chain_index"] == {"intValue": "1"}
    assert int(records[0]["timeUnixNano"]) > 0


@pytest.mark.django_db
def test_no_token_code_or_secret_reaches_a_sink(receiver, client, user):
    """A real authorization code flow, then what the sinks receive holds none of its
    secrets; detail members named like secrets are replaced as in the NDJSON stream."""
    make_resource(MCP)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    client.force_login(user)
    code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="tools:read")
    tokens = exchange(client, app.client_id, code, verifier).json()
    audit.record("odd.event", detail={"client_secret": "s3cr3t-value", "nested": {"code": code}})
    audit.seal_pending(now=timezone.now() + timedelta(minutes=1))
    _sink(receiver.url)
    syslog = UdpSyslog()
    try:
        for sink in AuditSink.objects.all():
            delivery.deliver(sink.pk)
        AuditSink.objects.create(name="syslog", kind="syslog", url=syslog.url)
        delivery.deliver(AuditSink.objects.get(name="syslog").pk)
        sent = b"".join(r["body"] for r in receiver.requests)
        sent += b"".join(syslog.receive(AuditSink.objects.get(name="syslog").cursor))
    finally:
        syslog.stop()
    assert b"token.issued" in sent
    for secret in (tokens["access_token"], tokens["refresh_token"], code, verifier, SECRET):
        assert secret.encode() not in sent
    assert b"s3cr3t-value" not in sent


@pytest.mark.django_db
def test_sealing_kicks_the_sinks_at_once(receiver):
    _sink(receiver.url)
    old = timezone.now() - timedelta(minutes=1)
    audit.record("token.issued", client_id="c", at=old)
    assert tasks.seal_audit_trail.delay().get() == 1  # eager in tests: delivery ran too
    assert [e["kind"] for e in receiver.accepted_events()] == ["token.issued"]
    assert tasks.stream_audit_trail.delay().get() == 0  # nobody is behind


@pytest.mark.django_db
def test_a_disabled_sink_is_sent_nothing(receiver):
    _events(1)
    sink = _sink(receiver.url, enabled=False)
    assert delivery.sinks_behind() == []
    assert delivery.deliver(sink.pk) == 0
    assert receiver.requests == []


@pytest.mark.django_db
def test_webhook_goes_through_the_operators_egress_proxy(receiver, monkeypatch):
    """HTTP_PROXY/HTTPS_PROXY as curl and httpx read them: the request goes to the proxy."""
    _events(1)
    target = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    sink = _sink(target)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{receiver.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert delivery.deliver(sink.pk) == 1
    assert receiver.accepted[0]["path"] == target  # the proxy saw the absolute URL


@pytest.mark.parametrize(
    ("kind", "url", "reason"),
    [
        ("webhook", "http://siem.example/hook", "use https"),
        ("webhook", "https://user:pw@siem.example/hook", "no user or password"),
        ("webhook", "ftp://siem.example/hook", "starts with https://"),
        ("otlp", "https:///v1/logs", "no host"),
        ("syslog", "https://siem.example", "udp://host:port"),
        ("syslog", "tcp://siem.example:99999", "not a valid URL"),
        ("syslog", "udp://siem.example:514/x", "only a host and a port"),
    ],
)
def test_sink_urls_are_https_or_loopback_and_say_what_is_wrong(kind, url, reason):
    with pytest.raises(ValueError, match=reason):
        targets.check_url(kind, url)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("webhook", "https://siem.example/hook"),
        ("otlp", "http://127.0.0.1:4318/v1/logs"),
        ("syslog", "udp://siem.example:514"),
        ("syslog", "tcp://[::1]:601"),
    ],
)
def test_sink_urls_accepted(kind, url):
    assert targets.check_url(kind, url) == url


@given(st.sampled_from(["webhook", "otlp", "syslog"]), st.text())
def test_check_url_raises_only_value_error(kind, url):
    with contextlib.suppress(ValueError):
        targets.check_url(kind, url)


def test_webhook_secrets_are_standard_webhooks_secrets():
    assert len(webhook.secret_key(webhook.new_secret())) == 32
    for bad, reason in (
        ("k" * 40, "starts with whsec_"),
        ("whsec_!!!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
    ):
        with pytest.raises(ValueError, match=reason):
            webhook.secret_key(bad)


def _form(**overrides) -> dict:
    return {
        "name": "SIEM",
        "kind": "webhook",
        "url": "https://siem.example/hooks/t0k3n-in-path",
        "secret": SECRET,
        "enabled": "on",
        "batch_size": "100",
        "timeout": "5",
        "cursor": "0",
        **overrides,
    }


@pytest.mark.django_db
def test_admin_stores_the_webhook_secret_encrypted_and_never_shows_it(admin_client):
    response = admin_client.post(reverse("admin:authserver_auditsink_add"), _form())
    assert response.status_code == 302, response.content[:2000]
    sink = AuditSink.objects.get()
    assert delivery.open_secret(sink) == SECRET
    page = admin_client.get(reverse("admin:authserver_auditsink_change", args=[sink.pk]))
    body = page.content.decode()
    assert SECRET not in body
    assert sink.secret_encrypted not in body
    assert SECRET.removeprefix("whsec_") not in body
    # Saving again without typing the secret keeps it.
    admin_client.post(
        reverse("admin:authserver_auditsink_change", args=[sink.pk]), _form(secret="")
    )
    sink.refresh_from_db()
    assert delivery.open_secret(sink) == SECRET
    created = AuditEvent.objects.get(kind="audit.sink.created")
    assert created.detail == {"sink": "SIEM", "kind": "webhook", "host": "siem.example"}
    assert AuditEvent.objects.filter(kind="audit.sink.changed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"url": "http://siem.example/hook"}, "url", "use https"),
        ({"secret": ""}, "secret", "required"),
        ({"secret": "whsec_c2hvcnQ="}, "secret", "24 to 64 bytes"),
        ({"kind": "syslog", "url": "https://siem.example"}, "url", "udp://host:port"),
        ({"batch_size": "5000"}, "batch_size", "less than or equal to 1000"),
    ],
)
def test_admin_refuses_a_bad_sink_saying_why_and_stores_nothing(
    admin_client, overrides, field, message
):
    response = admin_client.post(reverse("admin:authserver_auditsink_add"), _form(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not AuditSink.objects.exists()
    assert not AuditEvent.objects.filter(kind__startswith="audit.sink").exists()


@pytest.mark.django_db
def test_audit_section_lists_the_sinks(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:authserver_auditsink_changelist") in page


@pytest.mark.django_db
def test_an_event_too_large_for_a_datagram_does_not_hold_a_udp_sink_back():
    listener = UdpSyslog()
    try:
        old = timezone.now() - timedelta(minutes=1)
        audit.record("policy.changed", detail={"tools": ["t" * 50] * 2000}, at=old)
        audit.record("token.issued", at=old)
        audit.seal_pending()
        sink = _sink(listener.url, kind="syslog")
        assert delivery.deliver(sink.pk) == 2
        records = [json.loads(RFC5424.match(m)["json"]) for m in listener.receive(2)]
    finally:
        listener.stop()
    assert records[0]["detail"] == {"omitted": syslog.OMITTED["omitted"]}
    assert records[0]["hash"]  # the chain links are kept: the trail has the full event
    assert records[1]["kind"] == "token.issued"


@pytest.mark.django_db
def test_reencrypt_keys_moves_webhook_secrets_to_the_new_key_encryption_key(settings):
    sink = _sink("https://siem.example/hook")
    old = settings.CONFIG.key_encryption_keys[0]
    new = "a-brand-new-key-encryption-key-0123456789"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new, old))
    out = io.StringIO()
    call_command("reencrypt_keys", stdout=out)
    assert json.loads(out.getvalue())["audit_sink_secrets"] == 1
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new,))
    sink.refresh_from_db()
    assert delivery.open_secret(sink) == SECRET


@pytest.mark.django_db
def test_deliver_now_from_the_sinks_page_sends_what_it_has_not_taken(
    admin_client, receiver, django_capture_on_commit_callbacks
):
    _events(2)
    sink = _sink(receiver.url)
    url = reverse("admin:authserver_auditsink_object_action", args=[sink.pk, "deliver_now"])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url).status_code == 302
    assert [e["chain_index"] for e in receiver.accepted_events()] == [1, 2]
