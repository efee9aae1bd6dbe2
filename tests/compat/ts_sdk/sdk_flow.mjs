// The official MCP TypeScript SDK's own OAuth client against our server, step by step.
// Usage: node sdk_flow.mjs <mcp server url> <redirect url>
// Protocol with the Python test (tests/compat/test_typescript_sdk.py), one JSON object per line:
//   -> {"event": "authorize", "url": ...}    the SDK's redirectToAuthorization
//   <- {"code": ...}                          the code the user's browser brought back
//   -> {"event": "done", ...}                 what the SDK registered, received and refreshed
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";

const [serverUrl, redirectUrl] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");

const store = { verifier: undefined, client: undefined, tokens: undefined, registered: undefined };
const provider = {
  get redirectUrl() { return redirectUrl; },
  // As TypeScript SDK apps commonly register: no grant_types, no token_endpoint_auth_method,
  // so RFC 7591 §2's defaults apply (authorization_code; client_secret_basic).
  get clientMetadata() {
    return { client_name: "TypeScript SDK client", redirect_uris: [redirectUrl], response_types: ["code"] };
  },
  clientInformation() { return store.client; },
  saveClientInformation(info) { store.client = info; store.registered ??= info; },
  tokens() { return store.tokens; },
  saveTokens(tokens) { store.tokens = tokens; },
  redirectToAuthorization(url) { say({ event: "authorize", url: url.toString() }); },
  saveCodeVerifier(verifier) { store.verifier = verifier; },
  codeVerifier() { return store.verifier; },
};

const first = await auth(provider, { serverUrl });
if (first !== "REDIRECT") throw new Error(`expected a redirect, got ${first}`);
const { code } = JSON.parse((await lines.next()).value);
if ((await auth(provider, { serverUrl, authorizationCode: code })) !== "AUTHORIZED") {
  throw new Error("code exchange did not authorize");
}
const issued = store.tokens;

const client = new Client({ name: "ts-sdk-compat", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
const whoami = await client.callTool({ name: "whoami", arguments: {} });
await client.close();

// The SDK refreshes when it holds a refresh token (authInternal: tokens.refresh_token).
const refreshed = (await auth(provider, { serverUrl })) === "AUTHORIZED" ? store.tokens : undefined;
say({ event: "done", registered: store.registered, issued, refreshed, whoami });
process.exit(0);
