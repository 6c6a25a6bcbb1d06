// Browser tests for sessiond's login and account pages, in a real headless
// Chromium driven by playwright-core. cmd/sessiond's TestBrowser_E2E starts
// the real sessiond binary (plain HTTP, and HTTPS with a self-signed
// certificate), creates the users, and runs this file with:
//
//   SESSIOND_URL          http base URL, e.g. http://127.0.0.1:41234
//   SESSIOND_TLS_URL      https base URL (optional: the TLS cookie test)
//   SESSIOND_PASSWORD     the password of every user <scenario>@example.com
//   SESSIOND_SCREENSHOTS  directory for the screenshots (optional)
//   CHROMIUM              the browser (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.SESSIOND_URL;
const TLS_BASE = process.env.SESSIOND_TLS_URL;
const PASSWORD = process.env.SESSIOND_PASSWORD;
const SHOTS = process.env.SESSIOND_SCREENSHOTS;
const skip = !BASE || !PASSWORD ? 'SESSIOND_URL and SESSIOND_PASSWORD are not set: run through `go test ./cmd/sessiond -run Browser`' : false;

const UA = {
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
};

let browser;

before(async () => {
  if (skip) return;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

const email = (name) => `${name}@example.com`;

function context(opts = {}) {
  return browser.newContext({ colorScheme: 'light', viewport: { width: 1280, height: 800 }, ...opts });
}

// signIn fills the login form like a person: label by label, then the button.
async function signIn(page, who, { base = BASE, password = PASSWORD } = {}) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(who);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/account`);
}

async function deviceRows(page) {
  return page.locator('table.devices tbody tr.device');
}

async function onLoginPage(page) {
  await page.goto(`${BASE}/account`);
  return new URL(page.url()).pathname === '/login';
}

test('log in through the form, with the keyboard', { skip }, async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto(`${BASE}/login`);
  assert.equal(await page.title(), 'Sign in · sessiond');

  // A wrong password, then an unknown account: the same words.
  await page.getByLabel('Email').fill(email('login'));
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  assert.equal((await alert.textContent()).trim(), 'The email or password is incorrect.');
  await page.getByLabel('Email').fill('nobody@example.com');
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.equal((await page.getByRole('alert').textContent()).trim(), 'The email or password is incorrect.');

  // Keyboard only: the form has focus where it should and Enter submits.
  await page.goto(`${BASE}/login?return_to=%2Faccount`);
  // Chromium applies autofocus at a rendering update after load: wait for it
  // (fails after the timeout if the field is never focused).
  await page.waitForFunction(() => document.activeElement?.id === 'email', null, { timeout: 10000 });
  await page.keyboard.type(email('login'));
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${BASE}/account`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your account');
  assert.equal((await page.locator('dd.email').textContent()).trim(), email('login'));
  await ctx.close();
});

test('the account page lists both devices of two signed-in browsers', { skip }, async () => {
  const a = await context({ userAgent: UA.mac });
  const b = await context({ userAgent: UA.iphone });
  const pa = await a.newPage();
  const pb = await b.newPage();
  await signIn(pa, email('devices'));
  await signIn(pb, email('devices'));
  await pa.reload();
  const rows = await deviceRows(pa);
  assert.equal(await rows.count(), 2);
  const text = await pa.locator('table.devices').textContent();
  assert.match(text, /Chrome 126 on macOS/);
  assert.match(text, /Safari 17 on iOS/);
  assert.match(text, /127\.0\.0\.1/);
  assert.match(text, /just now/);
  const current = pa.locator('tr.device.current');
  assert.equal(await current.count(), 1);
  assert.match(await current.textContent(), /Chrome 126 on macOS[\s\S]*This device/);
  await a.close();
  await b.close();
});

test('"Sign out" on one device signs the other browser out', { skip }, async () => {
  const a = await context();
  const b = await context();
  const pa = await a.newPage();
  const pb = await b.newPage();
  await signIn(pa, email('signout'));
  await signIn(pb, email('signout'));
  await pa.reload();
  const other = pa.locator('tr.device:not(.current)');
  assert.equal(await other.count(), 1);
  await other.getByRole('button', { name: /^Sign out/ }).click();
  await pa.waitForURL(`${BASE}/account?done=device`);
  assert.equal((await pa.getByRole('status').textContent()).trim(), 'Signed out of 1 device.');
  assert.equal(await (await deviceRows(pa)).count(), 1);
  // The other browser's next page load lands on the login page.
  assert.ok(await onLoginPage(pb), `b is at ${pb.url()}`);
  assert.ok(!(await onLoginPage(pa)), 'a was signed out too');
  await a.close();
  await b.close();
});

test('"Sign out everywhere" signs every browser out', { skip }, async () => {
  const a = await context();
  const b = await context();
  const pa = await a.newPage();
  const pb = await b.newPage();
  await signIn(pa, email('everywhere'));
  await signIn(pb, email('everywhere'));
  await pa.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
  await pa.waitForURL(`${BASE}/login?done=signed-out-everywhere`);
  assert.equal((await pa.getByRole('status').textContent()).trim(), 'You have signed out everywhere.');
  assert.ok(await onLoginPage(pa));
  assert.ok(await onLoginPage(pb));
  assert.equal((await a.cookies()).filter((c) => c.name.endsWith('sessiond')).length, 0, 'the cookie was not cleared');
  await a.close();
  await b.close();
});

