"""Writes for client registration (RFC 7591), its management (RFC 7592) and the admin.

Validate, then act in one transaction (STYLE §1). Why our own code and not DOT's
``DynamicClientRegistrationView``: DOT stores the registration access token as an
``AccessToken`` row with a magic scope (it would show up in token lists, introspection
and the revocation list, and follow access-token lifetimes), keeps only a handful of the
RFC 7591 members, answers every error as ``invalid_client_metadata`` and lets http
redirect URIs on any host through. We reuse DOT's model fields instead:
``registration_source="dcr"``, ``client_type``, ``authorization_grant_type`` and
``redirect_uris``, so DOT's authorization and token endpoints see an ordinary Application.

RFC 7592 choices:

* The registration access token is stored only as an HMAC (authserver.client_secrets) and checked
  in constant time. It is returned at registration and rotated on every successful PUT
  (RFC 7592 §3 allows a new one in any response): the PUT response carries the new token
  and the old one stops working, so a leaked token is good for at most one update by
  whoever uses it first. GET responses omit it (rotating on a read would lock out a client
  that loses one response).
* A PUT that changes identity-bearing metadata (``IDENTITY_FIELDS``: what a user sees on
  the consent screen, where codes go, and how the client proves itself) clears an admin's
  ``verified`` and skip-consent (``skip_authorization``) decisions and withdraws users'
  remembered consents (with their grants' tokens): all were given to the old identity, so
  nobody's codes go to a new redirect URI without a fresh consent. The change is an audit
  event (``client.identity_changed``, with the field names). A changed Client ID Metadata
  Document (clients/cimd.py) goes through the same function, :func:`cut_off_identity_change`.
* ``client_secret`` likewise appears only in the registration response.
* PUT replaces the registration (RFC 7592 §2.2: omitted members are deleted, so they take
  their RFC 7591 defaults), re-validated exactly like a registration, under a row lock.
  A PUT that would turn a public client into a confidential one or back is refused: that
  needs a new registration (a new secret, or a secret thrown away).
* DELETE removes the client, its grants and tokens (RFC 7592 §2.3). Only clients created
  by dynamic registration can be managed this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.models import Consent
from authserver import audit
from authserver import client_secrets as secrets
from authserver.authorization import consent
from authserver.errors import InvalidClientMetadata, InvalidRedirectUri
from authserver.protocol.metadata import origin
from authserver.revocation import service as revocation
from authserver.token_endpoint import grant_types
from authserver.token_endpoint.params import is_client_id
from clients import policy, registration
from clients.errors import InvalidToken
from clients.models import Client
from clients.registration import ClientMetadata

_UNKNOWN = secrets.hash_secret("\x00unknown registration")
# Metadata an admin's trust decision and a user's consent are about (RFC 7591 §5: the
# client's name, logo and URIs are shown to the user; redirect_uris decide who gets codes;
# the auth method and keys decide who can act as the client).
IDENTITY_FIELDS = (
    "redirect_uris",
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "software_id",
    "contacts",
    "token_endpoint_auth_method",
    "jwks_uri",
    "jwks",
)


@dataclass(frozen=True)
class Registered:
    client: Client
    client_secret: str | None
    registration_access_token: str | None


def registration_client_uri(client_id: str) -> str:
    """RFC 7591 §3.2.1 / RFC 7592 §3: absolute, on the issuer's origin."""
    path = reverse("clients:registration-management", args=[client_id])
    return origin(settings.ISSUER) + path


def metadata_of(client: Client) -> ClientMetadata:
    return ClientMetadata(
        redirect_uris=client.redirect_uris.split(),
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        grant_types=list(client.grant_types),
        response_types=list(client.response_types),
        client_name=client.name,
        client_uri=client.client_uri,
        logo_uri=client.logo_uri,
        tos_uri=client.tos_uri,
        policy_uri=client.policy_uri,
        contacts=list(client.contacts),
        software_id=client.software_id,
        software_version=client.software_version,
        application_type=client.application_type,
        scope=client.scope,
        jwks_uri=client.jwks_uri,
        jwks=client.jwks,
    )


