"""Who a principal is, and what happens to its grants when it changes: one function per event.

A principal is a local user. Upstream identities reach it only through a link (provider,
subject): allauth's ``SocialAccount`` (a sign-in), ``ScimIdentity`` (a provisioning client's
user, with the provider its token belongs to) or ``EnterpriseSubject`` (an ID-JAG issuer).
Never through an email or a name on their own (docs/IDENTITY.md, "Who a principal is").

Every event (create, link, deactivate, reactivate, regroup, delete of a user; create,
rename, change members, delete of a group) is one function here: it writes in one
transaction with its audit event, and the cut-offs (sessions, consents, tokens and
families, connections) are decided in ``cut_off`` alone. SCIM, upstream sign-in and the
model signals behind Django admin all arrive here.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import Consent
from accounts.scim.models import ScimIdentity, ScimToken
from authserver import audit
from authserver.models import Resource, Scope, ToolPolicy
from authserver.revocation import cutoffs
from authserver.revocation import service as revocation

User = get_user_model()
_DB_SESSIONS = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
)
GROUP_NAME_MAX = 150


class GroupInUse(ProtectedError):
    """A policy names this group: deleting it would widen what users may reach. A
    ``ProtectedError``, as for the tool policy's ``on_delete=PROTECT``."""

    def __init__(self, group: Group, policies: list[str]) -> None:
        super().__init__(f"group {group.name!r} is named by {', '.join(policies)}", {group})
        self.policies = policies


# --- other provisioners ---------------------------------------------------------------------
# Features that make users of their own (an enterprise IdP through ID-JAG, registered by
# enterprise.apps): a user one of them provisioned is never linked by an upstream sign-in.
PROVISIONERS: dict[str, Callable[[Any], bool]] = {}


def register_provisioner(name: str, provisioned: Callable[[Any], bool]) -> None:
    if name in PROVISIONERS:
        raise ImproperlyConfigured(f"provisioner {name!r} registered twice")
    PROVISIONERS[name] = provisioned


def provisioned_elsewhere(user) -> bool:
    """Whether a registered provisioner (not SCIM, not an upstream sign-in) made ``user``."""
    return any(provisioned(user) for provisioned in PROVISIONERS.values())


# --- cut-offs: the one place that decides what a principal loses --------------------------


def end_sessions(user) -> int:
    """End every browser session of ``user`` in the database session store (the default)."""
    if settings.SESSION_ENGINE not in _DB_SESSIONS:
        return 0
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


def cut_off(user, *, reason: str) -> None:
    """Everything ``user`` holds stops: tokens, refresh-token families and grants (with a
    subject cut-off in the signed revocation list), remembered consents, browser sessions and
    connections to upstream APIs. Runs on deactivation and on reactivation (which starts
    clean), whatever path changed ``is_active``."""
    now = timezone.now()
    with transaction.atomic():
        revocation.revoke_user(user, now=now, actor=reason)
        consents = Consent.objects.filter(user_id=user.pk).delete()[0]
        cutoffs.cut_off_user(user, now=now, actor=reason)  # features' holdings: connections
        sessions = end_sessions(user)
        if not user.has_usable_password():
            # A new unusable hash changes the session auth hash: sessions in any other
            # session store stop counting too (called before the user's save, which keeps it).
            user.set_unusable_password()
        audit.record(
            "principal.cut_off",
            actor=reason,
            user_id=user.pk,
            detail={"consents": consents, "sessions": sessions},
        )


# --- users --------------------------------------------------------------------------------


def create_scim_user(values: dict, *, provider: str, external_id, actor: str):
    """A provisioning client creates a user: no local password, linked to its provider."""
    with transaction.atomic():
        user = User(**values)
        user.set_unusable_password()  # the provider signs them in
        user.save()
        ScimIdentity.objects.create(user=user, provider=provider, external_id=external_id)
        audit.record(
            "scim.user.created",
            actor=actor,
            user_id=user.pk,
            detail={"userName": user.username, "provider": provider, "active": user.is_active},
        )
    return user


