"""The schemas of the OpenAPI description (authserver.discovery.openapi): error bodies,
client metadata, token requests and responses, introspection, the JWKS, server metadata."""

from __future__ import annotations

from typing import Any

from authserver.token_endpoint import grant_types
from mcp_token_verifier import jws

# RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
ERROR_DESCRIPTION_PATTERN = r"^[\x20\x21\x23-\x5B\x5D-\x7E]*$"

TOKEN_ERRORS = (  # RFC 6749 §5.2, RFC 8707 §2, RFC 9449 §5 and §8
    "invalid_request",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "invalid_dpop_proof",
    "use_dpop_nonce",
    "invalid_authorization_details",  # RFC 9396 §5
)
REGISTRATION_ERRORS = ("invalid_client_metadata", "invalid_redirect_uri")  # RFC 7591 §3.2.2
REVOCATION_ERRORS = ("invalid_request", "unsupported_token_type")  # RFC 7009 §2.2.1


def oauth_error(*codes: str) -> dict[str, Any]:
    """The OAuth error JSON (RFC 6749 §5.2, RFC 7591 §3.2.2) with ``error`` one of ``codes``."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "enum": list(codes)},
            "error_description": {"type": "string", "pattern": ERROR_DESCRIPTION_PATTERN},
            "error_uri": {"type": "string"},
        },
    }


def error_response(description: str, *codes: str, **headers: dict) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": oauth_error(*codes)}},
    }
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"required": True, "schema": {"type": "string", "pattern": r"^[0-9]+$"}}
_CHALLENGE = {"required": True, "schema": {"type": "string", "minLength": 1}}

UNAVAILABLE = error_response(
    "A server-side limit (client cap, rate limiter store down)",
    "temporarily_unavailable",
    **{"Retry-After": RETRY_AFTER},
)
INVALID_CLIENT = error_response(
    "Client authentication failed (RFC 6749 §5.2)",
    "invalid_client",
    **{"WWW-Authenticate": _CHALLENGE},
)
INVALID_TOKEN = error_response(
    "Missing or wrong bearer token (RFC 6750 §3.1, RFC 7592 §2)",
    "invalid_token",
    **{"WWW-Authenticate": _CHALLENGE},
)

STR = {"type": "string"}
_STR_LIST = {"type": "array", "items": {"type": "string"}}

_METADATA_MEMBERS: dict[str, Any] = {
    "redirect_uris": _STR_LIST,
    "token_endpoint_auth_method": {
        "type": "string",
        "enum": ["none", "client_secret_basic", "client_secret_post"],
    },
    "grant_types": {
        "type": "array",
        "items": {
            "type": "string",
            # What a client may ask for (a machine client's request is refused with 400).
            "enum": [*grant_types.SELF_REGISTERED, grant_types.CLIENT_CREDENTIALS],
        },
    },
    "response_types": {"type": "array", "items": {"type": "string", "enum": ["code"]}},
    "client_name": STR,
    "client_uri": STR,
    "logo_uri": STR,
    "tos_uri": STR,
    "policy_uri": STR,
    "contacts": _STR_LIST,
    "software_id": STR,
    "software_version": STR,
    "application_type": {"type": "string", "enum": ["native", "web"]},
    "scope": STR,
}

CLIENT_METADATA: dict[str, Any] = {  # RFC 7591 §2; unknown members are ignored
    "type": "object",
    # clients/registration.py: a JSON null counts as omitted.
    "properties": {k: {"anyOf": [v, {"type": "null"}]} for k, v in _METADATA_MEMBERS.items()},
}

_REGISTERED = {
    "client_id": {"type": "string", "minLength": 1},
    "client_id_issued_at": {"type": "integer"},
    "client_secret_expires_at": {"type": "integer", "enum": [0]},
    "registration_client_uri": {"type": "string", "minLength": 1},
}
_ALWAYS = [
    "client_id",
    "client_id_issued_at",
    "registration_client_uri",
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "application_type",
]

CLIENT_INFORMATION = {  # RFC 7591 §3.2.1: with the secrets, shown once
    "type": "object",
    "required": [*_ALWAYS, "registration_access_token"],
    "additionalProperties": False,
    "properties": {
        **_METADATA_MEMBERS,
        **_REGISTERED,
        "client_secret": {"type": "string", "minLength": 32},
        "registration_access_token": {"type": "string", "minLength": 32},
    },
}
CLIENT_READ = {  # RFC 7592 §3: secrets are never echoed again (clients/services.py)
    "type": "object",
    "required": _ALWAYS,
    "additionalProperties": False,
    "properties": {**_METADATA_MEMBERS, **_REGISTERED},
}
CLIENT_UPDATED = {  # RFC 7592 §3: a PUT answers with a new registration access token
    "type": "object",
    "required": [*_ALWAYS, "registration_access_token"],
    "additionalProperties": False,
    "properties": {
        **_METADATA_MEMBERS,
        **_REGISTERED,
        "registration_access_token": {"type": "string", "minLength": 32},
    },
}

CLIENT_AUTH_BODY = {  # RFC 6749 §2.3.1 client_secret_post; public clients send client_id
    "client_id": STR,
    "client_secret": STR,
    "client_assertion": STR,  # RFC 7523 §2.2 private_key_jwt / workload token
    "client_assertion_type": STR,
}
_RESOURCE = {"oneOf": [STR, _STR_LIST]}  # RFC 8707 §2: may repeat


def _grant(name: str, required: list[str], **params: dict) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["grant_type", *required],
        "properties": {
            "grant_type": {"type": "string", "enum": [name]},
            **params,
            "scope": STR,
            "resource": _RESOURCE,
            "authorization_details": STR,  # RFC 9396 §6: a JSON array, form-encoded
            **CLIENT_AUTH_BODY,
        },
    }


TOKEN_REQUEST = {
    "oneOf": [
        _grant(  # RFC 6749 §4.1.3, RFC 7636 §4.5
            grant_types.AUTHORIZATION_CODE,
            ["code", "redirect_uri", "code_verifier"],
            code=STR,
            redirect_uri=STR,
            code_verifier=STR,
        ),
        _grant(grant_types.REFRESH_TOKEN, ["refresh_token"], refresh_token=STR),  # RFC 6749 §6
        _grant(grant_types.CLIENT_CREDENTIALS, []),  # RFC 6749 §4.4
        _grant(  # RFC 8693 §2.1 (authserver/token_endpoint/grants/subject_token.py)
            grant_types.TOKEN_EXCHANGE,
            ["subject_token", "subject_token_type"],
            subject_token=STR,
            subject_token_type=STR,
            requested_token_type=STR,
            actor_token=STR,
            actor_token_type=STR,
            audience=STR,
        ),
        _grant(  # RFC 7523 §2.1 with an ID-JAG (enterprise/idjag.py)
            grant_types.JWT_BEARER, ["assertion"], assertion=STR
        ),
        _grant(grant_types.CIBA, ["auth_req_id"], auth_req_id=STR),  # CIBA §10.1 (approvals/)
    ]
}
TOKEN_RESPONSE = {  # RFC 6749 §5.1; the access token is an RFC 9068 JWT
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string", "minLength": 1},
        "token_type": {"type": "string", "enum": ["Bearer", "DPoP"]},  # RFC 9449 §5
        "expires_in": {"type": "integer", "minimum": 1},
        "scope": STR,
        "refresh_token": {"type": "string", "minLength": 1},
        "issued_token_type": STR,  # RFC 8693 §2.2.1
        "authorization_details": {"type": "array", "items": {"type": "object"}},  # RFC 9396 §7
    },
}
INTROSPECTION_RESPONSE = {  # RFC 7662 §2.2
    "oneOf": [
        {
            "type": "object",
            "required": ["active"],
            "additionalProperties": False,
            "properties": {"active": {"const": False}},
        },
        {
            "type": "object",
            "required": ["active", "client_id", "exp", "iat", "sub", "aud", "iss", "jti"],
            "properties": {
                "active": {"const": True},
                "scope": STR,
                "client_id": STR,
                "username": STR,
                "token_type": {"enum": ["Bearer", "DPoP"]},
                "exp": {"type": "integer"},
                "iat": {"type": "integer"},
                "sub": STR,
                "aud": STR,
                "iss": STR,
                "jti": STR,
                "authorization_details": {"type": "array"},  # RFC 9396 §9.2
            },
        },
    ]
}
PRIVATE_JWK_MEMBERS = sorted(jws.PRIVATE_JWK_MEMBERS)  # RFC 7518 §6, defined once in jws
JWKS = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty", "kid", "alg", "use"],
                "properties": {"kty": {"enum": ["EC", "RSA", "OKP"]}, "use": {"const": "sig"}},
                # Public members only: a private member here would be a key leak.
                "not": {"anyOf": [{"required": [m]} for m in PRIVATE_JWK_MEMBERS]},
            },
        }
    },
}
SERVER_METADATA = {  # RFC 8414 §2; OIDC Discovery §3 adds two members
    "type": "object",
    "required": [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "registration_endpoint",
        "response_types_supported",
        "code_challenge_methods_supported",
    ],
    "properties": {
        "issuer": STR,
        "response_types_supported": {"const": ["code"]},
        "code_challenge_methods_supported": {"const": ["S256"]},
    },
}
