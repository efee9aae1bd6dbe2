"""POST /register (RFC 7591 §3): real MCP clients' bodies, responses, JSON-only errors."""

from __future__ import annotations

import json

import pytest

from authserver import client_secrets as secrets
from clients.models import Client
from tests.clients.conftest import MCP_PYTHON_SDK_BODY

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls")]

CLAUDE_CODE_BODY = {
    "client_name": "Claude Code (notes)",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["http://localhost:51234/callback"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}
CURSOR_BODY = {
    "client_name": "Cursor",
    "redirect_uris": [
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://cursor.com/oauth/callback",
        "http://localhost:8787/callback",
    ],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}
VSCODE_BODY = {
    "client_name": "Visual Studio Code",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": [
        "http://127.0.0.1/",
        "http://127.0.0.1:33418/",
        "https://vscode.dev/redirect",
    ],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}


def assert_rfc7591_error(response, error: str) -> dict:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    return body


def test_mcp_python_sdk_registration_body_is_accepted(register, settings):
    response = register(MCP_PYTHON_SDK_BODY)
    assert response.status_code == 201
    body = response.json()
    for name, value in MCP_PYTHON_SDK_BODY.items():
        assert body[name] == value, name
    assert "client_secret" not in body
    assert isinstance(body["client_id_issued_at"], int)
    assert body["registration_access_token"]
    assert body["registration_client_uri"] == f"{settings.ISSUER}/register/{body['client_id']}"
    assert response["Cache-Control"] == "no-store"


def test_body_built_by_the_real_mcp_sdk_model_is_accepted(register):
    auth = pytest.importorskip("mcp.shared.auth")
    metadata = auth.OAuthClientMetadata(
        client_name="SDK",
        redirect_uris=["http://127.0.0.1:34439/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope="tools:read offline_access",
        token_endpoint_auth_method="none",
    )
    doc = metadata.model_dump(mode="json", exclude_none=True)
    response = register(doc)
    assert response.status_code == 201, response.content
    # The SDK validates our answer with its own model: it must parse.
    info = auth.OAuthClientInformationFull.model_validate(response.json())
    assert info.client_id == response.json()["client_id"]


@pytest.mark.parametrize("doc", [CLAUDE_CODE_BODY, CURSOR_BODY, VSCODE_BODY])
def test_claude_code_cursor_and_vscode_bodies_are_accepted(register, doc):
    response = register(doc)
    assert response.status_code == 201, response.content
    assert response.json()["redirect_uris"] == doc["redirect_uris"]


def test_registered_public_client_is_stored_unverified_with_dot_fields(register):
    body = register(MCP_PYTHON_SDK_BODY).json()
    client = Client.objects.get(client_id=body["client_id"])
    assert client.registration_source == "dcr"
    assert client.verified is False
    assert client.client_type == Client.CLIENT_PUBLIC
    assert client.client_secret == ""
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.authorization_grant_type == Client.GRANT_AUTHORIZATION_CODE
    assert client.redirect_uris == "http://127.0.0.1:34439/callback"
    assert client.name == MCP_PYTHON_SDK_BODY["client_name"]
    assert client.registered_from == "127.0.0.1"
    assert client.metadata_fingerprint
    # The registration access token is stored only as its HMAC.
    token = body["registration_access_token"]
    assert token not in client.registration_access_token
    assert secrets.check_secret(token, client.registration_access_token)


def test_omitted_auth_method_registers_confidential_client_with_hashed_secret(register):
    doc = {k: v for k, v in MCP_PYTHON_SDK_BODY.items() if k != "token_endpoint_auth_method"}
    response = register(doc)
    assert response.status_code == 201
    body = response.json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert len(body["client_secret"]) == 64  # 256 bits, hex
    assert body["client_secret_expires_at"] == 0
    client = Client.objects.get(client_id=body["client_id"])
    assert client.client_type == Client.CLIENT_CONFIDENTIAL
    assert secrets.is_hashed(client.client_secret)
    assert secrets.check_secret(body["client_secret"], client.client_secret)


def test_self_registered_machine_client_is_refused_and_nothing_is_stored(register):
    # Open registration cannot approve a machine client for any MCP server; an admin does.
    doc = {
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    response = register(doc)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert "manage.py add_client" in body["error_description"]
    assert not Client.objects.exists()


def test_registration_response_shows_the_negotiated_values_rfc7591_s3_2_1(register):
    doc = {
        **MCP_PYTHON_SDK_BODY,
        "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "response_types": ["code", "token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
    }
    response = register(doc)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    client = Client.objects.get(client_id=body["client_id"])
    assert client.grant_types == body["grant_types"]
    assert client.token_endpoint_auth_method == "none"


def test_every_accepted_member_is_echoed(register):
    doc = {
        **MCP_PYTHON_SDK_BODY,
        "client_uri": "https://app.example.com",
        "logo_uri": "https://app.example.com/logo.png",
        "tos_uri": "https://app.example.com/tos",
        "policy_uri": "https://app.example.com/privacy",
        "contacts": ["ops@example.com"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.3.0",
    }
    body = register(doc).json()
    for name, value in doc.items():
        assert body[name] == value, name


def test_unsafe_redirect_uri_is_a_json_invalid_redirect_uri(register):
    doc = {**MCP_PYTHON_SDK_BODY, "redirect_uris": ["http://evil.example/cb"]}
    assert_rfc7591_error(register(doc), "invalid_redirect_uri")
    assert not Client.objects.exists()


def test_object_as_client_name_is_a_json_invalid_client_metadata(register):
    assert_rfc7591_error(
        register({**MCP_PYTHON_SDK_BODY, "client_name": {"$gt": ""}}), "invalid_client_metadata"
    )


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"[1, 2]", b'"a string"', b"null", b"NaN", b"\xff\xfe{}", b"[" * 5000],
)
def test_malformed_or_non_object_json_is_invalid_client_metadata_not_500(register, raw):
    assert_rfc7591_error(register(raw), "invalid_client_metadata")


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
def test_wrong_content_type_is_invalid_client_metadata(register, content_type):
    response = register(json.dumps(MCP_PYTHON_SDK_BODY), content_type=content_type)
    assert_rfc7591_error(response, "invalid_client_metadata")


def test_content_type_with_charset_is_accepted(register):
    response = register(MCP_PYTHON_SDK_BODY, content_type="application/json; charset=utf-8")
    assert response.status_code == 201


def test_body_over_64_kib_is_json_invalid_client_metadata(register):
    doc = {**MCP_PYTHON_SDK_BODY, "padding": "x" * (65 * 1024)}
    assert_rfc7591_error(register(doc), "invalid_client_metadata")


def test_body_over_djangos_own_cap_is_still_json_not_html(register):
    doc = {**MCP_PYTHON_SDK_BODY, "padding": "x" * (3 * 1024 * 1024)}  # Django's cap: 2.5 MiB
    assert_rfc7591_error(register(doc), "invalid_client_metadata")


def test_body_larger_than_content_length_says_is_cut_at_the_limit(rf):
    from clients.views import MAX_BODY, RegistrationView

    request = rf.post(
        "/register", data=b"{" + b" " * (MAX_BODY + 10) + b"}", content_type="application/json"
    )
    request.META["CONTENT_LENGTH"] = "10"  # lies; we still read at most MAX_BODY + 1
    response = RegistrationView.as_view()(request)
    assert response.status_code == 400


def test_get_on_register_is_json_405(client):
    response = client.get("/register")
    assert response.status_code == 405
    assert response.json() == {"error": "invalid_request", "error_description": "use POST"}


def test_register_answers_cors_preflight(client):
    response = client.options(
        "/register", HTTP_ORIGIN="http://localhost:6274", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"


def test_private_key_jwt_registration_gets_no_secret_and_keeps_its_jwks_uri(register):
    body = {
        "client_name": "Key-holding web app",
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://app.example/jwks.json",
    }
    response = register(body)
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["token_endpoint_auth_method"] == "private_key_jwt"
    assert answer["jwks_uri"] == "https://app.example/jwks.json"
    assert "client_secret" not in answer
    assert "client_secret_expires_at" not in answer
    client = Client.objects.get(client_id=answer["client_id"])
    assert not client.is_public
    assert client.jwks_uri == "https://app.example/jwks.json"


# --- DRF parsers and renderers (docs/LIBRARIES.md): the same answers as before --------------


def test_registration_is_parsed_and_rendered_by_drf():
    from rest_framework.views import APIView

    from clients.views import RegistrationManagementView, RegistrationView

    assert issubclass(RegistrationView, APIView)
    assert issubclass(RegistrationManagementView, APIView)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*"])
def test_registration_answers_json_whatever_accept_says(register, accept):
    response = register(MCP_PYTHON_SDK_BODY, HTTP_ACCEPT=accept)
    assert response.status_code == 201  # never DRF's 406 Not Acceptable
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"  # RFC 7591 §3.2.1: it carries secrets
    error = register(b"{", HTTP_ACCEPT=accept)
    assert_rfc7591_error(error, "invalid_client_metadata")


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"{", "application/json"), (b"{}", "text/plain"), (b"", "application/json")],
)
def test_registration_errors_are_rfc7591_bodies_never_drf_detail(register, raw, content_type):
    body = assert_rfc7591_error(register(raw, content_type=content_type), "invalid_client_metadata")
    assert "detail" not in body
    assert set(body) <= {"error", "error_description", "error_uri"}


