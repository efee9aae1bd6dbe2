"""When someone leaves or comes back, nothing of their old grants keeps working.

Whatever path flips ``is_active`` (SCIM, Django admin, the shell), the cut-offs are the one
decision in accounts.principals.cut_off: on deactivation, and on reactivation, which
starts clean (no session, consent, token, family or connection from before).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from accounts import principals
from authserver.revocation import service as revocation

User = get_user_model()


@receiver(pre_save, sender=User)
def cut_off_on_activation_change(sender, instance, **kwargs) -> None:
    if instance.pk is None:
        return
    was_active = sender.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    if was_active is None or was_active == instance.is_active:
        return
    principals.cut_off(instance, reason="deactivated" if was_active else "reactivated")


@receiver(pre_delete, sender=User)
def revoke_on_deletion(sender, instance, **kwargs) -> None:
    # The cut-off outlives the user's rows (deleted by cascade) in the revocation list.
    revocation.revoke_user(instance, now=timezone.now(), actor="deleted")
