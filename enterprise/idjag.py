"""Identity Assertion JWT Authorization Grants (ID-JAG; draft-ietf-oauth-identity-assertion-
authz-grant, MCP SEP-990): what an enterprise IdP's assertion must say before we issue a
token for it, and what that token may carry.

Everything here reads; the writes (the jti, a provisioned user and its subject link) are
the :class:`ConsumeIdJag` claim, applied inside the issuing transaction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from authserver.errors import InvalidGrant, InvalidScope
from authserver.protocol import scopes as scope_rules
from authserver.resources import grouppolicy
from authserver.token_endpoint import grant_types
from enterprise import jose, jwks, replay
from enterprise.models import EnterpriseSubject, TrustedIdentityProvider

GRANT_TYPE = grant_types.JWT_BEARER  # RFC 7523 §2.1
TYP = "oauth-id-jag+jwt"  # ID-JAG draft §3: the JWT's typ header


@dataclass(frozen=True)
class IdJag:
    """A verified ID-JAG: the issuer that signed it and its claims."""

    idp: TrustedIdentityProvider
    claims: dict

    @property
    def subject(self) -> str:
        return self.claims["sub"]


def provisioned(user) -> bool:
    """Whether an enterprise IdP provisioned ``user`` (accounts.principals.PROVISIONERS)."""
    return EnterpriseSubject.objects.filter(user=user).exists()


def claimed_issuer(assertion: str) -> str:
    """The ``iss`` the assertion claims (not yet verified: it says whose keys to use)."""
    try:
        iss = jose.unverified_claims(assertion).get("iss")
    except jose.RefusedAssertion as exc:
        raise InvalidGrant(exc.description) from None
    if not isinstance(iss, str) or not iss:
        raise InvalidGrant("the assertion has no issuer")
    return iss


def trusted_issuer(iss: str) -> TrustedIdentityProvider:
    """The enabled, trusted IdP with this issuer identifier."""
    idp = TrustedIdentityProvider.objects.filter(issuer=iss[:512], enabled=True).first()
    if idp is None:
        raise InvalidGrant("the assertion's issuer is not a trusted identity provider")
    return idp


def verify(assertion: str, idp: TrustedIdentityProvider, *, now: float) -> IdJag:
    """Signature by the IdP's key, typ, and the RFC 7523 §3 claims with aud = our issuer."""
    try:
        keyset = jwks.keys_at(idp.jwks_uri, kid=jose.header_kid(assertion))
        claims = jose.verify_signature(assertion, keyset, typ=TYP).claims
        # ID-JAG draft §4.3: aud is the authorization server's issuer identifier.
        jose.check_claims(claims, issuer=idp.issuer, audiences={settings.ISSUER}, now=now)
    except jose.RefusedAssertion as exc:
        raise InvalidGrant(exc.description) from None
    check_subject(claims.get("sub"))
    return IdJag(idp, claims)


def check_subject(sub: object) -> None:
    """RFC 7519 §4.1.2: ``sub`` is a StringOrURI naming the user at the IdP. A control
    character (a NUL, which PostgreSQL cannot store) names no one: RFC 6749 §5.2
    invalid_grant, before any lookup."""
    if not isinstance(sub, str) or not sub or not sub.isprintable():
        raise InvalidGrant("the assertion's sub is not a printable string")


def local_user(jag: IdJag):
    """The user linked to (issuer, sub), an unsaved new one when the IdP may provision, or
    InvalidGrant. Linked by issuer and subject, never by email (which can be reassigned)."""
    if len(jag.subject) > 255:
        raise InvalidGrant("the assertion's sub is longer than 255 characters")
    if "\x00" in jag.subject:  # PostgreSQL text holds no NUL: a precise error, not a 500
        raise InvalidGrant("the assertion's sub contains a NUL character")
    link = (
        EnterpriseSubject.objects.filter(issuer=jag.idp.issuer, subject=jag.subject)
        .select_related("user")
        .first()
    )
    if link is not None:
        if not link.user.is_active:
            raise InvalidGrant("the user of this assertion is disabled here")
        return link.user
    if not jag.idp.provision_users:
        raise InvalidGrant("the assertion's subject is not linked to a user here")
    user_model = get_user_model()
    # The user is the issuer's (EnterpriseSubject carries it); the assertion's email is
    # nobody's verified claim here and never becomes a key another sign-in could link by.
    user = user_model(username=f"idjag-{jag.idp.pk}-{jag.subject}"[:150])
    user.set_unusable_password()
    return user  # saved by ConsumeIdJag, inside the issuing transaction


def granted_scopes(requested: list[str], jag: IdJag, resource, user) -> list[str]:
    """requested ∩ assertion ∩ resource (∩ the user's group policy: see docs/ENTERPRISE.md).

    With no ``scope`` requested, the assertion's; with no ``scope`` in the assertion, the
    resource's defaults. ``offline_access`` is never granted: the enterprise re-decides
    with a fresh assertion instead of a refresh token.
    """
    defined = scope_rules.resource_scopes(resource)
    claimed = jag.claims.get("scope")
    if claimed is None:
        asserted = [name for name, s in defined.items() if s.is_default]
    elif isinstance(claimed, str):
        asserted = scope_rules.parse_scope(claimed)
    else:
        raise InvalidGrant("the assertion's scope must be a string")
    wanted = requested or asserted
    granted = [s for s in wanted if s in asserted and s in defined]
    if not granted:
        raise InvalidScope("none of the requested scopes is granted by the assertion")
    # The central policy by group applies to enterprise-managed grants too. A user being
    # provisioned by this very assertion belongs to no group yet.
    if user.pk is None:
        user = AnonymousUser()
    return grouppolicy.scopes_for_token(user, resource, granted)


@dataclass(frozen=True)
class ConsumeIdJag:
    """Inside the issuing transaction: spend the jti, then save a provisioned user and its
    link. A replay or a concurrent first use of the same subject rolls everything back."""

    issuer: str
    jti: str
    exp: int
    subject: str
    new_user: object | None = None

    def apply(self, *, now) -> None:
        try:
            replay.consume(self.issuer, self.jti, self.exp)
        except replay.Replayed:
            raise InvalidGrant("the assertion was already used (jti)") from None
        if self.new_user is None:
            return
        try:
            with transaction.atomic():
                self.new_user.save()
                EnterpriseSubject.objects.create(
                    issuer=self.issuer, subject=self.subject, user=self.new_user
                )
        except IntegrityError:
            raise InvalidGrant("this subject is being linked by another request; retry") from None

    def settle(self, binding):
        """After ``apply``: the token is for the user this assertion provisioned."""
        if self.new_user is None:
            return binding
        return dataclasses.replace(binding, user_pk=self.new_user.pk)
