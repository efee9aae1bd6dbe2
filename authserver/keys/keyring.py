"""Signing keys: generation, encrypted storage, rotation, the JWKS, and JWS signing.

Lifecycle (one schedule per algorithm):

- **pending**: published in the JWKS ahead of use, so every MCP server has it cached
  before the first token it signs arrives (``SIGNING_KEY_PUBLISH_AHEAD``);
- **active**: signs; exactly one per algorithm (a partial unique index enforces it);
- **retiring**: no longer signs, still published until every token it signed has expired,
  plus the JWKS cache lifetime;
- **retired**: out of the JWKS, private material destroyed.
- **compromised**: an operator's emergency exit: out of the JWKS at once, private material
  destroyed, every token it signed revoked.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from jwcrypto import jwk

from authserver.errors.codes import KeyUnavailable
from authserver.keys import secretbox
from authserver.models import KeyRotationLock, SigningKey
from mcp_token_verifier.jws import PRIVATE_JWK_MEMBERS
from mcp_token_verifier.jws_sign import Signer

State = SigningKey.State
PUBLISHED_STATES = (State.PENDING, State.ACTIVE, State.RETIRING)
# RFC 7518 §6: members that only a private key carries (defined once, in jws).
PRIVATE_MEMBERS = PRIVATE_JWK_MEMBERS


class NoSigningKey(KeyUnavailable):
    """No active key could be found or created."""


@dataclass(frozen=True)
class KeyPolicy:
    rotation_period: timedelta
    publish_ahead: timedelta
    token_max_lifetime: timedelta
    jwks_max_age: timedelta

    @property
    def retire_delay(self) -> timedelta:
        return self.token_max_lifetime + self.jwks_max_age

    @classmethod
    def from_settings(cls) -> KeyPolicy:
        cfg = settings.CONFIG
        return cls(
            rotation_period=timedelta(days=cfg.signing_key_rotation_days),
            publish_ahead=timedelta(hours=cfg.signing_key_publish_ahead_hours),
            token_max_lifetime=timedelta(seconds=cfg.access_token_max_lifetime),
            jwks_max_age=timedelta(seconds=cfg.jwks_max_age),
        )


def generate_jwk(alg: str) -> jwk.JWK:
    if alg == SigningKey.Algorithm.ES256:
        return jwk.JWK.generate(kty="EC", crv="P-256")
    if alg == SigningKey.Algorithm.RS256:
        return jwk.JWK.generate(kty="RSA", size=2048)
    if alg == SigningKey.Algorithm.EDDSA:
        return jwk.JWK.generate(kty="OKP", crv="Ed25519")
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def public_jwk(key: SigningKey) -> dict:
    """The public JWK as published, with ``kid``, ``alg`` and ``use``; never a private member."""
    data = {k: v for k, v in key.public_jwk.items() if k not in PRIVATE_MEMBERS}
    data.update(kid=key.kid, alg=key.alg, use="sig")
    return data


def _seal(private: jwk.JWK, kid: str) -> str:
    return secretbox.encrypt(
        private.export_private().encode(),
        associated_data=kid.encode(),
        keys=settings.CONFIG.key_encryption_keys,
    )


def create_key(alg: str, *, state: str, now: datetime, activates_at: datetime | None = None):
    private = generate_jwk(alg)
    kid = private.thumbprint()  # RFC 7638, SHA-256
    return SigningKey.objects.create(
        kid=kid,
        alg=alg,
        state=state,
        public_jwk=json.loads(private.export_public()),
        private_jwk_encrypted=_seal(private, kid),
        created_at=now,
        activates_at=activates_at or now,
        activated_at=now if state == State.ACTIVE else None,
    )


_private_cache: dict[str, jwk.JWK] = {}
# kid -> its Signer (the ``cryptography`` key object made once): dropped with the JWK.
_signer_cache: dict[str, Signer] = {}
_private_cache_lock = threading.Lock()


def private_jwk(key: SigningKey) -> jwk.JWK:
    """Decrypt (once per process) the private JWK of a key that still has one."""
    with _private_cache_lock:
        cached = _private_cache.get(key.kid)
    if cached is not None:
        return cached
    if not key.private_jwk_encrypted:
        raise NoSigningKey(f"private material of {key.kid} has been destroyed")
    raw = secretbox.decrypt(
        key.private_jwk_encrypted,
        associated_data=key.kid.encode(),
        keys=settings.CONFIG.key_encryption_keys,
    )
    loaded = jwk.JWK.from_json(raw)
    with _private_cache_lock:
        if len(_private_cache) > 64:
            _private_cache.clear()
        _private_cache[key.kid] = loaded
    return loaded


def forget_private_jwk(kid: str) -> None:
    with _private_cache_lock:
        _private_cache.pop(kid, None)
        _signer_cache.pop(kid, None)


def signer(key: SigningKey) -> Signer:
    """The signer of a key that still has private material (once per process and kid)."""
    cached = _signer_cache.get(key.kid)
    if cached is not None and cached.alg == key.alg:
        return cached
    made = Signer(private_jwk(key), alg=key.alg, kid=key.kid)
    with _private_cache_lock:
        if len(_signer_cache) > 64:
            _signer_cache.clear()
        _signer_cache[key.kid] = made
    return made


def published_keys() -> list[SigningKey]:
    return list(SigningKey.objects.filter(state__in=PUBLISHED_STATES).order_by("created_at"))


def jwks_document() -> dict:
    """The public keys. A server that ran ``migrate`` but never ``bootstrap`` (an operator's
    own container start) creates its first key here: an empty JWKS would make every MCP
    server refuse our first tokens, or cache "no keys"."""
    published = published_keys()
    if not published:
        active_key()
        published = published_keys()
    return {"keys": [public_jwk(k) for k in published]}


def default_algorithm() -> str:
    return settings.CONFIG.signing_key_alg


def algorithms_in_use() -> list[str]:
    """The configured algorithm plus any other that still has published keys to retire."""
    others = SigningKey.objects.filter(state__in=PUBLISHED_STATES).values_list("alg", flat=True)
    return list(dict.fromkeys([default_algorithm(), *others]))


def active_key(alg: str | None = None, *, now: datetime | None = None) -> SigningKey:
    """The key that signs now; created on the very first use (a fresh install needs no step)."""
    alg = alg or default_algorithm()
    # Never from a time-limited cache: a retired or compromised key must stop signing at
    # once (the token endpoint reads it through its generation-checked snapshot).
    key = SigningKey.objects.filter(alg=alg, state=State.ACTIVE).first()
    if key is None:
        from django.utils import timezone

        rotate(alg, now=now or timezone.now())
        key = SigningKey.objects.filter(alg=alg, state=State.ACTIVE).first()
    if key is None:
        raise NoSigningKey(alg)
    return key


def sign(
    payload: dict,
    *,
    typ: str,
    alg: str | None = None,
    now: datetime | None = None,
    key: SigningKey | None = None,
):
    """Sign ``payload`` as a compact JWS with ``key`` or the active key; ``(token, kid)``.

    Through the one JWS path's signer (mcp_token_verifier.jws_sign): the same primitives
    the verification uses, and the bytes jwcrypto wrote (sorted JSON, header ``alg``,
    ``kid``, ``typ``)."""
    key = key or active_key(alg, now=now)
    return signer(key).sign(payload, typ=typ), key.kid


@dataclass
class RotationResult:
    created: list[str]
    activated: list[str]
    retiring: list[str]
    retired: list[str]

    def changed(self) -> bool:
        return bool(self.created or self.activated or self.retiring or self.retired)


def _lock(alg: str) -> None:
    KeyRotationLock.objects.get_or_create(alg=alg)
    # Serialises concurrent rotations (two beat schedulers, an operator running --now).
    KeyRotationLock.objects.select_for_update().get(alg=alg)


def _retire_to_retiring(key: SigningKey, now: datetime, policy: KeyPolicy) -> None:
    key.state = State.RETIRING
    key.retiring_at = now
    key.retire_after = now + policy.retire_delay
    key.save(update_fields=["state", "retiring_at", "retire_after"])


def _activate(key: SigningKey, now: datetime) -> None:
    key.state = State.ACTIVE
    key.activated_at = now
    key.save(update_fields=["state", "activated_at"])


def rotate(
    alg: str | None = None,
    *,
    now: datetime,
    policy: KeyPolicy | None = None,
    force: bool = False,
) -> RotationResult:
    """Advance the key schedule of one algorithm to ``now``. Idempotent and race-safe.

    ``force`` rotates at once (management command ``rotate_keys --now``): the pending key,
    or a new one, becomes active immediately.
    """
    alg = alg or default_algorithm()
    policy = policy or KeyPolicy.from_settings()
    result = RotationResult([], [], [], [])
    with transaction.atomic():
        _lock(alg)
        keys = {s: list(SigningKey.objects.filter(alg=alg, state=s)) for s in PUBLISHED_STATES}
        active = keys[State.ACTIVE][0] if keys[State.ACTIVE] else None
        pending = keys[State.PENDING][0] if keys[State.PENDING] else None

        if active is None and pending is None:
            active = create_key(alg, state=State.ACTIVE, now=now)
            result.created.append(active.kid)
            result.activated.append(active.kid)
        elif active is None or (pending and (force or pending.activates_at <= now)):
            if active is not None:
                _retire_to_retiring(active, now, policy)
                result.retiring.append(active.kid)
            _activate(pending, now)
            result.activated.append(pending.kid)
            active, pending = pending, None
        elif force:
            _retire_to_retiring(active, now, policy)
            result.retiring.append(active.kid)
            active = create_key(alg, state=State.ACTIVE, now=now)
            result.created.append(active.kid)
            result.activated.append(active.kid)

        # Publish the successor ahead of time.
        due = active.activated_at + policy.rotation_period - policy.publish_ahead
        if pending is None and now >= due:
            pending = create_key(
                alg,
                state=State.PENDING,
                now=now,
                activates_at=max(now + policy.publish_ahead, active.activated_at),
            )
            result.created.append(pending.kid)

        for key in SigningKey.objects.filter(alg=alg, state=State.RETIRING, retire_after__lte=now):
            _destroy(key, State.RETIRED, now)
            result.retired.append(key.kid)
    return result


def _destroy(key: SigningKey, state: str, now: datetime) -> None:
    key.state = state
    key.retired_at = now
    key.private_jwk_encrypted = ""
    key.save(update_fields=["state", "retired_at", "private_jwk_encrypted"])
    transaction.on_commit(lambda: forget_private_jwk(key.kid))


def compromise(kid: str, *, now: datetime) -> None:
    """Emergency, inside the caller's transaction: unpublish ``kid`` at once and destroy it;
    if it was signing, a replacement becomes active immediately. Revoking the tokens it
    signed is authserver.revocation.service.revoke_compromised_key."""
    key = SigningKey.objects.get(kid=kid)
    _lock(key.alg)
    key = SigningKey.objects.select_for_update().get(kid=kid)
    was_active = key.state == State.ACTIVE
    _destroy(key, State.COMPROMISED, now)
    if was_active:
        rotate(key.alg, now=now, force=True)
