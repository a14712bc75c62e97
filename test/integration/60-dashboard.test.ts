/**
 * 60 — the dashboard, in Debian's Chromium driven by playwright-core, against one real node:
 * the built files as served (types, caching, compression, no path traversal), every page
 * reached by keyboard with labelled controls and a screenshot kept, the overview following
 * connections, kicking a client, writing and testing a rule, banning a client, the WebSocket
 * MQTT page, creating an HTTP connector and action and attaching it to a rule, adding an
 * authenticator and its users, paging a long client list, logging in, and the viewer role that
 * sees everything and changes nothing.
 *
 * Screenshots and aria snapshots: test-artifacts/dashboard/ (or $PETREL_ARTIFACTS/dashboard).
 * The node has an API key (which the test's own REST calls use), so loopback is not open and
 * the browser must log in: the login test does it through the form, the other tests start with
 * a token from POST /api/v5/login put in the page's session storage.
 */
import { describe, it, after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { IClientOptions, MqttClient } from 'mqtt';
import { startBroker, client, end, until, type TestBroker } from '../support/broker.js';
import { api, getJson, type HasApi } from '../support/api.js';
import { accessibilityProblems, artifactsDir, ensureDashboardBuilt, focused, launchChromium, tabTo } from '../support/browser.js';

const PAGES = [
  ['overview', 'Overview'], ['clients', 'Clients'], ['subscriptions', 'Subscriptions'], ['retained', 'Retained'],
  ['rules', 'Rules'], ['integration', 'Connectors & actions'], ['access', 'Access control'], ['gateways', 'Gateways'],
  ['listeners', 'Listeners'], ['websocket', 'WebSocket client'],
] as const;

let b: TestBroker;
let B: HasApi; // the node's REST API with the test's API key
let browser: Browser;
let dist: string;
const shots = artifactsDir();
const contexts: BrowserContext[] = [];
/** Uncaught errors in any page's scripts; a test that caused one fails. */
const pageErrors: string[] = [];
const keyDir = mkdtempSync(join(tmpdir(), 'petrel-dash-'));
const ADMIN = { username: 'admin', password: 'Admin-pass-1' };
const VIEWER = { username: 'watcher', password: 'Viewer-pass-1' };

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  api(B, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

before(async () => {
  dist = ensureDashboardBuilt();
  writeFileSync(join(keyDir, 'keys'), 'dash-test:dash-secret\n');
  b = await startBroker({
    api_key: { bootstrap_file: join(keyDir, 'keys') },
    dashboard: { default_username: ADMIN.username, default_password: ADMIN.password },
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database' }],
    authorization: { sources: [{ type: 'built_in_database' }] },
    rule_engine: { rules: { from_config: { sql: 'SELECT * FROM "cfg/#"', actions: [{ function: 'console' }] } } },
  });
  B = { apiPort: b.apiPort, apiAuth: 'dash-test:dash-secret' };
  browser = await launchChromium();
  // Clients log in as this MQTT user (the Access page then lists a user too).
  assert.equal((await post('/api/v5/authentication/password_based%3Abuilt_in_database/users', { user_id: 'dash', password: 'dash-pw' })).status, 201);
  assert.equal((await post('/api/v5/users', { ...VIEWER, role: 'viewer' })).status, 200);
});
afterEach(() => { assert.deepEqual(pageErrors.splice(0), [], 'script errors in the page'); });
after(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await b?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

async function token(who: { username: string; password: string }): Promise<{ token: string; role: string }> {
  const r = await fetch(`http://127.0.0.1:${b.apiPort}/api/v5/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(who) });
  assert.equal(r.status, 200);
  return await r.json() as { token: string; role: string };
}

const mq = (opts: IClientOptions = {}): Promise<MqttClient> => client(b, { username: 'dash', password: 'dash-pw', ...opts });
const base = (): string => `http://127.0.0.1:${b.apiPort}/`;

/**
 * A fresh page (own context: own session storage), failing the test on any script error.
 * `as`: log in first (by the API) and hand the page the session; null: no session at all.
 */
async function open(hash = 'overview', as: { username: string; password: string } | null = ADMIN): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(ctx);
  if (as !== null) {
    const t = await token(as);
    const session = JSON.stringify({ token: t.token, role: t.role, username: as.username });
    await ctx.addInitScript(`try { sessionStorage.setItem('petrel.session', ${JSON.stringify(session)}); } catch {}`);
  }
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => { pageErrors.push(`${hash}: ${e.message}`); });
  await page.goto(`${base()}#/${hash}`);
  await page.locator('h1').first().waitFor();
  return page;
}

function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((ok, bad) => {
    const r = request({ host: '127.0.0.1', port: b.apiPort, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', bad);
    r.end();
  });
}

describe('dashboard files', () => {
  it('serves index.html no-cache and hashed assets immutable, with their types and precompressed bodies', async () => {
    const index = await rawGet('/');
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const js = /src="\/(main-[A-Z0-9]+\.js)"/.exec(index.body.toString())![1];
    const css = /href="\/(main-[A-Z0-9]+\.css)"/.exec(index.body.toString())![1];
    const plain = await rawGet(`/${js}`);
    assert.match(String(plain.headers['content-type']), /^text\/javascript/);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['content-encoding'], undefined);
    const gz = await rawGet(`/${js}`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gz.body.length < plain.body.length / 2);
    const br = await rawGet(`/${js}`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.match(String((await rawGet(`/${css}`)).headers['content-type']), /^text\/css/);
    assert.ok(readdirSync(dist).includes(js));
    // The files are open (the login page is one); the API behind them is not.
    const denied = await rawGet('/api/v5/nodes');
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['www-authenticate'], 'Basic realm="petrel"');
    // …except to a page's script, which shows its own login instead of the browser's password dialog.
    assert.equal((await rawGet('/api/v5/nodes', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' })).headers['www-authenticate'], undefined);
    assert.ok((await rawGet('/api/v5/nodes', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' })).headers['www-authenticate']);
  });

  it('answers 404 for anything not in the build, including paths that climb out of it', async () => {
    for (const p of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/main.js/../../../package.json',
      '/../../../../etc/passwd', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/index.html.gz', '/.%2e/broker/src/node.ts', '//etc/passwd', '/nope.js']) {
      const r = await rawGet(p);
      assert.equal(r.status, 404, `${p} → ${r.status}`);
      assert.match(String(r.headers['content-type']), /application\/json/, p);
      assert.doesNotMatch(r.body.toString(), /"name": "petrel"|root:/, p);
    }
    assert.equal((await api(B, '/', { method: 'POST' })).status, 404);
  });
});

describe('dashboard pages', () => {
  it('every page is reached from the navigation by Tab and Enter, has labelled controls, and is screenshotted', async () => {
    const page = await open('overview');
    // The skip link, first in the document, takes keyboard users past the header and navigation.
    await page.locator('header .brand').click();
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page)).text, 'Skip to content');
    await page.keyboard.press('Enter');
    await until(async () => (await focused(page)).tag === 'H1', 5000, 'focus on the heading from the skip link');
    for (const [id, title] of PAGES) {
      // From the top of the document, as a keyboard user starts: Tab through the header into the navigation.
      await page.locator('header .brand').click(); // moves the Tab starting point to the top, as a fresh load does
      assert.ok(await tabTo(page, title, 20), `Tab never reached the "${title}" link`);
      await page.keyboard.press('Enter');
      await page.waitForURL(new RegExp(`#/${id}$`));
      await until(async () => await page.locator('main h1').textContent() === title, 5000, `the ${title} heading`);
      // Focus lands on the page's heading, and Tab goes on into the page itself.
      await until(async () => (await focused(page)).tag === 'H1', 5000, `focus on the ${id} heading`);
      await page.waitForLoadState('networkidle');
      assert.deepEqual(await accessibilityProblems(page), [], `accessibility problems on ${id}`);
      const inMain = await page.locator('main').locator('button, a[href], input, select, textarea').count();
      if (inMain > 0) {
        await page.keyboard.press('Tab');
        assert.ok((await focused(page)).inMain, `Tab from the heading leaves main on ${id}`);
      }
      await page.screenshot({ path: join(shots, `${id}.png`), fullPage: true });
      writeFileSync(join(shots, `${id}.aria.yml`), await page.locator('main').ariaSnapshot());
    }
  });

  it('the overview shows the connection count change as clients connect and leave', async () => {
    const page = await open('overview');
    const count = page.getByTestId('connections.count');
    await until(async () => /^\d+$/.test((await count.textContent()) ?? ''), 10000, 'a first sample');
    const before = Number(await count.textContent());
    const cs = await Promise.all([1, 2, 3].map((i) => mq({ clientId: `ov-${i}` })));
    await until(async () => Number(await count.textContent()) === before + 3, 15000, `connections to show ${before + 3}`);
    await page.screenshot({ path: join(shots, 'overview-3-clients.png') });
    await end(...cs);
    await until(async () => Number(await count.textContent()) === before, 15000, `connections to show ${before} again`);
  });

  it('kicks a client found by search', async () => {
    const victim = await mq({ clientId: 'kick-me-please' });
    const bystander = await mq({ clientId: 'stays-here' });
    const closed = new Promise<void>((r) => victim.once('close', () => r()));
    const page = await open('clients');
    await page.getByLabel('Client id contains').fill('kick-me');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'kick-me-please', exact: true }).click(); // the detail panel
    await page.getByRole('region', { name: 'Client kick-me-please' }).waitFor();
    await page.getByRole('button', { name: 'Kick kick-me-please' }).click();
    await closed;
    await page.getByText('No client matches.').waitFor();
    assert.equal((await api(B, '/api/v5/clients/kick-me-please')).status, 404);
    assert.equal(bystander.connected, true);
    await end(victim, bystander);
  });

  it('tests rule SQL against a sample and creates the rule', async () => {
    const page = await open('rules');
    await page.getByLabel('Rule SQL').fill('SELECT payload.temp AS t, topic FROM "dash/#" WHERE payload.temp > 30');
    await page.getByLabel('Sample topic').fill('dash/a');
    await page.getByLabel('Sample payload').fill('{"temp": 31.5}');
    await page.getByRole('button', { name: 'Test SQL' }).click();
    const out = page.getByTestId('rule-test-output');
    await until(async () => (await out.textContent() ?? '').includes('31.5'), 10000, 'rule test output');
    assert.deepEqual(JSON.parse((await out.textContent())!), { t: 31.5, topic: 'dash/a' });
    await page.getByLabel('Sample payload').fill('{"temp": 3}');
    await page.getByRole('button', { name: 'Test SQL' }).click();
    await page.getByText(/^No match/).waitFor();
    await page.getByLabel('Rule SQL').fill('SELEC nonsense');
    await page.getByRole('button', { name: 'Test SQL' }).click();
    await page.getByRole('alert').filter({ hasText: 'BAD_REQUEST' }).waitFor();

    await page.getByLabel('Rule SQL').fill('SELECT payload.temp AS t FROM "dash/#"');
    await page.getByLabel('New rule id (optional)').fill('from_dashboard');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.getByRole('cell', { name: 'from_dashboard', exact: true }).waitFor();
    const rule = await getJson<{ sql: string; enable: boolean }>(B, '/api/v5/rules/from_dashboard');
    assert.equal(rule.sql, 'SELECT payload.temp AS t FROM "dash/#"');
    const pub = await mq();
    await pub.publishAsync('dash/x', '{"temp": 1}', { qos: 1 });
    await end(pub);
    await page.getByTestId('metrics-from_dashboard').filter({ hasText: 'matched 1' }).waitFor();
    await page.screenshot({ path: join(shots, 'rules-created.png'), fullPage: true });
  });

  it('bans a client id, which then cannot connect', async () => {
    const page = await open('access');
    await page.getByLabel('Ban by').selectOption('clientid');
    await page.getByLabel('Who').fill('not-welcome');
    await page.getByLabel('Reason').fill('dashboard test');
    await page.getByRole('button', { name: 'Ban', exact: true }).click();
    await page.getByRole('cell', { name: 'not-welcome', exact: true }).waitFor();
    const bans = await getJson<{ data: Array<{ as: string; who: string; reason: string }> }>(B, '/api/v5/banned?clientid=not-welcome');
    assert.deepEqual(bans.data.map((x) => [x.as, x.who, x.reason]), [['clientid', 'not-welcome', 'dashboard test']]);
    await assert.rejects(mq({ clientId: 'not-welcome' }));
    await page.getByRole('button', { name: 'Lift ban on clientid not-welcome' }).click();
    await page.getByText('Nobody is banned.').waitFor();
  });

  it('the WebSocket page connects, subscribes and receives what it publishes', async () => {
    const page = await open('websocket');
    await until(async () => (await page.getByLabel('WebSocket URL').inputValue()).startsWith('ws://'), 10000, 'ws URL from the listeners');
    await page.getByLabel('Client id').fill('ws-dashboard');
    await page.getByLabel('MQTT username').fill('dash');
    await page.getByLabel('MQTT password').fill('dash-pw');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByTestId('ws-state').filter({ hasText: /^connected$/ }).waitFor();
    assert.equal((await getJson<{ proto_name: string; listener: string }>(B, '/api/v5/clients/ws-dashboard')).listener, 'ws:default');
    await page.getByLabel('Topic filter').fill('dash/ws/#');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await until(async () => (await api(B, '/api/v5/clients/ws-dashboard/subscriptions').then((r) => r.json()) as unknown[]).length === 1, 5000, 'subscription');
    await page.getByLabel('Topic', { exact: true }).fill('dash/ws/1');
    await page.getByLabel('Payload').fill('héllo');
    await page.getByLabel('Publish QoS').selectOption('1');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByTestId('ws-log').getByText('héllo').waitFor();
    // A message from an ordinary client reaches the page too.
    const other = await mq();
    await other.publishAsync('dash/ws/2', 'from tcp', { qos: 1 });
    await end(other);
    await page.getByTestId('ws-log').getByText('from tcp').waitFor();
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByTestId('ws-state').filter({ hasText: /^disconnected/ }).waitFor();
  });
});

describe('data integration and access control from the dashboard', () => {
  it('creates an HTTP connector and an action, attaches it to a rule, and a publish reaches the HTTP server', async () => {
    const got: Array<{ method: string; url: string; body: string }> = [];
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => { got.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks).toString() }); res.end('ok'); });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as { port: number }).port;
    try {
      assert.equal((await post('/api/v5/rules', { id: 'to_http', sql: 'SELECT payload, topic FROM "hook/#"', actions: [] })).status, 201);
      const page = await open('integration');
      const connectors = page.getByRole('region', { name: 'Connectors' });
      // By keyboard: Enter on the button opens the form with the focus in its first field.
      await connectors.getByRole('button', { name: 'New connector' }).focus();
      await page.keyboard.press('Enter');
      await until(async () => (await focused(page)).tag === 'SELECT', 5000, 'focus in the new connector form');
      assert.deepEqual(await accessibilityProblems(page), [], 'the connector form');
      await page.getByLabel('Connector type').selectOption('http');
      await page.getByLabel('Connector name').fill('hook');
      // A bad config: the node's own message, naming the key, is shown.
      await page.getByLabel('Base URL').fill('ftp://nowhere');
      await page.getByRole('button', { name: 'Create connector' }).click();
      await page.getByRole('alert').filter({ hasText: /BAD_REQUEST: .*url/ }).waitFor();
      await page.getByLabel('Base URL').fill(`http://127.0.0.1:${port}/in`);
      await page.getByRole('button', { name: 'Test connection' }).click();
      await page.getByText('The target answers').waitFor();
      await page.screenshot({ path: join(shots, 'integration-new-connector.png'), fullPage: true });
      await page.getByRole('button', { name: 'Create connector' }).click();
      await connectors.getByRole('cell', { name: 'hook', exact: true }).waitFor();
      await connectors.getByText('connected').waitFor();

      const actions = page.getByRole('region', { name: 'Actions', exact: true });
      await actions.getByRole('button', { name: 'New action' }).click();
      await page.getByLabel('Action type').selectOption('http');
      await page.getByLabel('Action name').fill('hook_action');
      assert.deepEqual(await accessibilityProblems(page), [], 'the action form');
      assert.equal(await page.getByRole('form', { name: 'New action' }).getByLabel('Connector').inputValue(), 'hook');
      await page.getByLabel('Method').selectOption('put');
      await page.getByLabel('Path (after the base URL)').fill('/${topic}');
      await page.getByLabel('Body template (empty: the rule output as JSON)').fill('got ${payload}');
      await page.getByLabel('Batch size').fill('1');
      await page.screenshot({ path: join(shots, 'integration-new-action.png'), fullPage: true });
      await page.getByRole('button', { name: 'Create action' }).click();
      await actions.getByRole('cell', { name: 'hook_action', exact: true }).waitFor();
      const action = await getJson<{ connector: string; parameters: Record<string, unknown>; resource_opts: Record<string, unknown> }>(B, '/api/v5/actions/http%3Ahook_action');
      assert.deepEqual([action.connector, action.parameters, action.resource_opts], ['hook', { method: 'put', path: '/${topic}', body: 'got ${payload}' }, { batch_size: 1 }]);

      await page.getByLabel('Action to attach').selectOption('http:hook_action');
      await page.getByRole('form', { name: 'Attach an action to a rule' }).getByLabel('Rule').selectOption('to_http');
      await page.getByRole('button', { name: 'Attach to rule' }).click();
      await page.getByText('Rule to_http now sends its output to http:hook_action.').waitFor();
      assert.deepEqual((await getJson<{ actions: unknown[] }>(B, '/api/v5/rules/to_http')).actions, ['http:hook_action']);

      const pub = await mq();
      await pub.publishAsync('hook/a', 'hello-http', { qos: 1 });
      await end(pub);
      await until(() => got.length > 0, 10000, 'the HTTP server to receive the action\'s request');
      assert.deepEqual(got[0], { method: 'PUT', url: '/in/hook/a', body: 'got hello-http' });

      // Edit: the form starts from the connector's settings; the change is kept.
      await page.getByRole('button', { name: 'Edit connector http:hook' }).click();
      assert.equal(await page.getByLabel('Base URL').inputValue(), `http://127.0.0.1:${port}/in`);
      await page.getByLabel('Pool size').fill('4');
      await page.getByRole('button', { name: 'Save connector' }).click();
      await page.getByRole('button', { name: 'New connector' }).waitFor();
      const conn = await getJson<{ url: string; pool_size: number; enable: boolean }>(B, '/api/v5/connectors/http%3Ahook');
      assert.deepEqual([conn.url, conn.pool_size, conn.enable], [`http://127.0.0.1:${port}/in`, 4, true]);
      await page.getByRole('button', { name: 'Edit action http:hook_action' }).click();
      assert.equal(await page.getByLabel('Method').inputValue(), 'put');
      await page.getByLabel('Path (after the base URL)').fill('/edited/${topic}');
      await page.getByRole('button', { name: 'Save action' }).click();
      await page.getByRole('button', { name: 'New action' }).waitFor();
      const edited = await getJson<{ connector: string; parameters: Record<string, unknown> }>(B, '/api/v5/actions/http%3Ahook_action');
      assert.deepEqual([edited.connector, edited.parameters.path, edited.parameters.body], ['hook', '/edited/${topic}', 'got ${payload}']);
      // A connector an action still uses is not deleted: the node says why.
      await page.getByRole('button', { name: 'Delete connector http:hook' }).click();
      await page.getByRole('alert').filter({ hasText: 'hook_action' }).waitFor();
      await page.getByRole('button', { name: 'Disable action http:hook_action' }).click();
      await actions.getByText('disabled').waitFor();
      assert.equal((await getJson<{ enable: boolean }>(B, '/api/v5/actions/http%3Ahook_action')).enable, false);
      await page.screenshot({ path: join(shots, 'integration-created.png'), fullPage: true });
      // The Rules page lists the rule's outputs, and detaches the action.
      await page.goto(`${base()}#/rules`);
      await page.getByRole('button', { name: 'Detach http:hook_action from rule to_http' }).click();
      await until(async () => (await getJson<{ actions: unknown[] }>(B, '/api/v5/rules/to_http')).actions.length === 0, 5000, 'the action detached');
    } finally {
      http.close();
    }
  });

  it('adds a built-in database authenticator and a user; the right password connects, a wrong one is refused', async () => {
    const open2 = await startBroker(); // no authentication at all, and no API key: the loopback browser is an administrator
    try {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      contexts.push(ctx);
      const page = await ctx.newPage();
      page.setDefaultTimeout(15000);
      page.on('pageerror', (e) => { pageErrors.push(`access: ${e.message}`); });
      await page.goto(`http://127.0.0.1:${open2.apiPort}/#/access`);
      await page.getByText('No authenticator: every client may connect.').waitFor();
      await page.getByRole('button', { name: 'Add authenticator' }).click();
      await page.getByRole('form', { name: 'Add an authenticator' }).getByLabel('Authenticator').selectOption('password_based:built_in_database');
      await page.getByLabel('Password hash').selectOption('pbkdf2');
      await page.getByLabel('PBKDF2 MAC function').selectOption('sha256');
      await page.getByLabel('PBKDF2 iterations').fill('1000');
      await page.getByLabel('Password hash').selectOption('sha512');
      await page.getByLabel('Salt position').selectOption('suffix');
      assert.deepEqual(await accessibilityProblems(page), [], 'the authenticator form');
      assert.equal(await page.getByLabel('PBKDF2 iterations').count(), 0, 'pbkdf2 settings hidden for sha512');
      await page.screenshot({ path: join(shots, 'access-new-authenticator.png'), fullPage: true });
      await page.getByRole('button', { name: 'Add authenticator to the chain' }).click();
      await page.getByRole('cell', { name: 'password_based:built_in_database', exact: true }).waitFor();
      const cfg = await getJson<{ password_hash_algorithm: unknown; enable: boolean }>({ apiPort: open2.apiPort }, '/api/v5/authentication/password_based%3Abuilt_in_database');
      assert.deepEqual(cfg.password_hash_algorithm, { name: 'sha512', salt_position: 'suffix' });

      await page.getByLabel('User id').fill('alice');
      await page.getByLabel('Password', { exact: true }).fill('alice-pw-1');
      await page.getByRole('button', { name: 'Add user' }).click();
      await page.getByRole('cell', { name: 'alice', exact: true }).waitFor();
      const ok = await client(open2, { clientId: 'alice-1', username: 'alice', password: 'alice-pw-1' });
      assert.equal(ok.connected, true);
      await end(ok);
      await assert.rejects(client(open2, { clientId: 'alice-2', username: 'alice', password: 'wrong-pw', reconnectPeriod: 0 }));

      // A second authenticator, put first, then removed.
      await page.getByRole('button', { name: 'Add authenticator' }).click();
      await page.getByRole('form', { name: 'Add an authenticator' }).getByLabel('Authenticator').selectOption('jwt');
      await page.getByLabel('HMAC secret').fill('a-jwt-secret');
      await page.getByRole('button', { name: 'Add authenticator to the chain' }).click();
      await page.getByRole('button', { name: 'Edit authenticator jwt' }).waitFor();
      await page.getByRole('button', { name: 'Move authenticator jwt up' }).click();
      const ids = async (): Promise<string[]> => (await getJson<Array<{ id: string }>>({ apiPort: open2.apiPort }, '/api/v5/authentication')).map((a) => a.id);
      await until(async () => (await ids())[0] === 'jwt', 5000, 'jwt first in the chain');
      await page.getByRole('button', { name: 'Edit authenticator jwt' }).click();
      assert.equal(await page.getByLabel('HMAC secret').inputValue(), '******');
      await page.getByLabel('Token from').selectOption('username');
      await page.getByRole('button', { name: 'Save authenticator' }).click();
      await page.getByRole('button', { name: 'Add authenticator' }).waitFor();
      const jwt = await getJson<{ from: string; secret: string }>({ apiPort: open2.apiPort }, '/api/v5/authentication/jwt');
      assert.deepEqual([jwt.from, jwt.secret], ['username', '******']);
      await page.getByRole('button', { name: 'Delete authenticator jwt' }).click();
      await until(async () => (await ids()).join() === 'password_based:built_in_database', 5000, 'jwt removed');
      const again = await client(open2, { clientId: 'alice-3', username: 'alice', password: 'alice-pw-1' });
      await end(again);
      await page.screenshot({ path: join(shots, 'access-authenticators.png'), fullPage: true });
    } finally {
      await open2.stop();
    }
  });

  it('pages through more clients than fit on a page', async () => {
    const cs = await Promise.all(Array.from({ length: 105 }, (_, i) => mq({ clientId: `many-${String(i).padStart(3, '0')}` })));
    try {
      const total = (await getJson<{ meta: { count: number } }>(B, '/api/v5/clients?limit=1')).meta.count;
      assert.ok(total >= 105);
      const page = await open('clients');
      const pager = page.getByTestId('pager-clients');
      await until(async () => (await pager.textContent()) === `Page 1 of ${Math.ceil(total / 100)} · ${total.toLocaleString('en')} clients`, 10000, 'page 1 of the clients');
      assert.equal(await page.getByRole('button', { name: 'Previous page of clients' }).isDisabled(), true);
      await page.getByRole('button', { name: 'Next page of clients' }).click();
      await until(async () => (await pager.textContent())!.startsWith('Page 2 of'), 10000, 'page 2');
      await until(async () => await page.locator('main tbody tr').count() === total - 100, 10000, `${total - 100} rows on page 2`);
      assert.equal(await page.getByRole('button', { name: 'Next page of clients' }).isDisabled(), true);
      await page.screenshot({ path: join(shots, 'clients-page-2.png'), fullPage: true });
      // The second page holds clients the first did not.
      const second = await page.locator('main tbody tr td:first-child').allTextContents();
      await page.getByRole('button', { name: 'Previous page of clients' }).click();
      await until(async () => (await pager.textContent())!.startsWith('Page 1 of'), 10000, 'page 1 again');
      await until(async () => await page.locator('main tbody tr').count() === 100, 10000, '100 rows on page 1');
      const first = await page.locator('main tbody tr td:first-child').allTextContents();
      assert.deepEqual(first.filter((x) => second.includes(x)), []);
    } finally {
      await end(...cs);
    }
  });
});

