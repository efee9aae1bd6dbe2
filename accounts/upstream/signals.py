"""After an upstream sign-in: audit it, and take the user's groups from the provider's claim."""

from __future__ import annotations

from allauth.account.signals import user_logged_in, user_signed_up
from django.contrib.auth.models import Group
from django.db import transaction
from django.dispatch import receiver

from accounts.upstream import admission, backchannel
from authserver import audit


def sync_groups(user, names: list[str]) -> None:
    """The provider is the source of truth for the groups of users it signs in."""
    with transaction.atomic():
        groups = [Group.objects.get_or_create(name=name)[0] for name in names]
        before = set(user.groups.values_list("name", flat=True))
        if before != set(names):
            user.groups.set(
                groups
            )  # m2m_changed: authserver.resources.grouppolicy enforces at once
            audit.record(
                "user.groups_changed",
                actor="upstream",
                user_id=user.pk,
                detail={
                    "added": sorted(set(names) - before),
                    "removed": sorted(before - set(names)),
                },
            )


@receiver(user_logged_in)
def on_upstream_login(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is None:
        return
    account = sociallogin.account
    audit.record(
        "signin.admitted",
        actor=f"upstream:{account.provider}",
        user_id=user.pk,
        ip=request.META.get("REMOTE_ADDR") or None,
        detail={"provider": account.provider, "subject": str(account.uid)},
    )
    id_token = (account.extra_data or {}).get("id_token") or {}
    sid = id_token.get("sid") if isinstance(id_token.get("sid"), str) else None
    backchannel.remember_session(request, account.provider, user, sid)
    rules = sociallogin.provider.app.settings if sociallogin.provider.app else {}
    names = admission.groups_from_claims(rules, account.extra_data or {})
    if names is not None:
        sync_groups(user, names)


@receiver(user_signed_up)
def on_provisioned(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is None:
        return
    audit.record(
        "user.provisioned",
        actor=f"upstream:{sociallogin.account.provider}",
        user_id=user.pk,
        detail={"provider": sociallogin.account.provider, "subject": str(sociallogin.account.uid)},
    )
