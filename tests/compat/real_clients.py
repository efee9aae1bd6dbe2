"""What each real MCP client sends, written from its public documentation, source and public
issue reports (not guesses). A value no public source confirmed is marked UNCONFIRMED and set to
the most conservative choice. ``{url}`` in a metadata document is where the test serves it:
the real ``client_id`` (https://claude.ai/...) cannot be fetched from a test, every other
member is as published.
"""

from __future__ import annotations

from tests.compat.flow import RealClient
from tests.factories import MCP

CLAUDE_AI = RealClient(
    name="claude.ai / Claude Desktop (CIMD)",
    sources="keycloak/keycloak#50362, anthropics/claude-ai-mcp#487 and #96, DOT#1855",
    seen="2026-09-19",
    registration="cimd",
    metadata={
        "client_id": "{url}",
        "client_name": "Claude",
        "client_uri": "https://claude.ai/",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    },
    redirect_uri="https://claude.ai/api/mcp/auth_callback",
    resource=MCP,
    scope=" offline_access",  # captured as scope=+offline_access when no base scope applies
    extra_authorize={"prompt": "consent"},
    # Refresh parameters UNCONFIRMED: resource sent, no scope (what every SDK does).
)

CHATGPT = RealClient(
    name="ChatGPT (CIMD, RP Metadata Choices)",
    sources="django-oauth-toolkit#1845 and #1857, cloudflare/workers-oauth-provider#293",
    seen="2026-09-20",
    registration="cimd",
    metadata={
        "client_id": "{url}",
        "client_uri": "https://chatgpt.com/",
        "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "ChatGPT",
        "logo_uri": "https://persistent.oaistatic.com/sonic/misc/openai-logo.png",
        "token_endpoint_auth_signing_alg": "RS256",
        "jwks_uri": "https://chatgpt.com/oauth/jwks.json",
    },
    redirect_uri="https://chatgpt.com/connector_platform_oauth_redirect",
    resource=MCP,
    scope="tools:read",
)

CHATGPT_PER_CONNECTION = RealClient(
    name="ChatGPT (per-connection CIMD)",
    sources="cloudflare/workers-oauth-provider#293, stacklok/toolhive#6278",
    seen="2026-08-10",
    registration="cimd",
    metadata={
        **CHATGPT.metadata,
        "redirect_uris": ["https://chatgpt.com/connector/oauth/IbUR3zxyNQ16"],
    },
    redirect_uri="https://chatgpt.com/connector/oauth/IbUR3zxyNQ16",
    resource=MCP,
    scope=None,  # on Disconnect -> Connect the request arrives without scope
)

