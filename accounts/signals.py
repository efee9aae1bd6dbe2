"""When someone leaves, nothing of theirs keeps working (deactivation or deletion)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from authserver.revocation import service as revocation

User = get_user_model()


@receiver(pre_save, sender=User)
def revoke_on_deactivation(sender, instance, **kwargs) -> None:
    if instance.pk is None or instance.is_active:
        return
    was_active = sender.objects.filter(pk=instance.pk, is_active=True).exists()
    if was_active:
        revocation.revoke_user(instance, now=timezone.now(), actor="deactivated")


@receiver(pre_delete, sender=User)
def revoke_on_deletion(sender, instance, **kwargs) -> None:
    # The cut-off outlives the user's rows (deleted by cascade) in the revocation list.
    revocation.revoke_user(instance, now=timezone.now(), actor="deleted")
