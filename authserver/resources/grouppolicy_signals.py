"""Group memberships and group policies take effect at once (authserver.resources.grouppolicy)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, pre_delete
from django.dispatch import receiver

from authserver.models import Resource, Scope
from authserver.resources import grouppolicy

User = get_user_model()
_CHANGES = ("post_add", "post_remove", "post_clear")


@receiver(m2m_changed, sender=User.groups.through)
def membership_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if reverse and action == "pre_clear":  # group.user_set.clear(): remember who was in it
        instance._members_before_clear = list(instance.user_set.values_list("pk", flat=True))
        return
    if action not in _CHANGES:
        return
    if not reverse:  # user.groups.add/remove/set/clear
        grouppolicy.enforce_for_user(instance, actor="membership")
        return
    if action == "post_clear":
        pk_set = set(getattr(instance, "_members_before_clear", []))
    for user in User.objects.filter(pk__in=pk_set or ()):
        grouppolicy.enforce_for_user(user, actor="membership")


def _policy_changed(resource: Resource, scope_name: str, groups, actor: str) -> None:
    grouppolicy.record_policy_change(
        resource, scope_name, list(groups.values_list("name", flat=True)), actor=actor
    )
    grouppolicy.enforce_for_resource(resource, actor="policy")


# Who changed it: grouppolicy.change_allowed_groups names its caller; the admin's form is
# the other way in.
def _actor(instance) -> str:
    return getattr(instance, "_policy_actor", "admin")


@receiver(m2m_changed, sender=Resource.allowed_groups.through)
def resource_policy_changed(sender, instance, action, reverse, **kwargs) -> None:
    if action in _CHANGES and not reverse:
        _policy_changed(instance, "", instance.allowed_groups.all(), _actor(instance))


@receiver(m2m_changed, sender=Scope.allowed_groups.through)
def scope_policy_changed(sender, instance, action, reverse, **kwargs) -> None:
    if action in _CHANGES and not reverse:
        _policy_changed(
            instance.resource, instance.name, instance.allowed_groups.all(), _actor(instance)
        )


@receiver(pre_delete, sender=Group)
def group_deleted(sender, instance, **kwargs) -> None:
    """Deleting a group drops its memberships without m2m signals: enforce for its members
    once it is gone (they may lose resources that other groups still guard)."""
    members = list(instance.user_set.all())
    if members:
        transaction.on_commit(lambda: _enforce_all(members, "group deleted"))


def _enforce_all(users, actor: str) -> None:
    for user in users:
        grouppolicy.enforce_for_user(user, actor=actor)
