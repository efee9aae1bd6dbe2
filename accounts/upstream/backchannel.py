"""OpenID Connect Back-Channel Logout 1.0 from upstream providers: end the user's sessions here.

The provider POSTs a signed ``logout_token`` when someone signs out there. We end the browser
sessions that sign-in created: the one its ``sid`` names (found through the index kept at
sign-in, so a token with ``sid`` alone works, §2.4), or all of the user's with ``sub`` only.
Agents' tokens are not revoked by default: a sign-out is not a departure (SCIM deactivation
is). A provider whose app settings say ``"backchannel_logout_revokes_tokens": true`` also
revokes everything the user holds, as deactivation does.

Replay: a token's ``jti`` is remembered for ``JTI_MEMORY`` seconds, and a token issued more
than ``MAX_AGE`` seconds ago is refused, so a token cannot come back once its ``jti`` is
forgotten. Keys: each provider's discovery document and JWKS are cached in the process
(``mcp_token_verifier.jwks.KeyCache``, the verifier's rotation rule: fresh for the JWKS's
``max-age``, an unknown ``kid`` refetches at most every ``REFETCH_INTERVAL`` seconds), so an
unauthenticated POST does not make us fetch anything.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from importlib import import_module

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from authserver import audit
from authserver.errors import InvalidRequest, writer
from authserver.revocation import service as revocation
from mcp_token_verifier import jws
from mcp_token_verifier.fetch import FetchError, make_urllib_fetch
from mcp_token_verifier.jwks import KeyCache
from mcp_token_verifier.strictjson import loads_json_object

log = logging.getLogger("accounts.upstream")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY = 60  # seconds of clock skew tolerated on iat and exp (an upstream clock is not ours)
MAX_AGE = 300  # seconds: a logout token is delivered at once (§2.7), not hours later
JTI_MEMORY = 600  # seconds a jti is remembered: longer than any token we would still accept
assert MAX_AGE + 2 * LEEWAY <= JTI_MEMORY  # noqa: S101 - the replay rule's invariant
SESSIONS_TTL = 14 * 86400
REFETCH_INTERVAL = 30.0  # seconds: an unknown kid refetches the JWKS at most this often
DISCOVERY_TTL = 3600.0  # seconds a provider's discovery document is reused
FETCH_TIMEOUT = 5.0


class InvalidLogoutToken(Exception):
    pass


def _sessions_key(provider_id: str, user_pk: int) -> str:
    return f"upstream-sessions:{provider_id}:{user_pk}"


def _sid_key(provider_id: str, sid: str) -> str:
    return f"upstream-sid:{provider_id}:{hashlib.sha256(sid.encode()).hexdigest()[:32]}"


def remember_session(request, provider_id: str, user, sid: str | None) -> None:
    """At sign-in: which of our sessions the provider's session (``sid``) created, and whose
    session that ``sid`` is (a logout token may carry ``sid`` without ``sub``, §2.4)."""
    entries = cache.get(_sessions_key(provider_id, user.pk)) or []
    entries = [*entries[-19:], [request.session.session_key, sid]]
    try:
        cache.set(_sessions_key(provider_id, user.pk), entries, SESSIONS_TTL)
        if sid:
            cache.set(_sid_key(provider_id, sid), user.pk, SESSIONS_TTL)
    except Exception:
        log.warning("upstream session not remembered (cache down)")


def _static_resolver(jwks: dict):
    keys = [jws.public_key_from_jwk(k) for k in jwks.get("keys", []) if isinstance(k, dict)]

    def fitting(alg: str, kid: str | None, _header: dict) -> jws.SignatureCheck:
        chosen = [k for k in keys if (kid is None or k.get("kid") == kid)]
        return jws.first_that_verifies(
            jws.signature_check(k, alg) for k in chosen if jws.key_fits(k, alg)
        )

    return fitting


def validate_logout_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    jwks: dict | None = None,
    keys: KeyCache | None = None,
    now: float | None = None,
) -> dict:
    """OIDC Back-Channel Logout 1.0 §2.6: signature, iss, aud, iat/exp, jti, events, sub or
    sid, and no nonce. The signature by the one JWS path (mcp_token_verifier.jws): its
    algorithm allow-list (never "none" or HMAC, §2.6 step 2) and its key size minimums; the
    keys from ``keys`` (a provider's cached JWKS) or a literal ``jwks``."""
    now = time.time() if now is None else now
    try:
        resolve = keys.check_for if keys is not None else _static_resolver(jwks or {})
        # §2.4 recommends explicit typing (logout+jwt) without requiring it: typ unchecked.
        claims = jws.verify(
            token, typ=None, algorithms=jws.SIGNATURE_ALGORITHMS, resolve=resolve
        ).claims
        # iat no older than MAX_AGE: once JTI_MEMORY has passed, the jti is forgotten and
        # only this bound stops the same token being played again.
        jws.check_times(claims, now=now, leeway=LEEWAY, required=("iat", "exp"), max_age=MAX_AGE)
    except (jws.JWSError, AttributeError, TypeError) as exc:
        raise InvalidLogoutToken(f"logout_token rejected: {exc}") from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("iss") != issuer or client_id not in audiences:
        raise InvalidLogoutToken("logout_token rejected: iss or aud is not ours")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise InvalidLogoutToken("logout_token rejected: no jti")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise InvalidLogoutToken("events must contain the back-channel logout event")
    if "nonce" in claims:  # §2.4: prevents an ID token being used as a logout token
        raise InvalidLogoutToken("a logout token must not contain a nonce")
    if not isinstance(claims.get("sub"), str) and not isinstance(claims.get("sid"), str):
        raise InvalidLogoutToken("a logout token needs sub or sid")
    return claims


class _ProviderKeys:
    """One provider's discovery document (issuer, jwks_uri) and its JWKS, cached."""

    def __init__(self, discovery_url: str, overrides: dict) -> None:
        self.discovery_url = discovery_url
        self.overrides = overrides  # allauth's "openid_configuration_overrides"
        self.fetch = make_urllib_fetch(FETCH_TIMEOUT)
        self.lock = threading.Lock()
        self.issuer: str | None = None
        self.jwks_uri: str | None = None
        self.keys: KeyCache | None = None
        self.checked_at = -DISCOVERY_TTL

    def current(self, now: float) -> tuple[str, KeyCache]:
        with self.lock:
            age = now - self.checked_at
            if self.keys is None and age < REFETCH_INTERVAL:
                raise FetchError("discovery failed moments ago; not asking again yet")
            if self.keys is None or age >= DISCOVERY_TTL:
                self.checked_at = now
                self._discover()
            return self.issuer, self.keys  # type: ignore[return-value]

    def _discover(self) -> None:
        status, _headers, body = self.fetch(self.discovery_url, {"Accept": "application/json"})
        if status != 200:
            raise FetchError(f"discovery answered HTTP {status}")
        document = {**loads_json_object(body), **self.overrides}
        issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise FetchError("discovery has no issuer or jwks_uri")
        if self.keys is None or (self.issuer, self.jwks_uri) != (issuer, jwks_uri):
            self.keys = KeyCache(
                issuer=issuer,
                jwks_uri=jwks_uri,
                fetch=self.fetch,
                clock=time.monotonic,
                min_refetch_interval=REFETCH_INTERVAL,
            )
        self.issuer, self.jwks_uri = issuer, jwks_uri


_providers: dict[tuple[str, str, str], _ProviderKeys] = {}
_providers_lock = threading.Lock()


def provider_keys(provider) -> _ProviderKeys:
    """The cached keys of an allauth OpenID Connect provider (one per its configuration)."""
    overrides = provider.app.settings.get("openid_configuration_overrides") or {}
    overrides = {k: v for k, v in overrides.items() if k in ("issuer", "jwks_uri")}
    name = (provider.app.provider_id or provider.id, provider.server_url, repr(overrides))
    with _providers_lock:
        entry = _providers.get(name)
        if entry is None:
            if len(_providers) >= 100:  # providers are admin-configured: a handful
                _providers.clear()
            entry = _providers[name] = _ProviderKeys(provider.server_url, overrides)
        return entry


def forget_provider_keys() -> None:
    with _providers_lock:
        _providers.clear()


def _end_sessions(provider_id: str, user_pk: int, sid: str | None) -> int:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    entries = cache.get(_sessions_key(provider_id, user_pk)) or []
    kept, ended = [], 0
    for session_key, session_sid in entries:
        if sid is None or session_sid == sid:
            store(session_key=session_key).delete()
            ended += 1
        else:
            kept.append([session_key, session_sid])
    cache.set(_sessions_key(provider_id, user_pk), kept, SESSIONS_TTL)
    return ended


def _logged_out_user(provider_id: str, claims: dict):
    """Whose sign-out this is: by ``sub`` (our link to the provider's subject), or by ``sid``
    alone through the index remember_session keeps."""
    if isinstance(claims.get("sub"), str):
        account = SocialAccount.objects.filter(provider=provider_id, uid=claims["sub"]).first()
        return account.user if account is not None else None
    user_pk = cache.get(_sid_key(provider_id, claims["sid"]))
    if user_pk is None:
        return None
    account = SocialAccount.objects.filter(provider=provider_id, user_id=user_pk).first()
    return account.user if account is not None else None


@csrf_exempt  # a server-to-server POST, authenticated by the signed logout_token
@never_cache
@require_POST
def backchannel_logout(request: HttpRequest, provider_id: str) -> JsonResponse:
    adapter = get_adapter(request)
    try:
        provider = adapter.get_provider(request, provider_id)
        issuer, keys = provider_keys(provider).current(time.monotonic())
        claims = validate_logout_token(
            request.POST.get("logout_token", ""),
            issuer=issuer,
            client_id=provider.app.client_id,
            keys=keys,
        )
        # §2.6 step 7 (SHOULD): refuse a replayed logout token.
        if not cache.add(f"bcl-jti:{provider_id}:{claims['jti']}", 1, JTI_MEMORY):
            raise InvalidLogoutToken("logout token replayed")
    except InvalidLogoutToken as exc:
        log.info("back-channel logout from %s refused: %s", provider_id, exc)
        return writer.json_error(InvalidRequest(str(exc)))  # BCL 1.0 §2.8: 400
    except Exception as exc:
        log.warning("back-channel logout from %s could not be checked: %r", provider_id, exc)
        return writer.json_error(InvalidRequest("the logout token could not be checked"))
    user = _logged_out_user(provider_id, claims)
    ended = 0
    if user is not None:
        sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        ended = _end_sessions(provider_id, user.pk, sid)
        if provider.app.settings.get("backchannel_logout_revokes_tokens"):
            revocation.revoke_user(user, now=timezone.now(), actor="backchannel logout")
    audit.record(
        "signout.backchannel",
        actor=f"upstream:{provider_id}",
        user_id=user.pk if user is not None else "",
        detail={"subject": claims.get("sub", ""), "sessions_ended": ended},
    )
    # §2.8: 200 on success (no body is needed; an empty JSON object is fine).
    return JsonResponse({}, status=200)
