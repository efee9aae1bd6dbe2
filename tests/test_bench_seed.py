"""The bench's seeded agent really has a remembered consent: `make bench`'s code-flow case
(h) expects a straight 302 with a code, and stops the run when the consent screen shows."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from bench import seed


@pytest.mark.django_db(transaction=True)
def test_bench_seed_remembered_consent_covers_its_scopes_tools():
    seeded = seed.seed_base()
    browser = Client()
    assert browser.login(username=seed.USERNAME, password=seed.PASSWORD)
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    query = {
        "response_type": "code",
        "client_id": seeded.app_id,
        "redirect_uri": seed.REDIRECT,
        "state": "s",
        "scope": "tools:read",
        "resource": seeded.resource,
        "code_challenge": base64.urlsafe_b64encode(digest).decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    response = browser.get("/authorize?" + urlencode(query))
    assert response.status_code == 302, response.content[:300]
    assert parse_qs(urlsplit(response["Location"]).query)["code"]


@pytest.mark.django_db
def test_scale_counts_tell_rows_kept_by_rule_and_random_jtis_from_rows_left(user):
    """The scale report's "expired rows left after cleanup" once counted any jti beginning
    with "exp": a token the server issued during the run (random jti, one in 262,144 begins
    so) showed as a seeded row the cleanup left. Only whole seeded jtis count, and a seeded
    expired access token a refresh token points at is kept by rule, not left."""
    from datetime import timedelta

    from django.utils import timezone

    from authserver.models import AccessToken, RefreshToken
    from bench.report import rows_left_by_cleanup
    from tests.factories import make_client

    now = timezone.now()
    app, _ = make_client(grant_types=("authorization_code", "refresh_token"))

    def access(jti: str, expires) -> AccessToken:
        return AccessToken.objects.create(
            user=user,
            application=app,
            jti=jti,
            expires=expires,
            scope="tools:read",
            token_checksum=hashlib.sha256(jti.encode()).hexdigest(),
        )

    access("expQ3xk0Zb1uN9sVfT2wLa", now + timedelta(hours=1))  # issued, random jti
    access("exp-7", now - timedelta(days=1))  # seeded, left behind
    kept = access("exp-8", now - timedelta(days=1))  # seeded, its refresh token stays
    RefreshToken.objects.create(
        user=user, application=app, access_token=kept, token_checksum="rt-of-exp-8"
    )
    counts = seed.table_counts()
    assert counts["scale_expired_access"] == 2
    assert counts["scale_expired_access_kept"] == 1
    assert rows_left_by_cleanup(counts) == 1
