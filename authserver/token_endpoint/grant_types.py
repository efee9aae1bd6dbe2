"""The grant types this server serves, defined once: names, DOT identifiers and who gets them.

Everything that lists grant types derives from this table: the token endpoint's registry
(``grants``), the RFC 8414 ``grant_types_supported`` (settings, via DOT), the client model's
mapping to DOT's single ``authorization_grant_type``, dynamic registration, the admin form,
``add_client`` and the OpenAPI description. A leaf module (no Django import): settings read it.
"""

from __future__ import annotations

from dataclasses import dataclass

# DOT's identifiers (oauth2_provider.models.AbstractApplication.GRANT_*), as plain strings
# so that settings can import this module before Django is set up.
DOT_AUTHORIZATION_CODE = "authorization-code"
DOT_CLIENT_CREDENTIALS = "client-credentials"

AUTHORIZATION_CODE = "authorization_code"  # RFC 6749 §4.1
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - RFC 6749 §6, a grant name
CLIENT_CREDENTIALS = "client_credentials"  # RFC 6749 §4.4
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - RFC 8693 §2.1
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # RFC 7523 §2.1, ID-JAG (enterprise/)
CIBA = "urn:openid:params:grant-type:ciba"  # CIBA Core 1.0 §10.1, per-call approvals (approvals/)


@dataclass(frozen=True)
class GrantType:
    name: str  # the RFC 7591 §2 / RFC 6749 ``grant_type`` value
    dot: str | None  # DOT's identifier; None: DOT never asks about it
    admin_label: str | None  # offered in the admin's client form; None: not configurable there
    confidential_only: bool = False


GRANT_TYPES = (
    GrantType(
        AUTHORIZATION_CODE,
        DOT_AUTHORIZATION_CODE,
        "Authorization code: users sign in and allow (PKCE S256)",
    ),
    # A refresh is allowed by the grant that issued the refresh token (RFC 6749 §6).
    GrantType(
        REFRESH_TOKEN,
        DOT_AUTHORIZATION_CODE,
        "Refresh token: stay connected without signing in again",
    ),
    GrantType(
        CLIENT_CREDENTIALS,
        DOT_CLIENT_CREDENTIALS,
        "Client credentials: a machine client, no user (confidential)",
        confidential_only=True,
    ),
    # RFC 8693: admin-granted only (never through dynamic registration).
    GrantType(
        TOKEN_EXCHANGE,
        DOT_CLIENT_CREDENTIALS,
        "Token exchange (RFC 8693): an MCP server calling another (confidential)",
        confidential_only=True,
    ),
    # RFC 7523 §2.1 with an ID-JAG: a confidential client an identity provider vouches for
    # (SEP-990); the trust lives with the provider (enterprise/), not in the grant list.
    GrantType(JWT_BEARER, None, None, confidential_only=True),
    # CIBA Core §4: an MCP server asks a person to approve one tool call (approvals/).
    GrantType(
        CIBA,
        None,
        "CIBA (approvals): an MCP server asks a person to approve one call (confidential)",
        confidential_only=True,
    ),
)

# RFC 8414 §2 ``grant_types_supported``: every grant the token endpoint serves.
SUPPORTED = tuple(g.name for g in GRANT_TYPES)
# RFC 7591 §2 names mapped to DOT's single ``authorization_grant_type`` identifiers.
TO_DOT = {g.name: g.dot for g in GRANT_TYPES if g.dot is not None}
# The admin client form's checkboxes, in this order.
ADMIN_CHOICES = [(g.name, g.admin_label) for g in GRANT_TYPES if g.admin_label]
CONFIDENTIAL_ONLY = frozenset(g.name for g in GRANT_TYPES if g.confidential_only)
# What a self-registered client (RFC 7591, CIMD) gets: the redirect-based grant and its
# refresh tokens; machine clients are created by an administrator.
SELF_REGISTERED = (AUTHORIZATION_CODE, REFRESH_TOKEN)


def dot_grant_type(names: list[str] | tuple[str, ...]) -> str:
    """DOT's one ``authorization_grant_type`` for a client whose RFC 7591 list is ``names``.

    The authorization code grant wins (DOT's authorization endpoint asks for it); otherwise
    the first grant DOT knows, and client credentials for a client with none of them.
    """
    if AUTHORIZATION_CODE in names:
        return DOT_AUTHORIZATION_CODE
    return next((TO_DOT[n] for n in names if n in TO_DOT), DOT_CLIENT_CREDENTIALS)
