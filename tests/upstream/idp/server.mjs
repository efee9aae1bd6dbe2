// Test-only upstream OpenID Connect provider (node-oidc-provider) for tests/upstream.
//
// Env: PORT (required), CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (our callback),
// BACKCHANNEL_LOGOUT_URI (OIDC Back-Channel Logout 1.0), ACCOUNTS (a JSON
// object: login -> {email, email_verified, name, groups}). The dev interactions take any
// password for a login listed in ACCOUNTS; unknown logins are refused. Prints "ready" once
// listening. In memory: every start is a fresh provider.
import process from 'node:process';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [process.env.REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_post',
      backchannel_logout_uri: process.env.BACKCHANNEL_LOGOUT_URI,
      backchannel_logout_session_required: true,
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
  cookies: { keys: ['test-only-upstream-cookie-key'] },
  // Test-only: the back-channel logout goes to our server on loopback, which the provider's
  // SSRF guard (a dispatcher refusing special-use addresses) would block.
  fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined }),
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('backchannel.error', (ctx, err) => console.error('backchannel.error', err.message));
provider.on('backchannel.success', () => console.log('backchannel.success'));
provider.listen(port, '127.0.0.1', () => console.log('ready'));
