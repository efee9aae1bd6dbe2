"""RFC 6749 §4.4: client credentials, for confidential clients an admin allowed a resource."""

from __future__ import annotations

from datetime import datetime

from authserver.errors import InvalidTarget
from authserver.models import Resource, ResourceAccess
from authserver.protocol import scopes
from authserver.resources import registry as resources
from authserver.token_endpoint import grant_types
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants.base import Grant, register
from authserver.token_endpoint.params import TokenRequest


@register
class ClientCredentials(Grant):
    grant_type = grant_types.CLIENT_CREDENTIALS

    def allowed(self, client) -> bool:
        return client.allows_grant_type(grant_types.TO_DOT[self.grant_type])

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        requested = scopes.parse_scope(req.get("scope"))
        wanted = resources.requested_resources(list(req.resources))
        if len(wanted) > 1:
            raise InvalidTarget("request one resource per token")
        resource = self.find_resource(wanted[0]) if wanted else self.default_resource(client)
        jkt = self.dpop_key(req, resource)
        # At most one row per (client, resource) (unique_access_per_pair); only its scope.
        allowed = self.snap.get(
            ("access", client.pk, resource.pk),
            lambda: (
                ResourceAccess.objects.filter(client=client, resource=resource)
                .values_list("scope", flat=True)
                .first()
            ),
            cache_none=True,
        )
        if allowed is None:
            raise InvalidTarget(
                "this client is not allowed to get tokens for this resource",
                detail=f"client {client.client_id} has no access to {resource.identifier}",
            )
        granted = scopes.for_client_credentials(requested, resource, allowed.split())
        details = self.tool_details(req, resource, granted, client=client, user=None)
        return Binding(
            grant_type=self.grant_type,
            client=client,
            resource=resource,
            scopes=tuple(granted),
            jkt=jkt,
            authorization_details=details,
        )

    def default_resource(self, client) -> Resource:
        """RFC 8707 with no ``resource``: the documented rule (resources.py)."""
        resource = self.snap.get(
            ("default-resource", client.pk),
            lambda: resources.default_resource_for_client(client),
            cache_none=True,
        )
        if resource is None:
            raise InvalidTarget("the resource parameter is required (RFC 8707)")
        return resource
