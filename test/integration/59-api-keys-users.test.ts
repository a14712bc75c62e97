/**
 * 59 — the REST API's own accounts, as EMQX's: API keys made over REST (create → use → disable →
 * refused → delete; the secret shown once; expiry), dashboard users (login, logout, token
 * expiry, wrong password, the failed-login lock), roles (a viewer, by token or by key, is
 * refused every mutating route of the route table and no GET), keys and users made on one node
 * of an etcd cluster working on another, and GET /api/v5/prometheus/stats with EMQX's names,
 * including every name the Grafana dashboard (docs/grafana/petrel.json) queries.
 *
 * Everything through REST and MQTT, on real nodes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker, client, end, sleep, until, repoRoot, type TestBroker } from '../support/broker.js';
import { api, type HasApi } from '../support/api.js';
import { startEtcdCluster, type EtcdTestCluster } from '../support/etcd-cluster.js';
import { ROUTES } from '../../broker/src/api/routes/index.js';

const PASSWORD = 'Adm1n-secret';
const json = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit =>
  ({ method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const basic = (k: string, s: string): Record<string, string> => ({ authorization: 'Basic ' + Buffer.from(`${k}:${s}`).toString('base64') });
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

async function code(r: Response): Promise<string> { return ((await r.json()) as { code: string }).code; }

async function login(b: HasApi, username: string, password: string): Promise<Response> {
  return api(b, '/api/v5/login', json('POST', { username, password }));
}

async function token(b: HasApi, username: string, password: string): Promise<string> {
  const r = await login(b, username, password);
  assert.equal(r.status, 200, `login ${username}: ${await r.clone().text()}`);
  return ((await r.json()) as { token: string }).token;
}

describe('API keys', () => {
  let b: TestBroker;
  let admin: Record<string, string>;
  before(async () => {
    b = await startBroker({ dashboard: { default_password: PASSWORD } });
    admin = bearer(await token(b, 'admin', PASSWORD));
  });
  after(() => b.stop());

  it('create → use → disable → refused → enable → delete → refused; the secret is shown once and never again', async () => {
    // No key exists yet: loopback needs no credentials (a dashboard user does not change that).
    assert.equal((await api(b, '/api/v5/clients')).status, 200);
    const made = await api(b, '/api/v5/api_key', json('POST', { name: 'ops', desc: 'operator' }));
    assert.equal(made.status, 200);
    const ops = await made.json() as Record<string, unknown>;
    assert.equal(typeof ops.api_secret, 'string');
    assert.equal(ops.role, 'administrator');
    assert.equal(ops.expired_at, 'infinity');
    const opsAuth = basic(String(ops.api_key), String(ops.api_secret));
    // Now a key exists: credentials are needed, from loopback too.
    assert.equal(await code(await api(b, '/api/v5/clients')), 'UNAUTHORIZED');
    assert.equal((await api(b, '/api/v5/clients', { headers: opsAuth })).status, 200);

    const ci = await (await api(b, '/api/v5/api_key', json('POST', { name: 'ci' }, opsAuth))).json() as Record<string, string>;
    const ciAuth = basic(ci.api_key!, ci.api_secret!);
    assert.equal((await api(b, '/api/v5/stats', { headers: ciAuth })).status, 200);
    assert.equal(await code(await api(b, '/api/v5/stats', { headers: basic(ci.api_key!, ci.api_secret + 'x') })), 'BAD_API_KEY_OR_SECRET');

    for (const path of ['/api/v5/api_key', '/api/v5/api_key/ci']) {
      const body = await (await api(b, path, { headers: opsAuth })).text();
      assert.ok(!body.includes(ci.api_secret!), 'the secret is never returned again');
      assert.ok(!/secret|hash|salt/.test(body), `no secret field: ${body}`);
    }
    assert.equal(await code(await api(b, '/api/v5/api_key', json('POST', { name: 'ci' }, opsAuth))), 'BAD_REQUEST', 'the name is taken');

    const off = await api(b, '/api/v5/api_key/ci', json('PUT', { enable: false }, opsAuth));
    assert.equal(((await off.json()) as { enable: boolean }).enable, false);
    const refused = await api(b, '/api/v5/stats', { headers: ciAuth });
    assert.equal(refused.status, 401);
    const e = await refused.json() as { code: string; message: string };
    assert.equal(e.code, 'BAD_API_KEY_OR_SECRET');
    assert.match(e.message, /disabled/);
    await api(b, '/api/v5/api_key/ci', json('PUT', { enable: true }, opsAuth));
    assert.equal((await api(b, '/api/v5/stats', { headers: ciAuth })).status, 200);
    assert.equal((await api(b, '/api/v5/api_key/ci', { method: 'DELETE', headers: opsAuth })).status, 204);
    assert.equal(await code(await api(b, '/api/v5/stats', { headers: ciAuth })), 'BAD_API_KEY_OR_SECRET');
    assert.equal(await code(await api(b, '/api/v5/api_key/ci', { headers: opsAuth })), 'NOT_FOUND');
  });

  it('expiry: a key works until expired_at, then is refused; a bad time is a 400', async () => {
    const k = await (await api(b, '/api/v5/api_key', json('POST', { name: 'exp', expired_at: new Date(Date.now() + 1500).toISOString() }, admin))).json() as Record<string, string>;
    const auth = basic(k.api_key!, k.api_secret!);
    assert.equal((await api(b, '/api/v5/stats', { headers: auth })).status, 200);
    await sleep(1700);
    const r = await api(b, '/api/v5/stats', { headers: auth });
    assert.equal(r.status, 401);
    assert.match(((await r.json()) as { message: string }).message, /expired/);
    assert.equal(((await (await api(b, '/api/v5/api_key/exp', { headers: admin })).json()) as { expired: boolean }).expired, true);
    assert.equal(await code(await api(b, '/api/v5/api_key', json('POST', { name: 'bad', expired_at: 'tomorrow' }, admin))), 'BAD_REQUEST');
  });
});

describe('dashboard users and login', () => {
  let b: TestBroker;
  before(async () => {
    b = await startBroker({ dashboard: { default_password: PASSWORD } });
  });
  after(() => b.stop());

  it('login → token works (Bearer) → logout → the token is refused; a wrong password is BAD_USERNAME_OR_PWD', async () => {
    const r = await login(b, 'admin', PASSWORD);
    const body = await r.json() as { token: string; role: string; version: string };
    assert.equal(body.role, 'administrator');
    assert.equal(typeof body.version, 'string');
    assert.equal((await api(b, '/api/v5/users', { headers: bearer(body.token) })).status, 200);
    assert.equal(await code(await login(b, 'admin', 'wrong-pass1')), 'BAD_USERNAME_OR_PWD');
    assert.equal(await code(await login(b, 'nobody', PASSWORD)), 'BAD_USERNAME_OR_PWD');
    assert.equal(await code(await api(b, '/api/v5/logout', json('POST', { username: 'someone' }, bearer(body.token)))), 'WRONG_TOKEN_OR_USERNAME');
    assert.equal((await api(b, '/api/v5/logout', json('POST', { username: 'admin' }, bearer(body.token)))).status, 204);
    assert.equal(await code(await api(b, '/api/v5/users', { headers: bearer(body.token) })), 'BAD_TOKEN');
  });

  it('a token expires after dashboard.token_expired_time (TOKEN_TIME_OUT)', async () => {
    const n = await startBroker({ dashboard: { default_password: PASSWORD, token_expired_time: '1500ms' } });
    try {
      const t = await token(n, 'admin', PASSWORD);
      assert.equal((await api(n, '/api/v5/stats', { headers: bearer(t) })).status, 200);
      await sleep(1700);
      assert.equal(await code(await api(n, '/api/v5/stats', { headers: bearer(t) })), 'TOKEN_TIME_OUT');
    } finally { await n.stop(); }
  });

  it('users: create (weak passwords refused), change, change_pwd (revokes tokens), no deleting yourself or the last administrator', async () => {
    const admin = bearer(await token(b, 'admin', PASSWORD));
    assert.equal(await code(await api(b, '/api/v5/users', json('POST', { username: 'ann', password: 'short' }, admin))), 'BAD_REQUEST');
    assert.equal(await code(await api(b, '/api/v5/users', json('POST', { username: 'ann', password: 'onlyletters' }, admin))), 'BAD_REQUEST');
    const made = await api(b, '/api/v5/users', json('POST', { username: 'ann', password: 'ann-pass-1', role: 'viewer', description: 'support' }, admin));
    assert.deepEqual(await made.json(), { username: 'ann', role: 'viewer', description: 'support', backend: 'local' });
    const users = await (await api(b, '/api/v5/users', { headers: admin })).json() as Array<Record<string, unknown>>;
    assert.deepEqual(users.map((u) => u.username).sort(), ['admin', 'ann']);
    assert.ok(!JSON.stringify(users).includes('$2'), 'no password hash is shown');

    const ann = bearer(await token(b, 'ann', 'ann-pass-1'));
    assert.equal(await code(await api(b, '/api/v5/users/ann/change_pwd', json('POST', { old_pwd: 'nope-nope-1', new_pwd: 'ann-pass-2' }, ann))), 'ERROR_PWD_NOT_MATCH');
    assert.equal((await api(b, '/api/v5/users/ann/change_pwd', json('POST', { old_pwd: 'ann-pass-1', new_pwd: 'ann-pass-2' }, ann))).status, 204);
    assert.equal(await code(await api(b, '/api/v5/stats', { headers: ann })), 'BAD_TOKEN', 'a password change logs the user out');
    assert.equal(await code(await login(b, 'ann', 'ann-pass-1')), 'BAD_USERNAME_OR_PWD');
    assert.equal((await login(b, 'ann', 'ann-pass-2')).status, 200);

    assert.equal(await code(await api(b, '/api/v5/users/admin', { method: 'DELETE', headers: admin })), 'NOT_ALLOWED');
    assert.equal(await code(await api(b, '/api/v5/users/admin', json('PUT', { role: 'viewer' }, admin))), 'NOT_ALLOWED');
    assert.equal(await code(await api(b, '/api/v5/users/ghost', { method: 'DELETE', headers: admin })), 'USER_NOT_FOUND');
    assert.equal((await api(b, '/api/v5/users/ann', json('PUT', { description: 'on call' }, admin))).status, 200);
    assert.equal((await api(b, '/api/v5/users/ann', { method: 'DELETE', headers: admin })).status, 204);
    assert.equal(await code(await login(b, 'ann', 'ann-pass-2')), 'BAD_USERNAME_OR_PWD');
  });

  it('failed logins lock the username (3 here) and then the address (4 × 3), right password or not, with Retry-After', async () => {
    // A node of its own: the other tests' failures from this address do not count here.
    const n = await startBroker({ dashboard: { default_password: PASSWORD, unsuccessful_login_max_attempts: 3 } });
    try {
      await api(n, '/api/v5/users', json('POST', { username: 'bob', password: 'bob-pass-1' }, bearer(await token(n, 'admin', PASSWORD))));
      for (let i = 0; i < 3; i++) assert.equal(await code(await login(n, 'bob', 'wrong-pass' + i)), 'BAD_USERNAME_OR_PWD');
      const locked = await login(n, 'bob', 'bob-pass-1');
      assert.equal(locked.status, 401);
      const e = await locked.json() as { code: string; message: string };
      assert.equal(e.code, 'LOGIN_LOCKED');
      assert.match(e.message, /try again in \d+ s/);
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
      // Other names from this address still log in, until the address has 12 failures.
      assert.equal((await login(n, 'admin', PASSWORD)).status, 200);
      for (let i = 3; i < 12; i++) assert.equal(await code(await login(n, `guess${i}`, 'x-pass-1')), 'BAD_USERNAME_OR_PWD', `failure ${i + 1}`);
      assert.equal(await code(await login(n, 'admin', PASSWORD)), 'LOGIN_LOCKED', 'the address is locked now');
    } finally { await n.stop(); }
  });
});

/** Each route's path with its parameters filled in (none of them names a real object). */
const concrete = (path: string): string => path.replace(/\{(\w+)\}/g, (_, n: string) => (n === 'action' ? 'start' : n === 'enable' ? 'true' : 'x'));

