"""Beyond bearer tokens, end to end: the demo MCP server with DPoP (RFC 9449), and demo MCP
servers calling each other with exchanged tokens (RFC 8693), against our live server.

DPoP: a machine client gets a DPoP-bound token from /token (client credentials plus a proof),
then talks to the demo server with the official SDK client through an ``httpx2.Auth`` that
signs a fresh proof per request; raw requests show what is refused.

Multi-hop: a user signs in and consents over plain HTTP (httpx2, CSRF and all); the app's token
for server A reaches server B (and C) only as exchanged tokens, whose claims B and C report
(``whoami``); revoking the app under Connected apps cuts off every hop within the revocation
list's poll interval.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Generator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from authserver.models import TokenExchangePolicy
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from tests.conftest import PASSWORD
from tests.factories import make_client
from tests.oauthflow import pkce_pair
from tests.support.jwt import claims_of
from tests.support.mcp_sdk import run_in_thread

pytestmark = pytest.mark.django_db(transaction=True)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
REDIRECT = "http://127.0.0.1:45678/callback"  # never served: we read the code off the 302
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw e2e client", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
DPOP_REFUSED = 'DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256"'


# --- DPoP helpers -------------------------------------------------------------------------------


def proof(key: jwk.JWK, htm: str, htu: str, *, token: str | None = None) -> str:
    """A DPoP proof JWT (RFC 9449 §4.2), ``ath`` included when it goes with a token."""
    claims = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time())}
    if token is not None:
        digest = hashlib.sha256(token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())}
    signed = jws.JWS(json_encode(claims).encode())
    signed.add_signature(key, alg="ES256", protected=json_encode(header))
    return signed.serialize(compact=True)


class DPoPAuth(httpx2.Auth):
    """``Authorization: DPoP <token>`` and a fresh proof for each request the SDK sends."""

    def __init__(self, token: str, key: jwk.JWK) -> None:
        self.token = token
        self.key = key
        self.proofs = 0

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        htu = str(request.url.copy_with(query=None, fragment=None))  # RFC 9449 §4.2
        request.headers["Authorization"] = f"DPoP {self.token}"
        request.headers["DPoP"] = proof(self.key, request.method, htu, token=self.token)
        self.proofs += 1
        yield request


def dpop_token(issuer: str, resource_url: str, key: jwk.JWK) -> dict:
    """Client credentials at our /token with a proof: a token bound to ``key``."""
    client, secret = make_client(access={_resource(resource_url): "notes:read"})
    response = httpx2.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials", "resource": resource_url, "scope": "notes:read"},
        auth=(client.client_id, secret),
        headers={"DPoP": proof(key, "POST", f"{issuer}/token")},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _resource(url: str):
    from authserver.models import Resource

    return Resource.objects.get(identifier=url)


def raw_initialize(url: str, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=10)


# --- MCP calls with the SDK client --------------------------------------------------------------


class Refusals:
    """The 401/403 answers an SDK client met (httpx2 response hook)."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    async def on_response(self, response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            await response.aread()
            self.seen.append(
                {
                    "status": response.status_code,
                    "challenge": response.headers.get("www-authenticate", ""),
                    "error": response.json().get("error_description"),
                }
            )


def call_tool(url: str, tool: str, arguments: dict | None = None, *, auth=None, bearer=None):
    """One tool call in a fresh MCP session; returns (result or the exception, refusals)."""
    refusals = Refusals()
    outcome: list = []

    async def scenario() -> None:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        http = httpx2.AsyncClient(
            auth=auth,
            headers=headers,
            timeout=30,
            event_hooks={"response": [refusals.on_response]},
        )
        try:
            async with http, Client(streamable_http_client(url, http_client=http)) as mcp:
                outcome.append(await mcp.call_tool(tool, arguments or {}))
        except Exception as exc:  # a refusal ends the session: the transport's task group raises
            outcome.append(exc)

    run_in_thread(scenario)
    return outcome[0], refusals.seen


def structured(result) -> dict:
    assert not isinstance(result, BaseException), repr(result)
    assert not result.is_error, result
    return result.structured_content


