"""SCIM bearer tokens: issue (the plaintext returned once, only its digest kept), revoke.

The one place both the admin and ``bin/manage scim_token`` write them: validate, then one
transaction with its audit event (``scim.token.created``, ``scim.token.revoked``; the
token's id and provider, never the token)."""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction

from accounts.scim.models import ScimToken
from authserver import audit

PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}", re.ASCII)  # as UPSTREAM_PROVIDERS ids
NAME_MAX = ScimToken._meta.get_field("name").max_length


class TokenRefused(ValueError):
    """The request cannot be carried out; the message says exactly why."""


def check_new_token(name: str, provider: str) -> None:
    if not name.strip():
        raise TokenRefused("the name is empty: say who uses the token, e.g. 'Okta provisioning'")
    if len(name) > NAME_MAX:
        raise TokenRefused(f"the name is longer than {NAME_MAX} characters")
    if provider and not PROVIDER_ID.fullmatch(provider):
        raise TokenRefused(
            f"the provider id {provider!r} is not a sign-in provider id (lower-case letters, "
            "digits and '-', at most 40, e.g. okta)"
        )


def issue_token(name: str, *, provider: str, actor: str) -> tuple[ScimToken, str]:
    """A new token for ``provider``'s provisioning client; the plaintext is returned once."""
    check_new_token(name, provider)
    with transaction.atomic():
        token, plaintext = ScimToken.issue(name.strip(), provider=provider)
        audit.record(
            "scim.token.created", actor=actor, detail={"id": token.pk, "provider": provider}
        )
    return token, plaintext


def revoke_token(token_id: int, *, actor: str, now: datetime) -> ScimToken:
    """Revoke one token (its next request is refused: RFC 7644 §3.12, 401)."""
    with transaction.atomic():
        token = ScimToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None:
            raise TokenRefused(f"no SCIM token with id {token_id}")
        if token.revoked_at is not None:
            raise TokenRefused(f"SCIM token {token_id} was already revoked at {token.revoked_at}")
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        audit.record(
            "scim.token.revoked",
            actor=actor,
            detail={"id": token.pk, "provider": token.provider},
            at=now,
        )
    return token
