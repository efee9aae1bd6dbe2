"""One cache rule for rows that decide access: no time-limited per-process cache serves
them. A change made elsewhere (another worker, a plain UPDATE, the admin) takes effect on
the next request, not a few seconds later."""

from __future__ import annotations

import pytest

from authserver.keys import keyring
from authserver.models import Resource, SigningKey
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import get_code

pytestmark = pytest.mark.django_db


def test_disabled_resource_gets_no_authorization_code_from_a_stale_cache(signed_in):
    resource = make_resource(MCP)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    code, _verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    assert code
    # Another worker disables the MCP server: no signal reaches this process.
    Resource.objects.filter(pk=resource.pk).update(enabled=False)
    code, _verifier, query = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    assert code is None
    assert query.get("error") == "invalid_target"


def test_retired_signing_key_stops_signing_at_once():
    keyring.active_key()  # created on first use
    first = keyring.active_key()  # and read again, as a worker does
    # Another process rotates: the old key is no longer the active one.
    SigningKey.objects.filter(pk=first.pk).update(state=SigningKey.State.RETIRING)
    assert keyring.active_key().kid != first.kid
