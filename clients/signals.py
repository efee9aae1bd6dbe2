"""Client row events: a deleted client's tokens stay revoked after its rows are gone (a cut-off
in the list), and MAX_DYNAMIC_CLIENTS' count follows this process's own inserts and deletions."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_delete
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


@receiver(post_save, sender=Client)
def count_for_the_cap(sender, instance, created, **kwargs) -> None:
    """A new self-registered client counts under MAX_DYNAMIC_CLIENTS at once in this process."""
    if created:
        policy.count_saved_client(instance)
