"""Errors, and the one writer that turns them into responses (see docs/ERRORS.md).

``codes`` holds the hierarchy (one class per RFC error code), ``writer`` every response an
error becomes, ``middleware`` what an exception a view did not expect becomes.
"""

from authserver.errors.codes import (
    AccessDenied,
    ConsentRequired,
    InvalidAuthorizationDetails,
    InvalidClient,
    InvalidClientMetadata,
    InvalidGrant,
    InvalidRedirectUri,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    LoginRequired,
    MethodNotAllowed,
    NotFound,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
    UnauthorizedClient,
    description_text,
    from_oauthlib,
    to_oauthlib,
)
from authserver.errors.writer import json_error

__all__ = [
    "AccessDenied",
    "ConsentRequired",
    "InvalidAuthorizationDetails",
    "InvalidClient",
    "InvalidClientMetadata",
    "InvalidGrant",
    "InvalidRedirectUri",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "LoginRequired",
    "MethodNotAllowed",
    "NotFound",
    "OAuthError",
    "ServerError",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "description_text",
    "from_oauthlib",
    "json_error",
    "to_oauthlib",
]
