"""Vending: an MCP server trades the user's MCP access token for the user's upstream access
token, by RFC 8693 token exchange at ``/token``.

The request: ``grant_type`` token-exchange, ``subject_token`` = the MCP access token the MCP
server received (its ``aud`` must be that MCP server's resource), ``subject_token_type``
access_token, ``audience`` = the provider's slug (e.g. ``github``), no ``resource``, an
optional ``scope`` of upstream scopes; the MCP server authenticates as its own confidential
client. A ConnectionPolicy must allow (client, resource, provider, scopes). The response is
the upstream access token itself, never the upstream refresh token.

It is a token-exchange strategy (authserver.token_endpoint.registry), registered from
``ConnectionsConfig.ready()``: the core authenticates the client (the one path), hands the
exchange here when it names an ``audience``, checks the cache generation before the answer
leaves, and then ``Vended.commit`` audits it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlencode

from django.conf import settings
from django.urls import reverse

from authserver import audit
from authserver.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    TemporarilyUnavailable,
)
from authserver.protocol import metadata
from authserver.resources import registry as resources
from authserver.token_endpoint.grants import subject_token
from connections import intended, services, vault
from connections.models import Connection, ConnectionPolicy


class ConnectionRequired(InvalidGrant):
    """RFC 6749 §5.2 invalid_grant: the user has no usable grant at the provider; ``error_uri``
    is the page where the user connects (or reconnects) it."""

    def __init__(self, description: str, *, connect_url: str, detail: str = "") -> None:
        super().__init__(description, detail=detail)
        self.error_uri = connect_url


@dataclass(frozen=True)
class Vended:
    access_token: str
    expires_in: int | None
    scope: str
    record: Callable[..., None] = field(default=lambda *, now: None, compare=False)

    def as_json(self) -> dict:
        """RFC 8693 §2.2.1."""
        body = {
            "access_token": self.access_token,
            "issued_token_type": subject_token.ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "scope": self.scope,
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return body

    def commit(self, *, now: datetime) -> None:
        """Once the core let the answer go: the audit event of the vend."""
        self.record(now=now)

    def __repr__(self) -> str:  # never print a token
        return f"Vended(expires_in={self.expires_in}, scope={self.scope!r})"


class VendingStrategy:
    """RFC 8693 token exchange whose target is an upstream connection."""

    def applies(self, req) -> bool:
        """A token exchange naming an ``audience`` targets an upstream connection."""
        return bool(req.get("audience"))

    def answer(self, req, client, *, now: datetime) -> Vended:
        return vend(req, client, now=now)


def connect_url(slug: str, user=None) -> str:
    """The connect page of one provider; with ``user``, a link only that user may act on
    (``?for=``, connections.intended: signed, expiring, no secret in it)."""
    path = reverse("connections:connect", kwargs={"slug": quote(slug, safe="")})
    url = metadata.origin(settings.ISSUER) + path
    if user is not None:
        url += "?" + urlencode({intended.PARAMETER: intended.sign(user.pk, slug)})
    return url


def check_request(req) -> None:
    if req.resources:
        # Documented: `audience` names the connection; `resource` names MCP servers only.
        raise InvalidRequest("name the upstream connection with audience, without resource")
    subject_token.check_parameters(req)  # RFC 8693 §2.1, written once in the core


def find_policy(client, claims: dict, slug: str) -> ConnectionPolicy:
    source = resources.canonicalize(str(claims.get("aud", "")))
    policies = list(
        ConnectionPolicy.objects.filter(
            client=client, enabled=True, resource__canonical=source, resource__enabled=True
        ).select_related("provider", "resource")
    )
    if not policies:
        # RFC 8693 §2.2.2: the subject token is not for an MCP server this client acts for.
        raise InvalidGrant(
            "subject_token audience is not an MCP server this client may vend for",
            detail=f"client {client.client_id}, aud {source[:200]}",
        )
    for policy in policies:
        if policy.provider.slug == slug and policy.provider.enabled:
            return policy
    # RFC 8693 §2.2.2: "invalid_target" when the audience is unacceptable.
    raise InvalidTarget("this client may not use that upstream connection")


def vend(req, client, *, now: datetime) -> Vended:
    check_request(req)
    claims, row = subject_token.verify_subject_token(req.get("subject_token"), now=now)
    slug = req.get("audience")
    policy = find_policy(client, claims, slug)
    user = row.user
    if user is None or not user.is_active:
        raise InvalidGrant("subject_token does not act for an active user")
    allowed = policy.scopes.split()
    wanted = (req.get("scope") or "").split() or allowed
    if not set(wanted) <= set(allowed):
        raise InvalidScope("the policy does not allow these upstream scopes")
    conn = (
        Connection.objects.filter(user=user, provider=policy.provider)
        .select_related("provider")
        .first()
    )
    url = connect_url(slug, user)
    if conn is None or conn.status != Connection.Status.ACTIVE:
        raise ConnectionRequired("the user has not connected this account", connect_url=url)
    if not set(wanted) <= set(conn.scopes.split()):
        raise ConnectionRequired("the connection lacks the needed scopes", connect_url=url)
    conn = fresh(conn, now=now, url=url)
    expires_in = None
    if conn.access_expires_at is not None:
        expires_in = int((conn.access_expires_at - now).total_seconds())

    def record(*, now: datetime) -> None:
        record_vend(client, claims, row, conn, now=now)

    return Vended(
        vault.open_(conn, "access_token_encrypted"), expires_in, conn.scopes, record=record
    )


def fresh(conn: Connection, *, now: datetime, url: str) -> Connection:
    """The connection with an access token that is not about to expire, refreshing it
    inline (once, under the refresh lease; connections.services) when the background job
    has not yet."""
    if services.needs_refresh(conn, now=now, vend=True):
        conn = services.refresh_connection(conn.pk, now=now, vend=True)
    if conn.status != Connection.Status.ACTIVE:
        raise ConnectionRequired("the connection is broken: reconnect it", connect_url=url)
    if conn.access_expires_at is not None and conn.access_expires_at <= now:
        raise TemporarilyUnavailable("the upstream provider could not refresh the token")
    return conn


def record_vend(client, claims: dict, row, conn: Connection, *, now: datetime) -> None:
    # RFC 8693 §4.1: the MCP server acts, for the MCP client that acted for the user.
    prior = claims.get("act") if isinstance(claims.get("act"), dict) else None
    act = {"sub": client.client_id, "act": prior or {"sub": str(claims.get("client_id", ""))}}
    audit.record(
        "connection.vended",
        actor=f"client:{client.client_id}",
        client_id=client.client_id,
        user_id=conn.user_id,
        resource=str(claims.get("aud", "")),
        family=row.token_family or "",
        scope=conn.scopes,
        detail={
            "provider": conn.provider.slug,
            "connection": str(conn.uid),
            "subject_jti": str(claims.get("jti", "")),
            "act": act,
        },
        at=now,
    )
