"""A small MCP server (official ``mcp`` SDK, streamable HTTP) protected by our authorization server.

What it does, in the order an MCP client meets it (MCP authorization spec, 2025-11-25):

1. An MCP request without a valid token gets ``401`` and
   ``WWW-Authenticate: Bearer resource_metadata="...", scope="..."`` (RFC 6750 §3, RFC 9728 §5.1).
2. ``/.well-known/oauth-protected-resource/<path>`` serves RFC 9728 metadata naming our issuer.
3. Tokens are checked with ``mcp_token_verifier``: signature, ``iss``, ``aud`` = this server's
   resource URL exactly, expiry, and the issuer's signed revocation list.
4. Each tool needs a scope (``TOOL_SCOPES``); a valid token without it gets ``403`` with
   ``error="insufficient_scope"`` and the scope to ask for (the MCP step-up). Each call must
   also pass ``authorize_tool_call`` (the token's RFC 9396 tool grants, tool_gate.py): a
   refusal is a ``403`` carrying a JSON-RPC error that names the rule.
5. DPoP (RFC 9449): ``Authorization: DPoP <token>`` with a ``DPoP`` proof header is accepted,
   the proof checked against the token's ``cnf.jkt`` and this very request; with
   ``require_dpop`` bearer tokens are refused (``WWW-Authenticate: DPoP error=...``).
6. Multi-hop (RFC 8693): with a downstream configured, ``call_downstream`` exchanges the
   caller's token at the authorization server for a token for the downstream MCP server (this
   server authenticating as its own confidential client) and calls the downstream tool with it;
   never the caller's token itself (MCP forbids token passthrough).

Why an ASGI gate of our own rather than the SDK's ``AuthSettings`` + ``TokenVerifier``: the SDK's
``RequireAuthMiddleware`` checks one scope list for the whole endpoint and puts no ``scope`` in
its challenge, so it cannot answer ``403 insufficient_scope, scope="notes:write"`` for
``add_note`` only. The gate reads the JSON-RPC body, finds the tool, and decides.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.demo_mcp_server.tool_gate import (
    NotJson,
    first_refusal,
    parse_error,
    parse_message,
    tool_calls,
)
from examples.demo_mcp_server.transfer_tool import register_transfer_tool, transfers_for
from examples.demo_mcp_server.upstream_tool import register_upstream_tool
from mcp_token_verifier import TokenError, TokenVerifier, www_authenticate
from mcp_token_verifier.dpop import PROOF_ALGS, InvalidDPoPProof
from mcp_token_verifier.fetch import FetchError, make_urllib_fetch
from mcp_token_verifier.jwks import loads_json_object, metadata_url
from mcp_token_verifier.tools import PolicyHook

log = logging.getLogger("demo_mcp_server")

# The scopes this server defines (register them with `manage.py add_resource --scope`).
SCOPES = {"notes:read": "Read your notes", "notes:write": "Create notes"}
# The scope each tool needs. A request that calls no tool (initialize, tools/list, ...) needs a
# valid token and no particular scope; its 401 challenge suggests BASE_SCOPE.
TOOL_SCOPES = {
    "list_notes": "notes:read",
    "add_note": "notes:write",
    "whoami": "notes:read",
    "call_downstream": "notes:read",  # only offered when a downstream server is configured
    "call_upstream": "notes:read",  # only offered when an upstream API is configured
    "transfer": "notes:write",  # only offered with a threshold; docs/APPROVALS.md
}
BASE_SCOPE = "notes:read"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
MAX_BODY_BYTES = 4 * 1024 * 1024  # the SDK's own default limit
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class DemoSettings:
    issuer: str = "http://127.0.0.1:8000"
    # RFC 8707 / RFC 9728: the exact string clients send as `resource` and tokens carry as `aud`.
    resource: str = "http://127.0.0.1:8001/mcp"
    # None: take `revocation_list_uri` from the issuer's RFC 8414 metadata.
    revocation_list_uri: str | None = None
    # Upper bound on how long a revoked token keeps working here.
    revocation_poll_interval: float = 5.0
    # RFC 9449: refuse bearer tokens; only DPoP-bound tokens with a proof per request.
    require_dpop: bool = False
    # RFC 8693 multi-hop: the downstream MCP server ``call_downstream`` reaches, and this
    # server's own confidential client (grant type token-exchange) at the issuer.
    downstream_url: str | None = None
    exchange_client_id: str | None = None
    exchange_client_secret: str | None = None
    # docs/CONNECTIONS.md: an upstream API ``call_upstream`` reaches with the user's connected
    # account, and the provider's slug at the issuer (the token exchange's ``audience``).
    upstream_api_url: str | None = None
    upstream_audience: str | None = None
    # docs/APPROVALS.md: a ``transfer`` tool; above this amount each call needs a person's
    # approval (CIBA, with the exchange client above as this server's confidential client).
    transfer_approval_threshold: float | None = None

    def __post_init__(self) -> None:
        needs_client = (
            self.downstream_url
            or self.upstream_api_url
            or self.transfer_approval_threshold is not None
        )
        if needs_client and not (self.exchange_client_id and self.exchange_client_secret):
            raise ValueError("token exchange needs the exchange client's id and secret")

    @property
    def path(self) -> str:
        return urlsplit(self.resource).path or "/"

    @property
    def metadata_url(self) -> str:
        """RFC 9728 §3.1: the well-known segment goes between the host and the resource's path."""
        parts = urlsplit(self.resource)
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"


