"""The official MCP Python SDK's own providers, unmodified, against the demo MCP server:
``PrivateKeyJWTOAuthProvider`` with ``SignedJWTParameters`` (RFC 7523 §2.2), the same
provider presenting a workload's platform token (workload identity federation), and
``IdentityAssertionOAuthProvider`` (SEP-990 ID-JAG) whose assertions come from an identity
provider running on loopback HTTP with its own key."""

from __future__ import annotations

import dataclasses
import io
import json

import httpx2
import pytest
from django.core.management import call_command
from mcp import Client
from mcp.client.auth.extensions.client_credentials import (
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client

from authserver.models import AccessToken, AuditEvent, ResourceAccess
from enterprise import jwks
from enterprise.models import EnterpriseSubject, TrustedIdentityProvider, WorkloadTrustRule
from tests.enterprise.support import ID_JAG_TYPE, LoopbackIssuer, new_key, public_jwks
from tests.factories import make_client
from tests.support.mcp_sdk import MemoryStorage, Traffic, run_in_thread, structured

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_keys(issuer, settings):
    """JWKS on loopback HTTP is fetched only in development mode (CIMD_ALLOW_LOOPBACK)."""
    settings.CONFIG = dataclasses.replace(settings.CONFIG, cimd_allow_loopback=True)
    jwks.clear()
    made: list[LoopbackIssuer] = []

    def make() -> LoopbackIssuer:
        made.append(LoopbackIssuer())
        return made[-1]

    yield make
    for each in made:
        each.close()


async def call_list_notes(server_url: str, provider, traffic: Traffic):
    http = httpx2.AsyncClient(
        auth=provider, timeout=30, event_hooks={"response": [traffic.on_response]}
    )
    async with http, Client(streamable_http_client(server_url, http_client=http)) as mcp:
        return structured(await mcp.call_tool("list_notes", {}))


def test_sdk_private_key_jwt_provider_with_signed_jwt_parameters(issuer, demo_server, tmp_path):
    key = new_key("RSA")
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(public_jwks(key)))
    out = io.StringIO()
    call_command(
        "add_client",
        "--name=notes-signer",
        "--confidential",
        "--grant=client_credentials",
        f"--resource={demo_server.url}",
        "--scope=notes:read",
        f"--jwks={jwks_file}",
        stdout=out,
    )
    created = json.loads(out.getvalue())
    assert "client_secret" not in created  # private_key_jwt: no secret is made
    client_id = created["client_id"]
    signer = SignedJWTParameters(
        issuer=client_id,
        subject=client_id,
        signing_key=key.export_to_pem(private_key=True, password=None).decode(),
    )
    storage, traffic = MemoryStorage(), Traffic()

    async def scenario() -> None:
        provider = PrivateKeyJWTOAuthProvider(
            server_url=demo_server.url,
            storage=storage,
            client_id=client_id,
            assertion_provider=signer.create_assertion_provider(),
            scope="notes:read",
            issuer=issuer,
        )
        assert await call_list_notes(demo_server.url, provider, traffic) == []

    run_in_thread(scenario)
    [sent] = Traffic.token_requests(traffic.exchanges)
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in sent
    assert [t.scope for t in storage.tokens] == ["notes:read"]
    assert AccessToken.objects.get().application.client_id == client_id


def test_sdk_private_key_jwt_provider_with_a_workload_token(issuer, demo_server, loopback_keys):
    platform = loopback_keys()  # a second issuer: the workload's platform
    bot, _ = make_client(token_endpoint_auth_method="private_key_jwt")
    ResourceAccess.objects.create(client=bot, resource=demo_server.resource, scope="notes:read")
    WorkloadTrustRule.objects.create(
        name="deploy job",
        issuer=platform.url,
        jwks_uri=platform.jwks_uri,
        subject_pattern="repo:acme/notes:ref:refs/heads/*",
        audience=issuer,
        client=bot,
    )
    storage, traffic = MemoryStorage(), Traffic()

    async def platform_token(audience: str) -> str:
        # What the CI runner's OIDC endpoint hands the job, for the audience we need.
        return platform.sign(
            platform.claims(sub="repo:acme/notes:ref:refs/heads/main", aud=audience)
        )

    async def scenario() -> None:
        provider = PrivateKeyJWTOAuthProvider(
            server_url=demo_server.url,
            storage=storage,
            client_id=bot.client_id,
            assertion_provider=platform_token,
            scope="notes:read",
            issuer=issuer,
        )
        assert await call_list_notes(demo_server.url, provider, traffic) == []

    run_in_thread(scenario)
    assert platform.jwks_fetches == 1
    assert AccessToken.objects.get().application == bot


def test_sdk_identity_assertion_provider_with_an_idp_on_loopback(
    issuer, demo_server, loopback_keys, make_user
):
    idp = loopback_keys()
    app, secret = make_client(grant_types=("authorization_code",), redirect_uris="https://a/cb")
    trust = TrustedIdentityProvider.objects.create(
        name="Acme IdP", issuer=idp.url, jwks_uri=idp.jwks_uri
    )
    trust.clients.add(app)
    trust.resources.add(demo_server.resource)
    employee = make_user("employee")
    EnterpriseSubject.objects.create(issuer=idp.url, subject="emp-7", user=employee)
    storage, traffic = MemoryStorage(), Traffic()

    async def fetch_id_jag(audience: str, resource: str) -> str:
        # SEP-990 leg 1: the client exchanges the employee's IdP sign-in for an ID-JAG.
        async with httpx2.AsyncClient() as http:
            answer = await http.post(
                f"{idp.url}/token",
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "requested_token_type": ID_JAG_TYPE,
                    "subject_token": "emp-7",
                    "audience": audience,
                    "resource": resource,
                    "client_id": app.client_id,
                    "scope": "notes:read",
                },
            )
        answer.raise_for_status()
        return answer.json()["access_token"]

    async def scenario() -> None:
        provider = IdentityAssertionOAuthProvider(
            server_url=demo_server.url,
            storage=storage,
            client_id=app.client_id,
            client_secret=secret,
            issuer=issuer,
            assertion_provider=fetch_id_jag,
            scope="notes:read",
        )
        assert await call_list_notes(demo_server.url, provider, traffic) == []

    run_in_thread(scenario)
    [sent] = Traffic.token_requests(traffic.exchanges)
    assert sent["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert idp.issued[0]["aud"] == issuer
    assert idp.issued[0]["resource"] == demo_server.url
    token = AccessToken.objects.get()
    assert token.user == employee
    assert token.scope == "notes:read"
    assert AuditEvent.objects.get(kind="token.issued").detail["enterprise_issuer"] == idp.url
