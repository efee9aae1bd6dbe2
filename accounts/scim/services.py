"""SCIM's rules before the principal events (accounts.principals) that apply them.

A SCIM token belongs to one provider and touches only what that provider provisioned: users
whose ``ScimIdentity`` carries the token's provider, never staff or superusers (their
passwords are the break-glass path), and only such users in group memberships. Every check
runs before any write; every refusal is an RFC 7644 §3.12 error and changes nothing.
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError
from django.db.models import ProtectedError, Q

from accounts import principals
from accounts.scim.errors import ScimError
from accounts.scim.groups import GroupChanges
from accounts.scim.models import ScimIdentity, ScimToken
from accounts.scim.users import UserChanges

User = get_user_model()


def _conflict(what: str) -> ScimError:
    return ScimError(409, f"{what} is already taken", "uniqueness")


def manageable_users(queryset, token: ScimToken):
    """The principals of this token's provider: users a SCIM token of that provider created
    (``ScimIdentity.provider``; "" for unbound tokens from before the binding), and users no
    SCIM token created whose sign-in links are all that provider's. Local, admin-made and
    enterprise (ID-JAG) users belong to no provisioning client; staff and superusers never
    do. The one rule for reading, changing, deleting and group memberships."""
    mine = Q(scim_identity__provider=token.provider)
    if token.provider:
        elsewhere = SocialAccount.objects.exclude(provider=token.provider).values("user_id")
        mine |= Q(scim_identity__isnull=True, socialaccount__provider=token.provider) & ~Q(
            pk__in=elsewhere
        )
    return queryset.filter(mine, is_staff=False, is_superuser=False).distinct()


def manageable(user, token: ScimToken) -> bool:
    return manageable_users(User.objects.filter(pk=user.pk), token).exists()


def check_manageable(user, token: ScimToken) -> None:
    if user.is_staff or user.is_superuser:
        raise ScimError(403, "administrators are managed in Django admin only")
    if not manageable(user, token):
        raise ScimError(403, "this user was not provisioned by this SCIM client")


def _check_unique(changes: UserChanges, token: ScimToken, user=None) -> None:
    username = changes.values.get("username")
    others = User.objects.exclude(pk=user.pk) if user else User.objects.all()
    # Case-insensitive here refuses more, never less: a near-duplicate name is a conflict.
    if username and others.filter(username__iexact=username).exists():
        raise _conflict("userName")
    ext = changes.external_id
    if ext not in (..., None):
        taken = ScimIdentity.objects.filter(provider=token.provider, external_id=ext)
        if user:
            taken = taken.exclude(user=user)
        if taken.exists():
            raise _conflict("externalId")


def create_user(changes: UserChanges, *, token: ScimToken, actor: str):
    _check_unique(changes, token)
    try:
        return principals.create_scim_user(
            changes.values,
            provider=token.provider,
            external_id=None if changes.external_id is ... else changes.external_id,
            actor=actor,
        )
    except IntegrityError:
        raise _conflict("userName") from None


def update_user(user, changes: UserChanges, *, token: ScimToken, actor: str, replace=False):
    """PATCH, or PUT (``replace``): attributes not sent are cleared (RFC 7644 §3.5.1), but
    ``active`` only changes when sent: an omitted ``active`` never reactivates."""
    check_manageable(user, token)
    _check_unique(changes, token, user)
    external_id = changes.external_id
    if replace and external_id is ...:
        external_id = None
    clear = ("first_name", "last_name", "email") if replace else ()
    try:
        return principals.update_scim_user(
            user,
            changes.values,
            provider=token.provider,
            external_id=external_id,
            clear=clear,
            actor=actor,
        )
    except IntegrityError:
        raise _conflict("userName") from None


def delete_user(user, *, token: ScimToken, actor: str) -> None:
    check_manageable(user, token)
    principals.delete_user(user, actor=actor)


def _members(ids, token: ScimToken) -> list:
    ids = set(ids)
    users = list(User.objects.filter(pk__in=ids))
    if len(users) != len(ids):
        raise ScimError(400, "a member is not a known User", "invalidValue")
    for user in users:
        # Staff protection covers memberships too: SCIM neither adds nor removes them.
        check_manageable(user, token)
    return users


def create_group(changes: GroupChanges, *, token: ScimToken, actor: str) -> Group:
    if Group.objects.filter(name__iexact=changes.name).exists():
        raise _conflict("displayName")
    members = _members(changes.members or (), token)
    return principals.create_group(changes.name, members, actor=actor)


def update_group(group: Group, changes: GroupChanges, *, token: ScimToken, actor: str):
    if (
        changes.name
        and Group.objects.exclude(pk=group.pk).filter(name__iexact=changes.name).exists()
    ):
        raise _conflict("displayName")
    before = set(group.user_set.values_list("pk", flat=True))
    after = set(before if changes.members is None else changes.members)
    after = (after | changes.add) - changes.remove
    add = after - before
    # Members named for removal must be this client's; a full replace leaves alone the
    # members it may not manage (an admin's additions, staff) instead of failing.
    _members(add | (changes.remove & before), token)
    removable = {u.pk for u in User.objects.filter(pk__in=before - after) if manageable(u, token)}
    return principals.change_group(group, name=changes.name, add=add, remove=removable, actor=actor)


def delete_group(group: Group, *, actor: str) -> None:
    """A group that a policy names is not deleted (409): the policy would otherwise open its
    resource, scope or tools to everyone. Remove it from the policy first."""
    policies = principals.policies_naming(group)
    if policies:
        detail = "; ".join(policies)[:300]
        raise ScimError(409, f"a policy names this group ({detail}); remove it there first")
    try:
        principals.delete_group(group, actor=actor)
    except ProtectedError:  # named by a policy meanwhile
        raise ScimError(409, "a policy names this group; remove it there first") from None
