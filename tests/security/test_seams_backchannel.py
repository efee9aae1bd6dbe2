"""Back-channel logout (OpenID Back-Channel Logout 1.0) against a real provider on loopback:
a minimal OpenID provider (discovery and JWKS over HTTP) whose signing key the test holds."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.test import Client as HttpClient
from jwcrypto import jwk, jwt

from accounts.upstream import backchannel
from accounts.upstream.backchannel import EVENT, InvalidLogoutToken, validate_logout_token

pytestmark = pytest.mark.django_db
PROVIDER, CLIENT_ID = "mini", "our-client"


class MiniProvider:
    """Discovery and a JWKS on 127.0.0.1, counting what is fetched; keys can rotate."""

    def __init__(self) -> None:
        self.key = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")
        self.hits: Counter = Counter()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits[self.path] += 1
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": [json.loads(provider.key.export_public())]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=3600")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def logout_token(self, key=None, **overrides) -> str:
        key = key or self.key
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
            "sub": "alice-sub",
            "events": {EVENT: {}},
            **overrides,
        }
        token = jwt.JWT(
            header={"alg": "ES256", "kid": key.kid},
            claims={k: v for k, v in claims.items() if v is not None},
        )
        token.make_signed_token(key)
        return token.serialize()


@pytest.fixture
def idp():
    backchannel.forget_provider_keys()
    provider = MiniProvider()
    SocialApp.objects.create(
        provider="openid_connect",
        provider_id=PROVIDER,
        name="Mini",
        client_id=CLIENT_ID,
        secret="test-only-secret",
        settings={"server_url": provider.issuer},
    )
    yield provider
    provider.server.shutdown()
    backchannel.forget_provider_keys()


def post_logout(token: str):
    return HttpClient().post(
        f"/accounts/oidc/{PROVIDER}/backchannel-logout", {"logout_token": token}
    )


def signed_in_upstream(client, make_user, sid: str):
    user = make_user("alice")
    SocialAccount.objects.create(user=user, provider=PROVIDER, uid="alice-sub")
    client.force_login(user)
    request = SimpleNamespace(session=SimpleNamespace(session_key=client.session.session_key))
    backchannel.remember_session(request, PROVIDER, user, sid)  # what sign-in records
    assert client.get("/accounts/apps/").status_code == 200
    return user


def test_logout_token_with_only_sid_ends_the_session_it_names(idp, client, make_user):
    """§2.4 allows sid without sub; such a token answered 200 and ended nothing."""
    signed_in_upstream(client, make_user, sid="upstream-session-1")
    response = post_logout(idp.logout_token(sub=None, sid="upstream-session-1"))
    assert response.status_code == 200
    assert client.get("/accounts/apps/").status_code == 302  # signed out here too


def test_logout_token_with_an_unknown_sid_ends_nothing(idp, client, make_user):
    signed_in_upstream(client, make_user, sid="upstream-session-1")
    assert post_logout(idp.logout_token(sub=None, sid="someone-else")).status_code == 200
    assert client.get("/accounts/apps/").status_code == 200


def test_unauthenticated_logout_posts_do_not_make_us_fetch_the_jwks_each_time(idp):
    """Every unauthenticated POST used to fetch the provider's discovery and JWKS."""
    forger = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")  # the provider's kid, not its key
    for i in range(10):
        assert post_logout(idp.logout_token(key=forger)).status_code == 400
        unknown = jwk.JWK.generate(kty="EC", crv="P-256", kid=f"forged-{i}")
        assert post_logout(idp.logout_token(key=unknown)).status_code == 400
    assert idp.hits["/.well-known/openid-configuration"] == 1
    assert idp.hits["/jwks"] == 1  # unknown kids refetch at most every REFETCH_INTERVAL


def test_logout_token_signed_with_a_rotated_key_is_accepted(idp, client, make_user, monkeypatch):
    monkeypatch.setattr(backchannel, "REFETCH_INTERVAL", 0.0)  # rotation without waiting
    signed_in_upstream(client, make_user, sid="s1")
    assert post_logout(idp.logout_token(sid="other")).status_code == 200
    idp.key = jwk.JWK.generate(kty="EC", crv="P-256", kid="k2")  # the provider rotates
    assert post_logout(idp.logout_token(sid="s1")).status_code == 200
    assert idp.hits["/jwks"] == 2
    assert client.get("/accounts/apps/").status_code == 302


def test_logout_token_replayed_after_its_jti_is_forgotten_is_refused(idp):
    """exp and iat were unbounded: a token with a long exp replayed after the 600 s jti memory
    was accepted again."""
    now = int(time.time())
    token = idp.logout_token(iat=now, exp=now + 86400)
    jwks = {"keys": [json.loads(idp.key.export_public())]}
    check = {"issuer": idp.issuer, "client_id": CLIENT_ID, "jwks": jwks}
    assert validate_logout_token(token, now=now, **check)["sub"] == "alice-sub"
    with pytest.raises(InvalidLogoutToken):
        validate_logout_token(token, now=now + backchannel.JTI_MEMORY + 1, **check)