test('changing the password signs the other browsers out and keeps this one', { skip }, async () => {
  const a = await context();
  const b = await context();
  const pa = await a.newPage();
  const pb = await b.newPage();
  const who = email('password');
  await signIn(pa, who);
  await signIn(pb, who);
  const before = (await a.cookies()).find((c) => c.name === 'sessiond').value;

  // The policy's feedback first.
  await pa.getByLabel('Current password').fill(PASSWORD);
  await pa.getByLabel('New password').fill('short');
  await pa.getByRole('button', { name: 'Change password' }).click();
  assert.match(await pa.getByRole('alert').textContent(), /at least 8 characters/);
  assert.equal(await pa.getByLabel('New password').getAttribute('aria-invalid'), 'true');

  const next = 'a brand new passphrase';
  await pa.getByLabel('Current password').fill(PASSWORD);
  await pa.getByLabel('New password').fill(next);
  await pa.getByRole('button', { name: 'Change password' }).click();
  await pa.waitForURL(`${BASE}/account?done=password`);
  assert.equal((await pa.getByRole('status').textContent()).trim(), 'Password changed; other devices were signed out.');
  const after = (await a.cookies()).find((c) => c.name === 'sessiond').value;
  assert.notEqual(after, before, 'the session kept its ID');
  assert.ok(await onLoginPage(pb), 'the other browser is still signed in');
  assert.ok(!(await onLoginPage(pa)), 'this browser was signed out');

  // The new password works, the old one does not.
  const c = await context();
  const pc = await c.newPage();
  await pc.goto(`${BASE}/login`);
  await pc.getByLabel('Email').fill(who);
  await pc.getByLabel('Password').fill(PASSWORD);
  await pc.getByRole('button', { name: 'Sign in' }).click();
  assert.equal((await pc.getByRole('alert').textContent()).trim(), 'The email or password is incorrect.');
  await signIn(pc, who, { password: next });
  for (const x of [a, b, c]) await x.close();
});

test('the session cookie is HttpOnly and SameSite=Lax (plain HTTP)', { skip }, async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await signIn(page, email('cookie'));
  const ck = (await ctx.cookies()).find((c) => c.name === 'sessiond');
  assert.ok(ck, 'no sessiond cookie');
  assert.equal(ck.httpOnly, true);
  assert.equal(ck.sameSite, 'Lax');
  assert.equal(ck.path, '/');
  assert.equal(ck.secure, false);
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('sessiond='), 'script can read the cookie');
  await ctx.close();
});

test('over TLS the session cookie is __Host-, Secure, HttpOnly, SameSite=Lax', { skip: skip || (!TLS_BASE && 'SESSIOND_TLS_URL is not set') }, async () => {
  const ctx = await context({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await signIn(page, email('tls'), { base: TLS_BASE });
  const cookies = await ctx.cookies();
  const ck = cookies.find((c) => c.name === '__Host-sessiond');
  assert.ok(ck, `no __Host-sessiond cookie in ${cookies.map((c) => c.name)}`);
  assert.equal(ck.secure, true);
  assert.equal(ck.httpOnly, true);
  assert.equal(ck.sameSite, 'Lax');
  assert.equal(ck.path, '/');
  assert.ok(!cookies.some((c) => c.name === 'sessiond'), 'an unprefixed cookie over TLS');
  const login = cookies.find((c) => c.name === '__Host-sessiond-login');
  assert.ok(!login || (login.secure && login.httpOnly), 'the login form cookie is not Secure and HttpOnly');
  await ctx.close();
});

test('the CSP blocks an injected inline script and inline styles', { skip }, async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  const messages = [];
  page.on('console', (m) => messages.push(m.text()));
  const res = await page.goto(`${BASE}/login`);
  assert.match(res.headers()['content-security-policy'], /default-src 'none'/);
  const out = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener('securitypolicyviolation', (e) => violations.push(e.effectiveDirective));
    const s = document.createElement('script');
    s.textContent = 'window.__pwned = true;';
    document.body.appendChild(s);
    const st = document.createElement('style');
    st.textContent = 'body { background: rgb(255, 0, 0) !important; }';
    document.head.appendChild(st);
    const h = document.querySelector('h1');
    h.setAttribute('style', 'color: rgb(255, 0, 0) !important');
    await new Promise((r) => setTimeout(r, 200));
    return {
      pwned: window.__pwned === true,
      violations,
      background: getComputedStyle(document.body).backgroundColor,
      heading: getComputedStyle(h).color,
    };
  });
  assert.equal(out.pwned, false, 'the injected inline script ran');
  assert.ok(out.violations.some((d) => d.startsWith('script-src')), `violations: ${out.violations}`);
  assert.ok(out.violations.some((d) => d.startsWith('style-src')), `violations: ${out.violations}`);
  assert.notEqual(out.background, 'rgb(255, 0, 0)', 'an injected <style> applied');
  assert.notEqual(out.heading, 'rgb(255, 0, 0)', 'an injected style attribute applied');
  assert.ok(messages.some((t) => /Content Security Policy/i.test(t) && /script/i.test(t)), `console: ${messages.join(' | ')}`);
  // The page's own stylesheet did load.
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('.btn.primary')).borderRadius), '8px');
  await ctx.close();
});

