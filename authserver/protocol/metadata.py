"""Authorization server metadata: RFC 8414 and OpenID Connect Discovery 1.0.

DOT's ``OAuthServerMetadataView`` builds the base document from its settings (grant
types, response types, PKCE methods with ``plain`` filtered out by the RFC 9700 gate, the
RFC 9207 ``iss`` flag, endpoints it can reverse). This module completes it with what DOT
does not know: our JWKS, response modes, per-endpoint auth methods and documentation.
Advertise only what works: a field is added here when the feature behind it is real.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from mcp_token_verifier.jws import SIGNATURE_ALGORITHMS
from mcp_token_verifier.tools import TYPE as MCP_TOOL_TYPE

# RFC 8414 §2 members that every document we publish carries.
REQUIRED_MEMBERS = ("issuer", "response_types_supported")

# RFC 7523 §2.2 private_key_jwt (and workload tokens, sent the same way): enterprise/.
TOKEN_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
# RFC 7009 §2.1: public clients revoke with their client_id only.
REVOCATION_AUTH_METHODS = TOKEN_AUTH_METHODS
# RFC 7662 §2.1: introspection callers must authenticate.
INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


# Grant profiles a feature serves, each with a check whether it is usable right now
# (filled from the features' AppConfig.ready(); the core never imports a feature).
GRANT_PROFILES: dict[str, Callable[[], bool]] = {}


def register_grant_profile(profile: str, active: Callable[[], bool]) -> None:
    """A feature announces a grant profile URI for ``authorization_grant_profiles_supported``;
    ``active()`` says whether it is on (e.g. at least one trusted IdP is enabled)."""
    if profile in GRANT_PROFILES:
        raise ImproperlyConfigured(f"grant profile {profile!r} registered twice")
    GRANT_PROFILES[profile] = active


def active_grant_profiles() -> list[str]:
    """The registered profiles whose feature is on, sorted."""
    return sorted(profile for profile, active in GRANT_PROFILES.items() if active())


def issuer_path(issuer: str) -> str:
    """The path component of the issuer, without slashes ("" for a path-less issuer)."""
    return urlsplit(issuer).path.strip("/")


def issuer_path_matches(issuer: str, requested: str | None) -> bool:
    """RFC 8414 §3.1: the path-inserted form answers only for our own issuer's path."""
    return (requested or "").strip("/") == issuer_path(issuer) and (
        requested is None or not requested.endswith("/")
    )


def origin(issuer: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}"


def metadata_url(issuer: str, well_known: str = "oauth-authorization-server") -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    path = issuer_path(issuer)
    return f"{origin(issuer)}/.well-known/{well_known}" + (f"/{path}" if path else "")


def authorization_server_metadata(
    base: dict,
    *,
    issuer: str,
    jwks_uri: str,
    service_documentation: str,
    revocation_list_uri: str,
    registration_endpoint: str = "",
    grant_profiles: list[str] | None = None,
    cimd_supported: bool | None = None,
) -> dict:
    """Complete DOT's RFC 8414 document. ``issuer`` is exact (RFC 8414 §3.3)."""
    doc = dict(base)
    doc["issuer"] = issuer
    doc["jwks_uri"] = jwks_uri
    doc["response_types_supported"] = ["code"]  # OAuth 2.1: no implicit, no hybrid
    doc["response_modes_supported"] = ["query"]
    doc["code_challenge_methods_supported"] = ["S256"]  # OAuth 2.1 §4.1.1; MCP requires it
    doc["token_endpoint_auth_methods_supported"] = list(TOKEN_AUTH_METHODS)
    # RFC 8414 §2: the algorithms we accept on client assertions (enterprise/jose.py) and
    # DPoP proofs: the one list every JWS path checks against (mcp_token_verifier.jws).
    doc["token_endpoint_auth_signing_alg_values_supported"] = list(SIGNATURE_ALGORITHMS)
    if "revocation_endpoint" in doc:
        doc["revocation_endpoint_auth_methods_supported"] = list(REVOCATION_AUTH_METHODS)
        doc["revocation_endpoint_auth_signing_alg_values_supported"] = list(SIGNATURE_ALGORITHMS)
    if "introspection_endpoint" in doc:
        doc["introspection_endpoint_auth_methods_supported"] = list(INTROSPECTION_AUTH_METHODS)
        doc["introspection_endpoint_auth_signing_alg_values_supported"] = list(SIGNATURE_ALGORITHMS)
    doc["dpop_signing_alg_values_supported"] = list(SIGNATURE_ALGORITHMS)  # RFC 9449 §5.1
    doc["authorization_details_types_supported"] = [MCP_TOOL_TYPE]  # RFC 9396 §10
    if registration_endpoint:
        doc["registration_endpoint"] = registration_endpoint  # RFC 7591 §3
    else:
        doc.pop("registration_endpoint", None)  # DCR off: clients must not try it
    if cimd_supported is not None:
        # CIMD draft §5: advertised only while documents are accepted.
        doc["client_id_metadata_document_supported"] = cimd_supported
    if grant_profiles:
        # Enterprise-Managed Authorization (ext-auth, 2026-06-18): an AS that accepts ID-JAGs
        # MUST list urn:ietf:params:oauth:grant-profile:id-jag here. Absent while no
        # profile is usable, so no IdP or client is told to send what would be refused.
        doc["authorization_grant_profiles_supported"] = list(grant_profiles)
    # Not registered with IANA: our signed revocation list (README, "Revocation list").
    doc["revocation_list_uri"] = revocation_list_uri
    if service_documentation:
        doc["service_documentation"] = service_documentation
    return dict(sorted(doc.items()))


def openid_configuration(as_metadata: dict, *, signing_algs: list[str]) -> dict:
    """OIDC Discovery 1.0 §3, consistent with the RFC 8414 document (same values).

    We issue no ID tokens (no ``openid`` scope); the two OIDC-required members describe the
    keys in our JWKS, which some MCP SDKs require before they accept the document.
    """
    doc = dict(as_metadata)
    doc["subject_types_supported"] = ["public"]
    doc["id_token_signing_alg_values_supported"] = signing_algs
    return dict(sorted(doc.items()))
