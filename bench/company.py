"""A large company's data, seeded with set-based SQL (``INSERT ... SELECT ... generate_series``).

People, groups and memberships, self-registered and admin clients, MCP servers with their
tools and tool policies, consents and token rows, at the sizes ``Scale`` names (by default
what issue-sized companies have: 1,000,000 users, 100,000 clients, 10,000 MCP servers with
50 tools each, 20,000 groups with 5,000,000 memberships, tool policies on 10% of the
servers, 200,000 consents, 1,100,000 token rows). Each table is one statement, so a
million rows take seconds to minutes, not the hours one ORM save per row would.

Needs Django set up against the bench database (bench/company_probe.py does that) and
bench.seed.seed_base() run first (the signing key and the bench's own clients).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from accounts.models import Consent
from authserver.models import AccessToken, RefreshToken, Resource, Scope
from authserver.tool_grants.models import ToolPolicy
from clients.models import Client
from django.contrib.auth.models import Group, User
from django.db import connection

from bench.seed import Seeded, _insert_sql

DOMAIN = "corp.example"
TOOLS_PER_SCOPE = 25  # two scopes per MCP server: tools:read and tools:write
# Self-registered clients as hosted MCP clients make them: every user of one product
# registers the same metadata, so one fingerprint is shared by tens of thousands.
FINGERPRINTS = (("Claude", 0.60), ("ChatGPT", 0.25))  # the rest: unique or admin-made


@dataclass(frozen=True)
class Scale:
    users: int = 1_000_000
    clients: int = 100_000
    servers: int = 10_000
    groups: int = 20_000
    memberships_per_user: int = 5
    consents: int = 200_000
    expired_tokens: int = 1_000_000
    live_tokens: int = 50_000  # access tokens, each with its refresh token
    policy_every: int = 10  # one MCP server in ten has tool policies
    admin_clients: float = 0.10  # confidential, made by an admin; the rest self-registered

    @classmethod
    def divided(cls, by: int) -> Scale:
        """The same shape at 1/``by`` of the size (a shared machine's run)."""
        full = cls()
        return cls(
            users=full.users // by,
            clients=full.clients // by,
            servers=full.servers // by,
            groups=full.groups // by,
            consents=full.consents // by,
            expired_tokens=full.expired_tokens // by,
            live_tokens=full.live_tokens // by,
        )


def tool_names(kind: str) -> list[str]:
    return [f"{kind}_{i}" for i in range(TOOLS_PER_SCOPE)]


def _run(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.rowcount


def _insert(model, named: dict[str, str], source: str, params: dict) -> int:
    sql, defaults = _insert_sql(model, named, source)
    return _run(sql, {**defaults, **params})


def _first_id(model, **where) -> int:
    return model.objects.filter(**where).order_by("pk").values_list("pk", flat=True)[0]


def seed_people(scale: Scale, tag: str) -> dict:
    users = _insert(
        User,
        {
            "password": "'!'",  # unusable: they sign in upstream
            "is_superuser": "false",
            "username": f"'{tag}user-' || g || '@{DOMAIN}'",
            "first_name": "'First' || g",
            "last_name": "'Last' || g",
            "email": f"'{tag}user-' || g || '@{DOMAIN}'",
            "is_staff": "false",
            "is_active": "g %% 50 <> 0",  # 2% deprovisioned
            "date_joined": "now() - (g %% 1000) * interval '1 day'",
        },
        "FROM generate_series(1, %(n)s) AS g",
        {"n": scale.users},
    )
    groups = _insert(
        Group,
        {"name": f"'{tag}team-' || g"},
        "FROM generate_series(1, %(n)s) AS g",
        {"n": scale.groups},
    )
    first_user = _first_id(User, username=f"{tag}user-1@{DOMAIN}")
    first_group = _first_id(Group, name=f"{tag}team-1")
    # Each user in ``memberships_per_user`` distinct groups: k * 4729 differs modulo 20,000
    # for k < 5 (and modulo any group count the divided scales give, checked by the unique
    # constraint). Ordered by user for the indexes' sake.
    memberships = _run(
        "INSERT INTO auth_user_groups (user_id, group_id) "
        "SELECT %(u0)s + u, %(g0)s + ((u::bigint * 7919 + k * 4729) %% %(groups)s) "
        "FROM generate_series(0, %(users)s - 1) AS u, generate_series(0, %(k)s - 1) AS k "
        "ORDER BY 1 ON CONFLICT DO NOTHING",
        {
            "u0": first_user,
            "g0": first_group,
            "groups": scale.groups,
            "users": scale.users,
            "k": scale.memberships_per_user,
        },
    )
    return {"users": users, "groups": groups, "memberships": memberships}


def seed_clients(scale: Scale, tag: str) -> dict:
    admin_made = int(scale.clients * scale.admin_clients)
    claude = int(scale.clients * FINGERPRINTS[0][1])
    chatgpt = int(scale.clients * FINGERPRINTS[1][1])
    # g <= admin_made: admin-made confidential; then Claude's, ChatGPT's, then unique DCR.
    kind = (
        f"CASE WHEN g <= {admin_made} THEN 'admin' "
        f"WHEN g <= {admin_made + claude} THEN 'Claude' "
        f"WHEN g <= {admin_made + claude + chatgpt} THEN 'ChatGPT' ELSE 'agent' END"
    )
    public = f"g > {admin_made}"
    rows = _insert(
        Client,
        {
            "client_id": f"'{tag}company-client-' || g",
            "client_secret": "''",
            "hash_client_secret": "false",
            "redirect_uris": f"CASE WHEN {public} THEN 'http://127.0.0.1/callback' ELSE '' END",
            "client_type": f"CASE WHEN {public} THEN 'public' ELSE 'confidential' END",
            "authorization_grant_type": f"CASE WHEN {public} THEN 'authorization-code' "
            "ELSE 'client-credentials' END",
            "name": f"({kind}) || ' ' || g",
            "created": "now() - g * interval '1 minute'",
            "updated": "now()",
            "registration_source": f"CASE WHEN {public} THEN 'dcr' ELSE 'manual' END",
            "grant_types": f"CASE WHEN {public} THEN "
            """'["authorization_code", "refresh_token"]'::jsonb """
            """ELSE '["client_credentials"]'::jsonb END""",
            "response_types": f"""CASE WHEN {public} THEN '["code"]'::jsonb ELSE '[]' END""",
            "token_endpoint_auth_method": f"CASE WHEN {public} THEN 'none' "
            "ELSE 'client_secret_basic' END",
            "application_type": f"CASE WHEN {public} THEN 'native' ELSE 'web' END",
            "metadata_fingerprint": f"CASE WHEN ({kind}) IN ('Claude', 'ChatGPT') "
            f"THEN md5({kind}) WHEN {public} THEN md5('agent' || g) ELSE '' END",
            "last_used_at": "CASE WHEN g %% 3 = 0 THEN now() - (g %% 90) * interval '1 day' END",
        },
        "FROM generate_series(1, %(n)s) AS g",
        {"n": scale.clients},
    )
    return {"clients": rows, "admin_clients": admin_made, "claude": claude, "chatgpt": chatgpt}


def seed_servers(scale: Scale, tag: str) -> dict:
    servers = _insert(
        Resource,
        {
            "identifier": f"'https://{tag}mcp-' || g || '.{DOMAIN}/mcp'",
            "canonical": f"'https://{tag}mcp-' || g || '.{DOMAIN}/mcp'",
            "name": "'MCP server ' || g",
            "created_at": "now()",
            "updated_at": "now()",
        },
        "FROM generate_series(1, %(n)s) AS g",
        {"n": scale.servers},
    )
    first = _first_id(Resource, identifier=f"https://{tag}mcp-1.{DOMAIN}/mcp")
    scopes = 0
    for name, kind, default in (("tools:read", "read", True), ("tools:write", "write", False)):
        scopes += _insert(
            Scope,
            {
                "resource_id": "%(r0)s + g",
                "name": "%(name)s",
                "description": "%(description)s",
                "tools": "%(tools)s::jsonb",
                "is_default": "%(default)s",
            },
            "FROM generate_series(0, %(n)s - 1) AS g",
            {
                "r0": first,
                "n": scale.servers,
                "name": name,
                "description": f"{kind.capitalize()} with {TOOLS_PER_SCOPE} tools",
                "tools": json.dumps(tool_names(kind)),
                "default": default,
            },
        )
    # On one server in ``policy_every``: a group may use five read tools, nobody the last
    # write tool.
    first_group = _first_id(Group, name=f"{tag}team-1")
    allow = _insert(
        ToolPolicy,
        {
            "resource_id": "%(r0)s + g",
            "effect": "'allow'",
            "group_id": "%(g0)s + (g %% %(groups)s)",
            "tools": "%(allowed)s::jsonb",
            "updated_at": "now()",
        },
        "FROM generate_series(0, %(n)s - 1, %(every)s) AS g",
        {
            "r0": first,
            "g0": first_group,
            "groups": scale.groups,
            "n": scale.servers,
            "every": scale.policy_every,
            "allowed": json.dumps(tool_names("read")[:5]),
        },
    )
    deny = _insert(
        ToolPolicy,
        {
            "resource_id": "%(r0)s + g",
            "effect": "'deny'",
            "tools": "%(denied)s::jsonb",
            "updated_at": "now()",
        },
        "FROM generate_series(0, %(n)s - 1, %(every)s) AS g",
        {
            "r0": first,
            "n": scale.servers,
            "every": scale.policy_every,
            "denied": json.dumps(tool_names("write")[-1:]),
        },
    )
    return {"servers": servers, "scopes": scopes, "tool_policies": allow + deny}


def seed_grants(scale: Scale, seeded: Seeded, tag: str) -> dict:
    """Consents and token rows spread over the seeded people, clients and servers."""
    u0 = _first_id(User, username=f"{tag}user-1@{DOMAIN}")
    c0 = _first_id(Client, client_id=f"{tag}company-client-1")
    r0 = _first_id(Resource, identifier=f"https://{tag}mcp-1.{DOMAIN}/mcp")
    admin_made = int(scale.clients * scale.admin_clients)
    public = scale.clients - admin_made
    ids = {"u0": u0, "c0": c0, "r0": r0, "admin": admin_made, "public": public}
    ids |= {"users": scale.users, "servers": scale.servers}
    consents = _insert(
        Consent,
        {
            "user_id": "%(u0)s + (g %% %(users)s)",
            "client_id": "%(c0)s + %(admin)s + ((g * 7) %% %(public)s)",
            "resource_id": "%(r0)s + (g %% %(servers)s)",
            "scope": "'tools:read'",
            "created_at": "now()",
            "updated_at": "now()",
        },
        "FROM generate_series(0, %(n)s - 1) AS g",
        {**ids, "n": scale.consents},
    )
    resource = (
        f"jsonb_build_array('https://{tag}mcp-' || (1 + g %% %(servers)s) || '.{DOMAIN}/mcp')"
    )
    access = {
        "token": "''",
        "token_checksum": "md5(%(tag)s || g) || md5(g || %(tag)s)",
        "scope": "'tools:read'",
        "created": "now()",
        "updated": "now()",
        "resource": resource,
        "jti": "%(tag)s || g",
        "kid": "%(kid)s",
    }
    # Expired: machine tokens of the admin-made clients (no user), as client credentials
    # leaves them, until the hourly cleanup.
    expired = _insert(
        AccessToken,
        {
            **access,
            "expires": "now() - interval '1 hour' - (g %% 3000) * interval '1 second'",
            "application_id": "%(c0)s + (g %% %(admin)s)",
        },
        "FROM generate_series(1, %(n)s) AS g",
        {**ids, "n": scale.expired_tokens, "tag": f"{tag}company-exp-", "kid": seeded.kid},
    )
    live = _insert(
        AccessToken,
        {
            **access,
            "expires": "now() + interval '50 minutes'",
            "token_family": "md5(%(tag)s || 'fam' || g)::uuid",
            "application_id": "%(c0)s + %(admin)s + ((g * 7) %% %(public)s)",
            "user_id": "%(u0)s + (g %% %(users)s)",
        },
        "FROM generate_series(1, %(n)s) AS g",
        {**ids, "n": scale.live_tokens, "tag": f"{tag}company-live-", "kid": seeded.kid},
    )
    refresh = _insert(
        RefreshToken,
        {
            "token": "''",
            "token_checksum": "md5('rt' || at.jti) || md5(at.jti || 'rt')",
            "token_family": "at.token_family",
            "resource": "at.resource",
            "created": "now()",
            "updated": "now()",
            "absolute_expires": "now() + interval '30 days'",
            "access_token_id": "at.id",
            "application_id": "at.application_id",
            "user_id": "at.user_id",
        },
        "FROM authserver_accesstoken AS at WHERE at.jti LIKE %(live)s",
        {"live": f"{tag}company-live-%"},
    )
    return {
        "consents": consents,
        "expired_access": expired,
        "live_access": live,
        "refresh": refresh,
    }


TABLES = (
    "auth_user",
    "auth_group",
    "auth_user_groups",
    "clients_client",
    "authserver_resource",
    "authserver_scope",
    "authserver_toolpolicy",
    "accounts_consent",
    "authserver_accesstoken",
    "authserver_refreshtoken",
)


def seed_company(seeded: Seeded, scale: Scale, *, tag: str = "", log=print) -> dict:
    """Every table, each step timed; then VACUUM (ANALYZE), as an operator would after a
    bulk load (autovacuum's first pass over fresh rows otherwise runs inside a measurement).
    ``tag`` prefixes every name, so a second company can be seeded beside a first."""
    out: dict = {"scale": asdict(scale), "seconds": {}, "rows": {}}
    steps = (
        ("people", lambda: seed_people(scale, tag)),
        ("clients", lambda: seed_clients(scale, tag)),
        ("servers", lambda: seed_servers(scale, tag)),
        ("grants", lambda: seed_grants(scale, seeded, tag)),
    )
    for name, step in steps:
        started = time.monotonic()
        out["rows"] |= step()
        out["seconds"][name] = round(time.monotonic() - started, 1)
        log(f"seeded {name} in {out['seconds'][name]} s: {out['rows']}")
    started = time.monotonic()
    for table in TABLES:
        _run(f"VACUUM (ANALYZE) {table}")
    out["seconds"]["vacuum_analyze"] = round(time.monotonic() - started, 1)
    out["table_bytes"] = table_bytes()
    return out


def table_bytes() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname = ANY(%s) ORDER BY 2 DESC",
            [list(TABLES)],
        )
        return dict(cursor.fetchall())
