"""Client authentication outside oauthlib's flows (introspection, registration management).

RFC 6749 §2.3.1: HTTP Basic with form-urlencoded client_id and secret, or both in the POST
body. Secrets are compared in constant time (clients.secrets).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from django.http import HttpRequest

from clients import secrets
from clients.models import Client


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str
    method: str  # "client_secret_basic" or "client_secret_post"


def credentials_from_request(request: HttpRequest) -> Credentials | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            return None
        return Credentials(unquote_plus(client_id), unquote_plus(secret), "client_secret_basic")
    client_id = request.POST.get("client_id", "")
    secret = request.POST.get("client_secret", "")
    if client_id and secret:
        return Credentials(client_id, secret, "client_secret_post")
    return None


def authenticate_confidential_client(request: HttpRequest) -> Client | None:
    """The confidential, active client whose credentials came with the request, or None."""
    if "client_assertion" in request.POST or "client_assertion_type" in request.POST:
        return _assertion_client(request)
    creds = credentials_from_request(request)
    if creds is None or len(creds.client_id) > 255:
        return None
    client = Client.objects.filter(client_id=creds.client_id, is_active=True).first()
    stored = client.client_secret if client is not None else ""
    # Compare even for an unknown client, so timing does not reveal which client_ids exist.
    matched = secrets.check_secret(creds.secret, stored or secrets.hash_secret("\x00unknown"))
    if client is None or not matched or client.is_public:
        return None
    if client.token_endpoint_auth_method == Client.AuthMethod.PRIVATE_KEY_JWT:
        return None  # the registered method is enforced: no secret fallback
    return client


def _assertion_client(request: HttpRequest) -> Client | None:
    """RFC 7523 §2.2 (enterprise/client_assertion.py); one method per request."""
    from authserver.errors import OAuthError
    from enterprise import client_assertion

    if request.headers.get("Authorization") or "client_secret" in request.POST:
        return None
    try:
        return client_assertion.authenticate(
            request.POST.dict(), ip=request.META.get("REMOTE_ADDR")
        )
    except OAuthError:
        return None
