// A real OpenID Provider (the npm package oidc-provider) for sessiond's
// relying-party tests (internal/server/oidc_provider_e2e_test.go). The Go
// test starts it with `node provider.mjs` and these environment variables:
//
//   OP_PORT            loopback port to listen on
//   OP_ISSUER          issuer (the Go test may put a proxy in front: it is
//                      the URL browsers and sessiond reach)
//   OP_CLIENT_ID       the one registered client
//   OP_CLIENT_SECRET
//   OP_REDIRECT_URIS   its redirect URIs, space-separated
//   OP_BACKCHANNEL_URI its back-channel logout URI (optional)
//   OP_JWKS            the private signing keys, a JWKS (JSON)
//   OP_SUBJECT, OP_EMAIL  the one test user, signed in without a form
//
// Interactions (login and consent) need no form: GET /interaction/{uid}
// logs the fixed user in, then grants the requested scopes and claims. It
// prints "oidc-provider ready <issuer>" on stdout once it listens.
import http from 'node:http';
import Provider from 'oidc-provider';

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined || v === '') {
    console.error(`provider.mjs: ${name} is required`);
    process.exit(2);
  }
  return v;
};

const port = Number(env('OP_PORT'));
const issuer = env('OP_ISSUER');
const subject = env('OP_SUBJECT', 'op-user-1');
const email = env('OP_EMAIL', 'ada@example.com');
const backchannel = process.env.OP_BACKCHANNEL_URI || '';

const client = {
  client_id: env('OP_CLIENT_ID'),
  client_secret: env('OP_CLIENT_SECRET'),
  redirect_uris: env('OP_REDIRECT_URIS').split(/\s+/).filter(Boolean),
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};
if (backchannel) {
  client.backchannel_logout_uri = backchannel;
  client.backchannel_logout_session_required = true;
}

// logoutSource is the RP-initiated logout page: just the confirmation form
// (the Go test reads its xsrf field and posts logout=yes).
async function logoutSource(ctx, form) {
  ctx.body = `<!DOCTYPE html><title>Sign out</title>${form}
<button form="op.logoutForm" name="logout" value="yes">Sign out</button>`;
}

const provider = new Provider(issuer, {
  clients: [client],
  jwks: JSON.parse(env('OP_JWKS')),
  cookies: { keys: ['sessiond-e2e-cookie-key-0123456789abcdef'] },
  // oidc-provider's defaults otherwise (conformIdTokenClaims on): the
  // email and profile claims come from UserInfo, not the ID token (OpenID
  // Connect Core §5.4), as sessiond's relying party must handle. claims
  // only says which claims each scope grants (the default grants none).
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource },
  },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600,
  },
  // sessiond listens on loopback here: drop the SSRF guard that keeps
  // oidc-provider's outgoing requests (back-channel logout) off special-use
  // addresses. Test setup only.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (id !== subject) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email, email_verified: true, name: 'Ada' };
      },
    };
  },
  // Quiet: the Go test shows stderr only when something fails.
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('backchannel.error', (ctx, err) => console.error('backchannel.error', err.message, err.cause?.message ?? ''));
provider.on('backchannel.success', () => console.log('backchannel.success'));

// interaction signs the fixed user in (prompt login), then grants what the
// client asked for (prompt consent).
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: subject } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.statusCode = 400;
  res.end(`unexpected prompt ${prompt.name}`);
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error('interaction', err);
      if (!res.headersSent) res.statusCode = 500;
      res.end('interaction failed');
    });
    return;
  }
  handler(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