CLAUDE_CODE_DCR = RealClient(
    name="Claude Code (DCR)",
    sources="third-party captures of v2.1.226; anthropics/claude-code#89862 (refresh)",
    seen="2026-08-26",
    registration="dcr",
    metadata={
        "client_name": "Claude Code (notes)",
        "redirect_uris": ["http://localhost:3118/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    },
    redirect_uri="http://localhost:3118/callback",
    resource=MCP,
    scope="tools:read offline_access",  # PRM scopes_supported + offline_access
)

CLAUDE_CODE_CIMD = RealClient(
    name="Claude Code (CIMD, loopback on any port)",
    sources="anthropics/claude-code#36861, #37767, #41011",
    seen="2026-08-05",
    registration="cimd",
    metadata={
        "client_id": "{url}",
        "client_name": "Claude Code",
        "client_uri": "https://claude.ai",
        "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    },
    redirect_uri="http://localhost:58135/callback",  # RFC 8252 §7.3: any port
    resource=MCP,
    scope=None,  # no scope configured, challenged or published: omitted
)

CURSOR = RealClient(
    name="Cursor (DCR, cursor:// private-use redirect)",
    sources="erp-mafia/accounted#2225, different-ai/openwork#3059, bytebase/bytebase#20510",
    seen="2026-09-03",
    registration="dcr",
    metadata={
        "client_name": "Cursor",  # UNCONFIRMED
        "redirect_uris": [
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback",
        ],
        "grant_types": ["authorization_code", "refresh_token"],  # UNCONFIRMED
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    },
    redirect_uri="cursor://anysphere.cursor-mcp/oauth/callback",
    resource=MCP,
    scope="tools:read",
)

VS_CODE = RealClient(
    name="VS Code (DCR, loopback and vscode.dev)",
    sources="microsoft/vscode src/vs/base/common/oauth.ts (fetchDynamicRegistration)",
    seen="2026-09",
    registration="dcr",
    metadata={
        "client_name": "Visual Studio Code",  # caller-supplied product name
        "client_uri": "https://code.visualstudio.com",
        "grant_types": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "response_types": ["code"],
        "redirect_uris": [
            "https://insiders.vscode.dev/redirect",
            "https://vscode.dev/redirect",
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/",
        ],
        "scope": "tools:read",
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    },
    redirect_uri="http://127.0.0.1:33419/",  # 33418 was busy: another port
    resource=MCP,
    scope="tools:read",
)

VS_CODE_WEB = RealClient(
    name="VS Code for the Web (vscode.dev redirect)",
    sources=VS_CODE.sources,
    seen=VS_CODE.seen,
    registration="dcr",
    metadata=VS_CODE.metadata,
    redirect_uri="https://vscode.dev/redirect",
    resource=MCP,
    scope="tools:read",
)

CODEX = RealClient(
    name="Codex CLI before 0.171 (DCR, no resource)",
    sources="openai/codex codex-rs/rmcp-client/src/perform_oauth_login.rs; rmcp auth.rs",
    seen="2026-09",
    registration="dcr",
    metadata={
        "client_name": "Codex",
        "redirect_uris": ["http://127.0.0.1:54397/callback/zHu_pcZxCCTJ"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "response_types": ["code"],
    },
    redirect_uri="http://127.0.0.1:54397/callback/zHu_pcZxCCTJ",
    resource=None,  # that rmcp version sends none: DEFAULT_RESOURCE decides
    scope="tools:read",
)

MCP_INSPECTOR = RealClient(
    name="MCP Inspector (browser, CORS)",
    sources="modelcontextprotocol/inspector client/src/lib/auth.ts; inspector#752, #758",
    seen="2026-09",
    registration="dcr",
    metadata={
        "redirect_uris": [
            "http://localhost:6274/oauth/callback",
            "http://localhost:6274/oauth/callback/debug",
        ],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "MCP Inspector",
        "client_uri": "https://github.com/modelcontextprotocol/inspector",
        "scope": "",
    },
    redirect_uri="http://localhost:6274/oauth/callback",
    resource=MCP,
    scope="tools:read",
    origin="http://localhost:6274",
)

MCP_PYTHON_SDK = RealClient(
    name="MCP Python SDK",
    sources="mcp 2.x mcp/client/auth/oauth2.py, mcp/shared/auth.py",
    seen="2026-11",
    registration="dcr",
    metadata={
        "application_type": "native",
        "client_name": "MCP Python SDK client",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": ["http://127.0.0.1:34439/callback"],
        "response_types": ["code"],
        "scope": "tools:read offline_access",
        "token_endpoint_auth_method": "none",
    },
    redirect_uri="http://127.0.0.1:34439/callback",
    resource=MCP,
    scope="tools:read offline_access",
)

MCP_TYPESCRIPT_SDK = RealClient(
    name="MCP TypeScript SDK (no grant_types, Basic)",
    sources="typescript-sdk src/client/auth.ts (registerClient, selectClientAuthMethod)",
    seen="2026-11 (1.32.2)",
    registration="dcr",
    metadata={
        "client_name": "TypeScript SDK client",
        "redirect_uris": ["http://localhost:8090/callback"],
        "response_types": ["code"],
    },
    redirect_uri="http://localhost:8090/callback",
    resource=MCP,
    scope="tools:read",
)

# December 2026: each CLI run unmodified against this server with a scripted browser; the
# registration bodies are as they were sent.
RECORDED = "recorded unmodified against this server with a scripted browser (docs/compatibility.md)"

CODEX_0171 = RealClient(
    name="Codex CLI 0.171 (DCR, resource, scope, application_type)",
    sources=RECORDED + "; openai/codex codex-rs/rmcp-client",
    seen="2026-12",
    registration="dcr",
    metadata={
        "client_name": "Codex",
        "redirect_uris": ["http://127.0.0.1:40861/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "response_types": ["code"],
        "scope": "notes:read offline_access",
        "application_type": "native",
    },
    redirect_uri="http://127.0.0.1:40861/callback",
    resource=MCP,
    scope="tools:read offline_access",
)

OPENCODE = RealClient(
    name="opencode 1.18 (DCR)",
    sources=RECORDED + "; anomalyco/opencode packages/opencode/src/mcp/oauth-provider.ts",
    seen="2026-12",
    registration="dcr",
    metadata={
        "redirect_uris": ["http://127.0.0.1:19876/mcp/oauth/callback"],
        "client_name": "OpenCode",
        "client_uri": "https://opencode.ai",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "notes:read offline_access",
    },
    redirect_uri="http://127.0.0.1:19876/mcp/oauth/callback",
    resource=MCP,
    scope="tools:read offline_access",
)

GEMINI_CLI = RealClient(
    name="Gemini CLI 0.61 (DCR, exact resource)",
    sources=RECORDED + "; google-gemini/gemini-cli#14419",
    seen="2026-12",
    registration="dcr",
    metadata={
        "client_name": "Gemini CLI MCP Client",
        "redirect_uris": ["http://localhost:9510/oauth/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "notes:read notes:write offline_access",
    },
    redirect_uri="http://localhost:9510/oauth/callback",
    resource=MCP,
    scope="tools:read offline_access",
)

COPILOT_CLI = RealClient(
    name="Copilot CLI 1.0.102 (DCR, no scope at registration)",
    sources=RECORDED + "; github/copilot-cli#4793, #4901",
    seen="2026-12",
    registration="dcr",
    metadata={
        "client_name": "GitHub Copilot CLI",
        "redirect_uris": ["http://127.0.0.1:35503/"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    },
    redirect_uri="http://127.0.0.1:41207/",  # a random port when 35503 is busy
    resource=MCP,
    scope="tools:read",  # asked for at /authorize, not at registration
)

MCP_INSPECTOR_212 = RealClient(
    name="MCP Inspector 2.12 (CLI, DCR)",
    sources=RECORDED + "; modelcontextprotocol/inspector",
    seen="2026-12",
    registration="dcr",
    metadata={
        "redirect_uris": ["http://127.0.0.1:9513/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "MCP Inspector",
        "client_uri": "https://github.com/modelcontextprotocol/inspector",
        "scope": "notes:read notes:write offline_access",
        "application_type": "native",
    },
    redirect_uri="http://127.0.0.1:9513/oauth/callback",
    resource=MCP,
    scope="tools:read offline_access",
)

CURSOR_WEB = RealClient(
    name="Cursor declaring application_type web (DCR)",
    sources="better-auth/better-auth#10956, elie222/inbox-zero#3780, "
    "soflyy/agent-connector-for-wp#111",
    seen="2026-10",
    registration="dcr",
    metadata={**CURSOR.metadata, "application_type": "web"},
    redirect_uri="cursor://anysphere.cursor-mcp/oauth/callback",
    resource=MCP,
    scope="tools:read",
)

GOOSE = RealClient(
    name="Goose (CIMD, loopback on any port)",
    sources="aaif-goose/goose documentation/static/oauth/client-metadata.json (PR 8550), "
    "goose#9670, #8918",
    seen="2026-06",
    registration="cimd",
    metadata={
        "client_id": "{url}",
        "client_name": "Goose",
        "redirect_uris": ["http://localhost/oauth_callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile email",
        "code_challenge_methods_supported": ["S256"],
    },
    redirect_uri="http://localhost:51873/oauth_callback",  # RFC 8252 §7.3: any port
    resource=MCP,
    scope="tools:read",  # UNCONFIRMED: the PRM scopes, as rmcp asks
)

REAL_CLIENTS = [
    CLAUDE_AI,
    CHATGPT,
    CHATGPT_PER_CONNECTION,
    CLAUDE_CODE_DCR,
    CLAUDE_CODE_CIMD,
    CURSOR,
    VS_CODE,
    VS_CODE_WEB,
    CODEX,
    MCP_INSPECTOR,
    MCP_PYTHON_SDK,
    MCP_TYPESCRIPT_SDK,
    CODEX_0171,
    OPENCODE,
    GEMINI_CLI,
    COPILOT_CLI,
    MCP_INSPECTOR_212,
    CURSOR_WEB,
    GOOSE,
]