def protected_resource_metadata(settings: DemoSettings) -> dict:
    """RFC 9728 §2. ``resource`` is our URL exactly; MCP clients compare it with theirs."""
    return {
        "resource": settings.resource,
        "authorization_servers": [settings.issuer],
        "scopes_supported": list(SCOPES),
        "bearer_methods_supported": ["header"],  # RFC 6750 §2.1 only; MCP forbids the query form
        "resource_name": "Demo notes (MCP)",
        # RFC 9728 §2 (from RFC 9449): the proof algorithms we check, and whether we insist.
        "dpop_signing_alg_values_supported": list(PROOF_ALGS),
        "dpop_bound_access_tokens_required": settings.require_dpop,
    }


class VerifierUnavailable(Exception):
    """The issuer's metadata could not be read; requests get 503 and we retry on the next one."""


class LazyVerifier:
    """One ``TokenVerifier``, built on first use from the issuer's RFC 8414 metadata.

    Lazy because ``make demo`` starts the authorization server and us at the same time, and the
    revocation list URL is only known from the issuer's metadata (``revocation_list_uri``).
    """

    def __init__(self, settings: DemoSettings) -> None:
        self._settings = settings
        self._fetch = make_urllib_fetch(5.0)
        self._lock = threading.Lock()
        self._verifier: TokenVerifier | None = None
        self.token_endpoint: str | None = None  # for token exchange; known once built

    def get(self) -> TokenVerifier:
        with self._lock:
            if self._verifier is None:
                self._verifier = self._build()
            return self._verifier

    def _build(self) -> TokenVerifier:
        issuer = self._settings.issuer
        try:
            status, _headers, body = self._fetch(
                metadata_url(issuer), {"Accept": "application/json"}
            )
            if status != 200:
                raise FetchError(f"HTTP {status}")
            document = loads_json_object(body)
        except (FetchError, ValueError) as exc:
            raise VerifierUnavailable(f"authorization server metadata: {exc}") from None
        # RFC 8414 §3.3: the metadata must name the issuer we asked about, byte for byte.
        if document.get("issuer") != issuer:
            raise VerifierUnavailable(f"metadata names issuer {document.get('issuer')!r}")
        revocation_list_uri = self._settings.revocation_list_uri or document.get(
            "revocation_list_uri"
        )
        if not isinstance(revocation_list_uri, str):
            raise VerifierUnavailable("the issuer advertises no revocation_list_uri")
        token_endpoint = document.get("token_endpoint")
        self.token_endpoint = token_endpoint if isinstance(token_endpoint, str) else None
        return TokenVerifier(
            issuer=issuer,
            resource=self._settings.resource,
            jwks_uri=document.get("jwks_uri"),
            revocation_list_uri=revocation_list_uri,
            revocation_poll_interval=self._settings.revocation_poll_interval,
            require_dpop=self._settings.require_dpop,
        )


def scopes_needed(message: Any) -> list[str]:
    """The scopes the tools called in this parsed JSON-RPC message (or batch) need, in
    order."""
    needed: list[str] = []
    for item in message if isinstance(message, list) else [message]:
        if not isinstance(item, dict) or item.get("method") != "tools/call":
            continue
        params = item.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        scope = TOOL_SCOPES.get(name) if isinstance(name, str) else None
        if scope and scope not in needed:
            needed.append(scope)
    return needed


