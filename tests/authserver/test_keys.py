"""Signing keys: lifecycle, rotation, compromise, encryption at rest."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from jwcrypto import jwk, jws

from authserver.keys import keyring as keys
from authserver.keys import secretbox
from authserver.models import AccessToken, SigningKey
from authserver.tasks import rotate_signing_keys

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = keys.KeyPolicy(
    rotation_period=timedelta(days=30),
    publish_ahead=timedelta(days=1),
    token_max_lifetime=timedelta(hours=1),
    jwks_max_age=timedelta(hours=1),
)
State = SigningKey.State


def states(alg="ES256"):
    return sorted(SigningKey.objects.filter(alg=alg).values_list("state", flat=True))


def verify_with_published_jwks(token: str) -> dict:
    jwks = jwk.JWKSet.from_json(json.dumps(keys.jwks_document()))
    parsed = jws.JWS()
    parsed.deserialize(token)
    kid = parsed.jose_header["kid"]
    key = jwks.get_key(kid)
    if key is None:
        raise LookupError(f"kid {kid} not in JWKS")
    parsed.verify(key, alg=parsed.jose_header["alg"])
    return json.loads(parsed.payload)


@pytest.mark.django_db
def test_fresh_install_gets_one_active_key_on_first_use():
    assert SigningKey.objects.count() == 0
    key = keys.active_key(now=T0)
    assert key.state == State.ACTIVE
    assert key.alg == "ES256"
    assert key.kid == jwk.JWK(**key.public_jwk).thumbprint()  # RFC 7638
    assert keys.active_key(now=T0).kid == key.kid


@pytest.mark.django_db
def test_rotation_is_idempotent_at_the_same_instant():
    first = keys.rotate("ES256", now=T0, policy=POLICY)
    second = keys.rotate("ES256", now=T0, policy=POLICY)
    assert first.changed()
    assert not second.changed()
    assert states() == ["active"]


@pytest.mark.django_db
def test_successor_is_published_ahead_then_activated_and_old_key_retires_later():
    old = keys.rotate("ES256", now=T0, policy=POLICY).activated[0]
    before_due = keys.rotate("ES256", now=T0 + timedelta(days=28), policy=POLICY)
    assert not before_due.changed()

    published = keys.rotate("ES256", now=T0 + timedelta(days=29), policy=POLICY)
    assert len(published.created) == 1
    assert states() == ["active", "pending"]
    new = published.created[0]
    assert {k["kid"] for k in keys.jwks_document()["keys"]} == {old, new}

    activated = keys.rotate("ES256", now=T0 + timedelta(days=30), policy=POLICY)
    assert activated.activated == [new]
    assert activated.retiring == [old]
    assert keys.active_key().kid == new

    retire_at = T0 + timedelta(days=30) + POLICY.retire_delay
    assert not keys.rotate("ES256", now=retire_at - timedelta(seconds=1), policy=POLICY).retired
    assert keys.rotate("ES256", now=retire_at, policy=POLICY).retired == [old]
    retired = SigningKey.objects.get(kid=old)
    assert retired.state == State.RETIRED
    assert retired.private_jwk_encrypted == ""
    assert old not in {k["kid"] for k in keys.jwks_document()["keys"]}


@pytest.mark.django_db
def test_token_signed_before_rotation_verifies_until_its_key_retires():
    keys.rotate("ES256", now=T0, policy=POLICY)
    token, kid = keys.sign({"sub": "alice"}, typ="at+jwt")
    keys.rotate("ES256", now=T0 + timedelta(days=29), policy=POLICY)
    keys.rotate("ES256", now=T0 + timedelta(days=30), policy=POLICY)
    assert keys.active_key().kid != kid
    assert verify_with_published_jwks(token) == {"sub": "alice"}

    keys.rotate("ES256", now=T0 + timedelta(days=30) + POLICY.retire_delay, policy=POLICY)
    with pytest.raises(LookupError):
        verify_with_published_jwks(token)


@pytest.mark.django_db
def test_signed_header_carries_kid_alg_and_typ():
    token, kid = keys.sign({"x": 1}, typ="at+jwt")
    parsed = jws.JWS()
    parsed.deserialize(token)
    assert parsed.jose_header == {"alg": "ES256", "kid": kid, "typ": "at+jwt"}


@pytest.mark.django_db
@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_jwks_never_contains_private_members(client, alg):
    keys.rotate(alg, now=T0, policy=POLICY)
    keys.rotate(alg, now=T0 + timedelta(days=29), policy=POLICY)  # a pending one too
    body = client.get("/.well-known/jwks.json").json()
    assert len(body["keys"]) == 2
    for published in body["keys"]:
        assert not set(published) & keys.PRIVATE_MEMBERS
        assert published["alg"] == alg
        assert published["use"] == "sig"
        assert not jwk.JWK(**published).has_private


@pytest.mark.django_db
def test_jwks_has_strong_etag_and_answers_304(client):
    keys.rotate("ES256", now=T0, policy=POLICY)
    first = client.get("/.well-known/jwks.json")
    etag = first["ETag"]
    assert etag.startswith('"')  # strong validator, not W/"..."
    assert "max-age=" in first["Cache-Control"]
    again = client.get("/.well-known/jwks.json", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    keys.rotate("ES256", now=T0, policy=POLICY, force=True)
    changed = client.get("/.well-known/jwks.json", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


@pytest.mark.django_db
def test_compromised_key_leaves_jwks_at_once_and_its_tokens_are_revoked(client):
    kid = keys.rotate("ES256", now=T0, policy=POLICY).activated[0]
    token = AccessToken.objects.create(
        kid=kid, jti="j1", token="t1", expires=T0 + timedelta(minutes=5)
    )
    other = AccessToken.objects.create(
        kid="another", jti="j2", token="t2", expires=T0 + timedelta(minutes=5)
    )

    call_command("rotate_keys", compromised=kid, stdout=open("/dev/null", "w"))  # noqa: SIM115

    published = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert kid not in published
    assert len(published) == 1  # the replacement, active at once
    compromised = SigningKey.objects.get(kid=kid)
    assert compromised.state == State.COMPROMISED
    assert compromised.private_jwk_encrypted == ""
    token.refresh_from_db()
    other.refresh_from_db()
    assert token.revoked_at is not None
    assert other.revoked_at is None
    assert keys.active_key().kid != kid


@pytest.mark.django_db
def test_database_allows_only_one_active_key_per_algorithm():
    keys.rotate("ES256", now=T0, policy=POLICY)
    with pytest.raises(IntegrityError), transaction.atomic():
        keys.create_key("ES256", state=State.ACTIVE, now=T0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("force", [False, True])
def test_concurrent_rotations_leave_exactly_one_active_key(force):
    assert connection.vendor == "postgresql"  # row locks are real here, not SQLite's no-op
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            keys.rotate("ES256", now=T0, policy=POLICY, force=force)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert SigningKey.objects.filter(alg="ES256", state=State.ACTIVE).count() == 1


@pytest.mark.django_db
def test_stored_private_key_is_useless_without_key_encryption_key(settings):
    key = keys.rotate("ES256", now=T0, policy=POLICY).activated[0]
    row = SigningKey.objects.get(kid=key)
    private = keys.private_jwk(row)
    d = json.loads(private.export_private())["d"]
    dump = json.dumps(
        {f.name: str(getattr(row, f.name)) for f in SigningKey._meta.get_fields() if f.concrete}
    )
    assert d not in dump  # nothing usable in a database dump

    keys.forget_private_jwk(key)
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG, key_encryption_keys=("a-different-key-encryption-key-000000000",)
    )
    with pytest.raises(secretbox.DecryptionError):
        keys.private_jwk(row)


def test_ciphertext_is_bound_to_its_row():
    sealed = secretbox.encrypt(b"secret", associated_data=b"kid-1", keys=["k" * 40])
    assert secretbox.decrypt(sealed, associated_data=b"kid-1", keys=["k" * 40]) == b"secret"
    with pytest.raises(secretbox.DecryptionError):
        secretbox.decrypt(sealed, associated_data=b"kid-2", keys=["k" * 40])


def test_key_encryption_key_rotates_without_downtime():
    old, new = "o" * 40, "n" * 40
    sealed = secretbox.encrypt(b"secret", associated_data=b"kid", keys=[old])
    # New key first (it encrypts), old key kept (it still decrypts).
    assert secretbox.decrypt(sealed, associated_data=b"kid", keys=[new, old]) == b"secret"
    assert secretbox.needs_reencryption(sealed, keys=[new, old])
    with pytest.raises(secretbox.DecryptionError):
        secretbox.decrypt(sealed, associated_data=b"kid", keys=[new])


@pytest.mark.parametrize("garbage", ["", "v1", "v2.abc.def", "v1.zz.!!!", "v1.00000000.AAAA"])
def test_malformed_ciphertext_raises_decryption_error(garbage):
    with pytest.raises(secretbox.DecryptionError):
        secretbox.decrypt(garbage, associated_data=b"kid", keys=["k" * 40])


@pytest.mark.django_db
def test_celery_task_advances_the_schedule():
    result = rotate_signing_keys.apply().get()
    assert len(result["ES256"]["activated"]) == 1
    assert states() == ["active"]
    assert rotate_signing_keys.apply().get()["ES256"]["activated"] == []


@pytest.mark.django_db
def test_rotate_keys_now_command_activates_a_new_key():
    first = keys.active_key().kid
    call_command("rotate_keys", now=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert keys.active_key().kid != first
    assert SigningKey.objects.get(kid=first).state == State.RETIRING


@pytest.mark.django_db
def test_reencrypt_keys_moves_private_keys_to_the_new_key_encryption_key(settings):
    old = settings.CONFIG.key_encryption_keys[0]
    kid = keys.active_key().kid
    new = "a-brand-new-key-encryption-key-0123456789"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new, old))
    call_command("reencrypt_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new,))
    keys.forget_private_jwk(kid)
    assert keys.private_jwk(SigningKey.objects.get(kid=kid)).has_private
