"""Schema fuzzing of every JSON and form endpoint against the published OpenAPI document.

schemathesis reads ``GET /openapi.json`` from the WSGI app in-process (no server) and, per
operation, sends a bounded, derandomised set of generated requests, valid and invalid. For
each response: no 5xx, the status is documented, the content type and body match the
document (every error an OAuth error JSON with a code allowed for that status), and when
the request was refused (4xx), nothing was written: no client, token or grant row appeared,
changed or went away.

The operations behind credentials are fuzzed twice: once as generated, once with real
credentials of seeded clients, so the fuzzer gets past authentication into the grant,
revocation, introspection and RFC 7592 code instead of stopping at 401.
"""

from __future__ import annotations

import dataclasses
import re

import hypothesis
import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authserver.models import AccessToken, Grant, RefreshToken
from authserver.wsgi import application
from clients import services
from clients.errors import InvalidToken
from clients.models import Client
from tests.factories import make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 40

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260412,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
        # The document's examples (what real MCP clients send), the coverage phase's
        # boundary and invalid values (deterministic), then max-examples fuzzed ones. No
        # stateful phase: the document declares no links between operations.
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", application, config=CONFIG)
authenticated = schema.include(path=["/register/{client_id}", "/token", "/revoke", "/introspect"])


COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclasses.dataclass
class World:
    """What the endpoints need to do real work: a resource, a confidential machine client
    with access to it, and a dynamically registered client with its registration token."""

    machine_id: str
    machine_secret: str
    dcr_id: str = ""
    dcr_token: str = ""

    def registered(self) -> tuple[str, str]:
        """The RFC 7592 client, registered again if a fuzzed DELETE removed it or a fuzzed
        PUT rotated its registration access token (RFC 7592 §3)."""
        try:
            services.authenticate_registration(self.dcr_id, self.dcr_token)
        except InvalidToken:
            Client.objects.filter(client_id=self.dcr_id).delete()
        if not Client.objects.filter(client_id=self.dcr_id).exists():
            result = services.register_client(
                {
                    "client_name": "fuzzed registration",
                    "redirect_uris": ["http://127.0.0.1:4567/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "none",
                },
                ip="127.0.0.1",
                bearer="",
                now=timezone.now(),
            )
            self.dcr_id = result.client.client_id
            self.dcr_token = result.registration_access_token
        return self.dcr_id, self.dcr_token

    def authorize(self, case) -> None:
        """Replace the generated credentials with real ones."""
        headers = dict(case.headers or {})
        if case.path == "/register/{client_id}":
            client_id, token = self.registered()
            case.path_parameters = {**(case.path_parameters or {}), "client_id": client_id}
            headers["Authorization"] = f"Bearer {token}"
            if case.method == "PUT" and isinstance(case.body, dict):
                case.body = {**case.body, "client_id": client_id}  # RFC 7592 §2.2 needs it
        elif case.path in ("/token", "/revoke", "/introspect"):
            headers["Authorization"] = basic(self.machine_id, self.machine_secret)
        case.headers = headers


@pytest.fixture
def world(settings) -> World:
    # Registration without a rate limit or cap; no Client ID Metadata Document fetches.
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG,
        registration_mode="open",
        registration_rate_limit=0,
        max_dynamic_clients=0,
        cimd_enabled=False,
    )
    resource = make_resource()
    machine, secret = make_client(access={resource: "tools:read tools:write"})
    world = World(machine_id=machine.client_id, machine_secret=secret)
    world.registered()
    return world


def stored_state() -> tuple:
    """Every row a refused request must leave alone."""
    return (
        list(Client.objects.order_by("pk").values()),
        AccessToken.objects.count(),
        RefreshToken.objects.count(),
        Grant.objects.count(),
    )


FUZZ_SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


def exercise(case, checks: list) -> None:
    """Send ``case``, validate the response, and on a refusal check nothing was written."""
    before = stored_state()
    response = case.call()
    case.validate_response(response, checks=checks)
    if case.path == "/revocations" and response.status_code == 200:
        assert COMPACT_JWS.fullmatch(response.text), "the revocation list is not a compact JWS"
    if response.status_code >= 400:
        assert stored_state() == before, f"{case.method} {case.path} wrote on refusal"


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous_request_conforms_and_refusal_writes_nothing(case, world):
    """Every operation, with whatever credentials the fuzzer made up (mostly none valid)."""
    exercise(case, [*CHECKS, negative_data_rejection])


@authenticated.parametrize()
@FUZZ_SETTINGS
def test_authenticated_request_conforms_and_refusal_writes_nothing(case, world):
    """The operations behind client or registration credentials, with real ones, so the
    fuzzer reaches the grant, revocation, introspection and RFC 7592 code. A negative case
    may turn valid once real credentials replace its own, so no negative_data_rejection."""
    world.authorize(case)
    exercise(case, CHECKS)


def test_openapi_document_is_served_and_names_every_fuzzed_endpoint(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    paths = response.json()["paths"]
    assert {
        "/register",
        "/register/{client_id}",
        "/token",
        "/revoke",
        "/introspect",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
        "/revocations",
    } <= set(paths)


def test_openapi_document_is_not_advertised_in_oauth_metadata(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert not any("openapi" in str(value) for value in metadata.values())


# What the fuzzer found, pinned down as plain tests.


def test_body_client_id_naming_another_client_is_invalid_client(client, world):
    """oauthlib answered ``400 server_error`` ("Discrepency found between client identifier")
    when the Basic credentials and a body client_id named different clients."""
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "client_id": "someone-else"},
        HTTP_AUTHORIZATION=basic(world.machine_id, world.machine_secret),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert AccessToken.objects.count() == 0


@pytest.mark.parametrize("grant_type", ["Æ", 'a"b', "back\\slash", "nul\x00"])
def test_error_description_stays_within_rfc6749_characters(client, world, grant_type):
    """Registration errors quote the offending value; RFC 6749 §5.2 allows only printable
    ASCII without '"' and '\\' in error_description."""
    response = client.post(
        "/register", {"grant_types": [grant_type]}, content_type="application/json"
    )
    assert response.status_code == 400
    description = response.json()["error_description"]
    assert re.fullmatch(r"[\x20\x21\x23-\x5B\x5D-\x7E]*", description), description
