"""Central access policy by group: which users may reach an MCP server, and which of its scopes.

An admin restricts a resource, or single scopes of it, to groups (``allowed_groups``; empty
means everyone). :func:`allowed_scopes` is the one decision, used by the authorization
endpoint (refuse with ``access_denied``; consent offers only what is allowed) and by every
token request, refresh included (narrow, or refuse with ``invalid_grant``). When a user's
groups or a policy change, :func:`enforce_for_user` revokes at once what is no longer
allowed, so the revocation list carries it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from authserver import audit
from authserver.errors import InvalidGrant, writer
from authserver.models import AccessToken, RefreshToken, Resource, Scope
from authserver.models.external import client_model, consent_model
from authserver.protocol.scopes import OFFLINE_ACCESS
from authserver.revocation import service as revocation


class PolicyRefused(Exception):
    """The user may not use this resource at all; ``reason`` is safe to show them."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _user_groups(user) -> set[int]:
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    # .all(): a user loaded with its groups (prefetched, the live decision) costs no query.
    return {group.pk for group in user.groups.all()}


GroupRules = tuple[frozenset[int], dict[str, frozenset[int]]]


def group_rules(resource) -> GroupRules:
    """The groups ``resource`` is limited to, and each of its limited scopes (two small
    queries; the live decision keeps the answer in the generation-checked cache)."""
    required = frozenset(
        Resource.allowed_groups.through.objects.filter(resource_id=resource.pk).values_list(
            "group_id", flat=True
        )
    )
    limited: dict[str, set[int]] = {}
    rows = Scope.allowed_groups.through.objects.filter(scope__resource_id=resource.pk)
    for name, group_id in rows.values_list("scope__name", "group_id"):
        limited.setdefault(name, set()).add(group_id)
    return required, {name: frozenset(ids) for name, ids in limited.items()}


def allowed_scopes(
    user, resource, requested: Iterable[str], *, rules: GroupRules | None = None
) -> set[str]:
    """The subset of ``requested`` the user may hold at ``resource``.

    Raises PolicyRefused when the resource itself is limited to groups the user is not in.
    Scopes the resource does not define (``offline_access``) are not the policy's business.
    An unrestricted resource costs two small queries (this runs on every token request);
    ``rules`` (from :func:`group_rules`) spares them.
    """
    requested = list(requested)
    required, every_limit = group_rules(resource) if rules is None else rules
    limited = {name: groups for name, groups in every_limit.items() if name in requested}
    if not required and not limited:
        return set(requested)
    mine = _user_groups(user)
    if required and not mine & required:
        names = ", ".join(
            sorted(Group.objects.filter(pk__in=required).values_list("name", flat=True))
        )
        raise PolicyRefused(f"{resource.name} is limited to members of: {names}")
    return {s for s in requested if s not in limited or mine & limited[s]}


def refused_scopes(user, resource, requested: Iterable[str]) -> list[str]:
    requested = list(requested)
    allowed = allowed_scopes(user, resource, requested)
    return [s for s in requested if s not in allowed]


def scopes_for_token(user, resource, scopes: list[str]) -> list[str]:
    """A token request (code or refresh) for ``user``: the scopes it may still carry.

    Policy changes take effect here: a lost scope is dropped from what is issued (the new
    refresh token carries the narrowed scope too), and a grant left with none of the scopes
    it was for, or a resource the user may no longer use, is refused (RFC 6749 §5.2
    ``invalid_grant``: the grant was revoked).
    """
    if user is None:
        return scopes  # client credentials: no user, the client's own ResourceAccess applies
    try:
        allowed = allowed_scopes(user, resource, scopes)
    except PolicyRefused as refused:
        raise InvalidGrant(refused.reason, detail=f"group policy, user {user.pk}") from None
    kept = [s for s in scopes if s in allowed]
    lost = [s for s in scopes if s not in allowed]
    if lost and not [s for s in kept if s != OFFLINE_ACCESS]:
        raise InvalidGrant(
            "the scopes of this grant are no longer allowed for this user",
            detail=f"group policy, user {user.pk}, lost {' '.join(lost)}",
        )
    return kept


def _live_tokens(user, now: datetime):
    return AccessToken.objects.filter(user=user, revoked_at__isnull=True, expires__gt=now)


