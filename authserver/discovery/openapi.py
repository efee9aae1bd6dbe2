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

from authserver.discovery.openapi_schemas import (
    CLIENT_AUTH_BODY,
    CLIENT_INFORMATION,
    CLIENT_METADATA,
    CLIENT_READ,
    CLIENT_UPDATED,
    INTROSPECTION_RESPONSE,
    INVALID_CLIENT,
    INVALID_TOKEN,
    JWKS,
    REGISTRATION_ERRORS,
    RETRY_AFTER,
    REVOCATION_ERRORS,
    SERVER_METADATA,
    STR,
    TOKEN_ERRORS,
    TOKEN_REQUEST,
    TOKEN_RESPONSE,
    UNAVAILABLE,
    error_response,
)
from authserver.protocol import metadata


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


_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": STR}
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
    client_id = {"name": "client_id", "in": "path", "required": True, "schema": STR}
    registration_body = {
        "required": True,
        "content": {
            "application/json": {"schema": CLIENT_METADATA, "examples": REGISTRATION_EXAMPLES}
        },
    }
    invalid_metadata = error_response("Invalid client metadata", *REGISTRATION_ERRORS)
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
                    # REGISTRATION_MODE=cimd-only or closed: what to do instead.
                    "403": error_response("Dynamic registration is off", "access_denied"),
                    "429": error_response(
                        "Too many registrations from this address",
                        "temporarily_unavailable",
                        **{"Retry-After": RETRY_AFTER},
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
                    {"name": "DPoP", "in": "header", "required": False, "schema": STR}
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
                    "400": error_response("Token request refused", *TOKEN_ERRORS),
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
                            "token": STR,
                            "token_type_hint": {
                                "type": "string",
                                "enum": ["access_token", "refresh_token"],
                            },
                            **CLIENT_AUTH_BODY,
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
                    "400": error_response("Malformed request", *REVOCATION_ERRORS),
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
                            "token": STR,
                            "token_type_hint": STR,
                            **CLIENT_AUTH_BODY,
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
