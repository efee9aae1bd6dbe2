// Test-only upstream for issue 24 (Connections): a real OAuth 2.0 provider
// (node-oidc-provider) that issues opaque access tokens for one API and ROTATES refresh
// tokens on every use, plus a tiny API that checks those tokens, in one process.
//
// Env: PORT (provider), API_PORT (the API), CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS
// (comma-separated), ACCESS_TTL (seconds, default 600).
// The API: GET /whoami with "Authorization: Bearer <token>" -> 200 {sub, scope} or 401.
// Test controls (loopback only): POST /control/token-down and /control/token-up make the
// provider's token endpoint answer 503 or work again; GET /control/stats counts grants.
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const apiPort = Number(process.env.API_PORT);
const issuer = `http://127.0.0.1:${port}`;
const api = `http://127.0.0.1:${apiPort}`;
const accessTTL = Number(process.env.ACCESS_TTL || 600);
const state = { tokenDown: false, refreshes: 0, codes: 0, revocations: 0 };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: process.env.REDIRECT_URIS.split(','),
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  cookies: { keys: ['test-only-upstream-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => api,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api:read api:write',
        audience: api,
        accessTokenTTL: accessTTL,
        accessTokenFormat: 'opaque',
      }),
    },
  },
  scopes: ['openid', 'api:read', 'api:write'],
  pkce: { required: () => true },
  // Every refresh token use rotates it (the old one stops working).
  rotateRefreshToken: () => true,
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: { RefreshToken: 24 * 3600, AccessToken: accessTTL, Grant: 24 * 3600 },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
});
provider.proxy = false;
provider.use(async (ctx, next) => {
  if (state.tokenDown && ctx.path === '/token') {
    ctx.status = 503;
    ctx.body = { error: 'temporarily_unavailable' };
    return;
  }
  await next();
  if (ctx.path === '/token/revocation' && ctx.status === 200) state.revocations += 1;
});
provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params.grant_type;
  if (type === 'refresh_token') state.refreshes += 1;
  if (type === 'authorization_code') state.codes += 1;
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1');

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

http
  .createServer(async (req, res) => {
    if (req.url.startsWith('/control/')) {
      if (req.url === '/control/token-down') state.tokenDown = true;
      if (req.url === '/control/token-up') state.tokenDown = false;
      send(res, 200, state);
      return;
    }
    if (req.url !== '/whoami') {
      send(res, 404, { error: 'not_found' });
      return;
    }
    const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(req.headers.authorization || '');
    const token = match && (await provider.AccessToken.find(match[1]));
    if (!token || token.isExpired || token.aud !== api) {
      res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
      send(res, 401, { error: 'invalid_token' });
      return;
    }
    send(res, 200, { sub: token.accountId, scope: token.scope });
  })
  .listen(apiPort, '127.0.0.1', () => console.log('ready'));