def enforce_for_user(user, *, now: datetime | None = None, actor: str = "policy") -> int:
    """Revoke what ``user`` may no longer hold: everything at a resource they lost, and live
    access tokens carrying a scope they lost (their refresh then narrows). Returns the
    number of access tokens revoked."""
    now = now or timezone.now()
    pairs: set[tuple[int, str]] = set()
    for app_id, bound in _live_tokens(user, now).values_list("application_id", "resource"):
        pairs.update((app_id, r) for r in bound or [])
    live_refresh = RefreshToken.objects.filter(user=user, revoked__isnull=True)
    for app_id, bound in live_refresh.values_list("application_id", "resource"):
        pairs.update((app_id, r) for r in bound or [])
    consents = consent_model().objects.filter(user=user)
    pairs.update(consents.values_list("client_id", "resource__identifier"))
    resources = {
        r.identifier: r for r in Resource.objects.filter(identifier__in={p[1] for p in pairs})
    }
    revoked = 0
    with transaction.atomic():
        for app_id, identifier in sorted(pairs):
            resource = resources.get(identifier)
            client = client_model().objects.filter(pk=app_id).first()
            if resource is None or client is None:
                continue
            try:
                allowed_scopes(user, resource, [])
            except PolicyRefused:
                revoked += revocation.revoke_user_client_resource(user, client, resource, now=now)
                consent_model().objects.filter(user=user, client=client, resource=resource).delete()
                continue
            tokens = _live_tokens(user, now).filter(application=client, resource=[identifier])
            doomed = [
                t.pk
                for t in tokens.only("pk", "scope")
                if refused_scopes(user, resource, t.scope.split())
            ]
            if doomed:
                revoked += revocation.revoke_access_tokens(
                    AccessToken.objects.filter(pk__in=doomed), now=now
                )
                revocation._published(
                    "policy.tokens_revoked",
                    len(doomed),
                    user_id=user.pk,
                    actor=actor,
                    client_id=client.client_id,
                    resource=identifier,
                )
    return revoked


def enforce_for_resource(resource, *, now: datetime | None = None, actor: str = "policy") -> int:
    """A resource's policy changed: enforce it for everyone holding something there."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    bound = [resource.identifier]
    user_ids = set(
        AccessToken.objects.filter(resource=bound, revoked_at__isnull=True, expires__gt=now)
        .exclude(user=None)
        .values_list("user_id", flat=True)
    ) | set(
        RefreshToken.objects.filter(resource=bound, revoked__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    revoked = 0
    for user in get_user_model().objects.filter(pk__in=user_ids):
        revoked += enforce_for_user(user, now=now, actor=actor)
    return revoked


def change_allowed_groups(target, *, add: Iterable, remove: Iterable, actor: str) -> list[str]:
    """Change the allowed groups of a Resource or one of its Scopes in one transaction;
    the m2m signals (grouppolicy_signals) audit each step as ``actor`` and enforce it. The
    additions go first, so no step ever allows less than both the old and the new policy:
    nobody loses a token to an intermediate state. Returns the groups now allowed."""
    add, remove = list(add), list(remove)
    with transaction.atomic():
        target._policy_actor = actor
        try:
            if add:
                target.allowed_groups.add(*add)
            if remove:
                target.allowed_groups.remove(*remove)
        finally:
            del target._policy_actor
        return sorted(target.allowed_groups.values_list("name", flat=True))


def record_policy_change(resource, scope_name: str, group_names: list[str], actor: str) -> None:
    audit.record(
        "policy.changed",
        actor=actor,
        resource=resource.identifier,
        scope=scope_name,
        detail={"allowed_groups": sorted(group_names)},
    )


def scopes_for_authorization(user, resource, scopes: list[str]) -> list[str]:
    """What the consent screen may offer: the allowed part of ``scopes``. PolicyRefused when
    the user may not use the resource, or none of the requested scopes of it."""
    allowed = allowed_scopes(user, resource, scopes)
    kept = [s for s in scopes if s in allowed]
    if [s for s in scopes if s != OFFLINE_ACCESS] and not [s for s in kept if s != OFFLINE_ACCESS]:
        lost = ", ".join(s for s in scopes if s not in allowed)
        raise PolicyRefused(f"your groups do not allow {lost} at {resource.name}")
    return kept


def access_denied_page(request, back_to_client, reason: str, *, prompt_none: bool = False):
    """RFC 6749 §4.1.2.1 ``access_denied``: a page saying why, with the way back to the
    client (the error redirect); ``prompt=none`` gets the redirect itself."""
    if prompt_none:
        return back_to_client
    audit.record(
        "policy.refused",
        actor=f"user:{request.user.pk}",
        user_id=request.user.pk,
        detail={"reason": reason},
    )
    return writer.access_denied_page(request, reason=reason, back_url=back_to_client["Location"])
