"""JWT client authentication (RFC 7523 §2.2, RFC 7521 §4.2): ``private_key_jwt`` with the
client's own keys, and workload identity federation, where a trust rule accepts a token
issued by the workload's platform (Kubernetes, GitHub Actions) as the assertion.

Accepted audiences (RFC 7523 §3 item 3): our issuer identifier, which RFC 7523bis makes the
only recommended value, and, for compatibility with clients written to OpenID Connect Core
§9, our token endpoint URL; at the revocation and introspection endpoints too. A
``private_key_jwt`` client is refused a secret, and a secret client an assertion.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from authserver.errors import InvalidClient, InvalidRequest
from authserver.protocol import metadata
from authserver.token_endpoint import client_auth
from clients.models import Client
from enterprise import jose, jwks, replay
from enterprise.models import WorkloadTrustRule

# RFC 7523 §2.2
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEY_JWT = "private_key_jwt"
WORKLOAD = "workload_identity"
# Platform tokens live longer than a client's own assertion (Kubernetes' default is an
# hour, GitHub Actions' a few minutes); never longer than this.
WORKLOAD_MAX_LIFETIME = 3600


@dataclass(frozen=True)
class AssertionPresented:
    """A JWT client assertion and the client it names (``client_auth.Presented``'s shape)."""

    method: str
    client_id: str
    assertion: str
    rule_pk: int | None = None
    secret: str = ""


def accepted_audiences() -> set[str]:
    token_endpoint = metadata.origin(settings.ISSUER) + reverse("oauth2_provider:token")
    return {settings.ISSUER, token_endpoint}


def subject_matches(pattern: str, subject: str) -> bool:
    """'*' matches any run of characters; everything else is literal (no '?', no '[...]')."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, subject) is not None


def presented(params: Mapping[str, str]) -> AssertionPresented | None:
    """The client a request's ``client_assertion`` names, or None when it carries none."""
    kind, assertion = params.get("client_assertion_type"), params.get("client_assertion")
    if kind is None and assertion is None:
        return None
    if kind != ASSERTION_TYPE:
        # RFC 7521 §4.2.1: an assertion type the server does not handle.
        raise InvalidClient("client_assertion_type must be " + ASSERTION_TYPE)
    if not assertion:
        raise InvalidRequest("missing client_assertion")  # RFC 7521 §4.2
    try:
        claims = jose.unverified_claims(assertion)
    except jose.RefusedAssertion as exc:
        raise InvalidClient(exc.description) from None
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str) or not iss or not sub:
        raise InvalidClient("the client assertion needs iss and sub")
    body_client_id = params.get("client_id")
    # RFC 7523 §3 item 2: for client authentication, sub is the client_id (and iss too).
    if iss == sub and not WorkloadTrustRule.objects.filter(issuer=iss, enabled=True).exists():
        return AssertionPresented(PRIVATE_KEY_JWT, sub, assertion)
    rule = workload_rule(iss, sub, body_client_id)
    return AssertionPresented(WORKLOAD, rule.client.client_id, assertion, rule_pk=rule.pk)


def workload_rule(issuer: str, subject: str, client_id: str | None) -> WorkloadTrustRule:
    rules = [
        r
        for r in WorkloadTrustRule.objects.filter(issuer=issuer, enabled=True).select_related(
            "client"
        )
        if subject_matches(r.subject_pattern, subject)
        and (client_id is None or r.client.client_id == client_id)
    ]
    if not rules:
        raise InvalidClient(
            "no client or workload trust rule matches this assertion",
            detail=f"iss {issuer[:200]!r}",
        )
    if len({r.client_id for r in rules}) > 1:
        raise InvalidClient("several clients match this workload token: send client_id")
    return rules[0]


def verify(client: Client | None, presented: AssertionPresented, *, now: float) -> None:
    """Raises InvalidClient unless the assertion authenticates ``client``; on success the
    jti is recorded (RFC 7523 §3 item 7), so the same assertion never works twice."""
    if client is None or not client.is_active or client.is_public:
        raise InvalidClient("client authentication failed")
    try:
        if presented.method == WORKLOAD:
            issuer, jti, exp = _verify_workload(client, presented, now=now)
        else:
            issuer, jti, exp = _verify_private_key_jwt(client, presented, now=now)
    except jose.RefusedAssertion as exc:
        raise InvalidClient(exc.description) from None
    if jti is None:
        return  # a workload rule that allows reuse (single_use off)
    if replay.seen(issuer, jti):
        raise InvalidClient("the client assertion was already used (jti)")
    try:
        replay.consume(issuer, jti, exp)
    except replay.Replayed:
        raise InvalidClient("the client assertion was already used (jti)") from None


def _verify_private_key_jwt(client: Client, presented: AssertionPresented, *, now: float):
    # The registered method is enforced: a secret client cannot switch to assertions.
    if client.token_endpoint_auth_method != PRIVATE_KEY_JWT:
        raise jose.RefusedAssertion("this client is not registered for private_key_jwt")
    header_kid = jose.header_kid(presented.assertion)
    if client.jwks:
        keyset = jose.keyset_from_json(client.jwks)
    elif client.jwks_uri:
        keyset = jwks.keys_at(client.jwks_uri, kid=header_kid)
    else:
        raise jose.RefusedAssertion("this client has no registered keys")
    verified = jose.verify_signature(presented.assertion, keyset)
    claims = verified.claims
    jose.check_claims(
        claims,
        issuer=client.client_id,  # RFC 7523 §3 item 1: iss is the client_id
        subject=client.client_id,  # §3 item 2.B
        audiences=accepted_audiences(),
        now=now,
    )
    return client.client_id, claims["jti"], int(claims["exp"])


def _verify_workload(client: Client, presented: AssertionPresented, *, now: float):
    rule = WorkloadTrustRule.objects.filter(pk=presented.rule_pk, enabled=True).first()
    if rule is None or rule.client_id != client.pk:
        raise jose.RefusedAssertion("the workload trust rule is gone")
    keyset = jwks.keys_at(rule.jwks_uri, kid=jose.header_kid(presented.assertion))
    claims = jose.verify_signature(presented.assertion, keyset).claims
    jose.check_claims(
        claims,
        issuer=rule.issuer,
        audiences={rule.audience},
        now=now,
        max_lifetime=WORKLOAD_MAX_LIFETIME,
        require_jti=rule.single_use,
    )
    if not subject_matches(rule.subject_pattern, claims["sub"]):
        raise jose.RefusedAssertion("sub does not match the workload trust rule")
    return rule.issuer, claims.get("jti") if rule.single_use else None, int(claims["exp"])


class AssertionMethod:
    """RFC 7523 §2.2 ``client_assertion`` as one of the core's client authentication methods
    (token_endpoint.client_auth, registered from ``EnterpriseConfig.ready``): the same one
    path at /token, /revoke, /introspect and vending."""

    name = PRIVATE_KEY_JWT
    single_use = True  # RFC 7523 §3 item 7: a jti is accepted once
    uses_secret = False  # a private_key_jwt client has no secret to fall back to

    def presented(self, req) -> AssertionPresented | None:
        return presented(req.params)

    def verify(self, client: Client | None, found: AssertionPresented) -> bool:
        try:
            verify(client, found, now=time.time())
        except InvalidClient as exc:
            # Audited by the core once the refusal is final (a retry may decide again).
            raise client_auth.FailedAuthentication(
                exc.description, found, reason=f"{found.method}: {exc.description}"
            ) from None
        return True


__all__ = ["ASSERTION_TYPE", "AssertionMethod", "AssertionPresented", "presented"]
