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


def seed() -> dict:
    now = timezone.now()
    users = people()
    staff = Group.objects.get(name="engineering")
    mcp, other = resources(staff)
    out: dict = {"resource": MCP}

    # Clients of every kind: admin-made confidential (client credentials), private_key_jwt,
    # the MCP server's own (introspection, token exchange), one dynamically registered.
    machine, machine_secret = confidential("machine", ["client_credentials"])
    ResourceAccess.objects.create(client=machine, resource=mcp, scope="tools:read tools:write")
    signing = keyring.generate_jwk("ES256")
    pkjwt, _ = confidential(
        "workload",
        ["client_credentials"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [json.loads(signing.export_public())]},
    )
    server, server_secret = confidential(
        "notes server", ["urn:ietf:params:oauth:grant-type:token-exchange"]
    )
    mcp.introspection_client = server
    mcp.save()
    TokenExchangePolicy.objects.create(client=server, source=mcp, target=other, scope="tools:read")
    iat = InitialAccessToken.objects.create(
        label="ops",
        token_hash=hashlib.sha256(b"iat").hexdigest(),
        expires_at=now + timedelta(days=30),
    )

    web = browser()
    registered = web.post(
        "/register",
        json.dumps(
            {
                "client_name": "Agent",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }
        ),
        content_type="application/json",
    )
    assert registered.status_code == 201, registered.content[:300]
    agent = registered.json()
    Client.objects.filter(client_id=agent["client_id"]).update(initial_access_token=iat)
    out["agent"] = {
        "client_id": agent["client_id"],
        "registration_access_token": agent["registration_access_token"],
    }

    # Alice: consent, a token family rotated once, one code left unredeemed.
    web.force_login(users["alice"])
    code, verifier = authorize(web, agent["client_id"], MCP, "tools:read tools:write")
    first = token(
        web,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": agent["client_id"],
            "code_verifier": verifier,
            "resource": MCP,
        },
    )
    rotated = token(
        web,
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": agent["client_id"],
        },
    )
    authorize(web, agent["client_id"], MCP, "tools:read")  # a code never redeemed
    out["alice"] = {
        "access_token": rotated["access_token"],
        "refresh_token": rotated["refresh_token"],
    }

    # The MCP server exchanges Alice's token for one at the other server (RFC 8693).
    exchanged = token(
        web,
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": rotated["access_token"],
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "resource": OTHER_MCP,
            "scope": "tools:read",
        },
        HTTP_AUTHORIZATION=basic(server.client_id, server_secret),
    )
    out["exchanged"] = exchanged["access_token"]

    # Carol: a token, then she leaves (revoked, a cut-off in the revocation list).
    carol = browser()
    carol.force_login(users["carol"])
    code, verifier = authorize(carol, agent["client_id"], MCP, "tools:read")
    revoked = token(
        carol,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": agent["client_id"],
            "code_verifier": verifier,
            "resource": MCP,
        },
    )
    revocation.revoke_user(users["carol"], now=timezone.now(), actor="seed")
    out["carol"] = revoked

    machine_token = token(
        web,
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=basic(machine.client_id, machine_secret),
    )
    out["machine"] = {
        "client_id": machine.client_id,
        "client_secret": machine_secret,
        "access_token": machine_token["access_token"],
    }
    out["server"] = {"client_id": server.client_id, "client_secret": server_secret}

    ToolPolicy.objects.create(resource=mcp, effect="allow", group=staff, tools=["write_note"])
    ToolPolicy.objects.create(resource=mcp, effect="deny", client=machine, tools=["*"])
    IDToken.objects.create(
        user=users["alice"],
        application=Client.objects.get(client_id=agent["client_id"]),
        jti=secrets.token_hex(16),
        expires=now + timedelta(hours=1),
        scope="openid",
    )
    DPoPProofJti.objects.create(jti=secrets.token_hex(16), expires_at=now + timedelta(minutes=5))

    # A second signing key (the rotation schedule ahead of time): more than one encrypted key.
    keyring.rotate(now=now, force=True)

    # Identity: SCIM, upstream sign-in, enterprise.
    scim, scim_token = ScimToken.issue("Okta provisioning")
    ScimIdentity.objects.create(user=users["bob"], external_id="00u-bob")
    out["scim_token"] = scim_token
    out["scim_token_id"] = scim.pk
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount, SocialApp

    EmailAddress.objects.create(
        user=users["bob"], email="bob@example.com", verified=True, primary=True
    )
    SocialApp.objects.create(
        provider="openid_connect", provider_id="corp", name="Corp", client_id="x"
    )
    SocialAccount.objects.create(user=users["bob"], provider="corp", uid="bob-sub")
    idp = TrustedIdentityProvider.objects.create(
        name="Corp IdP", issuer="https://idp.example.com", jwks_uri="https://idp.example.com/jwks"
    )
    idp.clients.add(machine)
    idp.resources.add(mcp)
    EnterpriseSubject.objects.create(issuer=idp.issuer, subject="bob-sub", user=users["bob"])
    WorkloadTrustRule.objects.create(
        name="deploys",
        issuer="https://token.actions.githubusercontent.com",
        jwks_uri="https://token.actions.githubusercontent.com/.well-known/jwks",
        subject_pattern="repo:acme/deploy:*",
        audience="https://auth.example.com",
        client=pkjwt,
    )
    UsedAssertion.objects.create(
        issuer=idp.issuer, jti="a-1", expires_at=now + timedelta(minutes=5)
    )

    # Connections: encrypted upstream secrets and tokens.
    provider = UpstreamProvider(
        slug="github",
        name="GitHub",
        authorization_endpoint="https://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",
        client_id="gh-client",
    )
    vault.seal(provider, "client_secret_encrypted", "gh-client-secret-plaintext")
    provider.save()
    connection = Connection(
        user=users["alice"], provider=provider, account="alice-gh", scopes="repo"
    )
    vault.seal(connection, "access_token_encrypted", "gho_upstream-access-plaintext")
    vault.seal(connection, "refresh_token_encrypted", "ghr_upstream-refresh-plaintext")
    connection.access_expires_at = now + timedelta(hours=1)
    connection.save()
    ConnectionPolicy.objects.create(client=server, resource=mcp, provider=provider, scopes="repo")
    out["connection"] = {
        "uid": str(connection.uid),
        "access_token": "gho_upstream-access-plaintext",
        "refresh_token": "ghr_upstream-refresh-plaintext",
        "client_secret": "gh-client-secret-plaintext",
    }
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
