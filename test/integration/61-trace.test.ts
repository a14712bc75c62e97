/**
 * 61 — log trace, as EMQX's /api/v5/trace: a client id trace, a topic trace and an IP trace on
 * a real node with MQTT.js clients. The traced client's CONNECT (no password), CONNACK,
 * authentication, SUBSCRIBE/SUBACK, PUBLISH in and out, PUBACK and disconnect reach its file;
 * untraced clients never do. Paged reads (/log) and the ZIP download (read with Debian's
 * unzip) agree; stop, delete (file gone), a restart (definitions kept), end_at in the past and
 * other bad input (400 with EMQX's codes), duplicates (409), trace.max_traces, and a viewer
 * refused every change. Authentication (refused and accepted) and authorization answers (publish,
 * subscribe) with a real built-in database and acl rules. On an etcd cluster: a trace made on one node runs on the other, whose
 * file the first lists, pages, details and downloads; stop and delete reach it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, client, end, until, requireBinary, type TestBroker } from '../support/broker.js';
import { api, getJson, type HasApi } from '../support/api.js';
import { startEtcdCluster, type EtcdTestCluster } from '../support/etcd-cluster.js';

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit =>
  ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

interface TraceRow { name: string; type: string; status: string; start_at: string; end_at: string; log_size: Record<string, number>; [k: string]: unknown }
interface LogPage { items: string; meta: { position: number; bytes: number; hint?: string } }

async function create(b: HasApi, body: Record<string, unknown>): Promise<TraceRow> {
  const r = await api(b, '/api/v5/trace', post(body));
  assert.equal(r.status, 200, `create ${JSON.stringify(body)}: ${await r.clone().text()}`);
  return await r.json() as TraceRow;
}

async function refused(b: HasApi, body: Record<string, unknown>): Promise<{ status: number; code: string; message: string }> {
  const r = await api(b, '/api/v5/trace', post(body));
  const j = await r.json() as { code: string; message: string };
  return { status: r.status, code: j.code, message: j.message };
}

/** The whole file of a trace on the answering node, through /log pages of `bytes`. */
async function readAll(b: HasApi, name: string, bytes = 100_000): Promise<string> {
  let out = '';
  let position = 0;
  for (let i = 0; i < 10_000; i++) {
    const p = await getJson<LogPage>(b, `/api/v5/trace/${name}/log?bytes=${bytes}&position=${position}`);
    out += p.items;
    assert.ok(p.meta.position >= position);
    position = p.meta.position;
    if (p.meta.hint === 'eof') return out;
  }
  throw new Error('no eof');
}

async function logHas(b: HasApi, name: string, needle: string): Promise<void> {
  await until(async () => (await readAll(b, name)).includes(needle), 5000, `${needle} in trace ${name}`);
}

