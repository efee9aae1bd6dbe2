"""docs/SECURITY.md, "What the review found", item 8: what held in the outside review, kept
as regression tests where not covered yet: redirect manipulation, SSRF targets for client
metadata documents (a host name resolving to loopback included) and forged JWTs at introspection and
token exchange."""

from __future__ import annotations

import base64
import json
import socket

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from authserver.models import TokenExchangePolicy
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from clients import cimd
from clients.cimd import CIMDError, MetadataFetcher
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.oauthflow import authorize_url, pkce_pair
from tests.support.http import basic

pytestmark = pytest.mark.django_db
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


# --- redirect manipulation ---------------------------------------------------------------------


@pytest.fixture
def app():
    make_resource()
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback https://agent.example.com/cb",
    )
    return client


@pytest.mark.parametrize(
    "evil",
    [
        "http://agent.example.com/cb",  # scheme downgrade
        "https://agent.example.com/cb/",
        "https://agent.example.com/CB",
        "https://agent.example.com/cb?",
        "https://agent.example.com/cb?x=1",
        "https://agent.example.com/cb%2F..%2F..%2Fevil",
        "https://agent.example.com/cb/..%2fevil",
        "https://agent.example.com%2eevil.example/cb",
        "https://agent.example.com\\@evil.example/cb",
        "https://agent.example.com@evil.example/cb",
        "https://agent.example.com:8443/cb",  # ports only float on loopback (RFC 8252 §7.3)
        "http://127.0.0.1.evil.example/callback",
        "http://localhost.evil.example/callback",
        "http://127.0.0.1@evil.example/callback",
        "http://127.0.0.1:8080/callback/../evil",
        "http://127.0.0.1/callback?next=https://evil.example",
        "http://127.0.0.1/Callback",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "https://agent.example.com/cb\t",
        " https://agent.example.com/cb",
    ],
)
def test_redirect_manipulation_is_never_followed(client, user, app, evil):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            app.client_id,
            resource=MCP,
            redirect_uri=evil,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert response.status_code == 400
    assert "Location" not in response


# --- SSRF through client metadata documents -----------------------------------------------------


@pytest.fixture
def no_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(cimd.urllib3, "HTTPSConnectionPool", refuse)


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost./client.json",
        "https://LOCALHOST/client.json",
        "https://127.1/client.json",
        "https://2130706433/client.json",
        "https://0x7f000001/client.json",
        "https://0.0.0.0/client.json",
        "https://[::]/client.json",
        "https://[0:0:0:0:0:0:0:1]/client.json",
        "https://[::ffff:127.0.0.1]/client.json",
        "https://100.64.0.1/client.json",  # carrier-grade NAT
        "https://172.16.0.1/client.json",
        "https://[fe80::1]/client.json",
        "https://metadata.google.internal/computeMetadata/v1/client.json",
    ],
)
def test_ssrf_to_internal_targets_through_a_client_metadata_document_is_refused(url, no_connection):
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "::1", "169.254.169.254"])
def test_ssrf_through_a_public_host_name_that_resolves_to_loopback_is_refused(
    address, monkeypatch, no_connection
):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def resolve(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch("https://rebind.attacker.example/client.json")


def test_ssrf_through_this_machines_own_host_name_is_refused(no_connection):
    """The real resolver: this machine's name resolves to one of its own addresses."""
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch(f"https://{socket.gethostname()}/client.json")


# --- forged JWTs ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict]:
    header, payload, _sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


def forgeries(real: str) -> dict[str, str]:
    """Tokens an attacker can make from a real one without our private key."""
    header, claims = _parts(real)
    _h, _p, signature = real.split(".")
    widened = {**claims, "scope": "tools:read tools:write admin"}
    attacker = jwk.JWK.generate(kty="EC", crv="P-256")
    signed = jws.JWS(json_encode(widened).encode())
    signed.add_signature(attacker, alg="ES256", protected=json_encode({**header, "alg": "ES256"}))
    hmac_key = jwk.JWK(kty="oct", k=_b64(json.dumps(header).encode()))
    confused = jws.JWS(json_encode(claims).encode())
    confused.add_signature(hmac_key, alg="HS256", protected=json_encode({**header, "alg": "HS256"}))
    none_header = _b64(json.dumps({**header, "alg": "none"}).encode())
    return {
        "tampered claims, original signature": ".".join(
            [real.split(".")[0], _b64(json.dumps(widened).encode()), signature]
        ),
        "alg none": f"{none_header}.{_b64(json.dumps(claims).encode())}.",
        "attacker key under our kid": signed.serialize(compact=True),
        "HS256 alg confusion": confused.serialize(compact=True),
        "signature stripped": real.rsplit(".", 1)[0] + ".",
    }


@pytest.fixture
def issued(client):
    resource = make_resource(MCP)
    other = make_resource(OTHER_MCP)
    machine, machine_secret = make_client(access={resource: "tools:read"})
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    gateway, gateway_secret = make_client(name="gateway", grant_types=(GRANT_TYPE,))
    TokenExchangePolicy.objects.create(
        client=gateway, source=resource, target=other, scope="tools:read"
    )
    token = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=basic(machine.client_id, machine_secret),
    ).json()["access_token"]
    return {
        "token": token,
        "rs": basic(rs.client_id, rs_secret),
        "gateway": basic(gateway.client_id, gateway_secret),
    }


FORGERY_NAMES = [
    "tampered claims, original signature",
    "alg none",
    "attacker key under our kid",
    "HS256 alg confusion",
    "signature stripped",
]


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_forged_jwt_is_inactive_at_introspection(client, issued, forgery):
    real = client.post("/introspect", {"token": issued["token"]}, HTTP_AUTHORIZATION=issued["rs"])
    assert real.json()["active"] is True  # the genuine token is active: the test can fail
    forged = forgeries(issued["token"])[forgery]
    response = client.post("/introspect", {"token": forged}, HTTP_AUTHORIZATION=issued["rs"])
    assert response.status_code == 200
    assert response.json() == {"active": False}


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_forged_subject_token_is_refused_at_token_exchange(client, issued, forgery):
    forged = forgeries(issued["token"])[forgery]
    response = client.post(
        "/token",
        {
            "grant_type": GRANT_TYPE,
            "subject_token": forged,
            "subject_token_type": ACCESS,
            "resource": OTHER_MCP,
        },
        HTTP_AUTHORIZATION=issued["gateway"],
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
