"""Revoking tokens: marks rows revoked (the rows are what the revocation list is made of)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from authserver.models import AccessToken, Grant, RefreshToken


def revoke_family(token_family, *, now: datetime) -> int:
    """Revoke every refresh and access token of a family (code replay, refresh reuse)."""
    if token_family is None:
        return 0
    with transaction.atomic():
        RefreshToken.objects.filter(token_family=token_family, revoked__isnull=True).update(
            revoked=now, updated=now
        )
        return AccessToken.objects.filter(
            token_family=token_family, revoked_at__isnull=True
        ).update(revoked_at=now, updated=now)


def revoke_user_client_resource(user, client, resource, *, now: datetime) -> int:
    """Everything ``client`` holds for ``user`` at ``resource``: tokens, refresh tokens, codes."""
    bound = [resource.identifier]
    with transaction.atomic():
        RefreshToken.objects.filter(
            user=user, application=client, resource=bound, revoked__isnull=True
        ).update(revoked=now, updated=now)
        Grant.objects.filter(user=user, application=client, resource=bound).delete()
        return AccessToken.objects.filter(
            user=user, application=client, resource=bound, revoked_at__isnull=True
        ).update(revoked_at=now, updated=now)
