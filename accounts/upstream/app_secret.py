"""The upstream sign-in providers' client secrets (allauth's ``SocialApp.secret``) are stored
encrypted under KEY_ENCRYPTION_KEY, as the Connections' provider secrets are
(authserver.keys.secretbox, AES-256-GCM).

allauth reads ``app.secret`` itself, so the column is sealed on its way to the database
(``pre_save``) and opened when a row is loaded (``post_init``); in memory the secret is
plain for allauth's token request, on disk never. The admin never renders it
(accounts/admin.py). ``QuerySet.update()`` bypasses this; nothing here uses it.
"""

from __future__ import annotations

import logging

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.db.models.signals import post_init, post_save, pre_save
from django.dispatch import receiver

from authserver.keys import secretbox

log = logging.getLogger("accounts.upstream")
# Bound to the column: a ciphertext from another table (a connection's token) does not open.
AAD = b"socialaccount.SocialApp.secret"
_PLAIN = "_plain_secret"
COLUMN_LENGTH = 191  # allauth's varchar: room for a client secret of MAX_SECRET characters
MAX_SECRET = 100


def seal(plaintext: str) -> str:
    if not plaintext:
        return ""
    keys = settings.CONFIG.key_encryption_keys
    sealed = secretbox.encrypt(plaintext.encode(), associated_data=AAD, keys=keys)
    if len(sealed) > COLUMN_LENGTH:
        raise ValueError(f"a client secret longer than {MAX_SECRET} characters cannot be stored")
    return sealed


def is_sealed(value: str) -> bool:
    return value.startswith("v1.") and value.count(".") >= 2


def open_(value: str) -> str:
    keys = settings.CONFIG.key_encryption_keys
    return secretbox.decrypt(value, associated_data=AAD, keys=keys).decode()


@receiver(post_init, sender=SocialApp)
def _open_on_load(sender, instance: SocialApp, **kwargs) -> None:
    if instance.secret and is_sealed(instance.secret):
        try:
            instance.secret = open_(instance.secret)
        except secretbox.DecryptionError:
            # Fail closed: allauth then presents a secret the provider refuses.
            log.error("the client secret of upstream provider %s cannot be opened", instance.pk)


@receiver(pre_save, sender=SocialApp)
def _seal_on_save(sender, instance: SocialApp, **kwargs) -> None:
    if instance.secret and not is_sealed(instance.secret):
        setattr(instance, _PLAIN, instance.secret)
        instance.secret = seal(instance.secret)


@receiver(post_save, sender=SocialApp)
def _reopen_after_save(sender, instance: SocialApp, **kwargs) -> None:
    plain = instance.__dict__.pop(_PLAIN, None)
    if plain is not None:
        instance.secret = plain


def seal_all(apps=None) -> int:
    """Encrypt every SocialApp secret stored in clear (the data migration, with its
    historical models) or under a KEY_ENCRYPTION_KEY other than the first (``manage.py
    reencrypt_keys``). Returns how many rows changed."""
    model = apps.get_model("socialaccount", "SocialApp") if apps else SocialApp
    keys = settings.CONFIG.key_encryption_keys
    done = 0
    for pk, secret in model.objects.values_list("pk", "secret"):
        if not secret:
            continue
        if not is_sealed(secret):
            plain = secret
        elif secretbox.needs_reencryption(secret, keys=keys):
            plain = open_(secret)
        else:
            continue
        model.objects.filter(pk=pk).update(secret=seal(plain))
        done += 1
    return done