// attacker serves pages from another origin that post a form to sessiond as
// soon as they load.
function attacker() {
  const pages = new Map();
  const server = http.createServer((req, res) => {
    const body = pages.get(new URL(req.url, 'http://x').pathname);
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body || 'not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, pages, port: server.address().port })));
}

function autoPost(action, fields) {
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('');
  return `<!doctype html><form method="post" action="${action}">${inputs}</form><script>document.forms[0].submit()</script>`;
}

test('a cross-site form post is refused', { skip }, async () => {
  const evil = await attacker();
  try {
    const ctx = await context();
    const page = await ctx.newPage();
    await signIn(page, email('csrf'));
    await page.reload();
    const devicesBefore = await (await deviceRows(page)).count();
    // Even with the session's real CSRF token, a post from another origin
    // is refused: another port on the same host is same-site (so the Lax
    // cookie goes along) but not same-origin.
    const token = await page.locator('form[action="/account/sign-out-everywhere"] input[name="csrf_token"]').getAttribute('value');
    evil.pages.set('/everywhere', autoPost(`${BASE}/account/sign-out-everywhere`, { csrf_token: token }));
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${BASE}/account/sign-out-everywhere`),
      page.goto(`http://127.0.0.1:${evil.port}/everywhere`),
    ]);
    assert.equal(resp.status(), 403);
    await page.waitForLoadState();
    assert.match(await page.getByRole('heading', { level: 1 }).textContent(), /Request refused/);
    assert.ok(!(await onLoginPage(page)), 'the cross-site post signed the browser out');
    assert.equal(await (await deviceRows(page)).count(), devicesBefore);

    // Login CSRF from a cross-site page: the victim is not signed in to
    // the attacker's account.
    const victim = await context();
    const vp = await victim.newPage();
    evil.pages.set('/login', autoPost(`${BASE}/login`, { email: email('csrf'), password: PASSWORD, csrf_token: 'x' }));
    const [lresp] = await Promise.all([
      vp.waitForResponse((r) => r.url() === `${BASE}/login` && r.request().method() === 'POST'),
      vp.goto(`http://localhost:${evil.port}/login`),
    ]);
    assert.equal(lresp.status(), 403);
    assert.equal((await victim.cookies()).filter((c) => c.name === 'sessiond').length, 0, 'a session cookie was set');
    assert.ok(await onLoginPage(vp));
    await ctx.close();
    await victim.close();
  } finally {
    evil.server.close();
  }
});

test('the pages fit a 360 px screen and have a dark scheme', { skip }, async () => {
  const ctx = await context({ viewport: { width: 360, height: 740 }, userAgent: UA.windows });
  const page = await ctx.newPage();
  await page.goto(`${BASE}/login`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'login page scrolls sideways at 360 px');
  await signIn(page, email('narrow'));
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'account page scrolls sideways at 360 px');
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(light, dark);
  const lum = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0);
  assert.ok(lum(dark) < 150 && lum(light) > 600, `light ${light}, dark ${dark}`);
  if (process.env.SESSIOND_SCREENSHOTS_DARK) {
    await page.screenshot({ path: path.join(process.env.SESSIOND_SCREENSHOTS_DARK, 'account-dark-narrow.png'), fullPage: true });
  }
  await ctx.close();
});

test('screenshots of the login and account pages, desktop and narrow', { skip: skip || (!SHOTS && 'SESSIOND_SCREENSHOTS is not set') }, async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  const who = email('ada');
  // Three browsers and an app, so the devices table shows what it is for.
  const others = [];
  for (const ua of [UA.iphone, UA.windows]) {
    const c = await context({ userAgent: ua });
    await signIn(await c.newPage(), who);
    others.push(c);
  }
  const tok = await fetch(`${BASE}/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'curl/8.5.0' },
    body: new URLSearchParams({ grant_type: 'password', username: who, password: PASSWORD }),
  });
  assert.equal(tok.status, 200, await tok.text());

  for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['narrow', { width: 390, height: 844 }]]) {
    const ctx = await context({ viewport, userAgent: UA.mac, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/login`);
    await page.screenshot({ path: path.join(SHOTS, `login-${name}.png`), fullPage: true });
    await signIn(page, who);
    await page.screenshot({ path: path.join(SHOTS, `account-${name}.png`), fullPage: true });
    assert.ok(await page.evaluate((w) => document.documentElement.scrollWidth <= w, viewport.width));
    // Sign this one out again, so the next run shows the same devices.
    await page.locator('tr.device.current').getByRole('button', { name: /^Sign out/ }).click();
    await page.waitForURL(/\/login/);
    await ctx.close();
  }
  for (const c of others) await c.close();
});
