"""The real upstream provider for connection tests: node-oidc-provider plus its tiny API
(tests/upstream/server.mjs), on loopback ports, one process per test that asks for it."""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.support.http import free_port

HERE = Path(__file__).resolve().parent
CLIENT_ID = "authserver-connections"


class Upstream:
    """One running upstream: ``issuer`` (the provider) and ``api`` (checks its tokens)."""

    def __init__(self, redirect_uris: list[str], *, access_ttl: int = 600) -> None:
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("run `npm ci` in tests/upstream (make test does)")
        port, api_port = free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        self.api = f"http://127.0.0.1:{api_port}"
        self.client_secret = secrets.token_urlsafe(24)
        self.process = subprocess.Popen(
            ["node", str(HERE / "server.mjs")],
            env={
                "PATH": "/usr/bin:/bin:/usr/local/bin",
                "PORT": str(port),
                "API_PORT": str(api_port),
                "CLIENT_ID": CLIENT_ID,
                "CLIENT_SECRET": self.client_secret,
                "REDIRECT_URIS": ",".join(redirect_uris),
                "ACCESS_TTL": str(access_ttl),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        ready = threading.Event()

        def drain() -> None:  # keeps the pipe from filling; the output helps failing tests
            for line in self.process.stdout:
                self.output.append(line)
                if line.strip() == "ready":
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(30) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the upstream provider did not start: {self.output!r}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def control(self, name: str) -> dict:
        return httpx.post(f"{self.api}/control/{name}", timeout=5).json()

    def call_api(self, access_token: str) -> httpx.Response:
        return httpx.get(
            f"{self.api}/whoami", headers={"Authorization": f"Bearer {access_token}"}, timeout=5
        )

    def provider_fields(self) -> dict:
        """UpstreamProvider fields (the secret is sealed separately)."""
        return {
            "name": "Upstream Test API",
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "revocation_endpoint": f"{self.issuer}/token/revocation",
            "client_id": CLIENT_ID,
            "scopes": "api:read api:write",
            "rotates_refresh_tokens": True,
        }

    def refresh_directly(self, refresh_token: str) -> httpx.Response:
        """What the provider says about a refresh token (used to prove revocation/rotation)."""
        return httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(CLIENT_ID, self.client_secret),
            timeout=5,
        )

    def sign_in(self, authorization_url: str, *, login: str = "alice") -> dict[str, str]:
        """Drive the provider's own login and consent pages over HTTP, as a browser would;
        returns the query the provider redirects back with (code, state, iss)."""
        with httpx.Client(timeout=10) as http:
            response = http.get(authorization_url)
            for _ in range(8):
                if response.is_redirect:
                    target = urljoin(str(response.url), response.headers["location"])
                    if not target.startswith(self.issuer):
                        return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
                    response = http.get(target)
                    continue
                action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                assert action, response.text[:500]
                form = (
                    {"prompt": "login", "login": login, "password": "any"}
                    if 'name="login"' in response.text
                    else {"prompt": "consent"}
                )
                response = http.post(urljoin(str(response.url), action.group(1)), data=form)
        raise AssertionError("the provider never redirected back")