def update_scim_user(
    user, values: dict, *, provider: str, external_id=..., clear: tuple = (), actor: str
):
    """Rename, change, deactivate or reactivate. ``is_active`` changes only when ``values``
    names it (RFC 7644 §3.5.1 PUT does not reactivate by omission); a reactivation starts
    clean (``cut_off`` through the pre_save receiver, accounts.signals)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        was_active = user.is_active
        for name in clear:
            setattr(user, name, "")
        for name, value in values.items():
            setattr(user, name, value)
        user.save()
        if external_id is not ...:  # the provider's own user: the link stays its provider's
            ScimIdentity.objects.update_or_create(
                user=user, defaults={"provider": provider, "external_id": external_id}
            )
        kind = "scim.user.updated"
        if was_active and not user.is_active:
            kind = "scim.user.deactivated"
        elif not was_active and user.is_active:
            kind = "scim.user.reactivated"
        audit.record(
            kind,
            actor=actor,
            user_id=user.pk,
            detail={"userName": user.username, "fields": sorted(values)},
        )
    return user


def delete_user(user, *, actor: str) -> None:
    with transaction.atomic():
        audit.record(
            "scim.user.deleted", actor=actor, user_id=user.pk, detail={"userName": user.username}
        )
        user.delete()  # pre_delete revokes and leaves a cut-off in the revocation list


def link_upstream(request, sociallogin, user, *, via: str) -> None:
    """An upstream identity (provider, subject) is attached to an existing user."""
    account = sociallogin.account
    with transaction.atomic():
        sociallogin.connect(request, user)
        audit.record(
            "principal.linked",
            actor=f"upstream:{account.provider}",
            user_id=user.pk,
            detail={"provider": account.provider, "subject": str(account.uid), "via": via},
        )


def bind_scim_provider(provider: str, *, token_ids: list[int], actor: str) -> tuple[int, int]:
    """Bind unbound SCIM tokens, and every unbound SCIM identity, to ``provider``: from then
    on that provider's first sign-ins link to those users (docs/IDENTITY.md, "Binding
    existing SCIM identities"). Only for a deployment where one provider provisioned them."""
    with transaction.atomic():
        tokens = ScimToken.objects.filter(pk__in=token_ids, provider="").update(provider=provider)
        identities = ScimIdentity.objects.filter(provider="").update(provider=provider)
        audit.record(
            "scim.provider_bound",
            actor=actor,
            detail={"provider": provider, "tokens": tokens, "identities": identities},
        )
    return tokens, identities


# --- groups -------------------------------------------------------------------------------


def provider_group_names(provider: str, claimed: list[str], mapping: dict) -> list[str]:
    """A provider's group claim in its own namespace (``okta/finance``), or the local group an
    admin mapped that value to (``groups_map``): one provider never names another's groups."""
    names = set()
    for value in claimed:
        mapped = mapping.get(value)
        if isinstance(mapped, str) and mapped.strip():
            names.add(mapped.strip()[:GROUP_NAME_MAX])
        else:
            names.add(f"{provider}/{value}"[:GROUP_NAME_MAX])
    return sorted(names)


def regroup_from_provider(user, provider: str, claimed: list[str], mapping: dict) -> None:
    """At sign-in: the provider is the source of truth for its own groups (its namespace and
    the groups mapped from it) and for nothing else; other groups are never removed."""
    wanted = set(provider_group_names(provider, claimed, mapping))
    mapped = {v.strip() for v in mapping.values() if isinstance(v, str) and v.strip()}
    with transaction.atomic():
        current = set(user.groups.values_list("name", flat=True))
        managed = {n for n in current if n.startswith(f"{provider}/") or n in mapped}
        added, removed = wanted - current, managed - wanted
        if not added and not removed:
            return
        user.groups.add(*[Group.objects.get_or_create(name=n)[0] for n in sorted(added)])
        user.groups.remove(*Group.objects.filter(name__in=removed))  # policy enforced at once
        audit.record(
            "user.groups_changed",
            actor=f"upstream:{provider}",
            user_id=user.pk,
            detail={"added": sorted(added), "removed": sorted(removed)},
        )


def policies_naming(group: Group) -> list[str]:
    """Every policy that names ``group``: resource and scope group policies, tool policies.
    (Token-exchange, connection and client policies name no group.)"""
    found = [f"resource {r.identifier}" for r in Resource.objects.filter(allowed_groups=group)]
    found += [
        f"scope {s.name} of {s.resource.identifier}"
        for s in Scope.objects.filter(allowed_groups=group).select_related("resource")
    ]
    found += [f"tool policy {p.pk}" for p in ToolPolicy.objects.filter(group=group)]
    return found


@receiver(pre_delete, sender=Group)
def refuse_deleting_a_policy_group(sender, instance, **kwargs) -> None:
    """Whatever deletes it (admin, shell, SCIM): a group a policy names stays, or the
    policy's resource, scope or tools would open to everyone (fail closed)."""
    policies = policies_naming(instance)
    if policies:
        raise GroupInUse(instance, policies)


def create_group(name: str, members: list, *, actor: str) -> Group:
    with transaction.atomic():
        group = Group.objects.create(name=name)
        group.user_set.set(members)
        audit.record(
            "scim.group.created",
            actor=actor,
            detail={"group": group.name, "members": sorted(u.pk for u in members)},
        )
    return group


def change_group(group: Group, *, name: str | None, add: set, remove: set, actor: str) -> Group:
    """Rename and change members; policies name groups by id, so a rename widens nothing."""
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        if name and name != group.name:
            group.name = name
            group.save()
        if remove:  # m2m_changed: the group policy is enforced for every user removed
            group.user_set.remove(*remove)
        if add:
            group.user_set.add(*add)
        audit.record(
            "scim.group.updated",
            actor=actor,
            detail={"group": group.name, "added": sorted(add), "removed": sorted(remove)},
        )
    return group


def delete_group(group: Group, *, actor: str) -> None:
    """Raises ``GroupInUse`` (nothing changed) when a policy names the group."""
    with transaction.atomic():
        members = sorted(group.user_set.values_list("pk", flat=True))
        name = group.name
        group.delete()
        audit.record("scim.group.deleted", actor=actor, detail={"group": name, "members": members})
