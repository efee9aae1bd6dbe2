"""RFC 7591 client metadata: one ``validate_<field>`` per member, plain values in and out.

Used by dynamic registration (``POST /register``, RFC 7591), its management (RFC 7592
``PUT``) and Client ID Metadata Documents (clients/cimd.py): the same rules everywhere.
Every function raises only :class:`InvalidRedirectUri` or :class:`InvalidClientMetadata`
(RFC 7591 §3.2.2); the description is safe to send to the client.

RFC 7591 §2: "The authorization server MUST ignore any client metadata sent by the client
that it does not understand", so unknown members (``jwks``, ``software_statement``,
localised ``client_name#ja``) are dropped, never echoed. A JSON ``null`` counts as omitted.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authserver.errors import InvalidClientMetadata, InvalidScope
from authserver.loopback import is_loopback_host
from authserver.protocol.scopes import parse_scope
from authserver.token_endpoint.grant_types import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    SELF_REGISTERED,
)
from clients.redirect_uris import (  # noqa: F401 - part of this module's rules
    URI_CHARS,
    port_free,
    validate_redirect_uri,
    validate_redirect_uris,
)
from mcp_token_verifier.jws import PRIVATE_JWK_MEMBERS

MAX_URI_LENGTH = 512  # client_uri, logo_uri, tos_uri, policy_uri (model column size)
MAX_NAME_LENGTH = 200
MAX_CONTACTS = 10
MAX_CONTACT_LENGTH = 254
MAX_SOFTWARE_LENGTH = 255

# RFC 7523 §2.2 private_key_jwt needs the client's public keys (``jwks_uri`` or ``jwks``).
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
MAX_JWKS_KEYS = 10
MAX_JWKS_BYTES = 16 * 1024
APPLICATION_TYPES = ("native", "web")
URI_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")

_CONTROL = re.compile(r"[\x00-\x1F\x7F]")


@dataclass(frozen=True)
class ClientMetadata:
    """Validated, normalised RFC 7591 §2 metadata (lists de-duplicated, defaults applied)."""

    redirect_uris: list[str] = field(default_factory=list)
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 - RFC 7591 §2 default
    grant_types: list[str] = field(default_factory=lambda: [AUTHORIZATION_CODE])
    response_types: list[str] = field(default_factory=lambda: ["code"])
    client_name: str = ""
    client_uri: str = ""
    logo_uri: str = ""
    tos_uri: str = ""
    policy_uri: str = ""
    contacts: list[str] = field(default_factory=list)
    software_id: str = ""
    software_version: str = ""
    application_type: str = "web"
    scope: str = ""
    jwks_uri: str = ""
    jwks: dict | None = None

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name

    @property
    def has_secret(self) -> bool:
        return self.token_endpoint_auth_method in SECRET_METHODS

    def as_response(self) -> dict[str, Any]:
        """RFC 7591 §3.2.1: every registered member, empty optional strings left out."""
        return {k: v for k, v in asdict(self).items() if v != "" and v is not None}


def _present(data: dict, name: str) -> bool:
    return data.get(name) is not None


def _string(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidClientMetadata(f"{name} must be a string")
    if len(value) > max_length:
        raise InvalidClientMetadata(f"{name} must be at most {max_length} characters")
    if _CONTROL.search(value):
        raise InvalidClientMetadata(f"{name} must not contain control characters")
    return value


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadata(f"{name} must be an array of strings")
    return list(dict.fromkeys(value))


@dataclass(frozen=True)
class Offer:
    """What this server offers one kind of self-registered client.

    RFC 7591 §2: "The authorization server MAY reject or replace any of the client's
    requested metadata values submitted during the registration and substitute them with
    suitable values"; §3.2.1: the response carries the values actually registered. So we
    negotiate, the way OpenID Connect RP Metadata Choices 1.0 describes for ``*_supported``
    lists: a request is refused only when nothing usable is left.
    """

    auth_methods: tuple[str, ...]
    default_auth_method: str


# Dynamic registration: public (PKCE), confidential with a secret we generate, or
# private_key_jwt with the client's own keys.
DCR_OFFER = Offer(auth_methods=AUTH_METHODS, default_auth_method="client_secret_basic")
# CIMD draft §4.1: no shared secrets; omitted means "none" (DOT agrees); §8.2 allows
# private_key_jwt with keys published by the client (ChatGPT's document does this).
CIMD_OFFER = Offer(auth_methods=("none", "private_key_jwt"), default_auth_method="none")

MACHINE_CLIENTS_ARE_ADMIN_CREATED = (
    "client_credentials clients are not self-registered here: an administrator creates a "
    "machine client and allows it its MCP servers (the admin, or manage.py add_client)"
)


def _optional_string_list(value: Any, name: str) -> list[str] | None:
    return None if value is None else _string_list(value, name)


def validate_grant_types(value: Any) -> list[str]:
    """RFC 7591 §2 ``grant_types``, negotiated: what the client asks for ∩ what we serve.

    Omitted means ``["authorization_code"]`` (RFC 7591 §2). Grants we do not serve
    (``implicit``, ``password``, the device flow, the jwt-bearer grant that claude.ai lists)
    are dropped, not fatal. Self-registered clients get only redirect-based grants: machine
    clients (client credentials, RFC 6749 §4.4) are created by an administrator, who also
    decides which MCP servers they may reach. A client that may use the authorization code
    grant also gets ``refresh_token``: MCP leaves refresh-token issuance to the server, and
    clients that never register it (the TypeScript SDK's default) would otherwise send
    their user back to the browser every time an access token expires. Public clients'
    refresh tokens rotate on every use (OAuth 2.1 §4.3.1), so this adds no standing secret.
    """
    requested = [AUTHORIZATION_CODE] if value is None else _string_list(value, "grant_types")
    if AUTHORIZATION_CODE in requested:
        return list(SELF_REGISTERED)
    if CLIENT_CREDENTIALS in requested:
        raise InvalidClientMetadata(MACHINE_CLIENTS_ARE_ADMIN_CREATED)
    # RFC 7591 §3.2.2 invalid_client_metadata: nothing we support is left. A lone
    # refresh_token is no grant of its own: refresh tokens come from a code (RFC 6749 §6).
    shown = ", ".join(repr(g) for g in requested[:5]) or "none"
    raise InvalidClientMetadata(
        f"no supported grant type requested ({shown}); this server registers clients for "
        "'authorization_code' with 'refresh_token'"
    )


def validate_response_types(value: Any, grant_types: list[str]) -> list[str]:
    """RFC 7591 §2 ``response_types``, negotiated; §2.1: consistent with ``grant_types``.

    The authorization code grant goes with ``code``, the only response type served (OAuth
    2.1 removed ``token``); other requested types are dropped. Omitted, it is what the
    grant types need. Refused only when the client asks for response types and ``code``
    is not among them: then no redirect-based flow it wants is left.
    """
    expected = ["code"] if AUTHORIZATION_CODE in grant_types else []
    requested = _optional_string_list(value, "response_types")
    if requested is not None and expected and "code" not in requested:
        raise InvalidClientMetadata(
            "response_types must include 'code': the authorization code flow is the only "
            "redirect-based flow served (RFC 7591 section 2.1)"
        )
    return expected


def validate_token_endpoint_auth_method(
    value: Any, supported: Any, *, offer: Offer, has_keys: bool = False
) -> str:
    """RFC 7591 §2 ``token_endpoint_auth_method``, negotiated with the client's
    ``token_endpoint_auth_methods_supported`` (OpenID Connect RP Metadata Choices 1.0 §2).

    The declared method wins when we support it; otherwise the first method of the
    client's supported list that we support (ChatGPT declares ``private_key_jwt`` and also
    lists ``none``: it gets ``none``). Neither given: the offer's default (RFC 7591 §2:
    ``client_secret_basic`` for registration; ``none`` for a metadata document).
    """
    if value is not None and not isinstance(value, str):
        raise InvalidClientMetadata("token_endpoint_auth_method must be a string")
    alternatives = _optional_string_list(supported, "token_endpoint_auth_methods_supported")
    candidates = ([value] if value is not None else []) + (alternatives or [])
    if not candidates:
        return offer.default_auth_method
    for method in candidates:
        # private_key_jwt without keys is unusable: negotiate on (RFC 7591 §2).
        if method in offer.auth_methods and (method != "private_key_jwt" or has_keys):
            return method
    if value == "private_key_jwt" and not has_keys:
        raise InvalidClientMetadata("private_key_jwt needs jwks_uri or jwks")
    raise InvalidClientMetadata(
        "no token endpoint authentication method in common: this server accepts "
        f"{', '.join(offer.auth_methods)} for this kind of client"
    )


def validate_client_name(value: Any) -> str:
    """RFC 7591 §2: "Human-readable string name of the client to be presented to the end-user
    during authorization." Shown on the consent screen, so a plain, short string with no
    bidirectional controls or invisible characters (RFC 7591 §5: a client must not be able to
    pass itself off as another; a right-to-left override reorders what the user reads)."""
    if value is None:
        return ""
    name = _string(value, "client_name", MAX_NAME_LENGTH).strip()
    check_display_text(name, "client_name")
    return name


def validate_web_uri(value: Any, name: str) -> str:
    """``client_uri``, ``logo_uri``, ``tos_uri``, ``policy_uri`` (RFC 7591 §2): https only.

    RFC 7591 §5: these are shown to users, so no ``javascript:`` or plain-http tricks.
    """
    if value is None:
        return ""
    uri = _string(value, name, MAX_URI_LENGTH)
    if not URI_CHARS.fullmatch(uri):
        raise InvalidClientMetadata(f"{name} must be a URI without spaces")
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        raise InvalidClientMetadata(f"{name} is not a valid URI") from None
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise InvalidClientMetadata(f"{name} must be an https URL without user information")
    return uri


def validate_contacts(value: Any) -> list[str]:
    """RFC 7591 §2: "Array of strings representing ways to contact people"."""
    if value is None:
        return []
    contacts = _string_list(value, "contacts")
    if len(contacts) > MAX_CONTACTS:
        raise InvalidClientMetadata(f"at most {MAX_CONTACTS} contacts")
    return [_string(c, "contacts", MAX_CONTACT_LENGTH) for c in contacts]


def validate_software_id(value: Any) -> str:
    """RFC 7591 §2: a stable identifier of the client software, the same for every instance."""
    return "" if value is None else _string(value, "software_id", MAX_SOFTWARE_LENGTH)


def validate_software_version(value: Any) -> str:
    """RFC 7591 §2: "A version identifier string for the client software"."""
    return "" if value is None else _string(value, "software_version", MAX_SOFTWARE_LENGTH)


def _is_web_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme.lower() == "https" and not is_loopback_host(parts.hostname)


def _is_native_redirect(uri: str) -> bool:
    """Loopback ``http`` or a private-use scheme (RFC 8252 §7.1, §7.3): only an app on the
    user's device can receive these, whatever the client calls itself."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return is_loopback_host(parts.hostname)
    return True


