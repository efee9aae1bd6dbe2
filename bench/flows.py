"""Sequential HTTP against the running server: probes, tokens for later cases, and case (h),
the authorization code flow with remembered consent, as latency per iteration."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import secrets
import statistics
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class Http:
    """One keep-alive connection with a cookie jar (enough for a browser-like session)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers=None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self) -> None:
        self.conn.close()


def probe(port: int, method: str, path: str, body=b"", headers=None) -> tuple[int, dict, bytes]:
    client = Http(port)
    try:
        return client.request(method, path, body or None, headers)
    finally:
        client.close()


def client_credentials_token(port: int, client_id: str, secret: str, resource: str) -> str:
    body = urlencode(
        {"grant_type": "client_credentials", "resource": resource, "scope": "tools:read"}
    )
    status, _, data = probe(
        port, "POST", "/token", body, {**FORM, "Authorization": basic(client_id, secret)}
    )
    if status != 200:
        raise RuntimeError(f"client credentials failed: {status} {data[:300]!r}")

    return json.loads(data)["access_token"]


def login(client: Http, username: str, password: str) -> None:
    """Sign in through the real form once; the session cookie is reused afterwards."""
    status, _, page = client.request("GET", "/accounts/login/")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or match is None:
        raise RuntimeError(f"login page: {status}")
    body = urlencode(
        {
            "csrfmiddlewaretoken": match.group(1).decode(),
            "username": username,
            "password": password,
            "next": "/",
        }
    )
    status, headers, _ = client.request("POST", "/accounts/login/", body, FORM)
    if status != 302 or "sessionid" not in client.cookies:
        raise RuntimeError(f"login failed: {status} {headers.get('location')}")


def code_flow_once(client: Http, *, app_id: str, resource: str, redirect: str) -> float:
    """authorize (consent remembered: straight 302 with a code) -> token. Seconds taken."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app_id,
            "redirect_uri": redirect,
            "state": secrets.token_hex(4),
            "scope": "tools:read",
            "resource": resource,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    started = time.perf_counter()
    status, headers, body = client.request("GET", "/authorize?" + query)
    location = headers.get("location", "")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if status != 302 or not code:
        raise RuntimeError(f"authorize gave {status} {location[:200]} {body[:200]!r}")
    form = urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": app_id,
            "code_verifier": verifier,
        }
    )
    status, _, body = client.request("POST", "/token", form, FORM)
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"code exchange gave {status} {body[:200]!r}")
    return elapsed


def code_flow_latency(
    port: int, *, app_id: str, resource: str, redirect: str, username: str, password: str, n: int
) -> dict:
    client = Http(port)
    try:
        login(client, username, password)
        for _ in range(5):  # warm-up
            code_flow_once(client, app_id=app_id, resource=resource, redirect=redirect)
        times, errors = [], 0
        for _ in range(n):
            try:
                times.append(
                    code_flow_once(client, app_id=app_id, resource=resource, redirect=redirect)
                )
            except RuntimeError:
                errors += 1
    finally:
        client.close()
    times.sort()
    quantiles = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else []
    total = sum(times)
    return {
        "key": "h",
        "title": "(h) code flow: authorize -> code -> token, sequential",
        "iterations": len(times),
        "errors": errors,
        "flows_per_s": round(len(times) / total, 1) if total else 0.0,
        "p50_ms": round(quantiles[49] * 1000, 2) if quantiles else 0.0,
        "p99_ms": round(quantiles[98] * 1000, 2) if quantiles else 0.0,
        "max_ms": round(times[-1] * 1000, 2) if times else 0.0,
    }
