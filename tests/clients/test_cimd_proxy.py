"""Metadata documents fetched through the operator's egress proxy (HTTPS_PROXY): a real CONNECT
proxy on loopback and a real TLS server behind it, for a host this machine cannot resolve."""

from __future__ import annotations

import json

import pytest

from clients import cimd_fetch
from clients.cimd import MetadataFetcher
from clients.models import Client
from tests.clients.support import connect_proxy, document_host

pytestmark = pytest.mark.django_db

HOST = "docs.proxied.invalid"  # never resolvable here: only the proxy reaches it
URL = f"https://{HOST}/oauth/client.json"


def test_document_is_fetched_through_the_egress_proxy(tmp_path, monkeypatch):
    """Behind an egress-only proxy the document host does not even resolve here; before, every
    such client failed with "Invalid client_id parameter value"."""
    document = {
        "client_id": URL,
        "client_name": "Proxied client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none",
    }
    seen: list[str] = []
    with (
        document_host(tmp_path, HOST, json.dumps(document).encode()) as (port, cert_path),
        connect_proxy(port, seen) as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # trust the test host's certificate
        assert cimd_fetch.proxy_for(URL) == proxy
        fetched, _max_age = MetadataFetcher().fetch(URL)
    assert [line.rsplit(" ", 1)[0] for line in seen] == [f"CONNECT {HOST}:443"]
    assert fetched["client_name"] == "Proxied client"
    assert Client.objects.filter(client_id=URL).exists()


def test_no_proxy_and_unset_proxy_mean_a_direct_fetch(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "claude.ai")
    assert cimd_fetch.proxy_for("https://claude.ai/oauth/x") is None
    assert cimd_fetch.proxy_for("https://chatgpt.com/oauth/x") == "http://proxy.example:3128"
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    assert cimd_fetch.proxy_for("https://chatgpt.com/oauth/x") is None


@pytest.mark.parametrize("host", ["10.0.0.5", "169.254.169.254", "127.0.0.1"])
def test_proxy_does_not_open_a_way_to_private_addresses(host, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(cimd_fetch.CIMDError, match="non-public"):
        cimd_fetch.fetch_via_proxy(f"https://{host}/c.json", "http://127.0.0.1:9", None)