def validate_application_type(value: Any, redirect_uris: list[str]) -> str:
    """OIDC Dynamic Registration §2 ``application_type``, as MCP uses it (SEP-837).

    ``web``: a remote browser-based client; its redirect URIs are https on a real host.
    ``native``: desktop, CLI and mobile clients; loopback ``http``, private-use schemes and
    claimed https URIs (RFC 8252 §7). Omitted, it follows from the redirect URIs instead of
    OIDC's blanket ``web`` default, which would contradict a loopback redirect (SEP-837:
    "non-OIDC servers safely ignore"; we record what the URIs say).

    A declared ``web`` with a loopback or private-use redirect URI is registered as
    ``native``: some Cursor versions declare ``web`` with ``cursor://`` redirects, and a
    refusal leaves their users with a generic connection failure (better-auth PR 10956 and
    inbox-zero PR 3780 do the same). Nothing is widened: the redirect URIs are validated
    the same way for both types, and plain ``http`` on a non-loopback host is refused for
    every client (``validate_redirect_uri``, RFC 8252 §8.3). The declared value is kept
    by :func:`declared_application_type` for the audit trail.
    """
    inferred = "web" if redirect_uris and all(map(_is_web_redirect, redirect_uris)) else "native"
    if value is None:
        return inferred
    if value not in APPLICATION_TYPES:
        raise InvalidClientMetadata("application_type must be 'native' or 'web'")
    if value == "web" and any(map(_is_native_redirect, redirect_uris)):
        return "native"  # RFC 7591 §2: the server may replace a requested value
    return value


