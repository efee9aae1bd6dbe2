"""Client authentication at the token endpoint (RFC 6749 §2.3), one class per method.

Each method says whether a request uses it and checks it. A request using more than one
method is refused (RFC 6749 §2.3: "MUST NOT use more than one authentication method in each
request"). The core's methods are the secret ones and ``none``; a feature adds one with
``registry.register_client_auth_method`` (RFC 7523 ``private_key_jwt`` and workload identity
federation: enterprise/client_assertion.py). The one path for /token, /revoke, /introspect
and vending: the body ``client_id`` must name the authenticated client, a client registered
with a method that has no secret cannot use one, and a failure is audited once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from authserver import audit
from authserver import client_secrets as secrets
from authserver.errors import InvalidClient, InvalidRequest, OAuthError
from authserver.models.external import client_model
from authserver.token_endpoint import client_throttle, hotcache, registry
from authserver.token_endpoint.hotcache import Snapshot
from authserver.token_endpoint.params import TokenRequest

MAX_CLIENT_ID = 255
_UNKNOWN_CLIENT_HASH: list[str] = []  # computed on first use (needs SECRET_KEY)


@dataclass(frozen=True)
class Presented:
    """The identity a request claims and the credential it offers for it."""

    method: str
    client_id: str
    secret: str = ""


class ClientSecretBasic:
    """RFC 6749 §2.3.1: HTTP Basic, each part form-urlencoded."""

    name = "client_secret_basic"
    single_use = False
    uses_secret = True

    def presented(self, req: TokenRequest) -> Presented | None:
        scheme, _, value = req.authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClient("malformed Basic credentials") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise InvalidClient("malformed Basic credentials")
        return Presented(self.name, unquote_plus(client_id), unquote_plus(secret))

    def verify(self, client, presented: Presented) -> bool:
        return _secret_matches(client, presented.secret)


class ClientSecretPost(ClientSecretBasic):
    """RFC 6749 §2.3.1: ``client_id`` and ``client_secret`` in the body."""

    name = "client_secret_post"

    def presented(self, req: TokenRequest) -> Presented | None:
        secret = req.get("client_secret")
        if secret is None:
            return None
        return Presented(self.name, req.get("client_id") or "", secret)


class NoneMethod:
    """RFC 6749 §2.1, OAuth 2.1 §2.4: a public client names itself with ``client_id``."""

    name = "none"
    single_use = False
    uses_secret = False

    def presented(self, req: TokenRequest) -> Presented | None:
        client_id = req.get("client_id")
        return Presented(self.name, client_id) if client_id else None

    def verify(self, client, presented: Presented) -> bool:
        return client is not None and client.is_public


# Credential-bearing methods first (in registration order); "none" only when no credential
# was presented. Features add theirs from AppConfig.ready() (registry).
FALLBACK = NoneMethod()
registry.register_client_auth_method(ClientSecretBasic())
registry.register_client_auth_method(ClientSecretPost())


def _secret_matches(client, secret: str) -> bool:
    if not _UNKNOWN_CLIENT_HASH:
        _UNKNOWN_CLIENT_HASH.append(secrets.hash_secret("\x00unknown client"))
    stored = client.client_secret if client is not None else ""
    # Compare even for an unknown client, so timing does not reveal which ids exist.
    matched = secrets.check_secret(secret, stored or _UNKNOWN_CLIENT_HASH[0])
    # The registered method is enforced: a client registered with a method that has no
    # secret (private_key_jwt) has none to fall back to (RFC 7591 §2
    # token_endpoint_auth_method). Fail closed: only a registered secret method lets it.
    return (
        matched
        and client is not None
        and not client.is_public
        and registers_a_secret(client.token_endpoint_auth_method)
    )


def registers_a_secret(method_name: str) -> bool:
    method = registry.CLIENT_AUTH_METHODS.get(method_name)
    return method is not None and method.uses_secret


def load_client(snap: Snapshot, client_id: str):
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        return None
    return snap.get(
        ("client", client_id), lambda: client_model().objects.filter(client_id=client_id).first()
    )


def authenticate(req: TokenRequest, snap: Snapshot, *, verified: set | None = None):
    """The authenticated, active client, or InvalidClient (401) / InvalidRequest.

    ``verified`` remembers, across the pipeline's retries of one request, which single-use
    credentials (a client assertion's ``jti``) were already checked and spent: a retry
    re-reads the client, it does not present the same assertion twice."""
    methods = registry.CLIENT_AUTH_METHODS.values()
    used = [(m, p) for m in methods if (p := m.presented(req)) is not None]
    if len(used) > 1:
        raise InvalidRequest("use exactly one client authentication method")
    method, presented = used[0] if used else (FALLBACK, FALLBACK.presented(req))
    if presented is None:
        raise InvalidClient("client authentication is required")
    # Too many failures of this client from this address: 429, the credential unchecked.
    client_throttle.refuse_if_slowed(presented.client_id, req.ip)
    body_client_id = req.get("client_id")
    # One client per request: a body client_id naming another client than the credentials
    # is a failed authentication.
    if body_client_id is not None and body_client_id != presented.client_id:
        raise FailedAuthentication("client_id does not match the client credentials", presented)
    client = load_client(snap, presented.client_id)
    spent = (method.name, presented.client_id)
    if method.single_use and verified is not None and spent in verified:
        ok = True
    else:
        ok = method.verify(client, presented)
        if ok and verified is not None:
            verified.add(spent)
    if not ok or client is None:
        raise FailedAuthentication("client authentication failed", presented)
    if not client.is_active:
        # The right credential of a disabled client: refused, audited, not a guess to slow.
        raise FailedAuthentication("client authentication failed", presented, guess=False)
    return client


def authenticate_current(req: TokenRequest, *, attempts: int = 3, verified: set | None = None):
    """For endpoints that grant nothing from the cache (revocation): the client, decided on
    current rows. A refusal on a stale snapshot is decided again; the last try is uncached,
    so configuration that keeps changing cannot starve it."""
    verified = set() if verified is None else verified
    for attempt in range(attempts):
        last = attempt == attempts - 1
        snap = Snapshot(None) if last else hotcache.snapshot()
        try:
            return authenticate(req, snap, verified=verified)
        except OAuthError:
            if last or hotcache.is_current(snap):
                raise
    raise AssertionError("unreachable")  # the last try returns or raises


class FailedAuthentication(InvalidClient):
    """Credentials that did not authenticate; audited once the refusal is final."""

    def __init__(self, description: str, presented, *, reason: str = "", guess: bool = True):
        super().__init__(description, detail=f"client {presented.client_id[:100]!r}")
        self.guess = guess  # a credential that did not verify: counted by client_throttle
        self.client_id = presented.client_id[:100]
        self.reason = reason[:200]  # what failed, never the credential


def audit_failure(req: TokenRequest, exc: FailedAuthentication) -> None:
    """A final refusal: audited, and counted towards this address's slow-down."""
    if exc.guess:
        client_throttle.record_failure(exc.client_id, req.ip)
    # The client_id as presented (truncated), never the secret or the header.
    audit.record(
        "client.auth_failed",
        client_id=exc.client_id,
        ip=req.ip,
        detail={
            "grant_type": (req.get("grant_type") or "")[:40],
            **({"reason": exc.reason} if exc.reason else {}),
        },
    )
