"""After an upstream sign-in: audit it, and take the provider's own groups from its claim."""

from __future__ import annotations

from allauth.account.signals import user_logged_in, user_signed_up
from django.dispatch import receiver

from accounts import principals
from accounts.upstream import admission, backchannel
from authserver import audit


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
    if names is not None:  # its own namespace or explicit map only (accounts.principals)
        mapping = rules.get("groups_map") or {}
        principals.regroup_from_provider(
            user, account.provider, names, mapping if isinstance(mapping, dict) else {}
        )


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
