"""Revoking tokens. Rows are marked, never deleted: they are what the revocation list names.

Every function records an audit event and, once the transaction commits, has the signed
revocation list republished (authserver.revocation.published), so MCP servers learn within the
polling bound.

Refresh tokens are revoked family by family: each family's row (TokenFamily) is cut off
first, in its own statement, which waits for a rotation or redemption in flight in that
family; the statements that then mark the tokens see what it wrote, and any later write into
the family finds the cut-off and writes nothing (authserver.token_endpoint.families).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from authserver import audit
from authserver.keys import keyring
from authserver.models import AccessToken, Grant, RefreshToken, RevocationCutoff
from authserver.models.tokens import TokenFamily, revocation_requested
from authserver.revocation.published import schedule_publication
from authserver.token_hash import token_hash


def _published(kind: str, revoked: int, *, detail: dict | None = None, **fields) -> int:
    audit.record(kind, detail={**(detail or {}), "tokens_revoked": revoked}, **fields)
    schedule_publication()
    return revoked


def revoke_access_tokens(queryset, *, now: datetime) -> int:
    """Mark tokens revoked, and every token exchanged from them (RFC 8693 hops share the
    subject token's family), so revoking the original grant cuts off every hop."""
    live = queryset.filter(revoked_at__isnull=True)
    families = set(live.exclude(token_family=None).values_list("token_family", flat=True))
    revoked = live.update(revoked_at=now, updated=now)
    if families:
        revoked += AccessToken.objects.filter(
            token_family__in=families, revoked_at__isnull=True
        ).update(revoked_at=now, updated=now)
    return revoked


def cut_off_families(families, *, now: datetime) -> None:
    """Mark each family revoked, taking its row's lock (in sorted order, so two revocations
    never deadlock). Waits for a write in flight in any of them to commit; a write after this
    one finds ``revoked_at`` and issues nothing. Run it before marking the tokens."""
    # No token of a family outlives its refresh tokens' absolute lifetime from now.
    until = now + timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
    TokenFamily.objects.bulk_create(
        [TokenFamily(id=f, revoked_at=now, expires_at=until) for f in sorted(set(families))],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["revoked_at"],
        batch_size=500,
    )


def revoke_refresh_tokens(queryset, *, now: datetime) -> int:
    """Revoke the live refresh tokens of ``queryset`` and cut off their families (with the
    ones still within the reuse grace window, which could otherwise get a sibling)."""
    grace = timedelta(seconds=settings.CONFIG.refresh_token_grace)
    reachable = queryset.filter(Q(revoked__isnull=True) | Q(revoked__gt=now - grace))
    cut_off_families(
        reachable.exclude(token_family=None).values_list("token_family", flat=True), now=now
    )
    # A new statement: it sees the refresh tokens a write we waited for has inserted.
    return queryset.filter(revoked__isnull=True).update(revoked=now, updated=now)


def revoke_family(token_family, *, now: datetime, reason: str = "revoked") -> int:
    """Revoke every refresh and access token of a family (code replay, refresh reuse)."""
    if token_family is None:
        return 0
    with transaction.atomic():
        cut_off_families([token_family], now=now)
        RefreshToken.objects.filter(token_family=token_family, revoked__isnull=True).update(
            revoked=now, updated=now
        )
        revoked = revoke_access_tokens(
            AccessToken.objects.filter(token_family=token_family), now=now
        )
        return _published("tokens.revoked", revoked, family=token_family, actor=reason)


def revoke_family_on_replay(token_family, *, now: datetime, reason: str) -> int:
    """A replayed code or refresh token: revoke its family once. Replaying a token of a
    family already revoked writes nothing more (no audit event, no republication)."""
    if token_family is None:
        return 0
    if TokenFamily.objects.filter(pk=token_family, revoked_at__isnull=False).exists():
        return 0
    return revoke_family(token_family, now=now, reason=reason)


def revoke_user_client_resource(user, client, resource, *, now: datetime) -> int:
    """Everything ``client`` holds for ``user`` at ``resource``: tokens, refresh tokens, codes."""
    bound = [resource.identifier]
    with transaction.atomic():
        revoke_refresh_tokens(
            RefreshToken.objects.filter(user=user, application=client, resource=bound), now=now
        )
        Grant.objects.filter(user=user, application=client, resource=bound).delete()
        revoked = revoke_access_tokens(
            AccessToken.objects.filter(user=user, application=client, resource=bound), now=now
        )
        return _published(
            "grant.revoked",
            revoked,
            user_id=user.pk,
            client_id=client.client_id,
            resource=resource.identifier,
        )


def _cutoff(kind: str, value: str, now: datetime) -> None:
    max_lifetime = timedelta(seconds=settings.CONFIG.access_token_max_lifetime)
    RevocationCutoff.objects.update_or_create(
        kind=kind, value=value, defaults={"before": now, "expires_at": now + max_lifetime}
    )


def revoke_user(user, *, now: datetime, actor: str = "") -> int:
    """Someone leaves: nothing of theirs keeps working, even if their rows are deleted next."""
    with transaction.atomic():
        _cutoff(RevocationCutoff.Kind.SUBJECT, str(user.pk), now)
        revoke_refresh_tokens(RefreshToken.objects.filter(user=user), now=now)
        Grant.objects.filter(user=user).delete()
        revoked = revoke_access_tokens(AccessToken.objects.filter(user=user), now=now)
        return _published("user.revoked", revoked, user_id=user.pk, actor=actor)


def revoke_client(client, *, now: datetime, actor: str = "") -> int:
    with transaction.atomic():
        _cutoff(RevocationCutoff.Kind.CLIENT, client.client_id, now)
        revoke_refresh_tokens(RefreshToken.objects.filter(application=client), now=now)
        Grant.objects.filter(application=client).delete()
        revoked = revoke_access_tokens(AccessToken.objects.filter(application=client), now=now)
        return _published("client.revoked", revoked, client_id=client.client_id, actor=actor)


def revoke_resource(resource, *, now: datetime, actor: str = "") -> int:
    bound = [resource.identifier]
    with transaction.atomic():
        revoke_refresh_tokens(RefreshToken.objects.filter(resource=bound), now=now)
        revoked = revoke_access_tokens(AccessToken.objects.filter(resource=bound), now=now)
        return _published("resource.revoked", revoked, resource=resource.identifier, actor=actor)


def revoke_token_row(token: AccessToken | RefreshToken, *, now: datetime, actor: str = "") -> int:
    """RFC 7009: an access token alone; a refresh token with its whole family (§2.1 MAY)."""
    if isinstance(token, RefreshToken):
        if token.token_family:
            return revoke_family(token.token_family, now=now, reason=actor or "revoked")
        with transaction.atomic():
            revoke_refresh_tokens(RefreshToken.objects.filter(pk=token.pk), now=now)
            revoked = revoke_access_tokens(
                AccessToken.objects.filter(pk=token.access_token_id), now=now
            )
            return _published("tokens.revoked", revoked, client_id="", actor=actor)
    with transaction.atomic():
        revoked = revoke_access_tokens(AccessToken.objects.filter(pk=token.pk), now=now)
        return _published("token.revoked", revoked, jti=token.jti or "", actor=actor)


def revoke_compromised_key(kid: str, *, now: datetime, actor: str = "operator") -> int:
    """Emergency: unpublish ``kid`` at once, destroy it, revoke every token it signed.

    Returns the number of access tokens revoked. If the key was signing, a replacement
    becomes active immediately.
    """
    with transaction.atomic():
        keyring.compromise(kid, now=now)
        revoked = AccessToken.objects.filter(kid=kid, revoked_at__isnull=True).update(
            revoked_at=now
        )
        return _published("key.compromised", revoked, detail={"kid": kid}, actor=actor)


def revoke_presented_token(token: str, *, hint: str | None, client, now: datetime) -> None:
    """RFC 7009 §2.1: only the authenticated client's own tokens; unknown ones are ignored
    (the endpoint answers 200 either way, §2.2). A refresh token takes its family along."""
    client_pk = getattr(client, "pk", None)
    if client_pk is None or not token:
        return
    checksum = token_hash(token)
    models = [AccessToken, RefreshToken]
    if hint == "refresh_token":
        models.reverse()
    for model in models:
        rows = list(model.objects.filter(token_checksum=checksum, application_id=client_pk))
        for row in rows:
            revoke_token_row(row, now=now, actor=f"client:{client.client_id}")
        if rows:
            return


@receiver(revocation_requested)
def _revoke_for_dot(sender, token=None, family=None, **kwargs) -> int:
    """DOT's ``AccessToken.revoke()`` and ``RefreshToken.revoke_family()`` land here."""
    now = timezone.now()
    if token is not None:
        return revoke_token_row(token, now=now, actor="admin")
    return revoke_family(family, now=now, reason="reuse")
