"""Sealing and opening upstream secrets under KEY_ENCRYPTION_KEY (authserver.keys.secretbox)."""

from __future__ import annotations

from django.conf import settings

from authserver.keys import secretbox
from connections.models import Connection, UpstreamProvider

# Every encrypted column, per model: (model label, field) -> the associated-data prefix.
FIELDS = {
    "UpstreamProvider": ("client_secret_encrypted",),
    "Connection": ("access_token_encrypted", "refresh_token_encrypted"),
}


def _aad(row, field: str) -> bytes:
    # The row's uid and the field name are bound: a ciphertext moved elsewhere won't open.
    return f"{type(row).__name__}:{row.uid}:{field}".encode()


def seal(row, field: str, plaintext: str) -> None:
    """Set ``row.<field>`` to the ciphertext of ``plaintext`` ("" stays "")."""
    value = ""
    if plaintext:
        value = secretbox.encrypt(
            plaintext.encode(),
            associated_data=_aad(row, field),
            keys=settings.CONFIG.key_encryption_keys,
        )
    setattr(row, field, value)


def open_(row, field: str) -> str:
    value = getattr(row, field)
    if not value:
        return ""
    return secretbox.decrypt(
        value, associated_data=_aad(row, field), keys=settings.CONFIG.key_encryption_keys
    ).decode()


def reseal_all() -> int:
    """Re-encrypt every upstream secret under the first KEY_ENCRYPTION_KEY (after rotation);
    call inside a transaction. Returns how many values changed."""
    keys = settings.CONFIG.key_encryption_keys
    done = 0
    for model in (UpstreamProvider, Connection):
        fields = FIELDS[model.__name__]
        for row in model.objects.select_for_update():
            changed = [
                f
                for f in fields
                if getattr(row, f) and secretbox.needs_reencryption(getattr(row, f), keys=keys)
            ]
            for field in changed:
                seal(row, field, open_(row, field))
            if changed:
                model.objects.filter(pk=row.pk).update(**{f: getattr(row, f) for f in changed})
                done += len(changed)
    return done
