"""A jwks_uri that resolves to an internal address: the caller learns only that the keys could
not be fetched; the address goes to the log."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django.conf import settings

from enterprise.client_assertion import ASSERTION_TYPE
from tests.enterprise.support import new_key, sign
from tests.factories import MCP, make_client, make_resource

pytestmark = pytest.mark.django_db

METADATA = "::ffff:169.254.169.254"  # the cloud metadata service, IPv4-mapped


def test_ssrf_probe_through_jwks_uri_does_not_echo_the_resolved_address(client, caplog):
    machine, _ = make_client(
        access={make_resource(): "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri=f"https://[{METADATA}]/latest/jwks.json",
    )
    now = int(time.time())
    claims = {"iss": machine.client_id, "sub": machine.client_id, "aud": settings.ISSUER}
    claims |= {"iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    with caplog.at_level(logging.WARNING, logger="enterprise.jwks"):
        response = client.post(
            "/token",
            {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": sign(claims, new_key("RSA")),
                "resource": MCP,
            },
        )
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "the keys at the JWKS URI could not be fetched",
    }
    assert "169.254" not in response.content.decode()
    assert any("169.254.169.254" in r.getMessage() for r in caplog.records)  # detail: the log
