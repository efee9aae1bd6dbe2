"""Cut-offs: a deactivated or deleted user, or a disabled provider, stops every vend."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from connections import services, upstream, vault
from connections.models import Connection, UpstreamProvider

User = get_user_model()


@receiver(pre_save, sender=User)
def disconnect_on_deactivation(sender, instance, **kwargs) -> None:
    if instance.pk is None or instance.is_active:
        return
    if sender.objects.filter(pk=instance.pk, is_active=True).exists():
        services.disconnect_all(
            Connection.objects.filter(user_id=instance.pk), now=timezone.now(), actor="deactivated"
        )


@receiver(pre_delete, sender=User)
def revoke_on_deletion(sender, instance, **kwargs) -> None:
    """The rows go with the user (cascade); their upstream tokens are revoked after commit."""
    held = []
    for conn in Connection.objects.filter(user_id=instance.pk).select_related("provider"):
        refresh = vault.open_(conn, "refresh_token_encrypted")
        if refresh:
            held.append((conn.provider, refresh))

    def revoke() -> None:
        for provider, token in held:
            upstream.revoke(provider, token=token, hint="refresh_token")

    if held:
        transaction.on_commit(revoke)


@receiver(pre_save, sender=UpstreamProvider)
def disconnect_on_provider_disabled(sender, instance, **kwargs) -> None:
    if instance.pk is None or instance.enabled:
        return
    if sender.objects.filter(pk=instance.pk, enabled=True).exists():
        services.disconnect_all(
            Connection.objects.filter(provider_id=instance.pk),
            now=timezone.now(),
            actor="provider disabled",
        )