class RequireBearerToken:
    """ASGI middleware: every request to the MCP endpoint needs a token good for what it calls.

    ``Authorization: Bearer <token>``, or ``Authorization: DPoP <token>`` with a ``DPoP`` proof
    header (RFC 9449 §7.1); with ``settings.require_dpop`` only the latter.

    On success the request carries the SDK's ``AuthenticatedUser`` in ``scope["user"]``, so the
    SDK binds each MCP session to the principal (client, issuer, subject) that opened it; its
    ``access_token.claims`` are the verified claims (``act``, ``cnf``, ...).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: DemoSettings,
        verifier: LazyVerifier,
        policy_hook: PolicyHook | None = None,
    ) -> None:
        self.app = app
        self.policy_hook = policy_hook  # e.g. a Cedar engine, for rules beyond the token
        self.settings = settings
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.settings.path.rstrip("/"):
            await self.app(scope, receive, send)  # lifespan, metadata, anything else
            return
        body = b""
        if scope["method"] == "POST":
            body = await _read_body(receive)
            if body is None:
                await _send_json(send, 413, {"error": "request body too large"})
                return
        try:
            message, malformed = (parse_message(body) if body else None), False
        except NotJson:
            message, malformed = None, True  # answered once the token is verified
        needed = scopes_needed(message)
        headers = Headers(scope=scope)
        authorization = headers.get("authorization", "")
        uses_dpop = authorization.partition(" ")[0].lower() == "dpop"
        # RFC 9449 §4.1: exactly one proof; two DPoP headers are no proof at all.
        proofs = headers.getlist("dpop")
        request = _RequestLine(
            method=scope["method"],
            # The URL the client addressed (scheme, Host, path), which the proof's htu names.
            url=str(Request(scope).url),
            proof=proofs[0] if len(proofs) == 1 else None,
        )
        try:
            token, claims = await anyio.to_thread.run_sync(
                self._verify, authorization, request, needed
            )
        except TokenError as exc:
            log.info("refused: %s %s", exc.status, exc.description)
            dpop = uses_dpop or self.settings.require_dpop or isinstance(exc, InvalidDPoPProof)
            await self._challenge(send, exc, needed, dpop=dpop)
            return
        except VerifierUnavailable as exc:
            log.warning("cannot verify tokens yet: %s", exc)
            await _send_json(send, 503, {"error": "authorization server unavailable"})
            return
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token=token,
                client_id=claims["client_id"],
                scopes=claims.get("scope", "").split(),
                expires_at=int(claims["exp"]),
                resource=self.settings.resource,
                subject=claims["sub"],
                claims=claims,  # the SDK reads "iss"; whoami shows the rest
            )
        )
        scope["auth"] = AuthCredentials(claims.get("scope", "").split())
        if malformed:
            # JSON-RPC 2.0 §5.1: -32700 for invalid JSON, deeply nested JSON included (the
            # parser's RecursionError was a 500).
            await _send_json(send, 400, parse_error())
            return
        if await self._refuse_tool_calls(send, message, claims):
            return
        await self.app(scope, _replay(body, receive), send)

    async def _refuse_tool_calls(self, send: Send, message: Any, claims: dict) -> bool:
        """Each tools/call must be allowed by the token's tool grants (RFC 9396 mcp_tool).

        Where a scope would allow it, a 403 insufficient_scope challenge naming that scope (the
        SDK steps up); otherwise a 403 carrying a JSON-RPC error that names the rule.
        """
        calls, batch = tool_calls(message)
        refusal = first_refusal(calls, claims, TOOL_SCOPES, self.policy_hook)
        if refusal is None:
            return False
        log.info("tool call refused: %s", refusal.rule)
        challenge = ""
        if refusal.scope:
            error = TokenError(refusal.rule, scope=refusal.scope)
            challenge = www_authenticate(error, resource_metadata=self.settings.metadata_url)
        await _send_json(send, 403, refusal.jsonrpc_error(batch), www_authenticate=challenge)
        return True

    def _verify(
        self, authorization: str, request: _RequestLine, needed: list[str]
    ) -> tuple[str, dict]:
        scheme, _, token = authorization.partition(" ")
        scheme, token = scheme.lower(), token.strip()
        if scheme not in ("bearer", "dpop") or not token:
            raise _MissingTokenError("no access token")
        # A proof counts only under the DPoP scheme: a DPoP-bound token sent as a bearer token
        # is refused (RFC 9449 §7.1), which the verifier does when it gets no proof.
        claims = self.verifier.get().verify(
            token,
            required_scopes=needed,
            dpop_proof=request.proof if scheme == "dpop" else None,
            http_method=request.method,
            http_uri=request.url,
        )
        if scheme == "dpop" and not isinstance(claims.get("cnf"), dict):
            raise InvalidDPoPProof("the DPoP scheme needs a DPoP-bound token")
        return token, claims

    async def _challenge(self, send: Send, exc: TokenError, needed: list[str], *, dpop: bool):
        error = None if isinstance(exc, _MissingTokenError) else exc
        # RFC 6750 §3: the scope to ask for. For insufficient_scope the verifier sets exactly
        # the scopes this call needs, which a client adds to what it has (MCP step-up); a 401
        # asks for what any use of this server needs, plus what this call needs.
        scope = exc.scope or " ".join(dict.fromkeys([BASE_SCOPE, *needed]))
        if dpop:
            challenge = dpop_challenge(
                error, resource_metadata=self.settings.metadata_url, scope=scope
            )
        else:
            challenge = www_authenticate(
                error, resource_metadata=self.settings.metadata_url, scope=scope
            )
        body = {"error": exc.error, "error_description": exc.description}
        await _send_json(send, exc.status, body, www_authenticate=challenge)


@dataclass(frozen=True)
class _RequestLine:
    method: str
    url: str
    proof: str | None


def dpop_challenge(error: TokenError | None, *, resource_metadata: str, scope: str) -> str:
    """RFC 9449 §7.1: ``DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256", ...``.

    The Bearer challenge's parameters (``scope``, RFC 9728's ``resource_metadata``) follow, so
    a client finds the authorization server the same way.
    """
    params = [("error", error.error)] if error is not None else []
    params.append(("algs", " ".join(PROOF_ALGS)))
    if scope:
        params.append(("scope", scope))
    params.append(("resource_metadata", resource_metadata))
    return "DPoP " + ", ".join(f"{name}={_quote(value)}" for name, value in params)


def _quote(value: str) -> str:
    """RFC 9110 §5.6.4 quoted-string (our own values: no control characters)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _MissingTokenError(TokenError):
    """No access token at all: RFC 6750 §3.1 says the challenge then carries no error code."""


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """Hand the body we consumed to the app, then pass through (e.g. http.disconnect)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send_json(send: Send, status: int, body: dict, *, www_authenticate: str = "") -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if www_authenticate:
        headers.append((b"www-authenticate", www_authenticate.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class NoteBook:
    """Notes per user (the token's ``sub``), in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[str, list[str]] = {}

    def add(self, owner: str, text: str) -> int:
        with self._lock:
            notes = self._notes.setdefault(owner, [])
            notes.append(text)
            return len(notes)

    def list(self, owner: str) -> list[str]:
        with self._lock:
            return list(self._notes.get(owner, []))


def _principal(ctx: Context) -> AccessToken:
    """The token the gate verified for this very HTTP request."""
    request = ctx.request_context.request
    user = request.scope.get("user") if isinstance(request, Request) else None
    if not isinstance(user, AuthenticatedUser) or not user.access_token.subject:
        raise PermissionError("no authenticated user")  # unreachable behind the gate
    return user.access_token


def _owner(ctx: Context) -> str:
    """Whose notes: the token subject."""
    return _principal(ctx).subject


class Downstream:
    """Calls a tool of the downstream MCP server for the user behind the current request.

    RFC 8693: the caller's token (``aud`` = us) is exchanged at the issuer's token endpoint
    for one whose ``aud`` is the downstream server, ``sub`` the same user, and ``act`` names
    our client; an admin's token exchange policy decides whether and with which scopes.
    """

    def __init__(self, settings: DemoSettings, verifier: LazyVerifier) -> None:
        self.url = settings.downstream_url
        self._settings = settings
        self._verifier = verifier

    async def exchange(self, subject_token: str) -> str:
        endpoint = self._verifier.token_endpoint  # read with the metadata, before any request
        if endpoint is None:
            raise ToolError("the issuer advertises no token endpoint")
        # RFC 6749 §2.3.1: client_secret_basic, each part form-encoded first.
        auth = httpx2.BasicAuth(
            quote(self._settings.exchange_client_id or "", safe=""),
            quote(self._settings.exchange_client_secret or "", safe=""),
        )
        data = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": self.url,
        }
        async with httpx2.AsyncClient(timeout=10) as http:
            response = await http.post(endpoint, data=data, auth=auth)
        body = _json_or_empty(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise ToolError(
                f"token exchange refused: {body.get('error', response.status_code)}: "
                f"{body.get('error_description', '')}"
            )
        return body["access_token"]

    async def call(self, subject_token: str, tool: str, arguments: dict[str, Any]) -> Any:
        token = await self.exchange(subject_token)
        refusals: list[str] = []

        async def note_refusal(response: httpx2.Response) -> None:
            if response.status_code in (401, 403):
                await response.aread()
                reason = _json_or_empty(response).get("error_description", "")
                refusals.append(f"{response.status_code} {reason}".strip())

        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            event_hooks={"response": [note_refusal]},
        )
        try:
            async with http, Client(streamable_http_client(self.url, http_client=http)) as mcp:
                result = await mcp.call_tool(tool, arguments)
        except Exception as exc:
            if refusals:
                raise ToolError(f"downstream refused: {refusals[0]}") from None
            raise ToolError(f"downstream call failed: {exc!r}") from None
        text = " ".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            raise ToolError(f"downstream tool failed: {text}")
        return result.structured_content if result.structured_content is not None else text