def declared_application_type(data: Any) -> str:
    """What the client declared (``""`` when omitted), recorded next to what was applied."""
    value = data.get("application_type") if isinstance(data, dict) else None
    return value if value in APPLICATION_TYPES else ""


def validate_scope(value: Any) -> str:
    """RFC 7591 §2: "String containing a space-separated list of scope values".

    Recorded, not a ceiling: MCP clients register once and later ask for more scopes under
    the same client_id; the resource, policy and the user's consent decide what they get.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidClientMetadata("scope must be a space-separated string")
    try:
        return " ".join(parse_scope(value))
    except InvalidScope as exc:
        raise InvalidClientMetadata(f"scope: {exc.description}") from None


def validate_client_metadata(data: Any, *, offer: Offer = DCR_OFFER) -> ClientMetadata:
    """The whole RFC 7591 §2 document, each member by its own validator.

    Order matters only where members depend on each other: the auth method first (a
    public client's grants differ), then the grant types, then the response types and
    redirect URIs that must agree with them (RFC 7591 §2.1).
    """
    if not isinstance(data, dict):
        raise InvalidClientMetadata("the request body must be a JSON object")
    auth_method = validate_token_endpoint_auth_method(
        data.get("token_endpoint_auth_method"),
        data.get("token_endpoint_auth_methods_supported"),
        offer=offer,
        has_keys=data.get("jwks_uri") is not None or data.get("jwks") is not None,
    )
    jwks_uri, jwks = "", None  # recorded only for the method that uses them
    if auth_method == "private_key_jwt":
        jwks_uri, jwks = validate_keys(data.get("jwks_uri"), data.get("jwks"))
    grant_types = validate_grant_types(data.get("grant_types"))
    redirect_uris = validate_redirect_uris(data.get("redirect_uris"), grant_types)
    return ClientMetadata(
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=auth_method,
        grant_types=grant_types,
        response_types=validate_response_types(data.get("response_types"), grant_types),
        client_name=validate_client_name(data.get("client_name")),
        **{name: validate_web_uri(data.get(name), name) for name in URI_FIELDS},
        contacts=validate_contacts(data.get("contacts")),
        software_id=validate_software_id(data.get("software_id")),
        software_version=validate_software_version(data.get("software_version")),
        application_type=validate_application_type(data.get("application_type"), redirect_uris),
        scope=validate_scope(data.get("scope")),
        jwks_uri=jwks_uri,
        jwks=jwks,
    )


def validate_keys(jwks_uri: Any, jwks: Any) -> tuple[str, dict | None]:
    """RFC 7591 §2 ``jwks_uri`` / ``jwks``: "MUST NOT both be present". The URI is https
    and fetched with the SSRF rules of metadata documents (enterprise/jwks.py); an inline
    set holds public keys only."""
    if jwks_uri is not None and jwks is not None:
        raise InvalidClientMetadata("jwks_uri and jwks must not both be present")
    if jwks_uri is not None:
        return validate_web_uri(jwks_uri, "jwks_uri"), None
    if jwks is None:
        return "", None
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or len(keys) > MAX_JWKS_KEYS:
        raise InvalidClientMetadata(f"jwks must hold 1 to {MAX_JWKS_KEYS} keys")
    if len(json.dumps(jwks)) > MAX_JWKS_BYTES:
        raise InvalidClientMetadata("jwks is too large")
    for key in keys:
        if not isinstance(key, dict) or not isinstance(key.get("kty"), str):
            raise InvalidClientMetadata("each jwks key must be a JWK object")
        if PRIVATE_JWK_MEMBERS & key.keys() or key["kty"] == "oct":
            raise InvalidClientMetadata("jwks must hold public keys only")
    return "", {"keys": keys}


def fingerprint(metadata: ClientMetadata) -> str:
    """SHA-256 over the normalised metadata: registrations that behave identically share it.

    Lists are sorted and loopback ports dropped, so Claude Code re-registering with a new
    ephemeral port each time still counts as the same registration (clients/policy.py).
    """
    doc = asdict(metadata)
    doc["redirect_uris"] = sorted({port_free(u) for u in metadata.redirect_uris})
    for name in ("grant_types", "response_types", "contacts"):
        doc[name] = sorted(doc[name])
    doc["scope"] = " ".join(sorted(metadata.scope.split()))
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Blank-looking letters (category Lo/So), not caught by the category test below.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Cf: format characters (bidi embeddings, overrides and isolates U+202A-202E, U+2066-2069,
# marks U+200E/U+200F/U+061C, zero-width U+200B-U+200D, U+2060, U+FEFF, soft hyphen);
# Cc control; Co private use; Cs surrogates; Cn unassigned; Zl/Zp line and paragraph breaks.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp"})


def check_display_text(text: str, name: str) -> None:
    """Refuse text shown to users that could render differently from what it is."""
    for char in text:
        if char in _INVISIBLE_LETTERS or unicodedata.category(char) in _HIDDEN_CATEGORIES:
            raise InvalidClientMetadata(
                f"{name} must not contain invisible or bidirectional control characters "
                f"(U+{ord(char):04X})"
            )
