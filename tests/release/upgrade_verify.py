"""Migrate a database the previous release filled (upgrade_seed.py) with THIS code, then check
that every row survived unchanged and that what the rows stand for still works.

Run by tests/release/test_upgrade.py from this checkout:

    python upgrade_verify.py SEED.json   # same environment as the seed run

Prints one JSON line of what it checked; any lost or changed row, or anything that stopped
working, raises (exit status 1) with every difference found.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as Browser  # noqa: E402

from authserver import audit  # noqa: E402
from authserver.celery import app as celery_app  # noqa: E402
from authserver.keys import keyring  # noqa: E402
from authserver.models import SigningKey  # noqa: E402
from connections import vault  # noqa: E402
from connections.models import Connection  # noqa: E402
from mcp_token_verifier import TokenError, TokenVerifier  # noqa: E402

ISSUER = __import__("os").environ["ISSUER"]
HOST = urlsplit(ISSUER).netloc
OTHER_MCP = "https://other.example.com/mcp"
# Columns a migration rewrote on purpose: "table.column": why. Empty while none does.
REWRITTEN: dict[str, str] = {
    # The PostgreSQL triggers renew the cache generation on any change to a watched table, and
    # migrations that touch resources or policies change them: a new value is the point.
    "authserver_cachegeneration.value": "renewed by triggers",
}
# Tables a migration dropped on purpose: "table": where its rows went.
DROPPED: dict[str, str] = {}


def text(value) -> str | None:  # the seed's rendering, so values compare as text
    if value is None:
        return None
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def lost_or_changed_rows(snapshot: dict) -> list[str]:
    problems = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table, before in snapshot.items():
            if table not in tables:
                if table not in DROPPED:
                    problems.append(f"table {table} is gone ({len(before['rows'])} rows)")
                continue
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalog
            columns = [c[0] for c in cursor.description]
            now = {}
            for values in cursor.fetchall():
                row = dict(zip(columns, (text(v) for v in values), strict=True))
                now[row.get(before["pk"])] = row
            for pk, old in before["rows"].items():
                new = now.get(pk)
                if new is None:
                    problems.append(f"{table}: row {before['pk']}={pk} is gone")
                    continue
                for column, value in old.items():
                    if f"{table}.{column}" in REWRITTEN:
                        continue
                    if column not in new:
                        problems.append(f"{table}.{column}: column is gone")
                        break
                    if new[column] != value:
                        problems.append(f"{table}.{column} changed in row {pk}")
    return problems


def browser() -> Browser:
    return Browser(HTTP_HOST=HOST)


def fetch_from(web: Browser):
    """The verifier's HTTP fetch, answered by this server in process."""

    def fetch(url: str, headers):
        response = web.get(urlsplit(url).path, headers=dict(headers))
        return response.status_code, {k.lower(): v for k, v in response.items()}, response.content

    return fetch


def verifier(resource: str, *, clock=time.time) -> TokenVerifier:
    return TokenVerifier(
        ISSUER,
        resource,
        jwks_uri=ISSUER + "/.well-known/jwks.json",
        revocation_list_uri=ISSUER + "/revocations",
        fetch=fetch_from(browser()),
        clock=clock,
        leeway=0,
    )