def _json_or_empty(response: httpx2.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def build_mcp_server(notes: NoteBook, downstream: Downstream | None = None) -> MCPServer:
    mcp = MCPServer("demo-notes", instructions="Notes, protected by OAuth 2.1 scopes.")

    @mcp.tool(description="List your notes (needs notes:read).")
    def list_notes(ctx: Context) -> list[str]:
        return notes.list(_owner(ctx))

    @mcp.tool(description="Add a note (needs notes:write).")
    def add_note(text: str, ctx: Context) -> str:
        count = notes.add(_owner(ctx), text)
        return f"saved; you have {count} note(s)"

    @mcp.tool(description="Who this server thinks is calling: the token's claims (notes:read).")
    def whoami(ctx: Context) -> dict[str, Any]:
        claims = _principal(ctx).claims or {}
        # act: who acts for sub (RFC 8693 §4.1), nested per hop; cnf: a DPoP key binding.
        names = ("sub", "client_id", "aud", "scope", "act", "cnf")
        return {name: claims.get(name) for name in names}

    if downstream is not None:

        @mcp.tool(
            description=f"Call a tool of {downstream.url} for you, with a token exchanged for it "
            "(needs notes:read here; the downstream tool's scope there)."
        )
        async def call_downstream(
            tool: str, ctx: Context, arguments: dict[str, Any] | None = None
        ) -> dict[str, Any]:
            result = await downstream.call(_principal(ctx).token, tool, arguments or {})
            return {"server": downstream.url, "tool": tool, "result": result}

    return mcp


def create_app(settings: DemoSettings, policy_hook: PolicyHook | None = None) -> ASGIApp:
    """The whole server as one ASGI app (run it with uvicorn). ``policy_hook``: extra rules per
    tool call (e.g. ``mcp_token_verifier.cedar.cedar_policy_hook(policies)``)."""
    verifier = LazyVerifier(settings)
    downstream = Downstream(settings, verifier) if settings.downstream_url else None
    mcp = build_mcp_server(NoteBook(), downstream)
    if settings.upstream_api_url and settings.upstream_audience:
        register_upstream_tool(mcp, settings, verifier, _principal)
    if settings.transfer_approval_threshold is not None:
        register_transfer_tool(mcp, transfers_for(settings, verifier), _principal)
    document = protected_resource_metadata(settings)

    async def metadata(request: Request) -> JSONResponse:
        # Public metadata: browser-based clients (MCP Inspector) read it cross-origin.
        return JSONResponse(
            document,
            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
        )

    well_known = "/.well-known/oauth-protected-resource"
    # RFC 9728 §3.1, the path-inserted form (what our WWW-Authenticate header names) ...
    mcp.custom_route(urlsplit(settings.metadata_url).path, methods=["GET"])(metadata)
    # ... and the root form, which clients following MCP 2025-06-18 try when there is no header.
    if urlsplit(settings.metadata_url).path != well_known:
        mcp.custom_route(well_known, methods=["GET"])(metadata)

    app = mcp.streamable_http_app(
        streamable_http_path=settings.path, transport_security=_transport_security(settings)
    )
    return RequireBearerToken(app, settings, verifier, policy_hook)


def _transport_security(settings: DemoSettings) -> TransportSecuritySettings:
    """DNS-rebinding protection (the SDK's): accept our own host, and loopback names."""
    parts = urlsplit(settings.resource)
    hosts = [parts.netloc]
    origins = [f"{parts.scheme}://{parts.netloc}"]
    if parts.hostname in LOOPBACK_HOSTS:
        hosts += ["127.0.0.1:*", "localhost:*", "[::1]:*"]
        origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )
