"""The OAuth 2.0 client side: talking to an upstream provider's endpoints.

Authorization requests with PKCE and ``state`` (RFC 6749 §4.1, RFC 7636) and, on an
OpenID Connect leg, a ``nonce`` checked in the ID token; the authorization response's
``iss`` (RFC 9207, mix-up defence); the code and refresh grants (RFC 6749 §4.1.3, §6),
revocation (RFC 7009) and discovery (RFC 8414 / OpenID Connect Discovery). Nothing here
touches the database; tokens are only returned, never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

import httpx
from django.core.cache import cache

from connections import vault
from mcp_token_verifier import jws

TIMEOUT = httpx.Timeout(10.0)
MAX_BODY = 64 * 1024


class UpstreamError(Exception):
    """The provider refused or could not be reached. ``code`` is its RFC 6749 §5.2 error
    (or ``unreachable`` / ``bad_response``); ``permanent`` means retrying cannot help."""

    def __init__(self, code: str, *, permanent: bool = False) -> None:
        super().__init__(code)
        self.code = code[:64]
        self.permanent = permanent


@dataclass(frozen=True)
class UpstreamTokens:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str = ""  # "" when the provider sent none (keep the old one, §6)
    id_token: str = field(default="", repr=False)  # OIDC: "" when none came back

    def __repr__(self) -> str:  # never print a token
        return f"UpstreamTokens(expires_in={self.expires_in}, scope={self.scope!r})"


def new_pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1-4.2: a 256-bit verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def is_openid(provider) -> bool:
    """An OpenID Connect leg: the provider is asked for the ``openid`` scope."""
    return "openid" in (provider.scopes or "").split()


def authorization_url(
    provider, *, redirect_uri: str, state: str, challenge: str, nonce: str = ""
) -> str:
    params = {
        **{str(k): str(v) for k, v in (provider.extra_authorize_params or {}).items()},
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if nonce:  # OIDC Core §3.1.2.1: bound to this browser's request, checked in the ID token
        params["nonce"] = nonce
    if provider.scopes:
        params["scope"] = provider.scopes
    if provider.use_pkce:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    separator = "&" if "?" in provider.authorization_endpoint else "?"
    return provider.authorization_endpoint + separator + urlencode(params)


def _client_auth(provider, form: dict) -> tuple[dict, dict]:
    secret = vault.open_(provider, "client_secret_encrypted")
    headers = {"Accept": "application/json"}
    if provider.token_endpoint_auth_method == "client_secret_post":  # noqa: S105
        form = {**form, "client_id": provider.client_id, "client_secret": secret}
    else:
        # RFC 6749 §2.3.1: form-urlencode id and secret before Basic encoding.
        raw = f"{quote(provider.client_id, safe='')}:{quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
    return form, headers


def _post(provider, url: str, form: dict) -> httpx.Response:
    form, headers = _client_auth(provider, form)
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            return http.post(url, data=form, headers=headers)
    except httpx.HTTPError:
        raise UpstreamError("unreachable") from None


def _token_request(provider, form: dict, *, requested_scope: str) -> UpstreamTokens:
    response = _post(provider, provider.token_endpoint, form)
    try:
        body = response.json() if len(response.content) <= MAX_BODY else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UpstreamError("bad_response", permanent=False)
    if response.status_code != 200 or "error" in body:
        code = str(body.get("error") or "bad_response")
        # RFC 6749 §5.2: invalid_grant means the grant is gone; so is a revoked client.
        raise UpstreamError(code, permanent=code in ("invalid_grant", "invalid_client"))
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise UpstreamError("bad_response")
    if str(body.get("token_type", "")).lower() != "bearer":
        raise UpstreamError("unsupported_token_type", permanent=True)
    expires_in = body.get("expires_in")
    refresh = body.get("refresh_token")
    scope = body.get("scope")
    return UpstreamTokens(
        access_token=token,
        expires_in=int(expires_in) if isinstance(expires_in, int | float) else 0,
        # RFC 6749 §5.1: scope omitted means as requested.
        scope=" ".join(scope.replace(",", " ").split())
        if isinstance(scope, str)
        else requested_scope,
        refresh_token=refresh if isinstance(refresh, str) else "",
        id_token=body["id_token"] if isinstance(body.get("id_token"), str) else "",
    )


def exchange_code(
    provider, *, code: str, redirect_uri: str, verifier: str, nonce: str = ""
) -> UpstreamTokens:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if provider.use_pkce:
        form["code_verifier"] = verifier
    tokens = _token_request(provider, form, requested_scope=provider.scopes)
    if nonce and tokens.id_token:
        check_nonce(tokens.id_token, nonce)
    return tokens


def check_nonce(id_token: str, nonce: str) -> None:
    """OIDC Core §3.1.3.7 step 11: the ID token carries the nonce this request sent. The ID
    token came straight from the token endpoint (§3.1.3.7 step 6): its claims are read
    without a signature check, through the one JWS path's parser."""
    try:
        claims = jws.unverified_claims(id_token)
    except jws.JWSError:
        raise UpstreamError("invalid_id_token", permanent=True) from None
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise UpstreamError("nonce_mismatch", permanent=True)


