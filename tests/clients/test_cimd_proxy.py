"""Metadata documents fetched through the operator's egress proxy (HTTPS_PROXY): a real CONNECT
proxy on loopback and a real TLS server behind it, for a host this machine cannot resolve."""

from __future__ import annotations

import contextlib
import http.server
import json
import select
import socket
import socketserver
import ssl
import threading

import pytest

from clients import cimd_fetch
from clients.cimd import MetadataFetcher
from clients.models import Client
from tests.clients.support import self_signed

pytestmark = pytest.mark.django_db

HOST = "docs.proxied.invalid"  # never resolvable here: only the proxy reaches it
URL = f"https://{HOST}/oauth/client.json"


@contextlib.contextmanager
def document_host(tmp_path, body: bytes):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    cert_path, key_path = self_signed(tmp_path, HOST, trusted=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server.server_address[1], cert_path
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def connect_proxy(target_port: int, seen: list[str]):
    """CONNECT host:443 -> 127.0.0.1:target_port, then bytes both ways."""

    class Tunnel(socketserver.BaseRequestHandler):
        def handle(self):
            head = b""
            while b"\r\n\r\n" not in head:
                head += self.request.recv(4096)
            seen.append(head.split(b"\r\n")[0].decode())
            upstream = socket.create_connection(("127.0.0.1", target_port))
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            sockets = [self.request, upstream]
            while True:
                ready, _, _ = select.select(sockets, [], [], 5)
                if not ready:
                    break
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        upstream.close()
                        return
                    (upstream if sock is self.request else self.request).sendall(data)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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
        document_host(tmp_path, json.dumps(document).encode()) as (port, cert_path),
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
