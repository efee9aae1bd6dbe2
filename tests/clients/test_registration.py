"""clients/registration.py: RFC 7591 §2 metadata rules, tested without the web layer."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authserver.errors import InvalidClientMetadata, InvalidRedirectUri
from clients import redirect_uris
from clients.registration import (
    declared_application_type,
    fingerprint,
    validate_client_metadata,
    validate_redirect_uri,
)
from tests.clients.conftest import MCP_PYTHON_SDK_BODY

ACCEPTED_REDIRECT_URIS = [
    "https://app.example.com/callback",
    "https://app.example.com/cb?tenant=1",
    "http://127.0.0.1:34439/callback",
    "http://127.0.0.1/",
    "http://[::1]:8080/cb",
    "http://localhost:8787/callback",
    "cursor://anysphere.cursor-mcp/oauth/callback",
    "com.example.app:/callback",
    "https://vscode.dev/redirect",
]

REFUSED_REDIRECT_URIS = {
    "javascript:alert(1)": "javascript scheme",
    "JavaScript://example.com/%0aalert(1)": "javascript scheme in capitals",
    "data:text/html,<script>alert(1)</script>": "data scheme",
    "file:///etc/passwd": "file scheme",
    "vbscript:msgbox(1)": "vbscript scheme",
    "https://app.example.com/cb#frag": "fragment",
    "https://app.example.com/cb#": "empty fragment",
    "https://*.example.com/cb": "wildcard host",
    "https://app.example.com/*": "wildcard path",
    "https://user:pw@app.example.com/cb": "userinfo",
    "https://user@app.example.com/cb": "user without password",
    "http://app.example.com/cb": "http on a non-loopback host",
    "http://10.0.0.1/cb": "http on a private address",
    "/relative/cb": "relative reference",
    "app.example.com/cb": "no scheme",
    "https:///cb": "https without host",
    "https://app.example.com:99999/cb": "port out of range",
    "https://app.example.com/c b": "space",
    "https://app.example.com/ĉb": "non-ASCII",
    "https://app.example.com/\ncb": "control character",
    "com.example.app:": "private-use scheme without path",
    "": "empty",
}


def body(**overrides):
    doc = dict(MCP_PYTHON_SDK_BODY)
    for key, value in overrides.items():
        if value is ...:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize("uri", ACCEPTED_REDIRECT_URIS)
def test_redirect_uri_https_loopback_http_and_private_use_schemes_are_accepted(uri):
    assert validate_redirect_uri(uri) == uri


@pytest.mark.parametrize(("uri", "why"), REFUSED_REDIRECT_URIS.items())
def test_unsafe_redirect_uri_is_invalid_redirect_uri(uri, why):
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri(uri)


def test_redirect_uri_longer_than_limit_is_invalid_redirect_uri():
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri("https://app.example.com/" + "a" * 2000)


def test_more_than_ten_redirect_uris_is_invalid_redirect_uri():
    uris = [f"https://app.example.com/cb{i}" for i in range(11)]
    with pytest.raises(InvalidRedirectUri):
        validate_client_metadata(body(redirect_uris=uris))


@pytest.mark.parametrize("value", ["https://app.example.com/cb", {"a": 1}, [1], [None]])
def test_redirect_uris_not_an_array_of_strings_is_invalid_redirect_uri(value):
    with pytest.raises(InvalidRedirectUri):
        validate_client_metadata(body(redirect_uris=value))


def test_authorization_code_without_redirect_uris_is_invalid_redirect_uri():
    with pytest.raises(InvalidRedirectUri):
        validate_client_metadata(body(redirect_uris=...))


def test_duplicate_redirect_uris_are_registered_once():
    uri = "http://127.0.0.1:1/cb"
    assert validate_client_metadata(body(redirect_uris=[uri, uri])).redirect_uris == [uri]


@pytest.mark.parametrize(
    "grant_types",
    [["implicit"], ["password"], ["urn:ietf:params:oauth:grant-type:device_code"], [], "code", [1]],
)
def test_grant_types_with_nothing_usable_or_malformed_are_invalid_client_metadata(grant_types):
    with pytest.raises(InvalidClientMetadata):
        validate_client_metadata(body(grant_types=grant_types))


def test_refresh_token_without_authorization_code_is_invalid_client_metadata():
    with pytest.raises(InvalidClientMetadata, match="no supported grant type"):
        validate_client_metadata(body(grant_types=["refresh_token"]))


@pytest.mark.parametrize(
    "grant_types",
    [
        ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        ["authorization_code", "implicit", "password"],
        ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"],
    ],
)
def test_unsupported_grant_types_are_dropped_not_fatal_rfc7591_s2(grant_types):
    # RFC 7591 §2: the server may replace requested values; only an empty usable set fails.
    assert validate_client_metadata(body(grant_types=grant_types)).grant_types == [
        "authorization_code",
        "refresh_token",
    ]


@pytest.mark.parametrize("grant_types", [..., ["authorization_code"]])
def test_authorization_code_clients_are_granted_refresh_token_too(grant_types):
    # The TypeScript SDK omits grant_types; RFC 7591 §2's default would leave its user
    # signing in again every five minutes. The registered value says what was granted.
    metadata = validate_client_metadata(body(grant_types=grant_types))
    assert metadata.grant_types == ["authorization_code", "refresh_token"]
    assert metadata.as_response()["grant_types"] == ["authorization_code", "refresh_token"]


@pytest.mark.parametrize(
    "doc",
    [
        {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"},
        {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"},
        {"grant_types": ["client_credentials", "refresh_token"]},
    ],
)
def test_self_registered_machine_client_is_refused_with_how_to_get_one(doc):
    with pytest.raises(InvalidClientMetadata, match="administrator creates a machine client"):
        validate_client_metadata(doc)


def test_client_credentials_beside_authorization_code_is_dropped():
    doc = body(grant_types=["authorization_code", "client_credentials"])
    assert "client_credentials" not in validate_client_metadata(doc).grant_types


@pytest.mark.parametrize("response_types", [[], ["token"], ["id_token", "token"]])
def test_response_types_without_code_for_authorization_code_is_invalid_client_metadata(
    response_types,
):
    with pytest.raises(InvalidClientMetadata, match="must include 'code'"):
        validate_client_metadata(body(response_types=response_types))


def test_unsupported_response_types_beside_code_are_dropped():
    metadata = validate_client_metadata(body(response_types=["code", "token", "code id_token"]))
    assert metadata.response_types == ["code"]


def test_omitted_grant_and_response_types_default_to_authorization_code_and_code():
    metadata = validate_client_metadata(body(grant_types=..., response_types=...))
    assert metadata.grant_types == ["authorization_code", "refresh_token"]
    assert metadata.response_types == ["code"]


def test_omitted_token_endpoint_auth_method_defaults_to_client_secret_basic():
    metadata = validate_client_metadata(body(token_endpoint_auth_method=...))
    assert metadata.token_endpoint_auth_method == "client_secret_basic"
    assert not metadata.is_public


@pytest.mark.parametrize("method", ["client_secret_jwt", "tls_client_auth"])
def test_unsupported_auth_method_without_alternatives_is_invalid_client_metadata(method):
    with pytest.raises(InvalidClientMetadata, match="no token endpoint authentication method"):
        validate_client_metadata(body(token_endpoint_auth_method=method))


def test_private_key_jwt_without_keys_is_invalid_client_metadata():
    with pytest.raises(InvalidClientMetadata, match="private_key_jwt needs jwks_uri or jwks"):
        validate_client_metadata(body(token_endpoint_auth_method="private_key_jwt"))


def test_private_key_jwt_with_jwks_uri_is_a_confidential_client_without_secret():
    metadata = validate_client_metadata(
        body(token_endpoint_auth_method="private_key_jwt", jwks_uri="https://app.example/jwks")
    )
    assert metadata.token_endpoint_auth_method == "private_key_jwt"
    assert not metadata.is_public
    assert not metadata.has_secret
    assert metadata.as_response()["jwks_uri"] == "https://app.example/jwks"


def test_jwks_and_jwks_uri_together_are_invalid_client_metadata():
    # RFC 7591 §2: "The jwks_uri and jwks parameters MUST NOT both be present".
    with pytest.raises(InvalidClientMetadata, match="must not both be present"):
        validate_client_metadata(
            body(
                token_endpoint_auth_method="private_key_jwt",
                jwks_uri="https://app.example/jwks",
                jwks={"keys": [{"kty": "EC"}]},
            )
        )


def test_plain_http_jwks_uri_is_invalid_client_metadata():
    with pytest.raises(InvalidClientMetadata, match="jwks_uri must be an https URL"):
        validate_client_metadata(
            body(token_endpoint_auth_method="private_key_jwt", jwks_uri="http://app.example/j")
        )


@pytest.mark.parametrize(
    ("declared", "supported", "chosen"),
    [
        ("private_key_jwt", ["none", "private_key_jwt"], "none"),
        ("private_key_jwt", ["private_key_jwt", "client_secret_post"], "client_secret_post"),
        ("client_secret_post", ["none"], "client_secret_post"),  # the declared one wins
        (..., ["tls_client_auth", "client_secret_basic", "none"], "client_secret_basic"),
    ],
)
def test_auth_method_is_negotiated_with_auth_methods_supported_rp_metadata_choices(
    declared, supported, chosen
):
    doc = body(token_endpoint_auth_method=declared, token_endpoint_auth_methods_supported=supported)
    assert validate_client_metadata(doc).token_endpoint_auth_method == chosen


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("token_endpoint_auth_method", 1),
        ("token_endpoint_auth_method", ["none"]),
        ("token_endpoint_auth_methods_supported", "none"),
        ("token_endpoint_auth_methods_supported", [None]),
        ("response_types", "code"),
        ("grant_types", {"authorization_code": True}),
    ],
)
def test_negotiated_member_of_the_wrong_type_is_still_invalid_client_metadata(name, value):
    with pytest.raises(InvalidClientMetadata):
        validate_client_metadata(body(**{name: value}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("client_name", {"$gt": ""}),
        ("client_name", ["a"]),
        ("client_name", 42),
        ("client_name", "x" * 201),
        ("client_name", "evil\u0000name"),
        ("client_uri", "http://app.example.com"),
        ("client_uri", "javascript:alert(1)"),
        ("logo_uri", "https://user:pw@cdn.example.com/logo.png"),
        ("tos_uri", "https://example.com/" + "t" * 600),
        ("policy_uri", ["https://example.com/policy"]),
        ("contacts", "admin@example.com"),
        ("contacts", [1]),
        ("contacts", [f"c{i}@example.com" for i in range(11)]),
        ("software_id", {"id": 1}),
        ("software_version", 2),
        ("software_version", "v" * 256),
        ("application_type", "desktop"),
        ("application_type", ["native"]),
        ("scope", ["tools:read"]),
        ("scope", 'tools:read "quoted"'),
    ],
)
def test_mistyped_or_oversized_member_is_invalid_client_metadata(name, value):
    with pytest.raises(InvalidClientMetadata):
        validate_client_metadata(body(**{name: value}))


def test_non_object_document_is_invalid_client_metadata():
    for doc in ([], "x", 1, None):
        with pytest.raises(InvalidClientMetadata):
            validate_client_metadata(doc)


def test_unknown_members_are_ignored_and_null_counts_as_omitted():
    metadata = validate_client_metadata(
        body(jwks={"keys": []}, software_statement="eyJ...", client_uri=None, **{"x#ja": "y"})
    )
    assert metadata.client_uri == ""
    assert "jwks" not in metadata.as_response()


def test_scope_is_recorded_normalised_and_unknown_scopes_are_kept():
    metadata = validate_client_metadata(body(scope="  tools:read  unknown:scope tools:read "))
    assert metadata.scope == "tools:read unknown:scope"


def test_mcp_python_sdk_body_is_accepted_as_a_public_native_client():
    metadata = validate_client_metadata(MCP_PYTHON_SDK_BODY)
    assert metadata.is_public
    assert metadata.application_type == "native"
    assert metadata.as_response()["redirect_uris"] == ["http://127.0.0.1:34439/callback"]


def test_fingerprint_ignores_loopback_port_and_list_order():
    a = validate_client_metadata(
        body(redirect_uris=["http://localhost:1234/callback", "https://a.example/cb"])
    )
    b = validate_client_metadata(
        body(redirect_uris=["https://a.example/cb", "http://localhost:5678/callback"])
    )
    c = validate_client_metadata(body(redirect_uris=["http://localhost:5678/other"]))
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


@given(st.text(max_size=300))
def test_redirect_uri_validator_raises_only_invalid_redirect_uri(value):
    with contextlib.suppress(InvalidRedirectUri):
        assert validate_redirect_uri(value) == value


@given(
    st.sampled_from(["https://app.example.com/cb", "http://127.0.0.1:8/cb", "myapp:/cb"]),
    st.sampled_from(["#", "#x", "*", "@"]),
    st.text(alphabet="abc/:.", max_size=10),
)
def test_any_redirect_uri_with_fragment_wildcard_or_userinfo_is_refused(base, marker, tail):
    scheme, _, rest = base.partition(":")
    candidates = [base + marker + tail]
    if marker == "@":
        candidates = [f"{scheme}://user{marker}{rest.lstrip('/')}{tail}"]
    for uri in candidates:
        with pytest.raises(InvalidRedirectUri):
            validate_redirect_uri(uri)


@given(
    st.dictionaries(
        st.sampled_from([*sorted(MCP_PYTHON_SDK_BODY), "contacts"]),
        st.none()
        | st.integers()
        | st.text(max_size=20)
        | st.lists(st.text(max_size=20), max_size=3),
    )
)
def test_metadata_validator_raises_only_rfc7591_errors(doc):
    with contextlib.suppress(InvalidClientMetadata, InvalidRedirectUri):
        validate_client_metadata(doc)


def test_limits_are_documented_constants():
    assert redirect_uris.MAX_REDIRECT_URIS == 10
    assert redirect_uris.MAX_REDIRECT_URI_LENGTH == 2000


@pytest.mark.parametrize(
    ("redirect_uris", "inferred"),
    [
        (["http://127.0.0.1:34439/callback"], "native"),
        (["cursor://anysphere.cursor-mcp/oauth/callback", "https://www.cursor.com/cb"], "native"),
        (["https://claude.ai/api/mcp/auth_callback"], "web"),
    ],
)
def test_omitted_application_type_follows_the_redirect_uris_sep837(redirect_uris, inferred):
    doc = body(application_type=..., redirect_uris=redirect_uris)
    assert validate_client_metadata(doc).application_type == inferred


CURSOR_WEB_REDIRECTS = [
    ["cursor://anysphere.cursor-mcp/oauth/callback"],
    ["http://localhost:8787/callback"],
    [
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback",
    ],
]


@pytest.mark.parametrize("redirect_uris", CURSOR_WEB_REDIRECTS)
def test_cursor_declaring_web_with_app_redirects_registers_as_native_sep837(redirect_uris):
    """Some Cursor versions declare 'web' with cursor:// redirects; refusing them left
    Cursor with a generic connection failure (better-auth PR 10956)."""
    doc = body(application_type="web", redirect_uris=redirect_uris)
    assert validate_client_metadata(doc).application_type == "native"
    assert declared_application_type(doc) == "web"


@pytest.mark.parametrize("redirect_uri", ["http://app.example.com/cb", "http://10.0.0.5:80/cb"])
def test_web_application_with_non_loopback_http_redirect_is_still_refused(redirect_uri):
    with pytest.raises(InvalidRedirectUri, match="loopback"):
        validate_client_metadata(body(application_type="web", redirect_uris=[redirect_uri]))


def test_web_application_with_https_redirects_stays_web():
    doc = body(application_type="web", redirect_uris=["https://claude.ai/api/mcp/auth_callback"])
    assert validate_client_metadata(doc).application_type == "web"


def test_native_application_may_use_claimed_https_redirects_rfc8252_s7_2():
    doc = body(application_type="native", redirect_uris=["https://vscode.dev/redirect"])
    assert validate_client_metadata(doc).application_type == "native"