def tool_error(result) -> str:
    assert not isinstance(result, BaseException), repr(result)
    assert result.is_error, result
    return " ".join(block.text for block in result.content)


# --- DPoP ---------------------------------------------------------------------------------------


def test_demo_server_requiring_dpop_takes_bound_tokens_with_a_proof_per_request(
    issuer, start_demo_server
):
    server = start_demo_server(require_dpop=True)
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    body = dpop_token(issuer, server.url, key)
    assert body["token_type"] == "DPoP"
    token = body["access_token"]
    assert claims_of(token)["cnf"] == {"jkt": key.thumbprint()}

    metadata = httpx2.get(server.settings.metadata_url).json()
    assert metadata["dpop_bound_access_tokens_required"] is True
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA", "RS256"]

    # The official SDK client, a fresh proof (with ath) on every request of the session.
    auth = DPoPAuth(token, key)
    result, refusals = call_tool(server.url, "whoami", auth=auth)
    assert structured(result)["cnf"] == {"jkt": key.thumbprint()}
    assert refusals == []
    assert auth.proofs >= 3  # initialize, initialized, tools/call (and the session's DELETE)

    def refused(headers: dict[str, str]) -> tuple[str, str]:
        response = raw_initialize(server.url, headers)
        assert response.status_code == 401, response.text
        return response.headers["www-authenticate"], response.json()["error_description"]

    good = {"Authorization": f"DPoP {token}"}
    # A valid proof passes the gate (and the SDK answers initialize) ...
    once = proof(key, "POST", server.url, token=token)
    assert raw_initialize(server.url, {**good, "DPoP": once}).status_code == 200
    # ... once: a replayed proof is refused.
    challenge, why = refused({**good, "DPoP": once})
    assert challenge.startswith(DPOP_REFUSED)
    assert f'resource_metadata="{server.settings.metadata_url}"' in challenge
    assert why == "DPoP proof replayed"
    # No proof at all; the token as a bearer token.
    challenge, why = refused(good)
    assert challenge.startswith(DPOP_REFUSED)
    assert why == "DPoP proof missing"
    challenge, why = refused({"Authorization": f"Bearer {token}"})
    assert challenge.startswith(DPOP_REFUSED)
    assert why == "DPoP proof missing"
    # A proof by another key; for another URL; for another method.
    thief = jwk.JWK.generate(kty="EC", crv="P-256")
    other_key = proof(thief, "POST", server.url, token=token)
    assert refused({**good, "DPoP": other_key})[1] == (
        "DPoP proof signed with another key than the token's"
    )
    elsewhere = server.url.replace("/mcp", "/other")
    other_url = proof(key, "POST", elsewhere, token=token)
    assert refused({**good, "DPoP": other_url})[1] == "DPoP proof is for another URL"
    other_method = proof(key, "GET", server.url, token=token)
    assert refused({**good, "DPoP": other_method})[1] == "DPoP proof is for another method"
    # A proof made for another token (ath).
    other_token = proof(key, "POST", server.url, token=token + "x")
    assert refused({**good, "DPoP": other_token})[1] == "DPoP proof is for another access token"

    # A plain bearer token is refused: this server takes DPoP-bound tokens only.
    bearer, secret = make_client(access={server.resource: "notes:read"})
    plain = httpx2.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials", "resource": server.url},
        auth=(bearer.client_id, secret),
    ).json()
    assert plain["token_type"] == "Bearer"
    challenge, why = refused({"Authorization": f"Bearer {plain['access_token']}"})
    assert challenge.startswith(DPOP_REFUSED)
    assert why == "this resource only accepts DPoP-bound tokens"
    # No token: a DPoP challenge, no error, with where to find the authorization server.
    challenge, _ = refused({})
    assert challenge == (
        'DPoP algs="ES256 EdDSA RS256", scope="notes:read", '
        f'resource_metadata="{server.settings.metadata_url}"'
    )


