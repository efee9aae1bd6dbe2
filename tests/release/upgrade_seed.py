"""Fill a database with the PREVIOUS RELEASE's code: rows in every table, made the way the
server makes them (its endpoints through Django's test client, its model and service APIs).

Run by tests/release/test_upgrade.py with the release's source tree (``git archive``) first on
PYTHONPATH and as the working directory; this file is not imported from there, so it may use
only what that release has. Written for release 1.0.0; when a later release becomes the
previous one, check it still runs there (the test fails loudly when it does not).

    python upgrade_seed.py OUT.json   # env: DATABASE_URL, SECRET_KEY, KEY_ENCRYPTION_KEY,
                                      # ISSUER, VAR_DIR, ACCESS_TOKEN_LIFETIME

Writes OUT.json: the credentials the verify step uses (tokens, secrets and the plaintexts
behind encrypted columns: test data, never real) and a snapshot of every row of every table.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import django

django.setup()

from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as Browser  # noqa: E402
from django.utils import timezone  # noqa: E402

import authserver  # noqa: E402
from accounts.models import Consent  # noqa: E402
from accounts.scim.models import ScimIdentity, ScimToken  # noqa: E402
from authserver import audit  # noqa: E402
from authserver.celery import app as celery_app  # noqa: E402
from authserver.keys import keyring  # noqa: E402
from authserver.models import (  # noqa: E402
    DPoPProofJti,
    IDToken,
    Resource,
    ResourceAccess,
    Scope,
    TokenExchangePolicy,
)
from authserver.revocation import service as revocation  # noqa: E402
from authserver.tool_grants.models import ToolPolicy  # noqa: E402
from clients.models import Client, InitialAccessToken  # noqa: E402
from connections import vault  # noqa: E402
from connections.models import Connection, ConnectionPolicy, UpstreamProvider  # noqa: E402
from enterprise.models import (  # noqa: E402
    EnterpriseSubject,
    TrustedIdentityProvider,
    UsedAssertion,
    WorkloadTrustRule,
)

MCP = "https://mcp.example.com/mcp"
OTHER_MCP = "https://other.example.com/mcp"
REDIRECT = "http://127.0.0.1:45678/callback"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693
PASSWORD = "correct horse battery staple 42"
HOST = urlsplit(os.environ["ISSUER"]).netloc
# Tables that may stay empty, and why; every other table must get rows.
MAY_BE_EMPTY = {
    "django_admin_log": "admin history; nothing of the server's reads it",
    "oauth2_provider_devicegrant": "DOT's device flow, not enabled",
    "account_emailconfirmation": "allauth e-mail verification, not enabled",
    "socialaccount_socialtoken": "upstream sign-in stores no tokens (SOCIALACCOUNT_STORE_TOKENS)",
}


def browser() -> Browser:
    return Browser(HTTP_HOST=HOST)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize(web: Browser, client_id: str, resource: str, scope: str) -> tuple[str, str]:
    """Sign-in is done; answer the consent screen if shown. Returns (code, verifier)."""
    verifier, challenge = pkce()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "state": "s" + secrets.token_hex(4),
            "scope": scope,
            "resource": resource,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    response = web.get("/authorize?" + query)
    if response.status_code == 200:
        html = response.content.decode()
        marker = 'name="request_id" value="'
        start = html.index(marker) + len(marker)
        request_id = html[start : html.index('"', start)]
        response = web.post("/authorize", {"request_id": request_id, "allow": "1"})
    assert response.status_code == 302, response.content[:300]
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    return code, verifier


def token(web: Browser, data: dict, **headers) -> dict:
    response = web.post("/token", data, **headers)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def people() -> dict[str, User]:
    staff = Group.objects.create(name="engineering")
    users = {
        name: User.objects.create_user(name, f"{name}@example.com", PASSWORD)
        for name in ("alice", "bob", "carol")
    }
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    users["alice"].groups.add(staff)
    # Staff who may look at clients in the admin, by group and by a user's own permission.
    staff.permissions.add(Permission.objects.get(codename="view_client"))
    users["bob"].user_permissions.add(Permission.objects.get(codename="view_resource"))
    return users


def resources(staff: Group) -> tuple[Resource, Resource]:
    mcp = Resource.objects.create(identifier=MCP, name="Notes")
    other = Resource.objects.create(identifier=OTHER_MCP, name="Calendar")
    for resource in (mcp, other):
        for name in ("tools:read", "tools:write"):
            Scope.objects.create(
                resource=resource,
                name=name,
                description=f"{name} of {resource.name}",
                is_default=name == "tools:read",
                tools=[f"{name.split(':')[1]}_note"],
            )
    other.allowed_groups.add(staff)
    other.scopes.get(name="tools:write").allowed_groups.add(staff)
    return mcp, other


def confidential(name: str, grant_types: list[str], **fields) -> tuple[Client, str]:
    client = Client(
        name=name,
        client_type=Client.CLIENT_CONFIDENTIAL,
        grant_types=grant_types,
        authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
        token_endpoint_auth_method=fields.pop("token_endpoint_auth_method", "client_secret_basic"),
        **fields,
    )
    secret = client.set_new_secret()
    client.save()
    return client, secret


def clients(mcp: Resource, other: Resource, now) -> SimpleNamespace:
    """Admin-made clients of every kind: confidential (client credentials), private_key_jwt,
    the MCP server's own (introspection, token exchange); an initial access token."""
    made = SimpleNamespace()
    made.machine, made.machine_secret = confidential("machine", ["client_credentials"])
    ResourceAccess.objects.create(client=made.machine, resource=mcp, scope="tools:read tools:write")
    signing = keyring.generate_jwk("ES256")
    made.workload, _ = confidential(
        "workload",
        ["client_credentials"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [json.loads(signing.export_public())]},
    )
    made.server, made.server_secret = confidential("notes server", [EXCHANGE])
    mcp.introspection_client = made.server
    mcp.save()
    TokenExchangePolicy.objects.create(
        client=made.server, source=mcp, target=other, scope="tools:read"
    )
    made.iat = InitialAccessToken.objects.create(
        label="ops",
        token_hash=hashlib.sha256(b"iat").hexdigest(),
        expires_at=now + timedelta(days=30),
    )
    return made


