"""OpenID Connect Back-Channel Logout 1.0 from the real upstream provider: signing out there
ends the session here; the logout token is checked as §2.6 says."""

from __future__ import annotations

import json
import time

import pytest
from jwcrypto import jwk, jwt
from playwright.async_api import async_playwright

from accounts.upstream.backchannel import EVENT, InvalidLogoutToken, validate_logout_token
from authserver.models import AuditEvent
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.mcp_sdk import run_in_thread
from tests.support.upstream import Person


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_signing_out_at_the_provider_ends_the_session_here(upstream_idp, issuer):
    person = Person("alice", upstream_idp)
    seen: dict = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            person.page = page = await browser.new_page()
            try:
                await page.goto(f"{issuer}/accounts/login/?next=/accounts/apps/")
                await person.sign_in_upstream()
                seen["before"] = await page.title()
                await page.goto(f"{upstream_idp.issuer}/session/end")
                await page.click("button[name=logout]")  # "Yes, sign me out"
                await page.wait_for_load_state()
                await page.goto(f"{issuer}/accounts/apps/")
                seen["after"] = await page.title()
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=90)

    assert seen["before"].startswith("Connected apps")
    assert seen["after"].startswith("Sign in")  # the session here ended
    event = AuditEvent.objects.get(kind="signout.backchannel")
    assert event.detail == {"subject": "alice", "sessions_ended": 1}


ISSUER, CLIENT = "https://idp.example", "our-client"


@pytest.fixture(scope="module")
def key():
    return jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")


def _token(key, **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": now,
        "exp": now + 120,
        "jti": "j1",
        "sub": "alice",
        "events": {EVENT: {}},
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    token = jwt.JWT(header={"alg": "ES256", "kid": "k1"}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def _check(key, token):
    jwks = {"keys": [json.loads(key.export_public())]}
    return validate_logout_token(token, issuer=ISSUER, client_id=CLIENT, jwks=jwks)


def test_valid_logout_token_is_accepted(key):
    assert _check(key, _token(key))["sub"] == "alice"


@pytest.mark.parametrize(
    "overrides",
    [
        {"nonce": "n"},  # an ID token replayed as a logout token
        {"events": None},
        {"events": {"other": {}}},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"jti": None},
        {"iat": None},
        {"sub": None},  # neither sub nor sid
        {"exp": int(time.time()) - 600},
    ],
)
def test_logout_token_breaking_a_rule_of_section_2_6_is_refused(key, overrides):
    with pytest.raises(InvalidLogoutToken):
        _check(key, _token(key, **overrides))


def test_logout_token_signed_by_another_key_is_refused(key):
    other = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")
    with pytest.raises(InvalidLogoutToken):
        _check(key, _token(other))


def test_unsigned_logout_token_is_refused(key):
    header = {"alg": "none"}
    unsigned = (
        jwt.JWT(header=header, claims={"iss": ISSUER}).serialize(compact=True)
        if False
        else ("eyJhbGciOiJub25lIn0." + "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.")
    )
    with pytest.raises(InvalidLogoutToken):
        _check(key, unsigned)


def test_logout_token_signed_with_a_1024_bit_rsa_key_is_refused():
    """The one JWS path's key-size rule applies to upstream logout tokens too."""
    weak = jwk.JWK.generate(kty="RSA", size=1024, kid="k1")
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "iat": now, "exp": now + 120, "jti": "j1"}
    claims["events"] = {EVENT: {}}
    token = jwt.JWT(header={"alg": "RS256", "kid": "k1"}, claims={**claims, "sub": "alice"})
    token.make_signed_token(weak)
    with pytest.raises(InvalidLogoutToken):
        _check(weak, token.serialize())


def test_logout_token_signed_with_a_2048_bit_rsa_key_is_accepted():
    strong = jwk.JWK.generate(kty="RSA", size=2048, kid="k1")
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": [CLIENT], "iat": now, "exp": now + 120, "jti": "j1"}
    claims["events"] = {EVENT: {}}
    token = jwt.JWT(header={"alg": "RS256", "kid": "k1"}, claims={**claims, "sub": "alice"})
    token.make_signed_token(strong)
    assert _check(strong, token.serialize())["sub"] == "alice"
