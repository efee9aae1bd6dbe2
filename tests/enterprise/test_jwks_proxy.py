"""Every outbound fetch honours the operator's egress proxy (authserver.egress): a client's
``jwks_uri`` and the upstream sign-in providers' calls, as metadata documents already did. A
real CONNECT proxy on loopback, a real TLS host behind it whose name this machine cannot
resolve (tests/clients/support.py)."""

from __future__ import annotations

import json

import pytest
import requests
from allauth.socialaccount.adapter import get_adapter
from jwcrypto import jwk

from authserver import egress
from enterprise import jwks
from tests.clients.support import connect_proxy, document_host

pytestmark = pytest.mark.django_db

HOST = "keys.proxied.invalid"  # never resolvable here: only the proxy reaches it
JWKS_URI = f"https://{HOST}/.well-known/jwks.json"


@pytest.fixture(autouse=True)
def fresh_cache():
    jwks.clear()
    yield
    jwks.clear()


@pytest.fixture
def public_jwks() -> dict:
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")
    return {"keys": [key.export_public(as_dict=True)]}


def test_jwks_uri_is_fetched_through_the_egress_proxy(tmp_path, monkeypatch, public_jwks):
    """Before, a private_key_jwt client's jwks_uri was fetched directly: behind an
    egress-only proxy its assertions could never be checked."""
    seen: list[str] = []
    with (
        document_host(tmp_path, HOST, json.dumps(public_jwks).encode()) as (port, cert_path),
        connect_proxy(port, seen) as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # trust the test host's certificate
        keyset = jwks.keys_at(JWKS_URI)
    assert [line.rsplit(" ", 1)[0] for line in seen] == [f"CONNECT {HOST}:443"]
    assert keyset.get_key("k1") is not None


def test_jwks_uri_in_no_proxy_is_fetched_directly(tmp_path, monkeypatch, public_jwks):
    seen: list[str] = []
    with (
        document_host(tmp_path, HOST, json.dumps(public_jwks).encode()) as (port, _cert),
        connect_proxy(port, seen) as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", HOST)
        with pytest.raises(jwks.JwksUnavailable):
            jwks.keys_at(JWKS_URI)  # directly: the name does not resolve here
    assert seen == []


@pytest.mark.parametrize("host", ["10.0.0.5", "169.254.169.254"])
def test_proxy_does_not_open_a_way_to_a_private_jwks_uri(host, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(jwks.JwksUnavailable):
        jwks.keys_at(f"https://{host}/jwks.json")


def test_upstream_provider_calls_go_through_the_egress_proxy(tmp_path, monkeypatch):
    """allauth's session carries OIDC discovery, token and userinfo requests; ours routes it
    by the same rule as metadata documents and jwks_uri."""
    discovery = json.dumps({"issuer": f"https://{HOST}"}).encode()
    seen: list[str] = []
    with (
        document_host(tmp_path, HOST, discovery) as (port, cert_path),
        connect_proxy(port, seen) as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "")
        with get_adapter().get_requests_session() as session:
            response = session.get(
                f"https://{HOST}/.well-known/openid-configuration", verify=str(cert_path)
            )
    assert response.json() == {"issuer": f"https://{HOST}"}
    assert [line.rsplit(" ", 1)[0] for line in seen] == [f"CONNECT {HOST}:443"]


def test_upstream_host_in_no_proxy_is_reached_directly(tmp_path, monkeypatch):
    seen: list[str] = []
    with document_host(tmp_path, HOST, b"{}") as (port, _cert), connect_proxy(port, seen) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", f"other.example,{HOST}")
        with (
            get_adapter().get_requests_session() as session,
            pytest.raises(requests.ConnectionError),
        ):
            session.get(f"https://{HOST}/.well-known/openid-configuration")
    assert seen == []


def test_one_egress_rule_by_scheme_and_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain.example:3128")
    monkeypatch.setenv("NO_PROXY", "idp.example.com")
    assert egress.proxy_for("https://chatgpt.com/x") == "http://proxy.example:3128"
    assert egress.proxy_for("http://dev.example/x") == "http://plain.example:3128"
    assert egress.proxy_for("https://idp.example.com/x") is None
    assert egress.requests_proxies("https://idp.example.com/x") == {"http": None, "https": None}
