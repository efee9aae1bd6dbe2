"""Unanswered consent screens do not pile up in the session (each shown screen keeps an
``authz:<id>`` entry until it is answered)."""

from __future__ import annotations

import pytest

from authserver.authorization import endpoint
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import authorize_url, consent_request_id, pkce_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    make_resource()
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        registration_source="dcr",
    )
    return client


def show_screen(signed_in, app) -> str:
    _, challenge = pkce_pair()
    response = signed_in.get(
        authorize_url(
            app.client_id,
            resource=MCP,
            scope="tools:read",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert response.status_code == 200
    return consent_request_id(response)


def pending(signed_in) -> list[str]:
    return [k for k in signed_in.session.keys() if k.startswith("authz:")]  # noqa: SIM118 -- a session is not iterable


def test_screens_nobody_answers_do_not_grow_the_session_without_bound(signed_in, app):
    shown = [show_screen(signed_in, app) for _ in range(endpoint.MAX_PENDING * 3)]
    assert len(pending(signed_in)) == endpoint.MAX_PENDING
    # The newest are kept and still answerable; the oldest were dropped.
    assert f"authz:{shown[-1]}" in pending(signed_in)
    assert f"authz:{shown[0]}" not in pending(signed_in)
    answer = signed_in.post("/authorize", {"request_id": shown[-1], "allow": "1"})
    assert answer.status_code == 302
    dropped = signed_in.post("/authorize", {"request_id": shown[0], "allow": "1"})
    assert dropped.status_code == 400


def test_expired_screens_leave_the_session_when_the_next_one_is_shown(signed_in, app):
    first = show_screen(signed_in, app)
    session = signed_in.session
    session[f"authz:{first}"] = {**session[f"authz:{first}"], "expires": 0}
    session.save()
    second = show_screen(signed_in, app)
    assert pending(signed_in) == [f"authz:{second}"]