def refused(check, token: str) -> bool:
    try:
        check.verify(token)
    except TokenError:
        return True
    return False


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def check_tokens(seed: dict, checked: dict) -> None:
    mcp = seed["resource"]
    claims = verifier(mcp).verify(seed["alice"]["access_token"])
    verifier(mcp).verify(seed["machine"]["access_token"])
    verifier(OTHER_MCP).verify(seed["exchanged"])
    # Valid until they expire, not after: the same token one second past its exp.
    after = verifier(mcp, clock=lambda: claims["exp"] + 1)
    assert refused(after, seed["alice"]["access_token"]), "an expired token verified"
    # Carol left before the upgrade: her token stays refused (the revocation list's cut-off).
    assert refused(verifier(mcp), seed["carol"]["access_token"]), "a revoked token verified"
    checked["access_tokens"] = 3

    web = browser()
    agent = seed["agent"]["client_id"]
    response = web.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": seed["alice"]["refresh_token"],
            "client_id": agent,
        },
    )
    assert response.status_code == 200, response.content[:300]
    verifier(mcp).verify(response.json()["access_token"])  # signed by a migrated key
    response = web.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": seed["carol"]["refresh_token"],
            "client_id": agent,
        },
    )
    assert response.json().get("error") == "invalid_grant", response.content[:300]
    checked["refresh_tokens"] = 2

    machine = seed["machine"]
    response = web.post(
        "/token",
        {"grant_type": "client_credentials", "resource": mcp, "scope": "tools:read"},
        HTTP_AUTHORIZATION=basic(machine["client_id"], machine["client_secret"]),
    )
    assert response.status_code == 200, response.content[:300]  # the client secret's HMAC
    server = seed["server"]
    response = web.post(
        "/introspect",
        {"token": seed["alice"]["access_token"]},
        HTTP_AUTHORIZATION=basic(server["client_id"], server["client_secret"]),
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["active"] is True, "introspection: a live token is inactive"
    response = web.get(
        f"/register/{agent}",
        HTTP_AUTHORIZATION=f"Bearer {seed['agent']['registration_access_token']}",
    )
    assert response.status_code == 200, response.content[:300]  # RFC 7592
    response = web.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {seed['scim_token']}")
    assert response.status_code == 200, response.content[:300]
    checked["client_credentials"] = checked["introspection"] = 1
    checked["registration_access_token"] = checked["scim_token"] = 1


def check_consent(seed: dict, checked: dict) -> None:
    """Alice's remembered consent: no consent screen, straight back with a code."""
    from django.contrib.auth import get_user_model

    web = browser()
    web.force_login(get_user_model().objects.get(username="alice"))
    response = web.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": seed["agent"]["client_id"],
            "redirect_uri": "http://127.0.0.1:45678/callback",
            "state": "upgrade",
            "scope": "tools:read",
            "resource": seed["resource"],
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 302, f"consent asked again ({response.status_code})"
    assert "code=" in response["Location"]
    checked["consent"] = 1


def check_secrets(seed: dict, checked: dict) -> None:
    keys = SigningKey.objects.exclude(private_jwk_encrypted="")
    for key in keys:
        keyring.forget_private_jwk(key.kid)
        assert keyring.private_jwk(key).has_private, key.kid  # decrypts under the KEK
    checked["signing_keys"] = keys.count()
    connection_row = Connection.objects.select_related("provider").get(
        uid=seed["connection"]["uid"]
    )
    expected = seed["connection"]
    assert vault.open_(connection_row, "access_token_encrypted") == expected["access_token"]
    assert vault.open_(connection_row, "refresh_token_encrypted") == expected["refresh_token"]
    provider = connection_row.provider
    assert vault.open_(provider, "client_secret_encrypted") == expected["client_secret"]
    checked["upstream_secrets"] = 3


def main() -> None:
    seed = json.loads(Path(sys.argv[1]).read_text())
    celery_app.conf.task_always_eager = True
    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_seconds = round(time.monotonic() - started, 2)
    problems = lost_or_changed_rows(seed["snapshot"])
    assert not problems, "the upgrade lost or changed rows:\n" + "\n".join(problems)
    checked = {
        "tables": len(seed["snapshot"]),
        "rows": sum(len(t["rows"]) for t in seed["snapshot"].values()),
    }
    # Nothing else writes this database: seal every event, the seed's last seconds included
    # (seal_pending leaves events younger than SEAL_MIN_AGE for in-flight transactions).
    audit.seal_pending(now=datetime.now(UTC) + audit.SEAL_MIN_AGE)
    report = audit.verify_chain()
    assert report.ok, f"audit chain broken after the upgrade: {report.__dict__}"
    old_events = len(seed["snapshot"]["authserver_auditevent"]["rows"])
    assert report.checked >= old_events, report.__dict__
    assert not report.unsealed, report.__dict__
    checked["audit_events"] = report.checked
    check_secrets(seed, checked)
    check_tokens(seed, checked)
    check_consent(seed, checked)
    checked["migrate_seconds"] = migrate_seconds
    checked["at"] = datetime.now(UTC).isoformat()
    print(json.dumps(checked))


if __name__ == "__main__":
    main()