describe('log trace on one node', () => {
  let b: TestBroker;
  before(async () => { b = await startBroker({ dashboard: { default_password: 'Adm1n-secret' } }); });
  after(() => b.stop());

  it('a client id trace logs the traced client\'s packets and decisions, and nothing of other clients', async () => {
    const t = await create(b, { name: 'cid1', type: 'clientid', clientid: 'traced-1' });
    assert.equal(t.status, 'running');
    assert.equal(t.clientid, 'traced-1');
    assert.equal(t.formatter, 'text');
    assert.equal(t.payload_encode, 'text');
    // Default window: 10 minutes from now.
    assert.equal(Date.parse(t.end_at) - Date.parse(t.start_at), 600_000);

    const traced = await client(b, { clientId: 'traced-1', username: 'u1', password: 'secret-pw', protocolVersion: 5 });
    const other = await client(b, { clientId: 'other-1', protocolVersion: 5 });
    await traced.subscribeAsync('t/1', { qos: 1 });
    await other.subscribeAsync('t/1', { qos: 1 });
    await traced.publishAsync('t/1', 'hello-trace', { qos: 1 });
    await other.publishAsync('t/1', 'from-other', { qos: 1 });
    await traced.unsubscribeAsync('t/1');
    await traced.endAsync();
    await logHas(b, 'cid1', 'client_disconnected');
    const text = await readAll(b, 'cid1');
    const lines = text.trim().split('\n');
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(MQTT|AUTHN|AUTHZ|CONNECTION)\] traced-1@127\.0\.0\.1:\d+ msg: /, l);
    const has = (re: RegExp): void => assert.ok(lines.some((l) => re.test(l)), `no line matching ${re}:\n${text}`);
    has(/msg: mqtt_packet_received, packet: CONNECT\(ClientId=traced-1, ProtoName=MQTT, ProtoVsn=5, CleanStart=true, KeepAlive=60, Username=u1, Password=\*{6}/);
    has(/\[AUTHN\].*msg: authentication_success, reason_code: success, anonymous: true/);
    has(/msg: mqtt_packet_sent, packet: CONNACK\(AckFlags=0, ReasonCode=0/);
    has(/msg: mqtt_packet_received, packet: SUBSCRIBE\(PacketId=\d+, TopicFilters=\["t\/1\(qos=1\)"\]\)/);
    has(/msg: mqtt_packet_sent, packet: SUBACK\(PacketId=\d+, ReasonCodes=\[1\]\)/);
    has(/msg: mqtt_packet_received, packet: PUBLISH\(Q1, R0, D0, Topic=t\/1, PacketId=\d+, Payload=hello-trace\)/);
    has(/msg: mqtt_packet_sent, packet: PUBACK\(PacketId=\d+, ReasonCode=0\)/);
    // Delivered to the traced client: its own message and the other client's (the payload is the message's).
    has(/msg: mqtt_packet_sent, packet: PUBLISH\(Q1, R0, D0, Topic=t\/1, PacketId=\d+, Payload=from-other\)/);
    has(/msg: mqtt_packet_received, packet: PUBACK\(PacketId=\d+/);
    has(/msg: mqtt_packet_received, packet: UNSUBSCRIBE\(PacketId=\d+, TopicFilters=\["t\/1"\]\)/);
    has(/msg: mqtt_packet_sent, packet: UNSUBACK/);
    has(/msg: mqtt_packet_received, packet: DISCONNECT\(ReasonCode=0\)/);
    has(/\[CONNECTION\] traced-1@127\.0\.0\.1:\d+ msg: client_disconnected, reason: \w+/);
    assert.ok(!text.includes('secret-pw'), 'the password is never written');
    assert.ok(!text.includes('other-1@'), 'an untraced client\'s packets are not written');
    await end(other);
  });

  it('a topic trace logs matching PUBLISH packets of any client, received and delivered, as JSON with hex payloads', async () => {
    await create(b, { name: 'tp1', type: 'topic', topic: 'sensors/+/temp', formatter: 'json', payload_encode: 'hex' });
    const sub = await client(b, { clientId: 'tp-sub' });
    const pub = await client(b, { clientId: 'tp-pub' });
    await sub.subscribeAsync('sensors/#', { qos: 0 });
    await pub.publishAsync('sensors/a/temp', 'abc', { qos: 1 });
    await pub.publishAsync('sensors/a/humidity', 'zzz', { qos: 1 });
    await until(async () => (await readAll(b, 'tp1')).split('\n').filter((l) => l.includes('"mqtt_packet_sent"')).length >= 1, 5000, 'delivery line');
    const rows = (await readAll(b, 'tp1')).trim().split('\n').map((l) => JSON.parse(l) as { msg: string; clientid: string; packet: Record<string, unknown>; time: string; tag: string });
    assert.ok(rows.every((r) => r.packet.Topic === 'sensors/a/temp' && r.tag === 'MQTT'), JSON.stringify(rows));
    const recv = rows.find((r) => r.msg === 'mqtt_packet_received');
    const sent = rows.find((r) => r.msg === 'mqtt_packet_sent');
    assert.equal(recv?.clientid, 'tp-pub');
    assert.equal(recv?.packet.Payload, '616263');
    assert.equal(recv?.packet.type, 'PUBLISH');
    assert.equal(sent?.clientid, 'tp-sub');
    assert.equal(sent?.packet.Payload, '616263');
    assert.ok(!Number.isNaN(Date.parse(rows[0]!.time)));
    // Nothing else of these clients (CONNECT, SUBSCRIBE, PUBACK) is a topic trace's business.
    assert.ok(rows.every((r) => r.packet.type === 'PUBLISH'));
    await end(sub, pub);
  });

  it('an IP trace follows connections from the address, including one made before the trace', async () => {
    const early = await client(b, { clientId: 'ip-early' });
    await create(b, { name: 'ip1', type: 'ip_address', ip_address: '127.0.0.1', payload_encode: 'hidden' });
    await early.publishAsync('ip/x', 'visible?', { qos: 0 });
    const late = await client(b, { clientId: 'ip-late' });
    await late.publishAsync('ip/y', 'secret-payload', { qos: 0 });
    await logHas(b, 'ip1', 'ip-late@127.0.0.1');
    await logHas(b, 'ip1', 'ip-early@127.0.0.1');
    const text = await readAll(b, 'ip1');
    assert.match(text, /ip-early@127\.0\.0\.1:\d+ msg: mqtt_packet_received, packet: PUBLISH\(Q0, R0, D0, Topic=ip\/x, Payload=\*{6}\)/);
    assert.match(text, /ip-late@127\.0\.0\.1:\d+ msg: mqtt_packet_received, packet: CONNECT\(ClientId=ip-late/);
    assert.ok(!text.includes('secret-payload') && !text.includes('visible?'), 'payload_encode hidden writes no payload');
    await end(early, late);
  });

  it('lists every trace with its status and its size on this node; pages and the ZIP download agree', async () => {
    const rows = await getJson<TraceRow[]>(b, '/api/v5/trace');
    assert.deepEqual(rows.map((r) => r.name).sort(), ['cid1', 'ip1', 'tp1']);
    const node = b.node.config.node.name;
    for (const r of rows) {
      assert.equal(r.status, 'running');
      assert.ok(r.log_size[node]! > 0, `${r.name} log_size ${JSON.stringify(r.log_size)}`);
    }
    const whole = await readAll(b, 'cid1');
    // Small pages end on line boundaries and add up to the same text.
    const paged = await readAll(b, 'cid1', 150);
    assert.equal(paged, whole);
    const first = await getJson<LogPage>(b, '/api/v5/trace/cid1/log?bytes=150&position=0');
    assert.ok(first.items.endsWith('\n') && first.meta.hint === undefined && first.meta.bytes === 150);
    const detail = await getJson<Array<{ node: string; size: number; mtime: number }>>(b, '/api/v5/trace/cid1/log_detail');
    assert.equal(detail.length, 1);
    assert.equal(detail[0]!.node, node);
    assert.equal(detail[0]!.size, Buffer.byteLength(whole));
    assert.ok(Math.abs(detail[0]!.mtime - Date.now() / 1000) < 120);

    const r = await api(b, '/api/v5/trace/cid1/download');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/zip');
    assert.equal(r.headers.get('content-disposition'), 'attachment; filename=cid1.zip');
    const dir = mkdtempSync(join(tmpdir(), 'petrel-trace-zip-'));
    try {
      const file = join(dir, 'cid1.zip');
      writeFileSync(file, Buffer.from(await r.arrayBuffer()));
      const unzip = requireBinary('/usr/bin/unzip', 'unzip');
      assert.equal(execFileSync(unzip, ['-Z1', file], { encoding: 'utf8' }).trim(), `${node}-cid1.log`);
      // -t checks every CRC; -p prints the member.
      execFileSync(unzip, ['-tq', file]);
      assert.equal(execFileSync(unzip, ['-p', file, `${node}-cid1.log`], { encoding: 'utf8' }), whole);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('stop: the trace shows stopped and writes nothing more; delete: it and its file are gone', async () => {
    const stop = await api(b, '/api/v5/trace/cid1/stop', { method: 'PUT' });
    assert.equal(stop.status, 200);
    assert.deepEqual(await stop.json(), { enable: false, name: 'cid1' });
    const rows = await getJson<TraceRow[]>(b, '/api/v5/trace');
    assert.equal(rows.find((r) => r.name === 'cid1')?.status, 'stopped');
    const before = await readAll(b, 'cid1');
    const again = await client(b, { clientId: 'traced-1' });
    await again.publishAsync('t/2', 'after-stop', { qos: 1 });
    await end(again);
    // The IP trace (payload hidden) still runs and saw it: the client id trace did not.
    await logHas(b, 'ip1', 'Topic=t/2');
    assert.equal(await readAll(b, 'cid1'), before, 'a stopped trace writes nothing');

    const file = join(b.dataDir, 'trace', 'cid1.log');
    assert.ok(existsSync(file));
    assert.equal((await api(b, '/api/v5/trace/cid1', { method: 'DELETE' })).status, 204);
    assert.ok(!existsSync(file), 'the file goes with the trace');
    assert.equal((await api(b, '/api/v5/trace/cid1', { method: 'DELETE' })).status, 404);
    for (const path of ['/api/v5/trace/cid1/log', '/api/v5/trace/cid1/log_detail', '/api/v5/trace/cid1/download']) {
      const r = await api(b, path);
      assert.equal(r.status, 404, path);
      assert.equal(((await r.json()) as { code: string }).code, 'NOT_FOUND');
    }
    assert.equal((await api(b, '/api/v5/trace/cid1/stop', { method: 'PUT' })).status, 404);
  });

  it('refuses bad input as EMQX does: end_at in the past, bad names, filters, times; duplicates', async () => {
    const past = await refused(b, { name: 'old', type: 'clientid', clientid: 'x', end_at: Math.floor(Date.now() / 1000) - 60 });
    assert.deepEqual([past.status, past.code, past.message], [400, 'INVALID_PARAMS', 'End time has already passed']);
    const rfcPast = await refused(b, { name: 'old', type: 'clientid', clientid: 'x', end_at: '2020-01-01T00:00:00Z' });
    assert.equal(rfcPast.code, 'INVALID_PARAMS');
    // The name's rule is in the body schema (as in EMQX's): a plain 400.
    assert.deepEqual(await refused(b, { name: '1abc', type: 'clientid', clientid: 'x' }).then((r) => [r.status, r.code]), [400, 'BAD_REQUEST']);
    assert.equal((await refused(b, { name: 'a b', type: 'clientid', clientid: 'x' })).code, 'BAD_REQUEST');
    assert.equal((await refused(b, { name: 'noid', type: 'clientid' })).code, 'INVALID_PARAMS');
    assert.equal((await refused(b, { name: 'badtopic', type: 'topic', topic: 'a/#/b' })).code, 'INVALID_PARAMS');
    assert.equal((await refused(b, { name: 'badip', type: 'ip_address', ip_address: '300.1.1.1' })).code, 'INVALID_PARAMS');
    assert.equal((await refused(b, { name: 'badtime', type: 'clientid', clientid: 'x', start_at: 'yesterday' })).code, 'INVALID_PARAMS');
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await refused(b, { name: 'backwards', type: 'clientid', clientid: 'x', start_at: now + 600, end_at: now + 60 })).message, 'Start time is ahead of end time');
    // Schema: an unknown type or field is a plain 400.
    assert.equal((await refused(b, { name: 'rule', type: 'ruleid', ruleid: 'r' })).status, 400);
    assert.equal((await refused(b, { name: 'extra', type: 'clientid', clientid: 'x', colour: 'red' })).status, 400);
    assert.equal((await refused(b, { name: 'enc', type: 'clientid', clientid: 'x', payload_encode: 'base64' })).status, 400);

    // A window in the future: waiting, in RFC 3339 as given.
    const start = new Date((now + 3600) * 1000).toISOString().replace('.000Z', 'Z');
    const w = await create(b, { name: 'later', type: 'clientid', clientid: 'dup', start_at: start });
    assert.equal(w.status, 'waiting');
    assert.equal(w.start_at, start);
    assert.equal(Date.parse(w.end_at), Date.parse(start) + 600_000);
    const same = await refused(b, { name: 'later', type: 'topic', topic: 'a' });
    assert.deepEqual([same.status, same.code], [409, 'ALREADY_EXISTS']);
    const cond = await refused(b, { name: 'later2', type: 'clientid', clientid: 'dup', start_at: now + 3600 });
    assert.deepEqual([cond.status, cond.code], [409, 'DUPLICATE_CONDITION']);
    // The waiting trace's file does not exist yet: its log is empty, at eof.
    assert.deepEqual(await getJson<LogPage>(b, '/api/v5/trace/later/log'), { items: '', meta: { position: 0, bytes: 1000, hint: 'eof' } });
    assert.equal((await api(b, '/api/v5/trace/later/log?node=nobody@nowhere')).status, 404);
  });

  it('a trace waits for its start_at, writes in its window and stops writing at its end_at', async () => {
    const now = Math.floor(Date.now() / 1000);
    const w = await create(b, { name: 'window', type: 'clientid', clientid: 'win', start_at: now + 1, end_at: now + 3 });
    assert.equal(w.status, 'waiting');
    const c = await client(b, { clientId: 'win' });
    await until(async () => (await getJson<TraceRow[]>(b, '/api/v5/trace')).find((r) => r.name === 'window')?.status === 'running', 3000, 'running');
    await c.publishAsync('w/1', 'inside', { qos: 1 });
    await logHas(b, 'window', 'Payload=inside');
    await until(async () => (await getJson<TraceRow[]>(b, '/api/v5/trace')).find((r) => r.name === 'window')?.status === 'stopped', 4000, 'stopped');
    const atEnd = await readAll(b, 'window');
    await c.publishAsync('w/1', 'after-end', { qos: 1 });
    await c.endAsync();
    await logHas(b, 'ip1', 'Topic=w/1');
    assert.equal(await readAll(b, 'window'), atEnd, 'nothing written past end_at');
    assert.ok(!atEnd.includes('client_disconnected'));
  });

  it('a viewer reads traces and changes none', async () => {
    const login = async (username: string, password: string): Promise<string> =>
      ((await (await api(b, '/api/v5/login', post({ username, password }))).json()) as { token: string }).token;
    const admin = { authorization: `Bearer ${await login('admin', 'Adm1n-secret')}` };
    assert.equal((await api(b, '/api/v5/users', post({ username: 'vera', password: 'vera-pass-1', role: 'viewer' }, admin))).status, 200);
    const viewer = { authorization: `Bearer ${await login('vera', 'vera-pass-1')}` };
    assert.equal((await api(b, '/api/v5/trace', { headers: viewer })).status, 200);
    assert.equal((await api(b, '/api/v5/trace/later/log', { headers: viewer })).status, 200);
    const attempts: Array<[string, RequestInit]> = [
      ['/api/v5/trace', post({ name: 'v1', type: 'clientid', clientid: 'x' }, viewer)],
      ['/api/v5/trace', { method: 'DELETE', headers: viewer }],
      ['/api/v5/trace/later', { method: 'DELETE', headers: viewer }],
      ['/api/v5/trace/later/stop', { method: 'PUT', headers: viewer }],
    ];
    for (const [path, init] of attempts) {
      const r = await api(b, path, init);
      assert.equal(r.status, 403, `${init.method} ${path}`);
      assert.equal(((await r.json()) as { code: string }).code, 'UNAUTHORIZED_ROLE');
    }
    assert.equal((await getJson<TraceRow[]>(b, '/api/v5/trace')).find((r) => r.name === 'later')?.status, 'waiting');
    // DELETE /trace clears every trace and file.
    assert.equal((await api(b, '/api/v5/trace', { method: 'DELETE', headers: admin })).status, 204);
    assert.deepEqual(await getJson<TraceRow[]>(b, '/api/v5/trace'), []);
    assert.ok(!existsSync(join(b.dataDir, 'trace', 'ip1.log')));
  });
});

describe('log trace across a restart, and the bounds (trace.max_traces, trace.max_file_size)', () => {
  it('definitions survive a restart; a running trace appends to its file; the maximum is enforced', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'petrel-trace-restart-'));
    try {
      let b = await startBroker({ trace: { max_traces: 2 } }, { dataDir, keepData: true });
      await create(b, { name: 'keep', type: 'clientid', clientid: 'rc' });
      await create(b, { name: 'stopped', type: 'topic', topic: 'never/#' });
      const full = await refused(b, { name: 'third', type: 'clientid', clientid: 'y' });
      assert.deepEqual([full.status, full.code], [400, 'EXCEED_LIMIT']);
      assert.equal((await api(b, '/api/v5/trace/stopped/stop', { method: 'PUT' })).status, 200);
      const c1 = await client(b, { clientId: 'rc' });
      await c1.publishAsync('r/1', 'before-restart', { qos: 1 });
      await end(c1);
      await logHas(b, 'keep', 'before-restart');
      await b.stop();

      b = await startBroker({ trace: { max_traces: 2 } }, { dataDir, keepData: true });
      try {
        const rows = await getJson<TraceRow[]>(b, '/api/v5/trace');
        assert.deepEqual(rows.map((r) => [r.name, r.status]).sort(), [['keep', 'running'], ['stopped', 'stopped']]);
        const c2 = await client(b, { clientId: 'rc' });
        await c2.publishAsync('r/1', 'after-restart', { qos: 1 });
        await end(c2);
        await logHas(b, 'keep', 'after-restart');
        const text = await readAll(b, 'keep');
        assert.ok(text.indexOf('before-restart') < text.indexOf('after-restart'), 'the file is appended to');
      } finally { await b.stop(); }
    } finally { rmSync(dataDir, { recursive: true, force: true }); }
  });

  it('a file stops at trace.max_file_size with a line saying so', async () => {
    const b = await startBroker({ trace: { max_file_size: '100KB' } });
    try {
      await create(b, { name: 'big', type: 'clientid', clientid: 'loud' });
      const c = await client(b, { clientId: 'loud' });
      const payload = 'x'.repeat(1000);
      for (let i = 0; i < 150; i++) await c.publishAsync('big/t', payload, { qos: 1 });
      await c.endAsync();
      await logHas(b, 'big', 'trace.max_file_size');
      const text = await readAll(b, 'big');
      assert.ok(Buffer.byteLength(text) <= 100 * 1024, `${Buffer.byteLength(text)} bytes`);
      const lines = text.trim().split('\n');
      assert.match(lines.at(-1)!, /reached trace\.max_file_size \(102400 bytes\): no more lines are written$/);
      assert.ok(lines.length > 80);
    } finally { await b.stop(); }
  });
});

