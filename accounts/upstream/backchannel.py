"""OpenID Connect Back-Channel Logout 1.0 from upstream providers: end the user's sessions here.

The provider POSTs a signed ``logout_token`` when someone signs out there. We end the browser
sessions that sign-in created (by ``sid``, or all of the user's with ``sub`` only). Agents'
tokens are not revoked by default: a sign-out is not a departure (SCIM deactivation is). A
provider whose app settings say ``"backchannel_logout_revokes_tokens": true`` also revokes
everything the user holds, as deactivation does.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("accounts.upstream")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY = 60  # seconds of clock skew tolerated on iat and exp (an upstream clock is not ours)
SESSIONS_TTL = 14 * 86400


class InvalidLogoutToken(Exception):
    pass


def _sessions_key(provider_id: str, user_pk: int) -> str:
    return f"upstream-sessions:{provider_id}:{user_pk}"


def remember_session(request, provider_id: str, user, sid: str | None) -> None:
    """At sign-in: which of our sessions the provider's session (``sid``) created."""
    entries = cache.get(_sessions_key(provider_id, user.pk)) or []
    entries = [*entries[-19:], [request.session.session_key, sid]]
    try:
        cache.set(_sessions_key(provider_id, user.pk), entries, SESSIONS_TTL)
    except Exception:
        log.warning("upstream session not remembered (cache down)")


def validate_logout_token(
    token: str, *, issuer: str, client_id: str, jwks: dict, now: float | None = None
) -> dict:
    """OIDC Back-Channel Logout 1.0 §2.6: signature, iss, aud, iat/exp, jti, events, sub or
    sid, and no nonce. The signature by the one JWS path (mcp_token_verifier.jws): its
    algorithm allow-list (never "none" or HMAC, §2.6 step 2) and its key size minimums."""
    now = time.time() if now is None else now
    try:
        keys = [jws.public_key_from_jwk(k) for k in jwks.get("keys", []) if isinstance(k, dict)]

        def fitting(alg: str, kid: str | None, _header: dict) -> jws.SignatureCheck:
            chosen = [k for k in keys if (kid is None or k.get("kid") == kid)]
            return jws.first_that_verifies(
                jws.signature_check(k, alg) for k in chosen if jws.key_fits(k, alg)
            )

        # §2.4 recommends explicit typing (logout+jwt) without requiring it: typ unchecked.
        claims = jws.verify(
            token, typ=None, algorithms=jws.SIGNATURE_ALGORITHMS, resolve=fitting
        ).claims
        jws.check_times(claims, now=now, leeway=LEEWAY, required=("iat", "exp"))
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


@csrf_exempt  # a server-to-server POST, authenticated by the signed logout_token
@never_cache
@require_POST
def backchannel_logout(request: HttpRequest, provider_id: str) -> JsonResponse:
    adapter = get_adapter(request)
    try:
        provider = adapter.get_provider(request, provider_id)
        config = provider.get_oauth2_adapter(request).openid_config
        with adapter.get_requests_session() as session:
            jwks = session.get(config["jwks_uri"]).json()
        claims = validate_logout_token(
            request.POST.get("logout_token", ""),
            issuer=config["issuer"],
            client_id=provider.app.client_id,
            jwks=jwks,
        )
        # §2.6 step 7 (SHOULD): refuse a replayed logout token.
        if not cache.add(f"bcl-jti:{provider_id}:{claims['jti']}", 1, 600):
            raise InvalidLogoutToken("logout token replayed")
    except InvalidLogoutToken as exc:
        log.info("back-channel logout from %s refused: %s", provider_id, exc)
        return writer.json_error(InvalidRequest(str(exc)))  # BCL 1.0 §2.8: 400
    except Exception:
        log.warning("back-channel logout from %s could not be checked", provider_id)
        return writer.json_error(InvalidRequest("the logout token could not be checked"))
    accounts = SocialAccount.objects.filter(provider=provider_id)
    account = accounts.filter(uid=claims["sub"]).first() if "sub" in claims else None
    ended = 0
    if account is not None:
        ended = _end_sessions(provider_id, account.user_id, claims.get("sid"))
        if provider.app.settings.get("backchannel_logout_revokes_tokens"):
            revocation.revoke_user(account.user, now=timezone.now(), actor="backchannel logout")
    audit.record(
        "signout.backchannel",
        actor=f"upstream:{provider_id}",
        user_id=account.user_id if account else "",
        detail={"subject": claims.get("sub", ""), "sessions_ended": ended},
    )
    # §2.8: 200 on success (no body is needed; an empty JSON object is fine).
    return JsonResponse({}, status=200)
