"""RFC 7523 §2.1 jwt-bearer with an enterprise IdP's ID-JAG (MCP SEP-990): no consent screen,
the enterprise decided; every success and refusal is audited with the IdP's issuer."""

from __future__ import annotations

from datetime import datetime

from authserver import audit
from authserver.errors import InvalidGrant, InvalidRequest, InvalidTarget, OAuthError
from authserver.protocol import scopes
from authserver.resources import registry as resources
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.grants.base import Grant, register
from authserver.token_endpoint.params import TokenRequest
from enterprise import idjag, replay


@register
class JwtBearer(Grant):
    grant_type = idjag.GRANT_TYPE

    def allowed(self, client) -> bool:
        # An admin lets an IdP speak for a client (TrustedIdentityProvider.clients).
        return client.is_active and client.trusted_identity_providers.filter(enabled=True).exists()

    def validate(self, req: TokenRequest, client, *, now: datetime) -> Binding:
        assertion = req.get("assertion")
        if not assertion:
            raise InvalidRequest("missing assertion")  # RFC 7523 §2.1
        issuer = ""
        try:
            issuer = idjag.claimed_issuer(assertion)
            idp = idjag.trusted_issuer(issuer)
            return self.validate_from(idp, assertion, req, client, now=now)
        except OAuthError as exc:
            audit.record(
                "idjag.refused",
                client_id=client.client_id,
                ip=req.ip,
                detail={"issuer": issuer[:200], "error": exc.error, "reason": exc.description},
            )
            raise

    def validate_from(self, idp, assertion: str, req: TokenRequest, client, *, now) -> Binding:
        jag = idjag.verify(assertion, idp, now=now.timestamp())
        claims = jag.claims
        # ID-JAG draft §4.3: client_id is the client the IdP issued it to.
        if claims.get("client_id") != client.client_id:
            raise InvalidGrant("the assertion was issued to another client")
        if not idp.clients.filter(pk=client.pk).exists():
            raise InvalidGrant("this identity provider may not speak for this client")
        resource = self.resource_of(idp, claims, req)
        if replay.seen(idp.issuer, claims["jti"]):  # RFC 7523 §3 item 7
            raise InvalidGrant("the assertion was already used (jti)")
        user = idjag.local_user(jag)
        granted = idjag.granted_scopes(scopes.parse_scope(req.get("scope")), jag, resource, user)
        jkt = self.dpop_key(req, resource)
        new_user = user if user.pk is None else None
        # The admin's tool policy binds enterprise-managed tokens too (a user provisioned by
        # this assertion belongs to no group yet).
        details = self.tool_details(
            req, resource, granted, client=client, user=None if new_user else user
        )
        return Binding(
            grant_type=self.grant_type,
            client=client,
            resource=resource,
            scopes=tuple(granted),
            user_pk=user.pk,  # None until a provisioned user is saved (ConsumeIdJag.settle)
            jkt=jkt,
            authorization_details=details,
            claim=idjag.ConsumeIdJag(
                idp.issuer, claims["jti"], int(claims["exp"]), jag.subject, new_user
            ),
            audit_kind="token.issued",
            audit_detail=(
                ("enterprise_issuer", idp.issuer),
                ("assertion_jti", claims["jti"]),
                ("provisioned", new_user is not None),
            ),
        )

    def resource_of(self, idp, claims: dict, req: TokenRequest):
        """SEP-990 §4.3: the ID-JAG's ``resource`` names the MCP server; a request may only
        repeat it (RFC 8707 §2)."""
        named = claims.get("resource")
        if not isinstance(named, str) or not named:
            raise InvalidTarget("the assertion names no resource")
        resource = self.find_resource(resources.canonicalize(named))
        for value in resources.requested_resources(list(req.resources)):
            if value != resource.canonical:
                raise InvalidTarget("resource differs from the assertion's resource")
        if not idp.resources.filter(pk=resource.pk).exists():
            raise InvalidTarget("this identity provider may not grant access to this resource")
        return resource
