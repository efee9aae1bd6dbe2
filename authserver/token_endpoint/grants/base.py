"""The grant interface and its registry, plus the checks several grants share."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from authserver import dpop, tool_grants
from authserver.errors import InvalidGrant, InvalidTarget, UnauthorizedClient
from authserver.models import Resource, Scope
from authserver.protocol import metadata
from authserver.protocol.scopes import OFFLINE_ACCESS
from authserver.resources import grouppolicy
from authserver.resources import registry as resources
from authserver.token_endpoint import grant_types, registry
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.hotcache import Snapshot
from authserver.token_endpoint.params import TokenRequest

# The registry's table (token_endpoint.registry): enterprise registers jwt-bearer there too.
GRANTS = registry.GRANTS
register = registry.register_grant


class Grant:
    """One grant type. Subclasses set ``grant_type`` and implement ``validate``."""

    grant_type = ""

    @property
    def confidential_only(self) -> bool:
        # e.g. RFC 6749 §4.4: client credentials (grant_types.GRANT_TYPES says which).
        return self.grant_type in grant_types.CONFIDENTIAL_ONLY

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def check_client(self, client) -> None:
        if self.confidential_only and client.is_public:
            raise UnauthorizedClient(f"public clients cannot use {self.grant_type}")
        if not self.allowed(client):
            raise UnauthorizedClient("this client may not use this grant type")

    def allowed(self, client) -> bool:
        return self.grant_type in (client.grant_types or [])

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        raise NotImplementedError

    # --- shared steps ----------------------------------------------------------------------

    def find_resource(self, canonical: str) -> Resource:
        resource = self.snap.get(
            ("resource", canonical), lambda: resources._load_resource(canonical)
        )
        if resource is None:
            raise InvalidTarget("unknown resource", detail=f"resource {canonical[:200]!r}")
        return resource

    def bound_resource(self, identifiers: list[str], requested: tuple[str, ...]) -> Resource:
        """The resource recorded on a grant or refresh token; a request may only repeat it."""
        if len(identifiers) != 1:
            raise InvalidGrant("grant is not bound to exactly one resource")
        try:
            resource = self.find_resource(resources.canonicalize(identifiers[0]))
        except InvalidTarget:
            raise InvalidTarget("the resource of this grant is no longer available") from None
        # RFC 8707 §2.2: a token request may narrow, never widen; with one audience that is
        # the same resource or nothing.
        for value in resources.requested_resources(list(requested)):
            if value != resource.canonical:
                raise InvalidTarget("resource differs from the one that was authorized")
        return resource

    def dpop_key(self, req: TokenRequest, resource: Resource, *, bound: str = "") -> str:
        """RFC 9449 §5: a valid proof binds what is issued to its key; §7.1: a resource that
        requires DPoP gets no Bearer token, from any grant."""
        jkt = req.dpop_jkt  # checked once per request (view.check_dpop_proof)
        if resource.require_dpop and not jkt:
            raise dpop.InvalidDPoPProof("this resource only accepts DPoP-bound tokens")
        if bound and bound != jkt:
            raise dpop.InvalidDPoPProof("refresh token is bound to another DPoP key")
        return jkt

    @staticmethod
    def user_of(user_pk):
        """The resource owner as a policy reads it (only its groups), without a query."""
        return None if user_pk is None else get_user_model()(pk=user_pk)

    def tool_details(
        self, req: TokenRequest, resource: Resource, granted, *, client, user, ceiling=None
    ) -> str:
        """RFC 9396: the tools the token may call (granted scopes ∩ the admin's tool policy ∩
        the request, never beyond ``ceiling``, what an earlier grant approved), for every
        grant that mints a token; JSON text, "" when the resource registered no tools."""
        return tool_grants.compute(
            resource,
            granted,
            client=client,
            user=user,
            requested=req.get(tool_grants.PARAMETER),
            snap=self.snap,
            ceiling=ceiling,
        )

    def group_policy(self, user_pk, resource: Resource, granted: list[str]) -> list[str]:
        """The central policy by group, on every user token request (refresh and exchange
        included): lost scopes are dropped, a grant left with none is ``invalid_grant``."""
        if user_pk is None:
            return granted  # client credentials: the client's own resource access applies
        # Whether the resource or any of its scopes is limited to groups, from the
        # per-process cache: a rule added or removed renews the generation (migration 0010),
        # so the write refuses a stale answer and the request runs again on fresh rows.
        restricted = self.snap.get(
            ("group-restricted", resource.pk), lambda: group_restricted(resource.pk)
        )
        if not restricted:
            return list(granted)  # what scopes_for_token answers without rules, no query
        return grouppolicy.scopes_for_token(self.user_of(user_pk), resource, list(granted))


def group_restricted(resource_pk: int) -> bool:
    """Whether any group rule applies at this resource (at most two small queries)."""
    resource_rules = Resource.allowed_groups.through.objects.filter(resource_id=resource_pk)
    scope_rules = Scope.allowed_groups.through.objects.filter(scope__resource_id=resource_pk)
    return resource_rules.exists() or scope_rules.exists()


def token_endpoint_url() -> str:
    return metadata.origin(settings.ISSUER) + reverse("oauth2_provider:token")


def refresh_wanted(client, resource, scopes) -> bool:
    """A refresh token only where the resource issues them, and only with offline_access or
    a client registered for the refresh_token grant."""
    wants = OFFLINE_ACCESS in scopes or grant_types.REFRESH_TOKEN in (client.grant_types or [])
    return bool(resource.issue_refresh_tokens and wants)