def test_demo_server_without_the_flag_also_takes_dpop_bound_tokens(issuer, demo_server):
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    token = dpop_token(issuer, demo_server.url, key)["access_token"]
    result, _ = call_tool(demo_server.url, "list_notes", auth=DPoPAuth(token, key))
    assert structured(result) == {"result": []}
    # Bound is bound: as a bearer token it is refused, with a DPoP challenge.
    response = raw_initialize(demo_server.url, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(DPOP_REFUSED)
    # And the DPoP scheme does not launder an unbound token.
    machine, secret = make_client(access={demo_server.resource: "notes:read"})
    plain = httpx2.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials", "resource": demo_server.url},
        auth=(machine.client_id, secret),
    ).json()["access_token"]
    laundered = {
        "Authorization": f"DPoP {plain}",
        "DPoP": proof(key, "POST", demo_server.url, token=plain),
    }
    response = raw_initialize(demo_server.url, laundered)
    assert response.status_code == 401
    assert response.json()["error_description"] == "the DPoP scheme needs a DPoP-bound token"
    # Bearer requests are answered as before.
    assert raw_initialize(demo_server.url, {"Authorization": f"Bearer {plain}"}).status_code == 200


# --- multi-hop (token exchange) -----------------------------------------------------------------


class Person:
    """A user at a browser-less user agent: our sign-in, consent and Connected apps pages."""

    def __init__(self, issuer: str, username: str) -> None:
        self.http = httpx2.Client(base_url=issuer, timeout=10)
        self.issuer = issuer
        self.username = username

    def authorize(self, client_id: str, resource: str, scope: str) -> str:
        """The authorization code flow with PKCE; returns the access token."""
        verifier, challenge = pkce_pair()
        authorize = "/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "state": "st",
                "scope": scope,
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        response = self.http.get(authorize)
        assert response.status_code == 302, response.text[:300]
        login = self.http.get(response.headers["location"])
        assert login.status_code == 200
        assert "Sign in" in login.text
        response = self.http.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": _field(login.text, "csrfmiddlewaretoken"),
                "username": self.username,
                "password": PASSWORD,
                "next": _field(login.text, "next"),
            },
        )
        assert response.status_code == 302, response.text[:300]
        consent = self.http.get(response.headers["location"])
        assert "wants access to" in consent.text
        response = self.http.post(
            "/authorize",
            data={
                "csrfmiddlewaretoken": _field(consent.text, "csrfmiddlewaretoken"),
                "request_id": _field(consent.text, "request_id"),
                "allow": "1",
            },
        )
        assert response.status_code == 302, response.text[:300]
        assert response.headers["location"].startswith(REDIRECT)
        query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
        assert query["iss"] == self.issuer
        response = self.http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": REDIRECT,
                "client_id": client_id,
                "code_verifier": verifier,
                "resource": resource,
            },
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def revoke_in_connected_apps(self, app_name: str) -> None:
        page = self.http.get("/accounts/apps/")
        assert app_name in page.text
        action = re.search(r'action="(/accounts/apps/\d+/revoke)"', page.text).group(1)
        response = self.http.post(
            action, data={"csrfmiddlewaretoken": _field(page.text, "csrfmiddlewaretoken")}
        )
        assert response.status_code == 302, response.text[:300]
        assert "can no longer reach" in self.http.get("/accounts/apps/").text

    def close(self) -> None:
        self.http.close()


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1).replace("&amp;", "&")


def exchange(issuer: str, client, secret: str, subject_token: str, resource: str):
    return httpx2.post(
        f"{issuer}/token",
        data={
            "grant_type": GRANT_TYPE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": resource,
        },
        auth=(client.client_id, secret),
    )


@pytest.fixture
def three_servers(issuer, start_demo_server):
    """Demo servers A -> B -> C; A and B exchange with their own confidential clients."""
    urls = [start_demo_server.free_url() for _ in range(3)]
    a_client, a_secret = make_client(name="server A", grant_types=(GRANT_TYPE,))
    b_client, b_secret = make_client(name="server B", grant_types=(GRANT_TYPE,))
    c = start_demo_server(urls[2], name="Demo C")
    b = start_demo_server(
        urls[1],
        name="Demo B",
        downstream_url=c.url,
        exchange_client_id=b_client.client_id,
        exchange_client_secret=b_secret,
    )
    a = start_demo_server(
        urls[0],
        name="Demo A",
        downstream_url=b.url,
        exchange_client_id=a_client.client_id,
        exchange_client_secret=a_secret,
    )
    TokenExchangePolicy.objects.create(
        client=a_client, source=a.resource, target=b.resource, scope="notes:read"
    )
    TokenExchangePolicy.objects.create(
        client=b_client, source=b.resource, target=c.resource, scope="notes:read"
    )
    return {"a": a, "b": b, "c": c, "a_client": (a_client, a_secret), "b_client": b_client}