describe('monitor (the overview\'s history)', () => {
  it('keeps a sample every 10 s with the messages of its interval, and answers current rates', async () => {
    const sub = await mq({ clientId: 'mon-sub' });
    await sub.subscribeAsync('mon/#', { qos: 1 });
    const pub = await mq({ clientId: 'mon-pub' });
    for (let i = 0; i < 20; i++) await pub.publishAsync('mon/x', String(i), { qos: 1 });
    await pub.publishAsync('nobody/listens', 'x', { qos: 1 }); // dropped: no subscribers
    type Sample = { time_stamp: number; connections: number; received: number; sent: number; dropped: number; subscriptions: number };
    let rows: Sample[] = [];
    await until(async () => {
      rows = await getJson<Sample[]>(B, '/api/v5/monitor');
      return rows.reduce((n, r) => n + r.received, 0) >= 21;
    }, 25000, 'a sample counting the 21 messages');
    const last = rows[rows.length - 1]!;
    assert.ok(Math.abs(last.time_stamp - Date.now()) < 15000);
    assert.ok(last.connections >= 2 && last.subscriptions >= 1, JSON.stringify(last));
    assert.ok(rows.reduce((n, r) => n + r.sent, 0) >= 20);
    assert.ok(rows.reduce((n, r) => n + r.dropped, 0) >= 1);
    assert.equal((await getJson<Sample[]>(B, '/api/v5/monitor?latest=1')).length, 1);
    assert.equal((await api(B, '/api/v5/monitor?latest=0')).status, 400);
    assert.equal((await api(B, '/api/v5/monitor?latest=361')).status, 400);
    const cur = await getJson<Record<string, number>>(B, '/api/v5/monitor_current');
    for (const k of ['connections', 'subscriptions', 'topics', 'retained_msg_count', 'received_msg_rate', 'sent_msg_rate', 'dropped_msg_rate']) {
      assert.equal(typeof cur[k], 'number', k);
    }
    assert.ok(cur.connections! >= 2);
    await end(sub, pub);
  });
});

