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
