// A tiny relying party built on the npm package openid-client (v6), for
// sessiond's OpenID Provider interoperability test
// (internal/server/op_openidclient_e2e_test.go). Plain node:http, sessions
// in memory, one app per process.
//
// Environment:
//   RP_ISSUER         sessiond's issuer URL (http on loopback is allowed)
//   RP_CLIENT_ID      the client registered at sessiond
//   RP_CLIENT_SECRET  its secret (client_secret_basic)
//   RP_BASE_URL       this app's own origin, e.g. http://localhost:4001
//   RP_PORT           the port to listen on (127.0.0.1)
//
// Routes:
//   GET  /login        redirect to sessiond's authorization endpoint
//                      (code + PKCE S256, state, nonce kept app-side)
//   GET  /callback     code exchange; the ID token is validated by
//                      openid-client; starts the app session
//   GET  /me           200 {sub, email, sid, id_token} from userinfo; 401 without an
//                      app session; 502 when userinfo fails
//   POST /refresh      refresh_token grant; 200 {rotated, ...}
//   POST /introspect   ?which=access|refresh; 200 with the RFC 7662 answer
//   POST /revoke       ?which=access|refresh; revokes, then introspects
//   GET  /logout       RP-initiated logout at sessiond (id_token_hint,
//                      post_logout_redirect_uri); the app session is ended
//                      by the back-channel logout, not here
//   GET  /logged-out   where sessiond sends the browser after logout
//   POST /backchannel  OpenID Back-Channel Logout 1.0 receiver
//
// Prints "READY <port>" when listening; logs one line per event.

import http from 'node:http';
import crypto from 'node:crypto';
import * as client from 'openid-client';
import { jwtVerify, createRemoteJWKSet } from 'jose';

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`missing ${k}`);
    process.exit(2);
  }
  return v;
};
const issuer = new URL(env('RP_ISSUER'));
const clientId = env('RP_CLIENT_ID');
const clientSecret = env('RP_CLIENT_SECRET');
const base = env('RP_BASE_URL').replace(/\/$/, '');
const port = Number(env('RP_PORT'));
const redirectUri = `${base}/callback`;
const postLogoutUri = `${base}/logged-out`;
const scope = 'openid email profile';
const BCL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

// Cookie names carry the port: cookies are not isolated by port, and this
// app may share a host name with sessiond or another app.
const txCookie = `rp${port}_tx`;
const sessCookie = `rp${port}_sess`;

const config = await client.discovery(issuer, clientId, clientSecret, client.ClientSecretBasic(clientSecret), {
  execute: [client.allowInsecureRequests],
});
const as = config.serverMetadata();
const jwks = createRemoteJWKSet(new URL(as.jwks_uri));

const pending = new Map(); // tx cookie -> {state, nonce, verifier}
const sessions = new Map(); // session cookie -> {sub, sid, tokens, idToken}
const seenJTI = new Set();

const log = (...a) => console.log(`[rp ${clientId}]`, ...a);

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function redirect(res, to, headers = {}) {
  res.writeHead(302, { Location: to, 'Cache-Control': 'no-store', ...headers });
  res.end();
}

async function readForm(req) {
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > 64 * 1024) throw new Error('body too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const random = () => crypto.randomBytes(32).toString('base64url');

function session(req) {
  const id = cookies(req)[sessCookie];
  return id ? sessions.get(id) : undefined;
}

function pick(sess, which) {
  return which === 'refresh' ? sess.tokens.refresh_token : sess.tokens.access_token;
}

// validateLogoutToken checks a logout token as OpenID Back-Channel Logout
// 1.0 §2.6 asks; it throws on any failure.
async function validateLogoutToken(raw) {
  const { payload } = await jwtVerify(raw, jwks, {
    issuer: as.issuer,
    audience: clientId,
    typ: 'logout+jwt',
    algorithms: as.id_token_signing_alg_values_supported,
    maxTokenAge: '5m',
    requiredClaims: ['iat', 'jti'],
  });
  const ev = payload.events?.[BCL_EVENT];
  if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) throw new Error('no back-channel logout event');
  if ('nonce' in payload) throw new Error('logout token carries a nonce');
  if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
  if (seenJTI.has(payload.jti)) throw new Error('replayed jti');
  seenJTI.add(payload.jti);
  return payload;
}