describe('roles: a viewer reads everything and changes nothing', () => {
  let b: TestBroker;
  let viewerToken: Record<string, string>;
  let viewerKey: Record<string, string>;
  before(async () => {
    b = await startBroker({ dashboard: { default_password: PASSWORD } });
    const admin = bearer(await token(b, 'admin', PASSWORD));
    await api(b, '/api/v5/users', json('POST', { username: 'vic', password: 'vic-pass-1', role: 'viewer' }, admin));
    viewerToken = bearer(await token(b, 'vic', 'vic-pass-1'));
    const k = await (await api(b, '/api/v5/api_key', json('POST', { name: 'ro', role: 'viewer' }, admin))).json() as Record<string, string>;
    viewerKey = basic(k.api_key!, k.api_secret!);
  });
  after(() => b.stop());

  for (const [who, creds] of [['viewer token', () => viewerToken], ['viewer API key', () => viewerKey]] as const) {
    it(`${who}: every mutating route of the table is 403 UNAUTHORIZED_ROLE, no GET is`, async () => {
      let mutating = 0;
      for (const r of ROUTES) {
        const path = concrete(r.path);
        // Open routes check no credentials (login); logout ends only the caller's own session.
        if (r.access === 'open' && r.method !== 'GET') continue;
        if (r.path === '/api/v5/logout') continue;
        const res = await api(b, path, r.method === 'GET' ? { headers: creds() } : json(r.method, {}, creds()));
        const body = await res.text();
        if (r.method === 'GET') {
          assert.notEqual(res.status, 403, `${r.method} ${r.path}: ${body}`);
          continue;
        }
        mutating++;
        assert.equal(res.status, 403, `${r.method} ${r.path}: ${res.status} ${body}`);
        assert.equal((JSON.parse(body) as { code: string }).code, 'UNAUTHORIZED_ROLE', `${r.method} ${r.path}`);
      }
      assert.ok(mutating >= 40, `walked ${mutating} mutating routes`);
    });
  }

  it('a viewer changes its own password and logs out; nothing else changed', async () => {
    assert.equal((await api(b, '/api/v5/users/vic/change_pwd', json('POST', { old_pwd: 'vic-pass-1', new_pwd: 'vic-pass-2' }, viewerToken))).status, 204);
    const t = bearer(await token(b, 'vic', 'vic-pass-2'));
    assert.equal((await api(b, '/api/v5/logout', json('POST', {}, t))).status, 204);
    const users = await (await api(b, '/api/v5/users', { headers: viewerKey })).json() as unknown[];
    assert.equal(users.length, 2, 'the walk created no user');
  });
});

