"""Remembered consent per (user, client, resource): ask only for what is new.

A later request for the same or fewer scopes skips the screen; a request for more asks only
for the new scopes (the step-up the MCP spec's insufficient_scope flow needs). Trusted
first-party clients (``skip_authorization``, set by an admin) never ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from authserver import audit
from authserver.models.external import consent_model
from authserver.revocation import service as revocation


@dataclass(frozen=True)
class Decision:
    needs_consent: bool
    new_scopes: list[str]
    already_allowed: list[str]


def decide(user, client, resource, scopes: list[str], *, force: bool = False) -> Decision:
    consent = consent_model().objects.filter(user=user, client=client, resource=resource).first()
    allowed = set(consent.scopes) if consent else set()
    new = [s for s in scopes if s not in allowed]
    already = [s for s in scopes if s in allowed]
    if client.skip_authorization and not force:
        return Decision(False, new, already)
    # A first consent is asked even for an empty scope list: the user must see the client.
    needs = force or consent is None or bool(new)
    return Decision(needs, new, already)


def record(user, client, resource, scopes: list[str]) -> object:
    with transaction.atomic():
        consent, _ = (
            consent_model()
            .objects.select_for_update()
            .get_or_create(user=user, client=client, resource=resource, defaults={"scope": ""})
        )
        merged = list(dict.fromkeys([*consent.scopes, *scopes]))
        consent.scope = " ".join(merged)
        consent.save(update_fields=["scope", "updated_at"])
        audit.record(
            "consent.granted",
            actor=f"user:{user.pk}",
            user_id=user.pk,
            client_id=client.client_id,
            resource=resource.identifier,
            scope=" ".join(scopes),
        )
    return consent


def record_denial(user, client, resource, scopes: list[str]) -> None:
    audit.record(
        "consent.denied",
        actor=f"user:{user.pk}",
        user_id=user.pk,
        client_id=client.client_id,
        resource=resource.identifier,
        scope=" ".join(scopes),
    )


def withdraw(consent) -> int:
    """Remove the consent and revoke every token of that grant at once. Returns tokens revoked."""
    with transaction.atomic():
        revoked = revocation.revoke_user_client_resource(
            consent.user, consent.client, consent.resource, now=timezone.now()
        )
        consent.delete()
    return revoked