describe('log trace on an etcd cluster', () => {
  let etcd: EtcdTestCluster;
  before(async () => { etcd = await startEtcdCluster(['t0']); });
  after(() => etcd.stop());

  it('a trace made on node A runs on node B; A lists, pages, details and downloads B\'s file; stop and delete reach B', async () => {
    const prefix = `/trace${process.pid}`;
    const start = (name: string): Promise<TestBroker> => startBroker({
      node: { name: `${name}@127.0.0.1` },
      cluster: { backend: 'etcd', etcd: { endpoints: etcd.clientURLs, prefix, lease_ttl: '3s' }, link: { bind: '127.0.0.1:0' } },
    });
    const a = await start('ta');
    const b = await start('tb');
    try {
      await until(async () => (await getJson<unknown[]>(a, '/api/v5/nodes')).length === 2 && (await getJson<unknown[]>(b, '/api/v5/nodes')).length === 2, 15_000, 'both nodes joined');
      await create(a, { name: 'roam', type: 'clientid', clientid: 'roamer' });
      await until(async () => (await getJson<TraceRow[]>(b, '/api/v5/trace')).some((r) => r.name === 'roam'), 10_000, 'B has the trace');
      const c = await client(b, { clientId: 'roamer' });
      await c.publishAsync('cl/1', 'on-b', { qos: 1 });
      await c.endAsync();
      // A reads B's file through the cluster; its own file holds nothing.
      await until(async () => (await getJson<LogPage>(a, '/api/v5/trace/roam/log?node=tb@127.0.0.1&bytes=100000')).items.includes('client_disconnected'), 10_000, 'B\'s lines seen from A');
      const onB = (await getJson<LogPage>(a, '/api/v5/trace/roam/log?node=tb@127.0.0.1&bytes=100000')).items;
      assert.match(onB, /roamer@127\.0\.0\.1:\d+ msg: mqtt_packet_received, packet: PUBLISH\(Q1, R0, D0, Topic=cl\/1, PacketId=\d+, Payload=on-b\)/);
      assert.equal((await getJson<LogPage>(a, '/api/v5/trace/roam/log')).items, '');
      const row = (await getJson<TraceRow[]>(a, '/api/v5/trace')).find((r) => r.name === 'roam')!;
      assert.deepEqual(Object.keys(row.log_size).sort(), ['ta@127.0.0.1', 'tb@127.0.0.1']);
      assert.equal(row.log_size['ta@127.0.0.1'], 0);
      assert.equal(row.log_size['tb@127.0.0.1'], Buffer.byteLength(onB));
      const detail = await getJson<Array<{ node: string; size: number }>>(a, '/api/v5/trace/roam/log_detail');
      assert.deepEqual(detail.find((d) => d.node === 'tb@127.0.0.1')?.size, Buffer.byteLength(onB));

      const dir = mkdtempSync(join(tmpdir(), 'petrel-trace-zip-'));
      try {
        const file = join(dir, 'roam.zip');
        writeFileSync(file, Buffer.from(await (await api(a, '/api/v5/trace/roam/download')).arrayBuffer()));
        const unzip = requireBinary('/usr/bin/unzip', 'unzip');
        assert.deepEqual(execFileSync(unzip, ['-Z1', file], { encoding: 'utf8' }).trim().split('\n').sort(), ['ta@127.0.0.1-roam.log', 'tb@127.0.0.1-roam.log']);
        assert.equal(execFileSync(unzip, ['-p', file, 'tb@127.0.0.1-roam.log'], { encoding: 'utf8' }), onB);
        // ?node= picks one node's file.
        writeFileSync(file, Buffer.from(await (await api(a, '/api/v5/trace/roam/download?node=tb@127.0.0.1')).arrayBuffer()));
        assert.equal(execFileSync(unzip, ['-Z1', file], { encoding: 'utf8' }).trim(), 'tb@127.0.0.1-roam.log');
        assert.equal((await api(a, '/api/v5/trace/roam/download?node=nobody@nowhere')).status, 404);
      } finally { rmSync(dir, { recursive: true, force: true }); }

      assert.equal((await api(a, '/api/v5/trace/roam/stop', { method: 'PUT' })).status, 200);
      await until(async () => (await getJson<TraceRow[]>(b, '/api/v5/trace')).find((r) => r.name === 'roam')?.status === 'stopped', 10_000, 'B stops it');
      const fileOnB = join(b.dataDir, 'trace', 'roam.log');
      assert.ok(existsSync(fileOnB));
      assert.equal((await api(a, '/api/v5/trace/roam', { method: 'DELETE' })).status, 204);
      await until(() => !existsSync(fileOnB), 10_000, 'B deletes its file');
      assert.deepEqual(await getJson<TraceRow[]>(b, '/api/v5/trace'), []);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('log trace of authentication and authorization', () => {
  it('writes authentication failures and successes, and authorization answers with action and topic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petrel-trace-access-'));
    const users = join(dir, 'users.csv');
    writeFileSync(users, 'user_id,password,is_superuser\nann,ann-pw,false\n');
    const b = await startBroker({
      authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
      authorization: { sources: [{ type: 'file', enable: true, rules: '{deny, all, publish, ["forbidden/#"]}.\n{deny, all, subscribe, ["closed/#"]}.\n{allow, all}.\n' }] },
    });
    try {
      await create(b, { name: 'access', type: 'clientid', clientid: 'acc' });
      await assert.rejects(client(b, { clientId: 'acc', username: 'ann', password: 'wrong', protocolVersion: 5 }));
      const c = await client(b, { clientId: 'acc', username: 'ann', password: 'ann-pw', protocolVersion: 5 });
      await assert.rejects(c.subscribeAsync('closed/1', { qos: 0 }), /Not authorized/);
      await c.subscribeAsync('open/1', { qos: 0 });
      await c.publishAsync('forbidden/x', 'no', { qos: 1 }).catch(() => undefined);
      await c.endAsync();
      await logHas(b, 'access', 'client_disconnected, reason: normal');
      const text = await readAll(b, 'access');
      assert.match(text, /\[AUTHN\] acc@127\.0\.0\.1:\d+ msg: authentication_failure, reason_code: bad_username_or_password, anonymous: false, is_superuser: false, username: ann/);
      assert.match(text, /msg: mqtt_packet_sent, packet: CONNACK\(AckFlags=0, ReasonCode=134\)\n.*\[CONNECTION\] acc@127\.0\.0\.1:\d+ msg: client_disconnected, reason: bad_username_or_password/);
      assert.match(text, /\[AUTHN\] acc@127\.0\.0\.1:\d+ msg: authentication_success, reason_code: success, anonymous: false/);
      assert.match(text, /\[AUTHZ\] acc@127\.0\.0\.1:\d+ msg: authorization_permission_denied, action: subscribe, topic: closed\/1/);
      assert.match(text, /\[AUTHZ\] acc@127\.0\.0\.1:\d+ msg: authorization_permission_allowed, action: subscribe, topic: open\/1/);
      assert.match(text, /\[AUTHZ\] acc@127\.0\.0\.1:\d+ msg: authorization_permission_denied, action: publish, topic: forbidden\/x/);
      assert.match(text, /msg: mqtt_packet_sent, packet: PUBACK\(PacketId=\d+, ReasonCode=135\)/);
      assert.ok(!text.includes('ann-pw') && !text.includes('wrong'), 'no password is written');
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
