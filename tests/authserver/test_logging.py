"""Structured logs with request ids, and one redaction filter for every record."""

from __future__ import annotations

import io
import json
import logging

import pytest

from authserver.ops.logs import JsonLogFormatter, RedactionFilter, RequestIdFilter, redact

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
SECRET = "a" * 64


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        (f"issued {JWT}", JWT),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("Authorization: Basic Y2xpZW50OnNlY3JldA==", "Y2xpZW50OnNlY3JldA=="),
        (
            "POST body grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&x=1",
            "SplxlOBeZQQYbYS6WxSbIA",
        ),
        ("client_secret=s3cr3t-value&client_id=x", "s3cr3t-value"),
        ("{'refresh_token': 'rt-123456789'}", "rt-123456789"),
        ('{"registration_access_token": "rat-abcdef"}', "rat-abcdef"),
        ("code_verifier=verifier-value-123", "verifier-value-123"),
        ("Cookie: sessionid=abc123; csrftoken=def456", "abc123"),
        (f"secret {SECRET} issued", SECRET),
        ("password=hunter2", "hunter2"),
    ],
)
def test_redaction_removes_secrets(raw, leak):
    assert leak not in redact(raw)


def test_redaction_keeps_harmless_identifiers():
    text = "client_id=abc jti=xyz code_challenge=E9Melhoa status_code=400 error=invalid_grant"
    assert redact(text) == text


def record(msg, *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_filter_scrubs_args_and_extra_fields():
    rec = record("token %s for %s", JWT, "alice", body=f"code=abc&access_token={JWT}")
    RedactionFilter().filter(rec)
    assert JWT not in rec.getMessage()
    assert "alice" in rec.getMessage()
    assert JWT not in rec.body


def test_json_lines_carry_the_request_id():
    rec = record("hello %s", "world")
    RequestIdFilter().filter(rec)
    line = json.loads(JsonLogFormatter().format(rec))
    assert line["message"] == "hello world"
    assert line["level"] == "INFO"
    assert "request_id" in line


@pytest.mark.django_db
def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="req-123")["X-Request-ID"] == "req-123"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces"
    assert len(generated) == 32


@pytest.mark.django_db
def test_configured_handler_emits_redacted_json(client):
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactionFilter) for f in h.filters)
    )
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        logging.getLogger("authserver.test").warning("leaked %s", f"access_token={JWT}")
    finally:
        handler.setStream(old)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert JWT not in stream.getvalue()
    assert line["name"] == "authserver.test"


def handlers_reaching(name: str) -> list[logging.Handler]:
    logger: logging.Logger | None = logging.getLogger(name)
    found: list[logging.Handler] = []
    while logger is not None:
        # pytest's own capture handlers sit on the root logger during tests; a NullHandler
        # writes nothing.
        found.extend(
            h
            for h in logger.handlers
            if not type(h).__module__.startswith("_pytest")
            and not isinstance(h, logging.NullHandler)
        )
        if not logger.propagate:
            break
        logger = logger.parent
    return found


@pytest.mark.parametrize(
    "name",
    ["django.server", "django.request", "django.security.csrf", "celery.app.trace", "oauthlib"],
)
def test_runserver_and_django_request_logs_cannot_bypass_redaction(name):
    """Django's default config gave "django" and "django.server" (runserver's access lines,
    query strings included) handlers without our filter; every handler must redact."""
    handlers = handlers_reaching(name)
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactionFilter) for f in handler.filters), (name, handler)
