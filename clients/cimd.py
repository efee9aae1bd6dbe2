"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25).

DOT already does the orchestration: its validator's ``_load_application`` calls
``oauth2_provider.cimd.resolve_cimd_application`` for an unknown https ``client_id`` (and
``refresh_if_stale`` when ``cimd_expires_at`` has passed), with a failure backoff, an
in-flight cap and permission classes; its ``SafeMetadataFetcher`` resolves the host once,
refuses non-public addresses (private, loopback, link-local, the 169.254.169.254 metadata
service, IPv6 forms embedding them), connects to the validated address, follows no
redirects, bounds the whole fetch by ``CIMD_FETCH_TIMEOUT_SECONDS``, caps the body at
``CIMD_MAX_DOCUMENT_SIZE`` and derives the cache life from ``Cache-Control`` (clamped).
Failures are not cached as results, only backed off.

What DOT lacks, this module adds through its ``CIMD_METADATA_FETCHER`` hook
(:class:`MetadataFetcher`) and ``CIMD_REGISTRATION_PERMISSION_CLASSES``
(:class:`DynamicClientCapPermission`):

* the document validated by the same rules as a registration (clients/registration.py):
  DOT checks only the auth method, ``redirect_uris`` being strings and the grant type;
* the full RFC 7591 metadata recorded on the client (:func:`record_document`) before
  DOT's upsert sets its own few fields on the same row: public, ``verified=False``,
  ``grant_types``, ``response_types``, the display URIs, the fingerprint;
* a development mode (``CIMD_ALLOW_LOOPBACK``) that fetches documents from literal
  loopback hosts (127.0.0.1, [::1], localhost) over TLS without verifying the certificate:
  the bytes never leave the machine. Production refuses loopback like DOT does;
* the MAX_DYNAMIC_CLIENTS cap for first sightings;
* a re-fetched document (after its cache age) that changes an identity-bearing member
  (redirect URIs, name, logo, ``client_uri``, keys, auth method: ``IDENTITY_FIELDS``) cuts off
  the admin's trust and every user's consent exactly as an RFC 7592 update does
  (``clients.services.cut_off_identity_change``), audited as ``client.identity_changed``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from datetime import datetime, timedelta
from typing import Any

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider import cimd as dot_cimd
from oauth2_provider.settings import oauth2_settings

from authserver.errors import InvalidClientMetadata, OAuthError
from authserver.loopback import is_loopback_host
from clients import cimd_fetch, policy, registration
from clients.models import Client
from clients.registration import ClientMetadata
from clients.services import (
    apply_metadata,
    changed_identity,
    cut_off_identity_change,
    metadata_of,
)

logger = logging.getLogger("clients.cimd")

CIMDError = dot_cimd.CIMDError


def validate_document(client_id: str, document: Any) -> ClientMetadata:
    """A fetched document, by the registration rules plus the CIMD draft's own."""
    if not isinstance(document, dict):
        raise InvalidClientMetadata("the document must be a JSON object")
    # CIMD draft §4.1: the document's client_id MUST equal the URL it was fetched from.
    if document.get("client_id") != client_id:
        raise InvalidClientMetadata("the document's client_id does not match its URL")
    # CIMD draft §4.1: no shared secrets: client_secret and client_secret_expires_at MUST
    # NOT appear, and the auth method can't be a client_secret one.
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise InvalidClientMetadata("a metadata document must not carry a client secret")
    # Negotiated (RFC 7591 §2, RP Metadata Choices): claude.ai lists the jwt-bearer grant
    # and becomes a public client of the authorization code grant; ChatGPT declares
    # private_key_jwt with a jwks_uri (CIMD draft §8.2) and gets it. Only a document with
    # nothing usable is refused.
    return registration.validate_client_metadata(document, offer=registration.CIMD_OFFER)


def document_for_dot(client_id: str, metadata: ClientMetadata) -> dict[str, Any]:
    """The negotiated metadata in the shape DOT's CIMD upsert accepts.

    DOT re-reads the fetched document and refuses anything but ``none`` and exactly one
    non-refresh grant (django-oauth-toolkit#1855, #1857): it gets what we registered, not
    what the client wished for.
    """
    return {
        "client_id": client_id,
        "client_name": metadata.client_name,
        "redirect_uris": list(metadata.redirect_uris),
        "grant_types": list(metadata.grant_types),
        # DOT knows only public documents; a private_key_jwt client recorded by
        # record_document stays confidential (Client.save), whatever DOT's upsert sets.
        "token_endpoint_auth_method": "none",
    }


