"""Apply validated SCIM changes in one transaction each, with an audit event per change.

Deactivation and deletion revoke everything the user holds through the existing signals
(accounts.signals -> authserver.revocation.service.revoke_user: grants, refresh-token families, live
access tokens, a subject cut-off in the signed revocation list). Membership changes enforce
the group policy (authserver.resources.grouppolicy_signals).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from accounts.scim.errors import ScimError
from accounts.scim.groups import GroupChanges
from accounts.scim.models import ScimIdentity
from accounts.scim.users import UserChanges
from authserver import audit
from authserver.models import Resource, Scope

User = get_user_model()


def _conflict(what: str) -> ScimError:
    return ScimError(409, f"{what} is already taken", "uniqueness")


def _check_unique(changes: UserChanges, user=None) -> None:
    username = changes.values.get("username")
    others = User.objects.exclude(pk=user.pk) if user else User.objects.all()
    if username and others.filter(username__iexact=username).exists():
        raise _conflict("userName")
    ext = changes.external_id
    if ext not in (..., None):
        taken = ScimIdentity.objects.filter(external_id=ext)
        if user:
            taken = taken.exclude(user=user)
        if taken.exists():
            raise _conflict("externalId")


def _audit_user(kind: str, user, actor: str, **detail) -> None:
    audit.record(kind, actor=actor, user_id=user.pk, detail={"userName": user.username, **detail})


def create_user(changes: UserChanges, *, actor: str):
    _check_unique(changes)
    try:
        with transaction.atomic():
            user = User(**changes.values)
            user.set_unusable_password()  # no local password: the provider signs them in
            user.save()
            ScimIdentity.objects.create(
                user=user, external_id=None if changes.external_id is ... else changes.external_id
            )
            _audit_user("scim.user.created", user, actor, active=user.is_active)
    except IntegrityError:
        raise _conflict("userName") from None
    return user


def update_user(user, changes: UserChanges, *, actor: str, replace: bool = False):
    _check_unique(changes, user)
    try:
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=user.pk)
            was_active = user.is_active
            if replace:  # PUT: attributes not sent are cleared (RFC 7644 §3.5.1)
                for name in ("first_name", "last_name", "email"):
                    setattr(user, name, "")
                user.is_active = True
            for name, value in changes.values.items():
                setattr(user, name, value)
            user.save()  # a deactivation revokes everything here (accounts.signals)
            if changes.external_id is not ... or replace:
                ext = None if changes.external_id is ... else changes.external_id
                ScimIdentity.objects.update_or_create(user=user, defaults={"external_id": ext})
            kind = "scim.user.updated"
            if was_active and not user.is_active:
                kind = "scim.user.deactivated"
            elif not was_active and user.is_active:
                kind = "scim.user.reactivated"
            _audit_user(kind, user, actor, fields=sorted(changes.values))
    except IntegrityError:
        raise _conflict("userName") from None
    return user


def delete_user(user, *, actor: str) -> None:
    with transaction.atomic():
        _audit_user("scim.user.deleted", user, actor)
        user.delete()  # pre_delete revokes and leaves a cut-off in the revocation list


def _existing_users(ids) -> list:
    ids = set(ids)
    users = list(User.objects.filter(pk__in=ids))
    if len(users) != len(ids):
        raise ScimError(400, "a member is not a known User", "invalidValue")
    return users


def create_group(changes: GroupChanges, *, actor: str) -> Group:
    if Group.objects.filter(name__iexact=changes.name).exists():
        raise _conflict("displayName")
    members = _existing_users(changes.members or ())
    with transaction.atomic():
        group = Group.objects.create(name=changes.name)
        group.user_set.set(members)
        audit.record(
            "scim.group.created",
            actor=actor,
            detail={"group": group.name, "members": sorted(u.pk for u in members)},
        )
    return group


def update_group(group: Group, changes: GroupChanges, *, actor: str) -> Group:
    if (
        changes.name
        and Group.objects.exclude(pk=group.pk).filter(name__iexact=changes.name).exists()
    ):
        raise _conflict("displayName")
    _existing_users((changes.members or set()) | changes.add)
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        before = set(group.user_set.values_list("pk", flat=True))
        if changes.name:
            group.name = changes.name
            group.save()
        after = set(before if changes.members is None else changes.members)
        after = (after | changes.add) - changes.remove
        if after != before:
            # m2m_changed on each side: the policy is enforced for every user removed.
            group.user_set.remove(*(before - after))
            group.user_set.add(*(after - before))
        audit.record(
            "scim.group.updated",
            actor=actor,
            detail={
                "group": group.name,
                "added": sorted(after - before),
                "removed": sorted(before - after),
            },
        )
    return group


def _used_by_policy(group: Group) -> bool:
    return (
        Resource.objects.filter(allowed_groups=group).exists()
        or Scope.objects.filter(allowed_groups=group).exists()
    )


def delete_group(group: Group, *, actor: str) -> None:
    """Delete the group; one a policy names is emptied instead, or the policy's resource
    would silently open to everyone (fail closed)."""
    with transaction.atomic():
        members = list(group.user_set.all())
        kept = _used_by_policy(group)
        if kept:
            group.user_set.remove(*members)  # m2m_changed: the policy is enforced for each
        else:
            group.delete()  # no policy names it: nothing to enforce
        audit.record(
            "scim.group.deleted",
            actor=actor,
            detail={
                "group": group.name,
                "members": sorted(u.pk for u in members),
                "kept_empty_for_policy": kept,
            },
        )