ISSUER_TTL = 3600  # seconds a provider's issuer (from its metadata) is reused
WELL_KNOWN = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


def _metadata(url: str) -> dict:
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            response = http.get(url, headers={"Accept": "application/json"})
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        body = None
    return body if isinstance(body, dict) else {}


def expected_issuer(provider, presented: str) -> tuple[str, bool]:
    """RFC 9207 §2.4: the issuer the authorization request went to, and whether its metadata
    says it always sends ``iss`` (``authorization_response_iss_parameter_supported``).

    From ``discovery_url`` when the provider has one. Otherwise from the metadata at the
    presented ``iss`` (RFC 8414 §3 / OIDC Discovery §4), fetched only when ``iss`` is on the
    authorization endpoint's origin, and trusted only if it names this provider's
    authorization endpoint. ("", False) when nothing is known."""
    key = (
        "connections:issuer:"
        + hashlib.sha256(
            f"{provider.pk}|{provider.discovery_url}|{provider.authorization_endpoint}".encode()
        ).hexdigest()
    )
    known = cache.get(key)
    if isinstance(known, list | tuple) and len(known) == 2:
        return str(known[0]), bool(known[1])
    document: dict = {}
    if provider.discovery_url:
        document = _metadata(provider.discovery_url)
    elif presented and _origin(presented) == _origin(provider.authorization_endpoint):
        base = presented.rstrip("/")
        for suffix in (
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ):
            document = _metadata(base + suffix)
            if document:
                break
        if document.get("authorization_endpoint") != provider.authorization_endpoint:
            document = {}
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        return "", False
    required = document.get("authorization_response_iss_parameter_supported") is True
    cache.set(key, [issuer, required], ISSUER_TTL)
    return issuer, required


def _origin(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ("", "")
    return (parts.scheme, parts.netloc)


def check_issuer(provider, presented: str) -> None:
    """RFC 9207 §2.4: ``iss`` in the authorization response is the issuer we sent the user
    to (a mix-up sends us another provider's code), and present where its metadata promises
    it. A response with ``iss`` we cannot tie to this provider is refused."""
    issuer, required = expected_issuer(provider, presented)
    if presented:
        if not issuer or not hmac.compare_digest(presented.encode(), issuer.encode()):
            raise UpstreamError("issuer_mismatch", permanent=True)
    elif required:
        raise UpstreamError("issuer_missing", permanent=True)


def refresh(provider, *, refresh_token: str, scope: str) -> UpstreamTokens:
    # RFC 6749 §6: no scope parameter: the same scope as originally granted.
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_request(provider, form, requested_scope=scope)


def revoke(provider, *, token: str, hint: str) -> bool:
    """RFC 7009 §2.1; True when the provider answered 200 (§2.2: also for unknown tokens)."""
    if not provider.revocation_endpoint or not token:
        return False
    form = {"token": token, "token_type_hint": hint}
    try:
        return _post(provider, provider.revocation_endpoint, form).status_code == 200
    except UpstreamError:
        return False


def fetch_account(provider, *, access_token: str) -> str:
    """A display name for the connected account (OIDC userinfo, GitHub /user); "" if none."""
    if not provider.userinfo_endpoint:
        return ""
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            response = http.get(
                provider.userinfo_endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return ""
    if not isinstance(body, dict):
        return ""
    for name in ("email", "login", "preferred_username", "name", "sub"):
        if isinstance(body.get(name), str | int) and str(body[name]):
            return str(body[name])[:255]
    return ""


def discover(url: str) -> dict[str, str]:
    """Endpoints from an RFC 8414 / OIDC discovery document."""
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            body = http.get(url, headers={"Accept": "application/json"}).json()
    except (httpx.HTTPError, ValueError):
        raise UpstreamError("unreachable") from None
    if not isinstance(body, dict):
        raise UpstreamError("bad_response")
    names = ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "userinfo_endpoint")
    return {n: body[n] for n in names if isinstance(body.get(n), str)}
