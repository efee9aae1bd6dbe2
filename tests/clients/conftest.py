"""Fixtures for the registration tests: the policy set per test, a registration helper."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.clients import support

MCP_PYTHON_SDK_BODY = {
    "application_type": "native",
    "client_name": "MCP Python SDK client",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["http://127.0.0.1:34439/callback"],
    "response_types": ["code"],
    "scope": "tools:read offline_access",
    "token_endpoint_auth_method": "none",
}


@pytest.fixture(autouse=True)
def registration_policy(settings):
    """Open registration, no rate limit and no cap unless a test sets them; returns a
    function that changes CONFIG fields for the current test."""

    def configure(**fields):
        settings.CONFIG = dataclasses.replace(settings.CONFIG, **fields)
        return settings.CONFIG

    configure(
        registration_mode="open",
        registration_rate_limit=0,
        max_dynamic_clients=0,
        trusted_proxy_count=0,
        cimd_enabled=True,
        cimd_allow_loopback=False,
    )
    return configure


@pytest.fixture
def register(client):
    """POST a JSON body to /register; returns the response."""

    def post(body, *, content_type: str = "application/json", **extra):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return client.post("/register", data=data, content_type=content_type, **extra)

    return post


@pytest.fixture
def document_server(tmp_path):
    """An https server on 127.0.0.1 (self-signed); ``serve(path, doc)`` returns its URL."""
    with support.document_server(tmp_path) as serve:
        yield serve