def test_empty_registration_body_is_not_read_as_an_empty_document(register):
    # DRF reads an empty body as {}; RFC 7591 §3.1 needs a JSON object in the body.
    # (Django's test client drops the content type of an empty body: set it by hand.)
    response = register(b"", CONTENT_TYPE="application/json")
    body = assert_rfc7591_error(response, "invalid_client_metadata")
    assert "not valid JSON" in body["error_description"]
    assert not Client.objects.exists()


def test_options_on_register_without_a_preflight_is_an_empty_allow(client):
    response = client.options("/register")
    assert response.status_code == 200
    assert response.content == b""  # not DRF's self-description of the view
    assert set(response["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}


def test_registration_body_is_read_only_up_to_the_limit_through_drf(rf):
    from clients.views import MAX_BODY, RegistrationView

    request = rf.post("/register", data=b" " * (MAX_BODY + 1), content_type="application/json")
    response = RegistrationView.as_view()(request)
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_client_metadata"


def test_cursor_web_registration_with_cursor_scheme_is_native_and_audited(register):
    """Cursor declaring application_type 'web' with cursor:// redirects (better-auth PR
    10956, 2026): registered as native; the audit event keeps both values."""
    from authserver.models import AuditEvent

    response = register({**CURSOR_BODY, "application_type": "web"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["application_type"] == "native"
    event = AuditEvent.objects.get(kind="client.registered", client_id=body["client_id"])
    assert event.detail["application_type"] == "native"
    assert event.detail["declared_application_type"] == "web"
