"""Authorization server metadata: RFC 8414 and OpenID Connect Discovery 1.0.

DOT's ``OAuthServerMetadataView`` builds the base document from its settings (grant
types, response types, PKCE methods with ``plain`` filtered out by the RFC 9700 gate, the
RFC 9207 ``iss`` flag, endpoints it can reverse). This module completes it with what DOT
does not know: our JWKS, response modes, per-endpoint auth methods and documentation.
Advertise only what works: a field is added here when the feature behind it is real.
"""

from __future__ import annotations

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


# Members the core decides, present or not: a feature's contribution (token_endpoint.registry
# ``register_metadata``) may add members, never set or unset one of these.
CORE_MEMBERS = frozenset(
    {
        "issuer",
        "jwks_uri",
        "response_types_supported",
        "response_modes_supported",
        "code_challenge_methods_supported",
        "token_endpoint_auth_methods_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "dpop_signing_alg_values_supported",
        "authorization_details_types_supported",
        "registration_endpoint",
        "client_id_metadata_document_supported",
        "revocation_list_uri",
        "service_documentation",
    }
)


def add_contributions(doc: dict, contributions: list[dict]) -> dict:
    """Features' members (RFC 8414 §2 allows more), added to the core's document.

    Fail closed: a member the core decides (``CORE_MEMBERS``, or already in the document, such
    as DOT's endpoints and ``grant_types_supported``) is refused, and so is one scalar member
    two features both set; a list member several features contribute (e.g.
    ``authorization_grant_profiles_supported``) is their sorted union."""
    core = set(doc) | CORE_MEMBERS
    added: dict = {}
    for members in contributions:
        for name, value in members.items():
            if name in core:
                raise ImproperlyConfigured(f"a feature may not set the metadata member {name!r}")
            if name not in added:
                added[name] = list(value) if isinstance(value, list) else value
            elif isinstance(value, list) and isinstance(added[name], list):
                added[name] = sorted(set(added[name]) | set(value))
            else:
                raise ImproperlyConfigured(f"metadata member {name!r} contributed twice")
    return {**doc, **added}


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
    cimd_supported: bool | None = None,
    contributions: list[dict] | None = None,
) -> dict:
    """Complete DOT's RFC 8414 document. ``issuer`` is exact (RFC 8414 §3.3).

    ``contributions``: the members features registered (``add_contributions``)."""
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
    # Not registered with IANA: our signed revocation list (README, "Revocation list").
    doc["revocation_list_uri"] = revocation_list_uri
    if service_documentation:
        doc["service_documentation"] = service_documentation
    doc = add_contributions(doc, contributions or [])
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
