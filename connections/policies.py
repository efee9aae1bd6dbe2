"""Connection (vending) policies: which MCP server (its confidential client, acting for its
registered resource) may obtain users' tokens of which upstream provider, with at most which
upstream scopes. One place writes them (``bin/manage connection_policy``): validate
everything, then one transaction with its audit event (``connection.policy.created``,
``.updated``, ``.deleted``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from authserver import audit
from authserver.errors import InvalidTarget
from authserver.models import Resource
from authserver.models.external import client_model
from authserver.protocol.resources import canonicalize
from authserver.protocol.scopes import is_scope_token
from authserver.token_endpoint.grant_types import TOKEN_EXCHANGE
from connections.models import ConnectionPolicy, UpstreamProvider


class PolicyRefused(ValueError):
    """The request cannot be carried out; the message says exactly why."""


@dataclass(frozen=True)
class PolicyKey:
    client: object
    resource: Resource
    provider: UpstreamProvider


def find_parts(client_id: str, resource_uri: str, provider_slug: str) -> PolicyKey:
    client = client_model().objects.filter(client_id=client_id).first()
    if client is None:
        raise PolicyRefused(f"no client with client_id {client_id!r}")
    try:
        canonical = canonicalize(resource_uri)
    except InvalidTarget as exc:
        raise PolicyRefused(f"resource: {exc.description}") from None
    resource = Resource.objects.filter(canonical=canonical).first()
    if resource is None:
        raise PolicyRefused(f"no MCP server registered as {resource_uri}")
    provider = UpstreamProvider.objects.filter(slug=provider_slug).first()
    if provider is None:
        known = " ".join(UpstreamProvider.objects.order_by("slug").values_list("slug", flat=True))
        raise PolicyRefused(
            f"no upstream provider {provider_slug!r} (there are: {known or 'none'})"
        )
    return PolicyKey(client, resource, provider)


def check_policy(key: PolicyKey, scopes: str) -> list[str]:
    """The policy's scopes, once everything about it is right."""
    client = key.client
    # RFC 8693 §2.1: the MCP server authenticates as a confidential client with the grant.
    if client.is_public:
        raise PolicyRefused(f"client {client.client_id} is public: vending needs a secret")
    # As the token endpoint decides (grants/base.py): the grant is in the client's list.
    if TOKEN_EXCHANGE not in (client.grant_types or []):
        raise PolicyRefused(f"client {client.client_id} lacks the grant type {TOKEN_EXCHANGE}")
    names = scopes.split()
    if not names:
        raise PolicyRefused("give at least one upstream scope (--scopes 'repo read:user')")
    bad = [n for n in names if not is_scope_token(n)]
    if bad:
        raise PolicyRefused(f"not scope tokens (RFC 6749 §3.3): {' '.join(bad)}")
    offered = key.provider.scopes.split()
    beyond = [n for n in names if offered and n not in offered]
    if beyond:
        raise PolicyRefused(
            f"{key.provider.slug} is asked only for {' '.join(offered)}; never granted: "
            f"{' '.join(beyond)}"
        )
    return list(dict.fromkeys(names))


def _described(policy: ConnectionPolicy) -> dict:
    return {
        "provider": policy.provider.slug,
        "scopes": policy.scopes,
        "enabled": policy.enabled,
    }


def save_policy(key: PolicyKey, *, scopes: str, enabled: bool, actor: str) -> tuple[str, dict]:
    """Create or update the one policy for (client, resource, provider): ``created``,
    ``updated`` or ``unchanged``, and the policy as audited."""
    names = " ".join(check_policy(key, scopes))
    with transaction.atomic():
        policy, created = ConnectionPolicy.objects.select_for_update().get_or_create(
            client=key.client,
            resource=key.resource,
            provider=key.provider,
            defaults={"scopes": names, "enabled": enabled},
        )
        if not created and (policy.scopes, policy.enabled) == (names, enabled):
            return "unchanged", _described(policy)
        policy.scopes, policy.enabled = names, enabled
        policy.save()
        outcome = "created" if created else "updated"
        audit.record(
            f"connection.policy.{outcome}",
            actor=actor,
            client_id=key.client.client_id,
            resource=key.resource.identifier,
            detail=_described(policy),
        )
    return outcome, _described(policy)


def delete_policy(key: PolicyKey, *, actor: str) -> None:
    with transaction.atomic():
        policy = (
            ConnectionPolicy.objects.select_for_update()
            .filter(client=key.client, resource=key.resource, provider=key.provider)
            .first()
        )
        if policy is None:
            raise PolicyRefused(
                f"no policy lets {key.client.client_id} vend {key.provider.slug} tokens for "
                f"{key.resource.identifier}"
            )
        detail = _described(policy)
        policy.delete()
        audit.record(
            "connection.policy.deleted",
            actor=actor,
            client_id=key.client.client_id,
            resource=key.resource.identifier,
            detail=detail,
        )
