"""The OpenAPI 3.1 description of our JSON and form endpoints, served at ``GET /openapi.json``.

Hand-maintained as a Python dict rather than generated (drf-spectacular): the endpoints it
describes are plain Django views and django-oauth-toolkit's views over oauthlib, not DRF
views, so a generator would see none of them, or would need an annotation per view that is
longer than the schema itself. Keeping the contract here, in one reviewable module, also
lets it say what a generator cannot: which RFC error codes each status may carry, that
``client_secret`` never comes back from RFC 7592 reads, and that the JWKS holds no private
key members. ``tests/fuzz/test_schemathesis.py`` fuzzes the running app against this
document, so it cannot drift from the code unnoticed.

Not described: the browser endpoints (``/authorize``, sign-in, consent, Connected apps,
admin), health and metrics. Nothing here is advertised in the OAuth metadata.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from authserver.discovery import metadata
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


def _error_response(description: str, *codes: str, **headers: dict) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": oauth_error(*codes)}},
    }
    if headers:
        response["headers"] = headers
    return response


_RETRY_AFTER = {"required": True, "schema": {"type": "string", "pattern": r"^[0-9]+$"}}
_CHALLENGE = {"required": True, "schema": {"type": "string", "minLength": 1}}

UNAVAILABLE = _error_response(
    "A server-side limit (client cap, rate limiter store down)",
    "temporarily_unavailable",
    **{"Retry-After": _RETRY_AFTER},
)
INVALID_CLIENT = _error_response(
    "Client authentication failed (RFC 6749 §5.2)",
    "invalid_client",
    **{"WWW-Authenticate": _CHALLENGE},
)
INVALID_TOKEN = _error_response(
    "Missing or wrong bearer token (RFC 6750 §3.1, RFC 7592 §2)",
    "invalid_token",
    **{"WWW-Authenticate": _CHALLENGE},
)

_STR = {"type": "string"}
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
    "client_name": _STR,
    "client_uri": _STR,
    "logo_uri": _STR,
    "tos_uri": _STR,
    "policy_uri": _STR,
    "contacts": _STR_LIST,
    "software_id": _STR,
    "software_version": _STR,
    "application_type": {"type": "string", "enum": ["native", "web"]},
    "scope": _STR,
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

_CLIENT_AUTH_BODY = {  # RFC 6749 §2.3.1 client_secret_post; public clients send client_id
    "client_id": _STR,
    "client_secret": _STR,
    "client_assertion": _STR,  # RFC 7523 §2.2 private_key_jwt / workload token
    "client_assertion_type": _STR,
}
_RESOURCE = {"oneOf": [_STR, _STR_LIST]}  # RFC 8707 §2: may repeat


def _grant(name: str, required: list[str], **params: dict) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["grant_type", *required],
        "properties": {
            "grant_type": {"type": "string", "enum": [name]},
            **params,
            "scope": _STR,
            "resource": _RESOURCE,
            "authorization_details": _STR,  # RFC 9396 §6: a JSON array, form-encoded
            **_CLIENT_AUTH_BODY,
        },
    }


TOKEN_REQUEST = {
    "oneOf": [
        _grant(  # RFC 6749 §4.1.3, RFC 7636 §4.5
            grant_types.AUTHORIZATION_CODE,
            ["code", "redirect_uri", "code_verifier"],
            code=_STR,
            redirect_uri=_STR,
            code_verifier=_STR,
        ),
        _grant(grant_types.REFRESH_TOKEN, ["refresh_token"], refresh_token=_STR),  # RFC 6749 §6
        _grant(grant_types.CLIENT_CREDENTIALS, []),  # RFC 6749 §4.4
        _grant(  # RFC 8693 §2.1 (authserver/token_endpoint/grants/subject_token.py)
            grant_types.TOKEN_EXCHANGE,
            ["subject_token", "subject_token_type"],
            subject_token=_STR,
            subject_token_type=_STR,
            requested_token_type=_STR,
            actor_token=_STR,
            actor_token_type=_STR,
            audience=_STR,
        ),
        _grant(  # RFC 7523 §2.1 with an ID-JAG (enterprise/idjag.py)
            grant_types.JWT_BEARER, ["assertion"], assertion=_STR
        ),
    ]
}
TOKEN_RESPONSE = {  # RFC 6749 §5.1; the access token is an RFC 9068 JWT
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string", "minLength": 1},
        "token_type": {"type": "string", "enum": ["Bearer", "DPoP"]},  # RFC 9449 §5
        "expires_in": {"type": "integer", "minimum": 1},
        "scope": _STR,
        "refresh_token": {"type": "string", "minLength": 1},
        "issued_token_type": _STR,  # RFC 8693 §2.2.1
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
                "scope": _STR,
                "client_id": _STR,
                "username": _STR,
                "token_type": {"enum": ["Bearer", "DPoP"]},
                "exp": {"type": "integer"},
                "iat": {"type": "integer"},
                "sub": _STR,
                "aud": _STR,
                "iss": _STR,
                "jti": _STR,
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
        "issuer": _STR,
        "response_types_supported": {"const": ["code"]},
        "code_challenge_methods_supported": {"const": ["S256"]},
    },
}


def _examples(**named: dict[str, Any]) -> dict[str, Any]:
    return {name: {"value": value} for name, value in named.items()}


def _form(schema: dict[str, Any], **examples: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = _examples(**examples)
    return {"required": True, "content": {"application/x-www-form-urlencoded": media}}


# What real MCP clients send (the MCP Python SDK), and a machine client (README).
REGISTRATION_EXAMPLES = _examples(
    mcp_sdk={
        "client_name": "My agent",
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1:34439/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "tools:read offline_access",
    },
    machine={
        "client_name": "Nightly job",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic",
    },
)


def _json_ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": _STR}
_NOT_MODIFIED = {"description": "Not modified (RFC 9110 §15.4.5)"}
_BASIC = [{"clientBasic": []}, {}]  # Basic, or credentials in the body (RFC 6749 §2.3.1)


def _discovery(summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [_IF_NONE_MATCH],
            "responses": {"200": _json_ok(summary, schema), "304": _NOT_MODIFIED},
        }
    }


def _paths() -> dict[str, Any]:
    client_id = {"name": "client_id", "in": "path", "required": True, "schema": _STR}
    registration_body = {
        "required": True,
        "content": {
            "application/json": {"schema": CLIENT_METADATA, "examples": REGISTRATION_EXAMPLES}
        },
    }
    invalid_metadata = _error_response("Invalid client metadata", *REGISTRATION_ERRORS)
    return {
        "/register": {
            "post": {
                "summary": "Dynamic client registration (RFC 7591 §3)",
                "security": [{"initialAccessToken": []}, {}],
                "requestBody": registration_body,
                "responses": {
                    "201": _json_ok("Registered (RFC 7591 §3.2.1)", CLIENT_INFORMATION),
                    "400": invalid_metadata,
                    "401": INVALID_TOKEN,  # REGISTRATION_MODE=initial_access_token
                    "429": _error_response(
                        "Too many registrations from this address",
                        "temporarily_unavailable",
                        **{"Retry-After": _RETRY_AFTER},
                    ),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/register/{client_id}": {
            "parameters": [client_id],
            "get": {
                "summary": "Read a registration (RFC 7592 §2.1)",
                "security": [{"registrationAccessToken": []}],
                "responses": {"200": _json_ok("The client", CLIENT_READ), "401": INVALID_TOKEN},
            },
            "put": {
                "summary": "Replace a registration (RFC 7592 §2.2)",
                "security": [{"registrationAccessToken": []}],
                "requestBody": registration_body,
                "responses": {
                    "200": _json_ok("The updated client, with its new token", CLIENT_UPDATED),
                    "400": invalid_metadata,
                    "401": INVALID_TOKEN,
                },
            },
            "delete": {
                "summary": "Delete a registration (RFC 7592 §2.3)",
                "security": [{"registrationAccessToken": []}],
                "responses": {"204": {"description": "Deleted"}, "401": INVALID_TOKEN},
            },
        },
        "/token": {
            "post": {
                "summary": "Token endpoint (RFC 6749 §3.2, OAuth 2.1)",
                "security": _BASIC,
                "parameters": [  # RFC 9449 §4: a proof binds the tokens to the client's key
                    {"name": "DPoP", "in": "header", "required": False, "schema": _STR}
                ],
                "requestBody": _form(
                    TOKEN_REQUEST,
                    client_credentials={"grant_type": "client_credentials"},
                    authorization_code={
                        "grant_type": "authorization_code",
                        "code": "SplxlOBeZQQYbYS6WxSbIA",
                        "redirect_uri": "http://127.0.0.1:34439/callback",
                        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                        "resource": "https://mcp.example.com/mcp",
                    },
                    refresh_token={
                        "grant_type": "refresh_token",
                        "refresh_token": "tGzv3JOkF0XG5Qx2T",
                    },
                ),
                "responses": {
                    "200": _json_ok("Access token (RFC 6749 §5.1)", TOKEN_RESPONSE),
                    "400": _error_response("Token request refused", *TOKEN_ERRORS),
                    "401": INVALID_CLIENT,
                },
            }
        },
        "/revoke": {
            "post": {
                "summary": "Token revocation (RFC 7009 §2)",
                "security": _BASIC,
                "requestBody": _form(
                    {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": _STR,
                            "token_type_hint": {
                                "type": "string",
                                "enum": ["access_token", "refresh_token"],
                            },
                            **_CLIENT_AUTH_BODY,
                        },
                    },
                    refresh_token={
                        "token": "tGzv3JOkF0XG5Qx2T",
                        "token_type_hint": "refresh_token",
                    },
                ),
                "responses": {
                    # RFC 7009 §2.2: 200 also for unknown tokens; the body is empty.
                    "200": {"description": "Revoked, or the token was not valid"},
                    "400": _error_response("Malformed request", *REVOCATION_ERRORS),
                    "401": INVALID_CLIENT,
                },
            }
        },
        "/introspect": {
            "post": {
                "summary": "Token introspection for resource servers (RFC 7662 §2)",
                "security": _BASIC,
                "requestBody": _form(
                    {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": _STR,
                            "token_type_hint": _STR,
                            **_CLIENT_AUTH_BODY,
                        },
                    },
                    access_token={"token": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"},
                ),
                "responses": {
                    "200": _json_ok("Introspection result", INTROSPECTION_RESPONSE),
                    "401": INVALID_CLIENT,
                },
            }
        },
        "/.well-known/oauth-authorization-server": _discovery(
            "Authorization server metadata (RFC 8414 §3)", SERVER_METADATA
        ),
        "/.well-known/openid-configuration": _discovery(
            "OpenID Provider configuration (OIDC Discovery §4)", SERVER_METADATA
        ),
        "/.well-known/jwks.json": _discovery("Our public signing keys (RFC 7517)", JWKS),
        "/revocations": {
            "get": {
                "summary": "The signed revocation list (README, 'Revocation list')",
                "parameters": [_IF_NONE_MATCH],
                "responses": {
                    "200": {
                        "description": "A compact JWS, typ revocation-list+jwt",
                        # No schema: JSON Schema describes JSON, and this body is not JSON.
                        "content": {"application/jwt": {}},
                    },
                    "304": _NOT_MODIFIED,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": _json_ok("OpenAPI 3.1", {"type": "object"})},
            }
        },
    }


def build_document(issuer: str) -> dict[str, Any]:
    """The whole document for ``issuer``; a plain value, so tests can load it directly."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MCP Authorization Server",
            "version": "1",
            "description": "JSON and form endpoints. Errors are the OAuth error JSON of "
            "RFC 6749 §5.2 / RFC 7591 §3.2.2, with the codes listed per status.",
        },
        "servers": [{"url": metadata.origin(issuer)}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "clientBasic": {"type": "http", "scheme": "basic"},
                "registrationAccessToken": {"type": "http", "scheme": "bearer"},
                "initialAccessToken": {"type": "http", "scheme": "bearer"},
            }
        },
    }


@require_GET
def openapi_document(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(build_document(settings.ISSUER))
    response["Cache-Control"] = "public, max-age=300"
    return response