def client_information(
    client: Client,
    *,
    client_secret: str | None = None,
    registration_access_token: str | None = None,
) -> dict:
    """RFC 7591 §3.2.1 / RFC 7592 §3: the client information response."""
    body: dict = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created.timestamp()),
        **metadata_of(client).as_response(),
    }
    if not client.is_public and client.token_endpoint_auth_method in registration.SECRET_METHODS:
        body["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: 0 means it does not expire
        if client_secret:
            body["client_secret"] = client_secret
    if registration_access_token:
        body["registration_access_token"] = registration_access_token
    body["registration_client_uri"] = registration_client_uri(client.client_id)
    return body


def apply_metadata(client: Client, metadata: ClientMetadata) -> None:
    """Copy validated metadata onto the model, including DOT's own fields."""
    client.redirect_uris = " ".join(metadata.redirect_uris)
    client.client_type = Client.CLIENT_PUBLIC if metadata.is_public else Client.CLIENT_CONFIDENTIAL
    client.token_endpoint_auth_method = metadata.token_endpoint_auth_method
    client.grant_types = list(metadata.grant_types)
    client.authorization_grant_type = grant_types.dot_grant_type(metadata.grant_types)
    client.response_types = list(metadata.response_types)
    client.name = metadata.client_name
    for name in registration.URI_FIELDS:
        setattr(client, name, getattr(metadata, name))
    client.contacts = list(metadata.contacts)
    client.software_id = metadata.software_id
    client.software_version = metadata.software_version
    client.application_type = metadata.application_type
    client.scope = metadata.scope
    client.jwks_uri, client.jwks = metadata.jwks_uri, metadata.jwks
    client.metadata_fingerprint = registration.fingerprint(metadata)


def check_model(client: Client) -> None:
    """DOT's own model validation too (defence in depth): a redirect URI DOT would not
    redirect to must not be registered."""
    try:
        client.full_clean(exclude=["client_secret", "client_id"], validate_unique=False)
    except ValidationError as exc:
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        if "redirect_uris" in messages:
            raise InvalidRedirectUri("a redirect URI is not acceptable") from None
        raise InvalidClientMetadata(
            "invalid client metadata", detail=f"model validation: {sorted(messages)}"
        ) from None


def register_client(data: dict, *, ip: str, bearer: str, now: datetime) -> Registered:
    """RFC 7591 §3.1: validate, check policy, create the client, answer once with secrets."""
    policy.require_initial_access_token(bearer, now=now)  # RFC 7591 §3: 401 comes first
    metadata = registration.validate_client_metadata(data)
    client = Client(registration_source=Client.RegistrationSource.DCR, verified=False)
    apply_metadata(client, metadata)
    client.registered_from = ip or None
    check_model(client)
    policy.check_capacity()
    token = secrets.generate_secret()
    client.registration_access_token = secrets.hash_secret(token)
    client_secret = client.set_new_secret() if metadata.has_secret else None
    with transaction.atomic():
        client.initial_access_token = policy.require_initial_access_token(
            bearer, now=now, consume=True
        )
        client.save()
        policy.collapse_duplicates(client, now=now)
        audit.record(
            "client.registered",
            actor="dcr",
            client_id=client.client_id,
            ip=ip or None,
            detail={
                "name": client.name[:100],
                "public": metadata.is_public,
                # SEP-837: what the client declared and what we registered (a declared
                # 'web' with app-only redirect URIs becomes 'native', clients.registration).
                "application_type": metadata.application_type,
                "declared_application_type": registration.declared_application_type(data),
            },
        )
    return Registered(client, client_secret, token)


def authenticate_registration(client_id: str, token: str, *, lock: bool = False) -> Client:
    """RFC 7592 §2: the client's registration access token, in constant time.

    Unknown clients, clients not created by dynamic registration and wrong tokens are all
    the same 401 ``invalid_token`` (RFC 7592 §2.1, RFC 6750 §3.1).
    """
    queryset = Client.objects.select_for_update() if lock else Client.objects.all()
    client = None
    if is_client_id(client_id):  # RFC 6749 Appendix A.1; a NUL is never looked up
        client = queryset.filter(
            client_id=client_id[:255], registration_source=Client.RegistrationSource.DCR
        ).first()
    stored = client.registration_access_token if client is not None else ""
    matched = secrets.check_secret(token, stored or _UNKNOWN)
    if client is None or not matched:
        raise InvalidToken("the registration access token is invalid")
    return client


@dataclass(frozen=True)
class Updated:
    client: Client
    registration_access_token: str


def changed_identity(before: ClientMetadata, after: ClientMetadata) -> list[str]:
    """The identity-bearing fields whose values differ (order-insensitive for lists)."""
    changed = []
    for name in IDENTITY_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        if isinstance(old, list | tuple):
            old, new = sorted(old), sorted(new)
        if old != new:
            changed.append(name)
    return changed


def update_client(client_id: str, token: str, data: dict) -> Updated:
    """RFC 7592 §2.2: replace the registration with ``data``, re-validated in full; the
    registration access token rotates (RFC 7592 §3) and identity changes drop trust."""
    if not isinstance(data, dict):
        raise InvalidClientMetadata("the request body must be a JSON object")
    metadata = registration.validate_client_metadata(data)
    with transaction.atomic():
        client = authenticate_registration(client_id, token, lock=True)
        # RFC 7592 §2.2: "The client MUST include its client_id field in the request, and
        # it MUST be the same as its currently issued client identifier."
        if data.get("client_id") != client.client_id:
            raise InvalidClientMetadata("client_id must be present and match the client")
        # RFC 7592 §2.2: a client_secret sent along "MUST match the currently issued client
        # secret"; a client never chooses its own.
        if "client_secret" in data and not (
            isinstance(data["client_secret"], str)
            and secrets.check_secret(data["client_secret"], client.client_secret)
        ):
            raise InvalidClientMetadata("client_secret does not match the issued secret")
        if metadata.is_public != client.is_public:
            raise InvalidClientMetadata(
                "token_endpoint_auth_method cannot switch between public and confidential; "
                "register a new client"
            )
        changed = changed_identity(metadata_of(client), metadata)
        apply_metadata(client, metadata)
        check_model(client)
        new_token = secrets.generate_secret()
        client.registration_access_token = secrets.hash_secret(new_token)
        client.save()
        audit.record("client.updated", actor="rfc7592", client_id=client.client_id)
        # The admin verified and trusted the old identity, not whatever a holder of the
        # registration token (possibly leaked) turns it into.
        cut_off_identity_change(client, changed, actor="rfc7592")
    return Updated(client, new_token)


def cut_off_identity_change(client: Client, changed: list[str], *, actor: str) -> None:
    """The one cut-off for a client whose identity-bearing metadata changed (an RFC 7592
    update, a changed metadata document): the admin's ``verified`` and skip-consent decisions
    are cleared, every user's remembered consent is withdrawn with its grants' tokens (each
    user is asked again, so no code goes to a new redirect URI unseen), and the change is
    audited. Call it inside the transaction that saved ``client``; nothing when unchanged."""
    if not changed:
        return
    had_trust = client.verified or client.skip_authorization
    client.verified = client.skip_authorization = False
    Client.objects.filter(pk=client.pk).update(verified=False, skip_authorization=False)
    withdrawn = withdraw_consents(client)
    audit.record(
        "client.identity_changed",
        actor=actor,
        client_id=client.client_id,
        detail={"fields": changed, "trust_cleared": had_trust, "consents": withdrawn},
    )


def withdraw_consents(client: Client) -> int:
    """Every user's remembered consent for ``client``, with the tokens of those grants."""
    granted = list(Consent.objects.filter(client=client).select_related("user", "resource"))
    for remembered in granted:
        consent.withdraw(remembered)
    return len(granted)


def delete_client(client_id: str, token: str) -> None:
    """RFC 7592 §2.3: the client and, by cascade, its grants and tokens are gone."""
    with transaction.atomic():
        authenticate_registration(client_id, token, lock=True).delete()
        audit.record("client.deleted", actor="rfc7592", client_id=client_id[:255])


def disable_client(client: Client, *, now: datetime, actor: str = "admin") -> int:
    """Admin: no new tokens for this client, and every token it holds revoked at once.

    Returns how many access tokens were revoked. authserver.revocation.service marks them, revokes
    refresh tokens, deletes outstanding codes, adds a client cut-off to the revocation list
    and publishes it.
    """
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(is_active=False, updated=now)
        client.is_active = False
        return revocation.revoke_client(client, now=now, actor=actor)