const routes = {
  'GET /login': async (req, res) => {
    const tx = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
    const id = random();
    pending.set(id, tx);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      state: tx.state,
      nonce: tx.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(tx.verifier),
      code_challenge_method: 'S256',
    });
    redirect(res, url.href, { 'Set-Cookie': `${txCookie}=${id}; Path=/; HttpOnly; SameSite=Lax` });
  },

  'GET /callback': async (req, res) => {
    const txID = cookies(req)[txCookie];
    const tx = txID && pending.get(txID);
    if (!tx) return send(res, 400, { error: 'no pending sign-in' });
    pending.delete(txID);
    const tokens = await client.authorizationCodeGrant(config, new URL(req.url, base), {
      pkceCodeVerifier: tx.verifier,
      expectedState: tx.state,
      expectedNonce: tx.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    const id = random();
    sessions.set(id, { sub: claims.sub, sid: claims.sid, tokens: { ...tokens }, idToken: tokens.id_token });
    log(`signed in sub=${claims.sub} sid=${claims.sid}`);
    redirect(res, '/me', {
      'Set-Cookie': [
        `${sessCookie}=${id}; Path=/; HttpOnly; SameSite=Lax`,
        `${txCookie}=; Path=/; Max-Age=0`,
      ],
    });
  },

  'GET /me': async (req, res) => {
    const s = session(req);
    if (!s) return send(res, 401, { error: 'not signed in' });
    try {
      const ui = await client.fetchUserInfo(config, s.tokens.access_token, s.sub);
      send(res, 200, { sub: ui.sub, email: ui.email, sid: s.sid, id_token: s.idToken });
    } catch (err) {
      send(res, 502, { error: 'userinfo failed', message: String(err?.message ?? err) });
    }
  },

  'POST /refresh': async (req, res) => {
    const s = session(req);
    if (!s) return send(res, 401, { error: 'not signed in' });
    const old = s.tokens;
    const next = await client.refreshTokenGrant(config, old.refresh_token);
    s.tokens = { ...old, ...next };
    send(res, 200, {
      access_rotated: !!next.access_token && next.access_token !== old.access_token,
      refresh_rotated: !!next.refresh_token && next.refresh_token !== old.refresh_token,
      token_type: next.token_type,
      expires_in: next.expires_in,
      id_token: !!next.id_token,
    });
  },

  'POST /introspect': async (req, res) => {
    const s = session(req);
    if (!s) return send(res, 401, { error: 'not signed in' });
    const which = new URL(req.url, base).searchParams.get('which') ?? 'access';
    send(res, 200, await client.tokenIntrospection(config, pick(s, which)));
  },

  'POST /revoke': async (req, res) => {
    const s = session(req);
    if (!s) return send(res, 401, { error: 'not signed in' });
    const which = new URL(req.url, base).searchParams.get('which') ?? 'access';
    const tok = pick(s, which);
    await client.tokenRevocation(config, tok, { token_type_hint: which === 'refresh' ? 'refresh_token' : 'access_token' });
    send(res, 200, { revoked: which, introspection: await client.tokenIntrospection(config, tok) });
  },

  'GET /logout': async (req, res) => {
    const s = session(req);
    if (!s) return send(res, 401, { error: 'not signed in' });
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: s.idToken,
      post_logout_redirect_uri: postLogoutUri,
      state: 'bye',
    });
    redirect(res, url.href);
  },

  'GET /logged-out': async (req, res) => {
    send(res, 200, { logged_out: true, state: new URL(req.url, base).searchParams.get('state') });
  },

  'POST /backchannel': async (req, res) => {
    let claims;
    try {
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) throw new Error('not a form');
      const raw = (await readForm(req)).get('logout_token');
      if (!raw) throw new Error('no logout_token');
      claims = await validateLogoutToken(raw);
    } catch (err) {
      log(`backchannel refused: ${err?.code ?? ''} ${err?.message ?? err}`);
      return send(res, 400, { error: 'invalid_request' });
    }
    let ended = 0;
    for (const [id, s] of sessions) {
      const match = claims.sid ? s.sid === claims.sid && (!claims.sub || s.sub === claims.sub) : s.sub === claims.sub;
      if (match) {
        sessions.delete(id);
        ended++;
      }
    }
    log(`backchannel ok sub=${claims.sub} sid=${claims.sid} ended=${ended}`);
    send(res, 200, {});
  },
};

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, base).pathname;
  const h = routes[`${req.method} ${path}`];
  if (!h) return send(res, 404, { error: 'not found' });
  try {
    await h(req, res);
  } catch (err) {
    log(`${req.method} ${path} failed: ${err?.code ?? ''} ${err?.message ?? err} ${err?.cause ? JSON.stringify(err.cause) : ''}`);
    if (!res.headersSent) send(res, 500, { error: 'rp error', code: err?.code, message: String(err?.message ?? err) });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`READY ${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