def test_multi_hop_with_exchanged_tokens_and_revocation(issuer, three_servers, make_user):
    user = make_user("alice")
    a, b, c = three_servers["a"], three_servers["b"], three_servers["c"]
    a_client, a_secret = three_servers["a_client"]
    b_client = three_servers["b_client"]
    app, _ = make_client(
        name="Notes agent",
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris=REDIRECT,
    )
    alice = Person(issuer, "alice")
    try:
        token = alice.authorize(app.client_id, a.url, "notes:read notes:write")
        assert claims_of(token)["aud"] == a.url

        # Two hops: the app calls A; A exchanges the token and calls B's whoami with it.
        result, _ = call_tool(a.url, "call_downstream", {"tool": "whoami"}, bearer=token)
        hop = structured(result)
        assert (hop["server"], hop["tool"]) == (b.url, "whoami")
        seen_by_b = hop["result"]
        assert seen_by_b["aud"] == b.url
        assert seen_by_b["sub"] == str(user.pk)
        assert seen_by_b["act"] == {"sub": a_client.client_id}
        assert seen_by_b["scope"] == "notes:read"  # the user's, narrowed by the policy

        # Three hops: A -> B -> C, each exchange adding a level to act.
        result, _ = call_tool(
            a.url,
            "call_downstream",
            {"tool": "call_downstream", "arguments": {"tool": "whoami"}},
            bearer=token,
        )
        seen_by_c = structured(result)["result"]["result"]
        assert seen_by_c["aud"] == c.url
        assert seen_by_c["sub"] == str(user.pk)
        assert seen_by_c["act"] == {"sub": b_client.client_id, "act": {"sub": a_client.client_id}}

        # What the policy left out stays out: B refuses add_note (403) to A's exchanged token.
        result, _ = call_tool(
            a.url, "call_downstream", {"tool": "add_note", "arguments": {"text": "x"}}, bearer=token
        )
        assert "downstream refused: 403" in tool_error(result)
        # And the user's token itself is no good at B (aud A): no passthrough.
        result, refusals = call_tool(b.url, "whoami", bearer=token)
        assert isinstance(result, Exception)
        assert refusals[0]["error"] == "token audience is not this resource"

        # A token for B that A holds (exchanged just like A does), before the revocation.
        for_b = exchange(issuer, a_client, a_secret, token, b.url)
        assert for_b.status_code == 200, for_b.text
        for_b = for_b.json()["access_token"]
        assert structured(call_tool(b.url, "whoami", bearer=for_b)[0])["sub"] == str(user.pk)

        alice.revoke_in_connected_apps("Notes agent")
        revoked_at = time.monotonic()
        # B refuses the exchanged token within its revocation list poll interval (1 s).
        while True:
            result, refusals = call_tool(b.url, "whoami", bearer=for_b)
            if refusals:
                break
            assert time.monotonic() - revoked_at < 3, "B still accepts a revoked hop"
            time.sleep(0.2)
        elapsed = time.monotonic() - revoked_at
        assert (refusals[0]["status"], refusals[0]["error"]) == (401, "token revoked")
        assert elapsed <= b.settings.revocation_poll_interval + 1.5
        # No new hop either: our /token refuses the exchange, and A refuses the token itself.
        refused = exchange(issuer, a_client, a_secret, token, b.url)
        assert refused.json()["error"] == "invalid_grant"
        time.sleep(max(0.0, a.settings.revocation_poll_interval + 0.2 - elapsed))
        result, refusals = call_tool(a.url, "call_downstream", {"tool": "whoami"}, bearer=token)
        assert isinstance(result, Exception)
        assert (refusals[0]["status"], refusals[0]["error"]) == (401, "token revoked")
    finally:
        alice.close()
