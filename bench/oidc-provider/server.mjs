// Reference for `make bench`: node-oidc-provider issuing RFC 9068 at+jwt access tokens,
// ES256, with client credentials and one resource indicator (RFC 8707), in memory.
//
// Env: PORT (required), WORKERS (default 2, like gunicorn's), CLIENT_ID, CLIENT_SECRET,
// RESOURCE (the audience, e.g. https://mcp.bench.example/mcp).
// The primary process generates one P-256 key and hands it to the workers, so every
// worker signs with, and publishes, the same JWKS.
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import process from 'node:process';

const port = Number(process.env.PORT);
const workers = Number(process.env.WORKERS || 2);
const clientId = process.env.CLIENT_ID || 'bench-machine';
const clientSecret = process.env.CLIENT_SECRET || 'bench-machine-secret-0123456789abcdef';
const resource = process.env.RESOURCE || 'https://mcp.bench.example/mcp';

if (cluster.isPrimary) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };
  for (let i = 0; i < workers; i += 1) {
    cluster.fork({ BENCH_JWK: JSON.stringify(jwk) });
  }
  const stop = () => {
    for (const worker of Object.values(cluster.workers)) worker.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  cluster.on('exit', (worker, code, signal) => {
    if (signal !== 'SIGTERM') {
      console.error(`worker ${worker.process.pid} died (${signal || code})`);
      process.exit(1);
    }
  });
} else {
  const { default: Provider } = await import('oidc-provider');
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
        scope: 'tools:read tools:write',
      },
    ],
    jwks: { keys: [JSON.parse(process.env.BENCH_JWK)] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== resource) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'tools:read tools:write',
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    scopes: ['tools:read', 'tools:write'],
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  provider.listen(port, '127.0.0.1');
}
