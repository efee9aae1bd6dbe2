"""A deleted client's tokens stay revoked after its rows are gone (a cut-off in the list)."""

from __future__ import annotations

from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from authserver.revocation import service as revocation
from clients import policy
from clients.models import Client


@receiver(pre_delete, sender=Client)
def revoke_on_deletion(sender, instance, **kwargs) -> None:
    revocation.revoke_client(instance, now=timezone.now(), actor="deleted")


@receiver(post_delete, sender=Client)
def forget_the_cap_count(sender, instance, **kwargs) -> None:
    """A deleted client frees room under MAX_DYNAMIC_CLIENTS at once in this process."""
    policy.forget_count()
