/**
 * 16 — `petrel ctl` as a user runs it: the built CLI as a child process against a real node with
 * real MQTT clients. Each command's table has a header and the expected rows (columns found by
 * the header's offsets, so they must line up); --json equals what the REST API answers; lists
 * page (--limit, --page, the "more" hint, --all); kick, ban and unban take effect on the
 * clients; rules are enabled and disabled; listeners stopped and started. Exit codes: 1 for the
 * API's errors (one `CODE: message` line) and an unreachable node, 2 for usage mistakes.
 * Log traces: start, log, download, stop, delete. `ctl cluster` is covered in 16-sys-and-api.
 *
 * v3 vs v5: the CLI does not speak MQTT; a kicked or banned v5 client is the one observed here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { startBroker, client, until, end, repoRoot, type TestBroker } from '../support/broker.js';
import { api, getJson } from '../support/api.js';

const NODE = 'petrel-ctl@127.0.0.1';
let b: TestBroker;
let keyed: TestBroker;
let keyDir: string;
const clients: MqttClient[] = [];

before(async () => {
  keyDir = mkdtempSync(join(tmpdir(), 'petrel-ctl-keys-'));
  writeFileSync(join(keyDir, 'keys'), 'ops:s3cret\n');
  [b, keyed] = await Promise.all([
    startBroker({ node: { name: NODE } }),
    startBroker({ api_key: { bootstrap_file: join(keyDir, 'keys') } }),
  ]);
});
after(async () => {
  await end(...clients);
  await Promise.all([b.stop(), keyed.stop()]);
  rmSync(keyDir, { recursive: true, force: true });
});

interface Run { code: number; stdout: string; stderr: string }

/** `node dist/broker/src/main.js ctl ARGS --api <b>`; never rejects, the exit code is in the result. */
function ctl(args: string[], opts: { node?: TestBroker | string; env?: Record<string, string> } = {}): Promise<Run> {
  const url = typeof opts.node === 'string' ? opts.node : `http://127.0.0.1:${(opts.node ?? b).apiPort}`;
  const env = { ...process.env, PETREL_API_KEY: '', ...opts.env };
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot(), 'dist', 'broker', 'src', 'main.js'), 'ctl', ...args, '--api', url], { env }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** Runs and expects exit 0. */
async function ok(...args: string[]): Promise<string> {
  const r = await ctl(args);
  assert.equal(r.code, 0, `ctl ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
  return r.stdout;
}

/** A table's rows as records by header, each cell cut at its header's offset (so misaligned columns fail). */
function parseTable(text: string): Array<Record<string, string>> {
  const lines = text.replace(/\n+$/, '').split('\n');
  const header = lines[0];
  const heads = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index! }));
  return lines.slice(1).map((l) => {
    const row: Record<string, string> = {};
    heads.forEach((h, i) => {
      assert.ok(h.at === 0 || l[h.at - 1] === ' ', `column ${h.name} starts after a space in "${l}"`);
      row[h.name] = l.slice(h.at, i + 1 < heads.length ? heads[i + 1].at : undefined).trim();
    });
    return row;
  });
}

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const headerOf = (text: string): string[] => text.split('\n')[0].split(/\s+/);

async function connect(id: string, extra: Record<string, unknown> = {}): Promise<MqttClient> {
  const c = await client(b, { protocolVersion: 5, clientId: id, ...extra });
  clients.push(c);
  return c;
}

const subscribe = (c: MqttClient, topic: string, qos: 0 | 1 | 2): Promise<unknown> => c.subscribeAsync(topic, { qos });

test('clients: table rows, filters, --json equals the API, paging with the hint, --all', async () => {
  for (let i = 0; i < 5; i++) await connect(`ctl-c${i}`, { username: i < 2 ? 'ctl-admin' : 'ctl-user' });
  const out = await ok('clients', '--like-clientid', 'ctl-c');
  assert.deepEqual(headerOf(out), ['CLIENTID', 'USERNAME', 'ADDRESS', 'PROTO', 'STATE', 'SUBS', 'INFLIGHT', 'MQUEUE', 'NODE', 'CONNECTED_AT']);
  const rows = parseTable(out);
  assert.deepEqual(rows.map((r) => r.CLIENTID).sort(), ['ctl-c0', 'ctl-c1', 'ctl-c2', 'ctl-c3', 'ctl-c4']);
  const r0 = rows.find((r) => r.CLIENTID === 'ctl-c0')!;
  assert.equal(r0.USERNAME, 'ctl-admin');
  assert.match(r0.ADDRESS, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual([r0.PROTO, r0.STATE, r0.SUBS, r0.NODE], ['MQTT 5', 'connected', '0', NODE]);

  const byUser = parseTable(await ok('clients', '--username', 'ctl-admin'));
  assert.deepEqual(byUser.map((r) => r.CLIENTID).sort(), ['ctl-c0', 'ctl-c1']);
  assert.equal(parseTable(await ok('clients', '--ip', '127.0.0.1', '--node', NODE, '--like-clientid', 'ctl-c')).length, 5);

  const json = JSON.parse(await ok('clients', '--like-clientid', 'ctl-c', '--json')) as { data: unknown[] };
  assert.deepEqual(json, await getJson(b, '/api/v5/clients?like_clientid=ctl-c'));

  const p1 = await ctl(['clients', '--like-clientid', 'ctl-c', '--limit', '2']);
  assert.equal(p1.code, 0);
  assert.equal(parseTable(p1.stdout).length, 2);
  assert.match(p1.stderr, /page 1 of 3, more: pass --page 2/);
  const p3 = await ctl(['clients', '--like-clientid', 'ctl-c', '--limit', '2', '--page', '3']);
  assert.equal(parseTable(p3.stdout).length, 1);
  assert.equal(p3.stderr, '', 'no hint on the last page');
  const seen = [...parseTable(p1.stdout), ...parseTable((await ctl(['clients', '--like-clientid', 'ctl-c', '--limit', '2', '--page', '2'])).stdout), ...parseTable(p3.stdout)];
  assert.deepEqual(seen.map((r) => r.CLIENTID).sort(), rows.map((r) => r.CLIENTID).sort(), 'the pages together are the list');
  const all = await ctl(['clients', '--like-clientid', 'ctl-c', '--limit', '2', '--all']);
  assert.deepEqual(parseTable(all.stdout).map((r) => r.CLIENTID).sort(), rows.map((r) => r.CLIENTID).sort());
  assert.equal(all.stderr, '');
  const allJson = JSON.parse(await ok('clients', '--like-clientid', 'ctl-c', '--limit', '2', '--all', '--json')) as { data: unknown[]; meta: { count: number; hasnext: boolean } };
  assert.deepEqual(allJson.data, json.data);
  assert.deepEqual([allJson.meta.count, allJson.meta.hasnext], [5, false]);
});

test('clients --conn-state: connected clients, or the sessions whose client is away', async () => {
  const c = await client(b, { protocolVersion: 5, clientId: 'ctl-away', clean: false, properties: { sessionExpiryInterval: 300 } });
  assert.deepEqual(parseTable(await ok('clients', '--like-clientid', 'ctl-away', '--conn-state', 'connected')).map((r) => r.STATE), ['connected']);
  assert.deepEqual(parseTable(await ok('clients', '--like-clientid', 'ctl-away', '--conn-state', 'disconnected')), []);
  await end(c);
  await until(async () => parseTable(await ok('clients', '--like-clientid', 'ctl-away', '--conn-state', 'disconnected')).length === 1, 3000, 'the offline session listed');
  const off = parseTable(await ok('clients', '--like-clientid', 'ctl-away', '--conn-state', 'disconnected'))[0];
  assert.deepEqual([off.CLIENTID, off.STATE, off.ADDRESS], ['ctl-away', 'disconnected', '-']);
  assert.deepEqual(parseTable(await ok('clients', '--like-clientid', 'ctl-away')), [], 'the default is connected clients');
  assert.equal((await ctl(['clients', '--conn-state', 'idle'])).code, 2);
});

test('client ID: its fields and its subscriptions; --json is both API answers', async () => {
  const c = await connect('ctl-detail');
  await subscribe(c, 'ctl/detail/+', 1);
  await subscribe(c, 'ctl/detail/x', 2);
  const out = await ok('client', 'ctl-detail');
  const [fields, subs] = out.split('\n\n');
  const f = Object.fromEntries(parseTable(fields).map((r) => [r.FIELD, r.VALUE]));
  assert.deepEqual([f.clientid, f.connected, f.subscriptions_cnt, f.node], ['ctl-detail', 'true', '2', NODE]);
  assert.deepEqual(headerOf(subs), ['TOPIC', 'QOS', 'NL', 'RAP', 'RH']);
  assert.deepEqual(parseTable(subs).map((r) => [r.TOPIC, r.QOS]).sort(), [['ctl/detail/+', '1'], ['ctl/detail/x', '2']]);
  assert.deepEqual(JSON.parse(await ok('client', 'ctl-detail', '--json')), {
    client: await getJson(b, '/api/v5/clients/ctl-detail'), subscriptions: await getJson(b, '/api/v5/clients/ctl-detail/subscriptions'),
  });
  const missing = await ctl(['client', 'ctl-nobody']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^CLIENTID_NOT_FOUND: no client or session ctl-nobody\n$/);
});

test('subscriptions: filters, paging, --json', async () => {
  const c = await connect('ctl-subs');
  for (let i = 0; i < 5; i++) await subscribe(c, `ctl/s/${i}`, (i % 3) as 0 | 1 | 2);
  const out = await ok('subscriptions', '--clientid', 'ctl-subs');
  assert.deepEqual(headerOf(out), ['CLIENTID', 'TOPIC', 'QOS', 'NL', 'RAP', 'RH', 'NODE']);
  assert.deepEqual(parseTable(out).map((r) => `${r.TOPIC} ${r.QOS} ${r.NODE}`).sort(), [0, 1, 2, 3, 4].map((i) => `ctl/s/${i} ${i % 3} ${NODE}`));
  assert.deepEqual(parseTable(await ok('subscriptions', '--clientid', 'ctl-subs', '--qos', '1')).map((r) => r.TOPIC).sort(), ['ctl/s/1', 'ctl/s/4']);
  assert.deepEqual(parseTable(await ok('subscriptions', '--topic', 'ctl/s/3')).map((r) => r.CLIENTID), ['ctl-subs']);
  assert.deepEqual(parseTable(await ok('subscriptions', '--clientid', 'ctl-subs', '--node', 'elsewhere@nowhere')), []);
  const page = await ctl(['subscriptions', '--clientid', 'ctl-subs', '--limit', '3']);
  assert.equal(parseTable(page.stdout).length, 3);
  assert.match(page.stderr, /page 1 of 2, more: pass --page 2/);
  assert.equal(parseTable((await ctl(['subscriptions', '--clientid', 'ctl-subs', '--limit', '3', '--page', '2'])).stdout).length, 2);
  assert.deepEqual(JSON.parse(await ok('subscriptions', '--clientid', 'ctl-subs', '--json')), await getJson(b, '/api/v5/subscriptions?clientid=ctl-subs'));
  assert.equal((await ctl(['subscriptions', '--qos', '3'])).code, 2);
});

test('topics and retained (a retained message published with ctl publish --retain)', async () => {
  const c = await connect('ctl-topics');
  await subscribe(c, 'ctl/topic/only', 0);
  const topics = parseTable(await ok('topics', '--all'));
  assert.ok(topics.some((r) => r.TOPIC === 'ctl/topic/only' && r.NODE === NODE), 'the route is listed');
  assert.deepEqual(JSON.parse(await ok('topics', '--json')), await getJson(b, '/api/v5/topics'));

  assert.equal(JSON.parse(await ok('publish', 'ctl/kept', 'hello', '1', '--retain')).id !== undefined, true);
  const out = await ok('retained');
  assert.deepEqual(headerOf(out), ['TOPIC', 'QOS', 'FROM', 'PUBLISHED_AT', 'MSGID']);
  const row = parseTable(out).find((r) => r.TOPIC === 'ctl/kept');
  assert.ok(row !== undefined, out);
  assert.equal(row.QOS, '1');
  assert.deepEqual(JSON.parse(await ok('retained', '--json')), await getJson(b, '/api/v5/retainer/messages'));
});

test('rules: list with status and counters, one rule, disable and enable', async () => {
  const created = await api(b, '/api/v5/rules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'ctl-rule', name: 'to console', sql: 'SELECT * FROM "ctl/rule/#"', actions: [{ function: 'console' }] }) });
  assert.equal(created.status, 201, await created.text());
  const pub = await connect('ctl-rule-pub');
  await pub.publishAsync('ctl/rule/a', 'x', { qos: 1 });
  await until(async () => ((await getJson<{ metrics: { matched: number } }>(b, '/api/v5/rules/ctl-rule/metrics')).metrics.matched === 1), 3000, 'the rule matched');
  const out = await ok('rules');
  assert.deepEqual(headerOf(out), ['ID', 'NAME', 'STATUS', 'FROM', 'MATCHED', 'PASSED', 'FAILED', 'CREATED_AT']);
  const row = parseTable(out).find((r) => r.ID === 'ctl-rule')!;
  assert.deepEqual([row.NAME, row.STATUS, row.FROM, row.MATCHED, row.PASSED, row.FAILED], ['to console', 'enabled', 'ctl/rule/#', '1', '1', '0']);
  assert.deepEqual(JSON.parse(await ok('rules', '--json')), await getJson(b, '/api/v5/rules'));

  const one = Object.fromEntries(parseTable((await ok('rule', 'ctl-rule')).split('\n\n')[0]).map((r) => [r.FIELD, r.VALUE]));
  assert.deepEqual([one.id, one.status, one.sql], ['ctl-rule', 'enabled', 'SELECT * FROM "ctl/rule/#"']);
  assert.deepEqual(JSON.parse(await ok('rule', 'ctl-rule', '--json')), {
    rule: await getJson(b, '/api/v5/rules/ctl-rule'), metrics: (await getJson<{ metrics: unknown }>(b, '/api/v5/rules/ctl-rule/metrics')).metrics,
  });

  assert.equal((await ok('rule', 'disable', 'ctl-rule')).trim(), 'rule ctl-rule disabled');
  assert.equal((await getJson<{ enable: boolean }>(b, '/api/v5/rules/ctl-rule')).enable, false);
  assert.equal(parseTable(await ok('rules')).find((r) => r.ID === 'ctl-rule')!.STATUS, 'disabled');
  await pub.publishAsync('ctl/rule/a', 'y', { qos: 1 });
  assert.equal((await getJson<{ metrics: { matched: number } }>(b, '/api/v5/rules/ctl-rule/metrics')).metrics.matched, 1, 'a disabled rule does not match');
  const enabled = JSON.parse(await ok('rule', 'enable', 'ctl-rule', '--json')) as { enable: boolean };
  assert.equal(enabled.enable, true);
  const missing = await ctl(['rule', 'ctl-none']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^RESOURCE_NOT_FOUND: /);
});

test('kick: the client is disconnected; kicking it again is CLIENTID_NOT_FOUND, exit 1', async () => {
  const c = await connect('ctl-kickme');
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  assert.equal((await ok('kick', 'ctl-kickme')).trim(), 'kicked ctl-kickme');
  await closed;
  const again = await ctl(['kick', 'ctl-kickme']);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'CLIENTID_NOT_FOUND: no client or session ctl-kickme\n');
});

test('ban kicks and refuses the client; banned lists it; unban lets it back', async () => {
  const c = await connect('ctl-banned');
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  const ban = await ok('ban', '--as', 'clientid', '--who', 'ctl-banned', '--reason', 'ctl test', '--until', '2099-01-01T00:00:00Z');
  assert.match(ban, /^banned clientid ctl-banned until 2099-01-01T00:00:00/);
  await closed;
  await assert.rejects(client(b, { protocolVersion: 5, clientId: 'ctl-banned' }), /Banned|banned/i);
  const out = await ok('banned');
  assert.deepEqual(headerOf(out), ['AS', 'WHO', 'BY', 'AT', 'UNTIL', 'REASON']);
  const row = parseTable(out).find((r) => r.WHO === 'ctl-banned')!;
  assert.deepEqual([row.AS, row.REASON], ['clientid', 'ctl test']);
  assert.deepEqual(JSON.parse(await ok('banned', '--json')), await getJson(b, '/api/v5/banned'));
  const twice = await ctl(['ban', '--as', 'clientid', '--who', 'ctl-banned']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /^ALREADY_EXISTS: /);
  assert.equal((await ok('unban', 'clientid', 'ctl-banned')).trim(), 'unbanned clientid ctl-banned');
  await end(await client(b, { protocolVersion: 5, clientId: 'ctl-banned' }));
  assert.equal((await ctl(['unban', 'clientid', 'ctl-banned'])).code, 1, 'no such ban any more');
  assert.equal((await ctl(['ban', '--who', 'x'])).code, 2, '--as is required');
  assert.equal((await ctl(['ban', '--as', 'everyone', '--who', 'x'])).code, 2);
  const badUntil = await ctl(['ban', '--as', 'clientid', '--who', 'x', '--until', 'soon']);
  assert.equal(badUntil.code, 1);
  assert.match(badUntil.stderr, /^BAD_REQUEST: /);
});

test('listeners: table; stop and start one (new connections refused, then accepted); update one', async () => {
  const out = await ok('listeners');
  assert.deepEqual(headerOf(out), ['ID', 'TRANSPORT', 'BIND', 'PORT', 'RUNNING', 'CONNECTIONS', 'MAX', 'ACCEPTED', 'REJECTED']);
  const tcp = parseTable(out).find((r) => r.ID === 'tcp:default')!;
  assert.deepEqual([tcp.BIND, tcp.PORT, tcp.RUNNING], ['127.0.0.1:0', String(b.port), 'yes']);
  assert.deepEqual(JSON.parse(await ok('listeners', '--json')), await getJson(b, '/api/v5/listeners'));
  assert.equal((await ok('listener', 'stop', 'ws:default')).trim(), 'listener ws:default stopped');
  assert.equal(parseTable(await ok('listeners')).find((r) => r.ID === 'ws:default')!.RUNNING, 'no');
  await assert.rejects(client(b.wsPort, { protocol: 'ws', path: '/mqtt', clientId: 'ctl-ws' } as never));
  assert.equal((await ok('listener', 'start', 'ws:default')).trim(), 'listener ws:default started');
  await end(await client(b.wsPort, { protocol: 'ws', path: '/mqtt', clientId: 'ctl-ws' } as never));
  assert.equal((await ok('listener', 'restart', 'ws:default')).trim(), 'listener ws:default restarted');
  const updated = parseTable(await ok('listener', 'update', 'ws:default', '--max-connections', '7', '--max-conn-rate', '100/s'));
  assert.deepEqual(updated.map((r) => [r.ID, r.RUNNING, r.MAX, r.PORT]), [['ws:default', 'yes', '7', String(b.wsPort)]]);
  assert.equal((await getJson<Array<Record<string, unknown>>>(b, '/api/v5/listeners')).find((l) => l.id === 'ws:default')!.maxConnections, 7);
  const back = JSON.parse(await ok('listener', 'update', 'ws:default', '--max-connections', 'infinity', '--json')) as Record<string, unknown>;
  assert.equal(back.maxConnections, 'infinity');
  const badRate = await ctl(['listener', 'update', 'ws:default', '--max-conn-rate', 'fast']);
  assert.equal(badRate.code, 1);
  assert.match(badRate.stderr, /^BAD_REQUEST: body\.max_conn_rate: /);
  assert.equal((await ctl(['listener', 'update', 'ws:default'])).code, 2, 'nothing to change');
  assert.equal((await ctl(['listener', 'stop', 'ws:default', '--bind', 'x'])).code, 2);
  const unknown = await ctl(['listener', 'stop', 'tcp:nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^NOT_FOUND: no listener tcp:nope/);
  assert.equal((await ctl(['listener', 'pause', 'tcp:default'])).code, 2);
});

test('status, stats and metrics: NAME VALUE tables; --json the API answer', async () => {
  const status = Object.fromEntries(parseTable(await ok('status')).map((r) => [r.FIELD, r.VALUE]));
  assert.deepEqual([status.node, status.status], [NODE, 'running']);
  const stats = Object.fromEntries(parseTable(await ok('stats')).map((r) => [r.NAME, r.VALUE]));
  const apiStats = await getJson<Record<string, number>>(b, '/api/v5/stats');
  assert.ok(Number(stats['connections.count']) >= 1);
  assert.deepEqual(Object.keys(stats).sort(), Object.keys(apiStats).sort());
  const metrics = Object.fromEntries(parseTable(await ok('metrics')).map((r) => [r.NAME, r.VALUE]));
  assert.equal(metrics.node, NODE);
  assert.ok(Number(metrics['messages.received']) >= 1);
  const j = JSON.parse(await ok('metrics', '--json')) as Record<string, unknown>;
  assert.equal(j.node, NODE);
  assert.deepEqual(JSON.parse(await ok('status', '--json')).node, NODE);
});

test('errors: usage mistakes exit 2, an unreachable node exits 1, the API key is sent', async () => {
  for (const args of [[], ['frobnicate'], ['clients', '--bogus'], ['clients', '--page', '0'], ['clients', '--limit', 'ten'], ['topics', '--username', 'u'], ['kick'], ['clients', '--all', '--page', '2']]) {
    const r = await ctl(args);
    assert.equal(r.code, 2, `ctl ${args.join(' ')}`);
    assert.match(r.stderr, /usage: petrel ctl/);
    assert.equal(r.stdout, '');
  }
  assert.equal((await ctl(['status'], { node: 'not a url' })).code, 2);
  assert.equal((await ctl(['status'], { node: `http://127.0.0.1:${b.apiPort}/` })).code, 0, 'a trailing / is fine');
  const help = await ctl(['--help']);
  assert.equal(help.code, 0);
  for (const cmd of ['clients', 'client', 'kick', 'subscriptions', 'topics', 'retained', 'rules', 'rule', 'banned', 'ban', 'unban', 'cluster', 'listeners', 'listener', 'status', 'stats', 'metrics', 'publish', 'drain']) {
    assert.match(help.stdout, new RegExp(`^  ${cmd}\\b`, 'm'), cmd);
  }
  const port = await closedPort();
  const down = await ctl(['clients'], { node: `http://127.0.0.1:${port}` });
  assert.equal(down.code, 1);
  assert.equal(down.stderr, `cannot reach http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  const noKey = await ctl(['clients'], { node: keyed });
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /^[A-Z_]+: .+\n$/, 'one line with the API\'s code');
  const withKey = await ctl(['clients'], { node: keyed, env: { PETREL_API_KEY: 'ops:s3cret' } });
  assert.equal(withKey.code, 0, withKey.stderr);
  assert.deepEqual(headerOf(withKey.stdout)[0], 'CLIENTID');
});

test('trace: start one for a client, its events in `trace log`, download the ZIP, stop, delete', async () => {
  const started = parseTable(await ok('trace', 'start', 'ctltrace', '--clientid', 'ctl-traced'));
  assert.deepEqual([started[0].NAME, started[0].TYPE, started[0].FILTER, started[0].STATUS], ['ctltrace', 'clientid', 'ctl-traced', 'running']);
  const c = await connect('ctl-traced');
  await c.publishAsync('ctl/traced/t', 'hello-trace', { qos: 1 });
  let text = '';
  await until(async () => {
    const r = await ctl(['trace', 'log', 'ctltrace', '--bytes', '100000']);
    text = r.stdout;
    return r.code === 0 && /hello-trace/.test(text);
  }, 5000, 'the PUBLISH in the trace log');
  assert.match(text, /ctl-traced/);
  const listed = parseTable(await ok('trace'));
  const row = listed.find((r) => r.NAME === 'ctltrace')!;
  assert.ok(Number(row.BYTES) > 0, `BYTES ${row.BYTES}`);
  assert.deepEqual(JSON.parse(await ok('trace', '--json')), await getJson(b, '/api/v5/trace'));

  const dir = mkdtempSync(join(tmpdir(), 'petrel-ctl-trace-'));
  try {
    const zipFile = join(dir, 'ctltrace.zip');
    assert.match(await ok('trace', 'download', 'ctltrace', '--output', zipFile), /^saved \d+ bytes to /);
    const zip = readFileSync(zipFile);
    assert.equal(zip.readUInt32LE(0), 0x04034b50, 'a ZIP local file header');
    assert.ok(zip.includes(Buffer.from(`${NODE}-ctltrace.log`)), 'the node\'s file is in the ZIP');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  assert.match(await ok('trace', 'stop', 'ctltrace'), /stopped trace ctltrace/);
  assert.equal(parseTable(await ok('trace')).find((r) => r.NAME === 'ctltrace')!.STATUS, 'stopped');
  assert.match(await ok('trace', 'delete', 'ctltrace'), /deleted trace ctltrace/);
  const gone = await ctl(['trace', 'log', 'ctltrace']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^NOT_FOUND: /);
  const twoKinds = await ctl(['trace', 'start', 'x', '--clientid', 'a', '--topic', 't']);
  assert.equal(twoKinds.code, 2);
  assert.match(twoKinds.stderr, /exactly one of/);
});
