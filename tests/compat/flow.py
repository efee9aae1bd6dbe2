"""Drives one real MCP client's whole flow over HTTP, parameter for parameter as it sends them.

registration (RFC 7591) or metadata-document resolution (CIMD) -> authorization with consent
-> code exchange -> refresh -> revocation (RFC 7009) -> the revoked refresh token is refused.

Requests go over a real socket to a server the test starts (:class:`Http`, the WSGI entry
point ``authserver.wsgi.application`` with the fast path and every middleware, CSRF included),
the path real clients take; not through Django's test client.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import requests
from django.conf import settings
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from tests.oauthflow import consent_request_id, pkce_pair, query_of


class Response:
    """A ``requests`` response read the way the tests read Django's: ``response["Header"]``."""

    def __init__(self, raw: requests.Response) -> None:
        self.raw = raw
        self.status_code = raw.status_code
        self.content = raw.content

    def __getitem__(self, name: str) -> str:
        return self.raw.headers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.raw.headers

    def json(self):
        return self.raw.json()


class Http:
    """A client (or a user's browser) talking to the live server at ``base``: cookies kept,
    redirects not followed, Django-style ``HTTP_*`` keyword headers accepted."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, whatever proxy the machine sets

    @staticmethod
    def _headers(extra: dict) -> dict:
        headers = {}
        for key, value in extra.items():
            if key == "content_type":
                headers["Content-Type"] = value
            elif key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").title()] = value
        return headers

    def request(self, method: str, path: str, data=None, **extra) -> Response:
        raw = self.session.request(
            method,
            self.base + path,
            data=data,
            headers=self._headers(extra),
            allow_redirects=False,
            timeout=30,
        )
        return Response(raw)

    def get(self, path: str, **extra) -> Response:
        return self.request("GET", path, **extra)

    def post(self, path: str, data=None, content_type: str | None = None, **extra) -> Response:
        if content_type:
            extra["content_type"] = content_type
        return self.request("POST", path, data, **extra)

    def options(self, path: str, **extra) -> Response:
        return self.request("OPTIONS", path, **extra)

    def sign_in_as(self, django_client, user) -> None:
        """The user's session, made by Django's test client and carried as the browser's
        cookie (the sign-in page has its own tests)."""
        django_client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        self.session.cookies.set(name, django_client.cookies[name].value)


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class RealClient:
    """What one client sends, from its public documentation and public issue reports."""

    name: str
    sources: str  # where the shapes below come from
    seen: str  # date of the metadata used
    registration: str  # "dcr" or "cimd"
    metadata: dict  # the DCR body, or the CIMD document (its client_id is set at serve time)
    redirect_uri: str  # the redirect URI it sends at /authorize (ports as it picks them)
    resource: str | None  # the resource it sends, None when it sends none
    scope: str | None = None  # the scope it asks for at /authorize
    refresh_scope: str | None = None  # the scope it sends on refresh (None: omitted)
    origin: str | None = None  # a browser-based client's Origin (CORS)
    extra_authorize: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


@dataclass
class Registered:
    client_id: str
    client_secret: str | None
    information: dict
    signing_key: jwk.JWK | None = None  # private_key_jwt: the key behind its jwks_uri


def client_assertion(registered: Registered) -> str:
    """RFC 7523 §2.2 / §3, as ChatGPT signs one: RS256, iss = sub = client_id, aud = issuer."""
    now = int(time.time())
    claims = {
        "iss": registered.client_id,
        "sub": registered.client_id,
        "aud": settings.ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    key = registered.signing_key
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(
        key, alg="RS256", protected=json_encode({"alg": "RS256", "kid": key["kid"]})
    )
    return token.serialize(compact=True)


def _headers(real: RealClient, **more) -> dict:
    headers = dict(more)
    if real.origin:
        headers["HTTP_ORIGIN"] = real.origin
    return headers


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode each part, then Basic."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def authenticate(real: RealClient, registered: Registered, data: dict) -> tuple[dict, dict]:
    """Public clients send client_id in the body; confidential ones Basic credentials, or a
    signed client assertion (private_key_jwt)."""
    if registered.signing_key is not None:
        assertion = {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(registered),
        }
        return {**data, **assertion}, _headers(real)
    if registered.client_secret:
        auth = basic(registered.client_id, registered.client_secret)
        return data, _headers(real, HTTP_AUTHORIZATION=auth)
    return {**data, "client_id": registered.client_id}, _headers(real)


def authorize(browser, real: RealClient, client_id: str) -> tuple[str, str, dict]:
    """The user's browser at /authorize, consenting; returns (code, verifier, callback query)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": real.redirect_uri,
        "state": "compat-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **real.extra_authorize,
    }
    if real.scope is not None:
        params["scope"] = real.scope
    if real.resource is not None:
        params["resource"] = real.resource
    response = browser.get("/authorize?" + urlencode(params))
    assert response.status_code == 200, response.content[:400]  # the consent screen
    page = response.content.decode()
    response = browser.post(
        "/authorize",
        {
            "request_id": consent_request_id(response),
            "allow": "1",
            "csrfmiddlewaretoken": _CSRF.search(page).group(1),  # CSRF is enforced here
        },
    )
    assert response.status_code == 302, response.content[:400]
    location = response["Location"]
    assert location.split("?")[0] == real.redirect_uri.split("?")[0]
    query = query_of(location)
    return query["code"], verifier, query


def exchange(http, real: RealClient, registered: Registered, code: str, verifier: str):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": real.redirect_uri,
        "code_verifier": verifier,
    }
    if real.resource is not None:
        data["resource"] = real.resource
    data, headers = authenticate(real, registered, data)
    return http.post("/token", data, **headers)


def refresh(http, real: RealClient, registered: Registered, refresh_token: str):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if real.refresh_scope is not None:
        data["scope"] = real.refresh_scope
    if real.resource is not None:
        data["resource"] = real.resource
    data, headers = authenticate(real, registered, data)
    return http.post("/token", data, **headers)


def revoke(http, real: RealClient, registered: Registered, token: str):
    data, headers = authenticate(
        real, registered, {"token": token, "token_type_hint": "refresh_token"}
    )
    return http.post("/revoke", data, **headers)
