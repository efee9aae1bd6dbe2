"""tests/e2e's demo-server fixtures, with the issuer on "localhost" (WebAuthn wants a domain)."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.cache import cache
from pytest_django.live_server_helper import LiveServer

from authserver.models import RevocationListSnapshot
from tests.e2e.conftest import callback, start_demo_server  # noqa: F401 - fixtures


@pytest.fixture
def issuer(transactional_db, settings):
    """As tests/e2e's, on "localhost": a WebAuthn relying party id is a domain, not an IP."""
    server = LiveServer("localhost:0")
    url = server.url.replace("127.0.0.1", "localhost")
    settings.ISSUER = url
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG, issuer=url, allow_http_loopback_resources=True
    )
    cache.clear()
    RevocationListSnapshot.objects.all().delete()
    yield url
    server.stop()