const MUTATING = new RegExp('^(Kick|Delete|Ban|Lift|Create rule|Test SQL|Start|Stop|Restart|Enable|Disable|Add user|Add dashboard user|Edit|'
  + 'New connector|New action|Create connector|Create action|Save connector|Save action|Test connection|Attach to rule|'
  + 'Add authenticator|Add authenticator to the chain|Save authenticator|Move up|Move down|Detach)$');
const mutatingControls = (page: Page): Promise<number> => page.locator('main').getByRole('button', { name: MUTATING })
  .or(page.locator('main button').filter({ hasText: MUTATING })).count();

describe('login and roles', () => {
  it('on a node without any API key, a loopback browser gets in without logging in', async () => {
    const keyless = await startBroker();
    try {
      const ctx = await browser.newContext();
      contexts.push(ctx);
      const page = await ctx.newPage();
      await page.goto(`http://127.0.0.1:${keyless.apiPort}/#/listeners`);
      await page.locator('main h1', { hasText: 'Listeners' }).waitFor();
      assert.equal(await page.getByTestId('role').textContent(), 'administrator');
      await page.getByRole('button', { name: 'Stop tcp:default' }).waitFor();
    } finally {
      await keyless.stop();
    }
  });

  it('logs in through the form, and logging out revokes the token', async () => {
    const page = await open('overview', null);
    await page.getByLabel('Username').waitFor();
    assert.deepEqual(await accessibilityProblems(page), []);
    await page.screenshot({ path: join(shots, 'login.png') });
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill('wrong-password-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'BAD_USERNAME_OR_PWD' }).waitFor();
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('main h1', { hasText: 'Overview' }).waitFor();
    assert.equal(await page.getByTestId('role').textContent(), 'administrator');
    const session = JSON.parse(await page.evaluate('sessionStorage.getItem("petrel.session")') as string) as { token: string };
    assert.equal((await fetch(`http://127.0.0.1:${b.apiPort}/api/v5/nodes`, { headers: { authorization: `Bearer ${session.token}` } })).status, 200);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor();
    await until(async () => (await fetch(`http://127.0.0.1:${b.apiPort}/api/v5/nodes`, { headers: { authorization: `Bearer ${session.token}` } })).status === 401, 5000, 'the token revoked');
  });

  it('a viewer sees every page and no control that changes anything; the node refuses a change anyway', async () => {
    const c = await mq({ clientId: 'seen-by-viewer' });
    const admin = await open('overview');
    const page = await open('overview', null);
    await page.getByLabel('Username').fill(VIEWER.username);
    await page.getByLabel('Password').fill(VIEWER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('main h1', { hasText: 'Overview' }).waitFor();
    assert.equal(await page.getByTestId('role').textContent(), 'viewer');
    // The same pages with the same data: the administrator gets controls where the viewer gets none.
    const withControls = new Set(['clients', 'retained', 'rules', 'integration', 'access', 'listeners']);
    for (const [id, title] of PAGES) {
      for (const p of [admin, page]) {
        await p.goto(`${base()}#/${id}`);
        await p.locator('main h1', { hasText: title }).waitFor();
        await p.waitForLoadState('networkidle');
      }
      await page.getByText(/Loading/).first().waitFor({ state: 'detached' }).catch(() => undefined);
      if (withControls.has(id)) assert.ok(await mutatingControls(admin) > 0, `the administrator has controls on ${id}`);
      assert.equal(await mutatingControls(page), 0, `the viewer has controls on ${id}`);
      await page.screenshot({ path: join(shots, `viewer-${id}.png`), fullPage: true });
    }
    const status = await page.evaluate(`(async () => {
      const s = JSON.parse(sessionStorage.getItem('petrel.session'));
      const r = await fetch('/api/v5/clients/seen-by-viewer', { method: 'DELETE', headers: { authorization: 'Bearer ' + s.token } });
      return r.status + ' ' + (await r.json()).code;
    })()`);
    assert.equal(status, '403 UNAUTHORIZED_ROLE');
    assert.equal(c.connected, true);
    await end(c);
  });
});
