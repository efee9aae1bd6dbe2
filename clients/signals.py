"""A deleted client's tokens stay revoked after its rows are gone (a cut-off in the list)."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from authserver.revocation import service as revocation
from clients.models import Client


@receiver(pre_delete, sender=Client)
def revoke_on_deletion(sender, instance, **kwargs) -> None:
    revocation.revoke_client(instance, now=timezone.now(), actor="deleted")