describe('prometheus: /api/v5/prometheus/stats', () => {
  let b: TestBroker;
  before(async () => { b = await startBroker({ node: { name: 'prom@127.0.0.1' } }); });
  after(() => b.stop());

  it('EMQX names, from the same counters as /api/v5/metrics, per rule and per node; open; the Grafana dashboard queries only names it emits', async () => {
    assert.equal((await api(b, '/api/v5/rules', json('POST', { id: 'r1', sql: 'SELECT * FROM "t/#"' }))).status, 201);
    const c = await client(b, { clientId: 'p1' });
    // After the client connected: this authenticator would refuse it (it has no users).
    assert.equal((await api(b, '/api/v5/authentication', json('POST', { mechanism: 'password_based', backend: 'built_in_database' }))).status, 200);
    await c.subscribeAsync('t/1', { qos: 0 });
    await c.publishAsync('t/1', 'x', { qos: 0 });
    await c.publishAsync('nobody/here', 'x', { qos: 0 });
    const m = await (await api(b, '/api/v5/metrics')).json() as Record<string, number>;
    await until(async () => (await (await api(b, '/api/v5/metrics')).json() as Record<string, number>)['messages.sent']! >= 1);
    const r = await api(b, '/api/v5/prometheus/stats', { headers: { authorization: 'Basic bm9wZTpub3Bl' } });
    assert.equal(r.status, 200, 'open: credentials are not even read');
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await r.text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      assert.ok(line, `${series} in:\n${text.slice(0, 400)}`);
      return Number(line.split(' ')[1]);
    };
    const node = 'node="prom@127.0.0.1"';
    assert.equal(value(`emqx_connections_count{${node}}`), 1);
    assert.ok(value(`emqx_messages_received{${node}}`) >= m['messages.received']!);
    assert.ok(value(`emqx_messages_sent{${node}}`) >= 1);
    assert.ok(value(`emqx_messages_dropped{${node}}`) >= 1, 'nobody/here had no subscriber');
    assert.equal(value(`emqx_subscriptions_count{${node}}`), 1);
    for (const n of ['emqx_sessions_count', 'emqx_topics_count', 'emqx_retained_count', 'emqx_vm_cpu_use', 'emqx_vm_used_memory', 'emqx_vm_total_memory']) value(`${n}{${node}}`);
    assert.equal(value(`emqx_cluster_nodes_running{${node}}`), 1);
    assert.equal(value(`emqx_rule_matched{${node},id="r1"}`), 1);
    value(`emqx_authn_total{${node},id="password_based:built_in_database"}`);
    value(`emqx_listener_current_connections{${node},id="tcp:default"}`);
    assert.equal(text.split('\n').filter((l) => l === '# TYPE emqx_rule_matched counter').length, 1, 'one TYPE line per family');

    const agg = await (await api(b, '/api/v5/prometheus/stats?mode=all_nodes_aggregated')).text();
    assert.match(agg, /^emqx_connections_count 1$/m, 'aggregated: no node label');
    const per = await (await api(b, '/api/v5/prometheus/stats?mode=all_nodes_unaggregated')).text();
    assert.match(per, /^emqx_connections_count\{node="prom@127.0.0.1"\} 1$/m);
    assert.equal(await code(await api(b, '/api/v5/prometheus/stats?mode=cluster')), 'BAD_REQUEST');

    const emitted = new Set([...text.matchAll(/^# TYPE (\w+) /gm)].map((x) => x[1]!));
    const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'docs/grafana/petrel.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\bemqx_\w+/g)].map((x) => x[0]))));
    assert.ok(queried.size >= 10, `the dashboard queries ${queried.size} names`);
    for (const n of queried) assert.ok(emitted.has(n), `docs/grafana/petrel.json queries ${n}, which the endpoint does not emit`);
    await end(c);
  });
});

describe('cluster: keys and users are the cluster\'s', () => {
  let etcd: EtcdTestCluster;
  const nodes: TestBroker[] = [];
  before(async () => {
    etcd = await startEtcdCluster(['e0']);
    const prefix = `/accounts${process.pid}`;
    for (const name of ['ka', 'kb']) {
      nodes.push(await startBroker({
        node: { name: `${name}@127.0.0.1` },
        cluster: { backend: 'etcd', etcd: { endpoints: etcd.clientURLs, prefix, lease_ttl: '3s' }, link: { bind: '127.0.0.1:0' } },
      }));
    }
  });
  after(async () => { for (const n of nodes) await n.stop(); await etcd?.stop(); });

  it('a key and a user made on node A work on node B, and B\'s token works on A', async () => {
    const [a, b] = nodes as [TestBroker, TestBroker];
    const k = await (await api(a, '/api/v5/api_key', json('POST', { name: 'fleet' }))).json() as Record<string, string>;
    const auth = basic(k.api_key!, k.api_secret!);
    // A answers once etcd has the key; B hears of it through its watch.
    await until(async () => (await api(b, '/api/v5/stats', { headers: auth })).status === 200, 10_000, 'B accepts the key made on A');
    assert.equal(await code(await api(b, '/api/v5/stats')), 'UNAUTHORIZED', 'B knows a key exists now');
    assert.equal((await api(a, '/api/v5/users', json('POST', { username: 'ops', password: 'ops-pass-1' }, auth))).status, 200);
    await until(async () => (await login(b, 'ops', 'ops-pass-1')).status === 200, 10_000, 'the user made on A logs in on B');
    const t = await token(b, 'ops', 'ops-pass-1');
    await until(async () => (await api(a, '/api/v5/stats', { headers: bearer(t) })).status === 200, 10_000, "B's token works on A");
  });
});
