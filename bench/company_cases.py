"""The cases bench/company_probe.py measures: each a request as people and operators make
it, in-process through Django's test client, as ``send(i) -> (status, bytes)``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.flows import basic
from bench.scale_probe import FORM, HOST

SCIM = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
CONSENT_MCP = "https://consent.bench.example/mcp"
REVIEWED = "small-user-2@corp.example"  # one consent, one live token and grant


class Cases:
    """Every case as ``send(i) -> (status, bytes)``."""

    def __init__(self, seeded, n: int) -> None:
        from accounts.models import Consent  # noqa: F401 - models loaded
        from accounts.scim.models import ScimToken
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.seeded, self.n = seeded, n
        self.http = Client(HTTP_HOST=HOST)
        self.browser = Client(HTTP_HOST=HOST)
        self.browser.force_login(get_user_model().objects.get(pk=seeded.user_pk))
        admin = get_user_model().objects.create_superuser("bench-admin", "admin@bench.example")
        self.admin = Client(HTTP_HOST=HOST)
        self.admin.force_login(admin)
        _, self.scim_token = ScimToken.issue("bench provisioning")
        created = self.http.post(
            "/scim/v2/Users",
            json.dumps(
                {
                    "schemas": [USER_SCHEMA],
                    "userName": "scim-0@bench.example",
                    "externalId": "bench-scim",
                    "active": True,
                }
            ),
            content_type=SCIM,
            HTTP_AUTHORIZATION=f"Bearer {self.scim_token}",
        )
        if created.status_code != 201:
            raise RuntimeError(f"SCIM create: {created.status_code} {created.content[:300]!r}")
        self.scim_user = created.json()["id"]
        self.machine = basic(seeded.machine_id, seeded.machine_secret)
        self.rs = basic(seeded.rs_id, seeded.rs_secret)
        self.cc_body = urlencode(
            {"grant_type": "client_credentials", "resource": seeded.resource, "scope": "tools:read"}
        )
        self.fresh_token()
        from bench import seed

        # One pool for both phases (its rows are named by position); codes live an hour.
        size = 2 * (self.n + 10) + 50
        self.refresh_pool = seed.seed_refresh_pool(self.seeded, size)
        self.code_pool = seed.seed_code_pool(self.seeded, size)
        self.cursor = {"refresh": 0, "code": 0}

    def _take(self, pool: str) -> str:
        items = self.refresh_pool if pool == "refresh" else self.code_pool
        item = items[self.cursor[pool]]
        self.cursor[pool] += 1
        return item

    def fresh_token(self) -> None:
        """The introspected token, issued anew for each phase: seeding outlasts its lifetime
        (300 s), and an expired token takes the cheaper ``{"active": false}`` path."""
        token = self.http.post(
            "/token", self.cc_body, content_type=FORM, HTTP_AUTHORIZATION=self.machine
        ).json()["access_token"]
        self.intro_body = urlencode({"token": token})

    @staticmethod
    def _out(response) -> tuple[int, int]:
        return response.status_code, len(response.content)

    def reference(self, _i: int):
        """A request through the same middleware chain plus four database round trips: the
        shape of a token request with no data behind it."""
        from django.db import connection

        response = self.http.get("/healthz")
        with connection.cursor() as cursor:
            for _ in range(4):
                cursor.execute("SELECT 1")
        return self._out(response)

    def client_credentials(self, _i: int):
        return self._out(
            self.http.post(
                "/token", self.cc_body, content_type=FORM, HTTP_AUTHORIZATION=self.machine
            )
        )

    def refresh(self, _i: int):
        body = urlencode(
            {
                "grant_type": "refresh_token",
                "client_id": self.seeded.app_id,
                "refresh_token": self._take("refresh"),
            }
        )
        return self._out(self.http.post("/token", body, content_type=FORM))

    def code(self, _i: int):
        return self._out(self.http.post("/token", self._take("code"), content_type=FORM))

    def introspection(self, _i: int):
        return self._out(
            self.http.post(
                "/introspect", self.intro_body, content_type=FORM, HTTP_AUTHORIZATION=self.rs
            )
        )

    def _authorize_query(self, resource: str, scope: str) -> str:
        from bench.seed import REDIRECT

        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return urlencode(
            {
                "response_type": "code",
                "client_id": self.seeded.app_id,
                "redirect_uri": REDIRECT,
                "state": secrets.token_hex(4),
                "scope": scope,
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )

    def authorize_remembered(self, _i: int):
        response = self.browser.get("/authorize?" + self._authorize_query(
            self.seeded.resource, "tools:read"
        ))  # fmt: skip
        location = response.get("Location", "")
        if response.status_code != 302 or not parse_qs(urlsplit(location).query).get("code"):
            raise RuntimeError(f"authorize: {response.status_code} {location[:120]}")
        return self._out(response)

    def consent_page(self, _i: int):
        query = self._authorize_query(CONSENT_MCP, "tools:read tools:write")
        response = self.browser.get("/authorize?" + query)
        if response.status_code != 200 or b"read_24" not in response.content:
            raise RuntimeError(f"consent page: {response.status_code}")
        return self._out(response)

    def admin_clients(self, _i: int):
        return self._out(self.admin.get("/admin/clients/client/"))

    def admin_users(self, _i: int):
        return self._out(self.admin.get("/admin/auth/user/"))

    def access_review(self, _i: int):
        # A person of the small company: the same rows in both phases (the bench's own
        # user gains tokens from the refresh and code cases as the probe runs).
        return self._out(self.admin.get("/admin/review/access/", {"user": REVIEWED}))

    def scim_patch(self, i: int):
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"userName": f"scim-{i}@bench.example"}}],
        }
        response = self.http.patch(
            f"/scim/v2/Users/{self.scim_user}",
            json.dumps(body),
            content_type=SCIM,
            HTTP_AUTHORIZATION=f"Bearer {self.scim_token}",
        )
        if response.status_code != 200:
            raise RuntimeError(f"SCIM PATCH: {response.status_code} {response.content[:200]}")
        return self._out(response)

    def revocation_list(self, _i: int):
        return self._out(self.http.get("/revocations"))

    def all(self) -> list[tuple[str, object]]:
        return [
            ("reference: /healthz + 4 SELECT 1", self.reference),
            ("(a) client credentials", self.client_credentials),
            ("(b) refresh", self.refresh),
            ("(b2) code redemption", self.code),
            ("(g) introspection", self.introspection),
            ("authorize, remembered consent (302)", self.authorize_remembered),
            ("consent page, 50 tools", self.consent_page),
            ("admin: client list", self.admin_clients),
            ("admin: user list", self.admin_users),
            ("admin: access review", self.access_review),
            ("SCIM PATCH with userName", self.scim_patch),
            ("revocation list", self.revocation_list),
        ]


def consent_resource() -> None:
    """An MCP server with 50 tools in two scopes and a tool policy, not yet consented to."""
    from authserver.models import Resource, Scope
    from authserver.tool_grants.models import ToolPolicy
    from django.contrib.auth.models import Group

    from bench.company import tool_names

    resource = Resource.objects.create(identifier=CONSENT_MCP, name="Consent bench MCP")
    for name, kind in (("tools:read", "read"), ("tools:write", "write")):
        Scope.objects.create(
            resource=resource,
            name=name,
            description=f"{kind} tools",
            tools=tool_names(kind),
            is_default=kind == "read",
        )
    group = Group.objects.create(name="bench-readers")
    ToolPolicy.objects.create(resource=resource, group=group, tools=tool_names("read")[:5])
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=tool_names("write")[-1:])