def record_document(
    client_id: str, metadata: ClientMetadata, *, max_age: int, now: datetime
) -> Client:
    """Create or update the CIMD client with the full metadata. Never takes over a client
    registered another way. A change of identity-bearing metadata withdraws the admin's
    trust and users' consents (the RFC 7592 update's cut-off); any other change of the
    metadata lapses the admin's verification."""
    with transaction.atomic():
        client = Client.objects.select_for_update().filter(client_id=client_id).first()
        if client is not None and client.registration_source != Client.RegistrationSource.CIMD:
            raise CIMDError("client_id URL collides with a non-CIMD client")
        changed = changed_identity(metadata_of(client), metadata) if client else []
        client = client or Client(client_id=client_id, verified=False)
        previous = client.metadata_fingerprint
        apply_metadata(client, metadata)
        if previous and previous != client.metadata_fingerprint:
            client.verified = False
        client.user = None
        client.registration_source = Client.RegistrationSource.CIMD
        client.cimd_expires_at = now + timedelta(seconds=max_age)
        try:
            client.full_clean(exclude=["client_secret"], validate_unique=False)
        except ValidationError as exc:
            raise CIMDError(f"invalid client metadata: {'; '.join(exc.messages)}") from None
        try:
            with transaction.atomic():
                client.save()
        except IntegrityError:  # a concurrent first sighting won; DOT re-applies its fields
            pass
        else:
            cut_off_identity_change(client, changed, actor="cimd")
    return client


def _loopback_addresses(hostname: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise CIMDError("a loopback client_id host must resolve to loopback addresses only")
    return addresses


class MetadataFetcher(dot_cimd.SafeMetadataFetcher):
    """DOT's SSRF-hardened fetcher, plus our validation and the full metadata recorded."""

    def fetch(self, client_id: str) -> tuple[dict, int]:
        parsed = dot_cimd._validate_client_id_url(client_id)
        if is_loopback_host(parsed.hostname):
            document, max_age = self._reported(client_id, self._fetch_loopback, parsed)
        else:
            # Resolves, refuses any non-public address (127.0.0.1, 10.0.0.1,
            # 169.254.169.254 ...), then connects to the address it validated. A failure
            # is diagnosed and audited; a pinned copy stands in (clients/cimd_fetch.py).
            document, max_age = cimd_fetch.fetch_or_pinned(
                client_id, super().fetch, self._read_document
            )
        metadata = self._reported(
            client_id, self._validate_and_record, client_id, document, max_age
        )
        cimd_fetch.forget(client_id)
        return document_for_dot(client_id, metadata), max_age

    @staticmethod
    def _reported(client_id: str, step, *args):
        """``step(*args)``; a CIMDError it raises is diagnosed, logged and audited (the
        authorization error page names it, cimd_fetch.explain) before it goes on to DOT."""
        try:
            return step(*args)
        except CIMDError as exc:
            cimd_fetch.report(cimd_fetch.diagnose(client_id, exc))
            raise

    @staticmethod
    def _validate_and_record(client_id: str, document, max_age: int) -> ClientMetadata:
        try:
            metadata = validate_document(client_id, document)
        except OAuthError as exc:
            raise CIMDError(f"invalid client metadata: {exc.description}") from None
        record_document(client_id, metadata, max_age=max_age, now=timezone.now())
        return metadata

    def _fetch_loopback(self, parsed) -> tuple[dict, int]:
        """Development only: https to a loopback address, certificate not verified."""
        if not settings.CONFIG.cimd_allow_loopback:
            raise CIMDError("client_id host is loopback (CIMD_ALLOW_LOOPBACK is off)")
        port = parsed.port or 443
        timeout = oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # loopback only, development mode
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        headers = {"Host": parsed.netloc, "Accept": "application/json"}
        last_exc: Exception | None = None
        for address in _loopback_addresses(parsed.hostname, port):
            pool = urllib3.HTTPSConnectionPool(
                host=address,
                port=port,
                timeout=urllib3.Timeout(connect=timeout, read=timeout, total=timeout),
                retries=False,
                maxsize=1,
                ssl_context=context,
                assert_hostname=False,
            )
            try:
                response = pool.urlopen(
                    "GET", path, headers=headers, redirect=False, preload_content=False
                )
                try:
                    return self._read_document(response)  # status, type, size, max-age
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                last_exc = exc
            finally:
                pool.close()
        raise CIMDError(f"could not fetch client_id document: {last_exc}")


class DynamicClientCapPermission:
    """DOT's CIMD permission hook: CIMD off means no new documents; a full server
    (MAX_DYNAMIC_CLIENTS) takes no new ones. Known clients are always re-fetched."""

    def has_permission(self, request, client_id: str) -> bool:
        if not settings.CONFIG.cimd_on:  # CIMD_ENABLED and REGISTRATION_MODE
            return False
        if Client.objects.filter(client_id=client_id).exists():
            return True
        try:
            policy.check_capacity()
        except OAuthError:
            return False
        return True
