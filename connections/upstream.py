"""The OAuth 2.0 client side: talking to an upstream provider's endpoints.

Authorization requests with PKCE and ``state`` (RFC 6749 §4.1, RFC 7636), the code and
refresh grants (RFC 6749 §4.1.3, §6), revocation (RFC 7009) and discovery (RFC 8414 /
OpenID Connect Discovery). Nothing here touches the database; tokens are only returned,
never logged.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx

from connections import vault

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

    def __repr__(self) -> str:  # never print a token
        return f"UpstreamTokens(expires_in={self.expires_in}, scope={self.scope!r})"


def new_pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1-4.2: a 256-bit verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(provider, *, redirect_uri: str, state: str, challenge: str) -> str:
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        **{str(k): str(v) for k, v in (provider.extra_authorize_params or {}).items()},
    }
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
    )


def exchange_code(provider, *, code: str, redirect_uri: str, verifier: str) -> UpstreamTokens:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if provider.use_pkce:
        form["code_verifier"] = verifier
    return _token_request(provider, form, requested_scope=provider.scopes)


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
