"""WebAuthn ceremonies (py_webauthn): enrolling a passkey, and the fresh assertion with user
verification that approves one request.

Each challenge is random, kept in the signed-in session for one purpose (enrolment, or one
approval request) and spent on the first verification attempt, right or wrong: a replayed
assertion meets no challenge, an altered one fails its signature. The relying party is our
issuer's host and origin (WebAuthn §7.2 steps 9 and 13)."""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

import webauthn
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from approvals.models import Passkey
from authserver import audit
from authserver.protocol import metadata

SESSION_KEY = "approvals.webauthn"
MAX_CREDENTIAL_JSON = 16_384
MAX_PASSKEYS = 10


class CeremonyFailed(Exception):
    """The browser's answer did not verify (the reason is for logs, not for secrets)."""


def rp_id() -> str:
    return urlsplit(settings.ISSUER).hostname or ""


def expected_origin() -> str:
    return metadata.origin(settings.ISSUER)


def _remember(session, purpose: str, challenge: bytes) -> None:
    session[SESSION_KEY] = {"purpose": purpose, "challenge": bytes_to_base64url(challenge)}


def _spend(session, purpose: str) -> bytes:
    """The challenge issued for ``purpose``, removed from the session whatever happens next."""
    stored = session.pop(SESSION_KEY, None)
    if not stored or not secrets.compare_digest(str(stored.get("purpose", "")), purpose):
        raise CeremonyFailed("no challenge was issued for this")
    return webauthn.base64url_to_bytes(stored["challenge"])


def _parse(body: bytes) -> dict:
    if len(body) > MAX_CREDENTIAL_JSON:
        raise CeremonyFailed("credential too large")
    try:
        value = json.loads(body)
    except ValueError:
        raise CeremonyFailed("credential is not JSON") from None
    if not isinstance(value, dict):
        raise CeremonyFailed("credential is not an object")
    return value


def registration_options(session, user) -> str:
    challenge = secrets.token_bytes(32)
    _remember(session, "register", challenge)
    options = webauthn.generate_registration_options(
        rp_id=rp_id(),
        rp_name="MCP Authorization Server",
        user_id=str(user.pk).encode(),
        user_name=user.get_username(),
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(p.credential_id))
            for p in user.passkeys.all()
        ],
    )
    return webauthn.options_to_json(options)


def register(session, user, body: bytes, *, name: str = "Passkey") -> Passkey:
    challenge = _spend(session, "register")
    if user.passkeys.count() >= MAX_PASSKEYS:
        raise CeremonyFailed("too many passkeys")
    try:
        verified = webauthn.verify_registration_response(
            credential=_parse(body),
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise CeremonyFailed(f"registration: {type(exc).__name__}") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    with transaction.atomic():
        if Passkey.objects.filter(credential_id=credential_id).exists():
            raise CeremonyFailed("this passkey is enrolled already")
        passkey = Passkey.objects.create(
            user=user,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=(name or "Passkey")[:60],
        )
        audit.record("passkey.enrolled", user_id=user.pk, detail={"credential_id": credential_id})
    return passkey


def authentication_options(session, user, approval_id) -> str:
    passkeys = list(user.passkeys.all())
    if not passkeys:
        raise CeremonyFailed("no passkey enrolled")
    challenge = secrets.token_bytes(32)
    _remember(session, f"approve:{approval_id}", challenge)
    options = webauthn.generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(p.credential_id))
            for p in passkeys
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return webauthn.options_to_json(options)


def verify_assertion(session, user, approval_id, body: bytes) -> Passkey:
    """The user's passkey that made this fresh, user-verified assertion, or CeremonyFailed."""
    challenge = _spend(session, f"approve:{approval_id}")
    credential = _parse(body)
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str):
        raise CeremonyFailed("credential has no id")
    # Only this user's passkeys: someone else's passkey approves nothing here.
    passkey = Passkey.objects.filter(user=user, credential_id=raw_id).first()
    if passkey is None:
        raise CeremonyFailed("not one of this person's passkeys")
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        raise CeremonyFailed(f"assertion: {type(exc).__name__}") from None
    Passkey.objects.filter(pk=passkey.pk).update(
        sign_count=verified.new_sign_count, last_used_at=timezone.now()
    )
    return passkey