def register_agent(web: Browser, iat: InitialAccessToken) -> dict:
    """A public client registered through POST /register (RFC 7591)."""
    document = {
        "client_name": "Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    response = web.post("/register", json.dumps(document), content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    agent = response.json()
    Client.objects.filter(client_id=agent["client_id"]).update(initial_access_token=iat)
    return {k: agent[k] for k in ("client_id", "registration_access_token")}


def code_flow(web: Browser, client_id: str, scope: str) -> dict:
    code, verifier = authorize(web, client_id, MCP, scope)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    data |= {"client_id": client_id, "code_verifier": verifier, "resource": MCP}
    return token(web, data)


def token_families(users: dict[str, User], agent: dict, made: SimpleNamespace) -> dict:
    """Alice: consent, a family rotated once, an exchanged token, a code never redeemed.
    Carol: a token, then she leaves (revoked; a cut-off in the revocation list). A machine's
    client-credentials token."""
    out = {}
    web = browser()
    web.force_login(users["alice"])
    first = code_flow(web, agent["client_id"], "tools:read tools:write")
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    rotated = token(web, refresh | {"client_id": agent["client_id"]})
    authorize(web, agent["client_id"], MCP, "tools:read")  # a code never redeemed
    out["alice"] = {k: rotated[k] for k in ("access_token", "refresh_token")}
    exchange = {"grant_type": EXCHANGE, "subject_token": rotated["access_token"]}
    exchange |= {"subject_token_type": "urn:ietf:params:oauth:token-type:access_token"}
    exchange |= {"resource": OTHER_MCP, "scope": "tools:read"}
    auth = basic(made.server.client_id, made.server_secret)
    out["exchanged"] = token(web, exchange, HTTP_AUTHORIZATION=auth)["access_token"]

    carol = browser()
    carol.force_login(users["carol"])
    out["carol"] = code_flow(carol, agent["client_id"], "tools:read")
    revocation.revoke_user(users["carol"], now=timezone.now(), actor="seed")

    machine = {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"}
    auth = basic(made.machine.client_id, made.machine_secret)
    out["machine"] = {
        "client_id": made.machine.client_id,
        "client_secret": made.machine_secret,
        "access_token": token(web, machine, HTTP_AUTHORIZATION=auth)["access_token"],
    }
    out["server"] = {"client_id": made.server.client_id, "client_secret": made.server_secret}
    return out


def policies_and_keys(users, mcp, staff, made, agent: dict, now) -> None:
    ToolPolicy.objects.create(resource=mcp, effect="allow", group=staff, tools=["write_note"])
    ToolPolicy.objects.create(resource=mcp, effect="deny", client=made.machine, tools=["*"])
    IDToken.objects.create(
        user=users["alice"],
        application=Client.objects.get(client_id=agent["client_id"]),
        jti=secrets.token_hex(16),
        expires=now + timedelta(hours=1),
        scope="openid",
    )
    DPoPProofJti.objects.create(jti=secrets.token_hex(16), expires_at=now + timedelta(minutes=5))
    # A second signing key (the schedule's next one, published ahead): two encrypted keys.
    keyring.rotate(now=now, force=True)


def identity(users: dict[str, User], mcp: Resource, made: SimpleNamespace, now) -> dict:
    """SCIM, upstream sign-in (allauth), enterprise IdP, workload identity."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount, SocialApp

    bob = users["bob"]
    scim, scim_token = ScimToken.issue("Okta provisioning")
    ScimIdentity.objects.create(user=bob, external_id="00u-bob")
    EmailAddress.objects.create(user=bob, email="bob@example.com", verified=True, primary=True)
    SocialApp.objects.create(
        provider="openid_connect", provider_id="corp", name="Corp", client_id="x"
    )
    SocialAccount.objects.create(user=bob, provider="corp", uid="bob-sub")
    idp = TrustedIdentityProvider.objects.create(
        name="Corp IdP", issuer="https://idp.example.com", jwks_uri="https://idp.example.com/jwks"
    )
    idp.clients.add(made.machine)
    idp.resources.add(mcp)
    EnterpriseSubject.objects.create(issuer=idp.issuer, subject="bob-sub", user=bob)
    WorkloadTrustRule.objects.create(
        name="deploys",
        issuer="https://token.actions.githubusercontent.com",
        jwks_uri="https://token.actions.githubusercontent.com/.well-known/jwks",
        subject_pattern="repo:acme/deploy:*",
        audience="https://auth.example.com",
        client=made.workload,
    )
    UsedAssertion.objects.create(
        issuer=idp.issuer, jti="a-1", expires_at=now + timedelta(minutes=5)
    )
    return {"scim_token": scim_token, "scim_token_id": scim.pk}


def upstream(alice: User, mcp: Resource, server: Client, now) -> dict:
    """Connections: a provider's client secret and a user's upstream tokens, encrypted."""
    plain = {
        "access_token": "gho_upstream-access-plaintext",
        "refresh_token": "ghr_upstream-refresh-plaintext",
        "client_secret": "gh-client-secret-plaintext",
    }
    provider = UpstreamProvider(
        slug="github",
        name="GitHub",
        authorization_endpoint="https://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",
        client_id="gh-client",
    )
    vault.seal(provider, "client_secret_encrypted", plain["client_secret"])
    provider.save()
    connection = Connection(user=alice, provider=provider, account="alice-gh", scopes="repo")
    vault.seal(connection, "access_token_encrypted", plain["access_token"])
    vault.seal(connection, "refresh_token_encrypted", plain["refresh_token"])
    connection.access_expires_at = now + timedelta(hours=1)
    connection.save()
    ConnectionPolicy.objects.create(client=server, resource=mcp, provider=provider, scopes="repo")
    return {"connection": {"uid": str(connection.uid), **plain}}


def seed() -> dict:
    now = timezone.now()
    users = people()
    staff = Group.objects.get(name="engineering")
    mcp, other = resources(staff)
    made = clients(mcp, other, now)
    agent = register_agent(browser(), made.iat)
    out: dict = {"resource": MCP, "agent": agent}
    out |= token_families(users, agent, made)
    policies_and_keys(users, mcp, staff, made, agent, now)
    out |= identity(users, mcp, made, now)
    out |= upstream(users["alice"], mcp, made.server, now)
    assert Consent.objects.filter(user=users["alice"]).exists()
    audit.seal_pending()  # the chain head moves; later events stay pending, as in real life
    audit.record("seed.done", actor="seed")
    return out


def snapshot() -> dict:
    """Every row of every table, by primary key, its values as text."""
    tables = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table == "django_migrations":
                continue
            pk_column = connection.introspection.get_primary_key_column(cursor, table)
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalog
            columns = [c[0] for c in cursor.description]
            pk = pk_column or columns[0]
            rows = {}
            for values in cursor.fetchall():
                row = dict(zip(columns, (text(v) for v in values), strict=True))
                rows[row[pk]] = row
            tables[table] = {"pk": pk, "rows": rows}
    empty = [t for t, v in tables.items() if not v["rows"] and t not in MAY_BE_EMPTY]
    assert not empty, f"the seed left tables empty: {empty}"
    return tables


def text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def main() -> None:
    here = Path(authserver.__file__).resolve().parents[1]
    assert here == Path.cwd().resolve(), f"old code expected from {Path.cwd()}, got {here}"
    celery_app.conf.task_always_eager = True  # no worker: queued jobs run here
    call_command("migrate", verbosity=0, interactive=False)
    out = seed()
    out["snapshot"] = snapshot()
    Path(sys.argv[1]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
