/**
 * The OCPP 1.6-J gateway with real peers: ocpp-rpc (npm, strict mode: it validates what it
 * sends and receives against the 1.6 schemas) as the charge point, an MQTT.js client as the
 * central system, and a bare `ws` client for what a well-behaved library will not send
 * (schema-invalid CALLs, malformed frames, wrong subprotocols, bad credentials).
 *
 * The gateway runs with EMQX's defaults (mountpoint "ocpp/", upstream cp/${cid}, replies
 * cp/${cid}/Reply, downstream cs/${cid}), message_format_checking: all, and the built-in
 * database authenticating charge points by HTTP Basic (security profile 1).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { RPCClient } from 'ocpp-rpc';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker, type Received } from '../support/broker.js';
import { getJson } from '../support/api.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-ocpp-'));
const users = join(dir, 'users.csv');
writeFileSync(users, 'user_id,password,is_superuser\n' + ['CP1', 'CP2', 'CP3', 'RAW1', 'RAW2', 'RAW3', 'RAW4', 'RAW5', 'RAW6', 'BENCH', 'cs'].map((u) => `${u},pw-${u},false`).join('\n') + '\n');

let b: TestBroker;
let port: number;
let cs: MqttClient;
let got: Received[];
const closers: Array<() => unknown> = [];

before(async () => {
  b = await startBroker({
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
    gateway: { ocpp: { message_format_checking: 'all', listeners: { ws: { default: { bind: '127.0.0.1:0', websocket: { max_frame_size: '64KB' } } } } } },
  });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/ocpp/listeners'))[0].port;
  cs = await client(b, { clientId: 'central-system', username: 'cs', password: 'pw-cs' });
  got = collect(cs);
  await cs.subscribeAsync(['ocpp/cp/#'], { qos: 1 });
});
after(async () => {
  for (const c of closers) await c();
  if (cs !== undefined) await end(cs);
  await b?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const url = (): string => `ws://127.0.0.1:${port}/ocpp`;
const json = (r: Received): Record<string, unknown> => JSON.parse(r.payload) as Record<string, unknown>;
const basic = (u: string, p: string): string => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

async function chargePoint(id: string): Promise<RPCClient> {
  // The typings ask for every option; the library fills in its defaults.
  const cp = new RPCClient({ endpoint: url(), identity: id, password: `pw-${id}`, protocols: ['ocpp1.6'], strictMode: true, reconnect: false, callTimeoutMs: 5000 } as ConstructorParameters<typeof RPCClient>[0]);
  await cp.connect();
  closers.push(() => cp.close({ force: true }));
  return cp;
}

/** A bare WebSocket; resolves with it once open, or with the HTTP status that refused it. */
function raw(path: string, opts: { protocols?: string[]; auth?: string } = {}): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, opts.protocols ?? ['ocpp1.6'], { headers: opts.auth ? { Authorization: opts.auth } : {} });
    ws.once('open', () => { closers.push(() => ws.terminate()); resolve(ws); });
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.once('error', (e) => reject(e));
  });
}
async function rawCp(id: string): Promise<WebSocket> {
  const ws = await raw(`/ocpp/${id}`, { auth: basic(id, `pw-${id}`) });
  assert.ok(ws instanceof WebSocket, `refused with ${String(ws)}`);
  return ws;
}
function nextFrame(ws: WebSocket, ms = 3000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no frame from the gateway')), ms);
    ws.once('message', (d) => { clearTimeout(t); resolve(JSON.parse(d.toString()) as unknown[]); });
  });
}
const closed = (ws: WebSocket): Promise<number> => new Promise((r) => { if (ws.readyState === WebSocket.CLOSED) r(-1); else ws.once('close', (code) => r(code)); });

describe('OCPP gateway: charge point ⇄ MQTT central system', () => {
  it('BootNotification goes to cp/{cid}; the answer on cs/{cid} comes back to the charge point and sets its heartbeat', async () => {
    const cp = await chargePoint('CP1');
    const call = cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' });
    await until(() => got.some((m) => m.topic === 'ocpp/cp/CP1'), 3000, 'the CALL on MQTT');
    const m = json(got.find((x) => x.topic === 'ocpp/cp/CP1')!);
    assert.equal(m.MessageTypeId, 2);
    assert.equal(m.Action, 'BootNotification');
    assert.deepEqual(m.Payload, { chargePointVendor: 'Acme', chargePointModel: 'X1' });
    assert.equal(typeof m.UniqueId, 'string');
    const answer = { status: 'Accepted', currentTime: new Date().toISOString(), interval: 30 };
    await cs.publishAsync('ocpp/cs/CP1', JSON.stringify({ MessageTypeId: 3, UniqueId: m.UniqueId, Payload: answer }), { qos: 1 });
    assert.deepEqual(await call, answer);
    const row = await getJson<Record<string, unknown>>(b, '/api/v5/clients/CP1');
    assert.equal(row.proto_name, 'OCPP');
    assert.equal(row.keepalive, 30);
    assert.equal(row.username, 'CP1');
  });

  it('RemoteStartTransaction from MQTT reaches the charge point; its answer comes back on cp/{cid}/Reply', async () => {
    const cp = await chargePoint('CP2');
    const seen: Array<{ idTag: string; at: number }> = [];
    cp.handle('RemoteStartTransaction', async ({ params }) => {
      const idTag = String(params?.idTag);
      seen.push({ idTag, at: Date.now() });
      if (idTag === 'first') await sleep(300);
      return { status: 'Accepted' };
    });
    // Two CALLs at once: the second waits until the first is answered (one outstanding CALL).
    await cs.publishAsync('ocpp/cs/CP2', JSON.stringify({ MessageTypeId: 2, UniqueId: 'rs-1', Action: 'RemoteStartTransaction', Payload: { idTag: 'first' } }), { qos: 1 });
    await cs.publishAsync('ocpp/cs/CP2', JSON.stringify({ MessageTypeId: 2, UniqueId: 'rs-2', Action: 'RemoteStartTransaction', Payload: { idTag: 'second', connectorId: 1 } }), { qos: 1 });
    await until(() => got.filter((m) => m.topic === 'ocpp/cp/CP2/Reply').length === 2, 5000, 'both replies');
    const replies = got.filter((m) => m.topic === 'ocpp/cp/CP2/Reply').map(json);
    assert.deepEqual(replies, [
      { MessageTypeId: 3, UniqueId: 'rs-1', Payload: { status: 'Accepted' } },
      { MessageTypeId: 3, UniqueId: 'rs-2', Payload: { status: 'Accepted' } },
    ]);
    assert.deepEqual(seen.map((s) => s.idTag), ['first', 'second']);
    assert.ok(seen[1]!.at - seen[0]!.at >= 250, `the second CALL came ${seen[1]!.at - seen[0]!.at} ms after the first, before it was answered`);
  });

  it('the charge point\'s CALLERROR goes to the error topic in EMQX\'s shape', async () => {
    const cp = await chargePoint('CP3');
    cp.handle('Reset', () => { throw Object.assign(new Error('cannot now'), { rpcErrorCode: 'NotSupported' }); });
    await cs.publishAsync('ocpp/cs/CP3', JSON.stringify({ MessageTypeId: 2, UniqueId: 'reset-1', Action: 'Reset', Payload: { type: 'Soft' } }), { qos: 1 });
    await until(() => got.some((m) => m.topic === 'ocpp/cp/CP3/Reply'), 3000, 'the error');
    const e = json(got.find((m) => m.topic === 'ocpp/cp/CP3/Reply')!);
    assert.equal(e.MessageTypeId, 4);
    assert.equal(e.UniqueId, 'reset-1');
    assert.equal(typeof e.ErrorCode, 'string');
    assert.ok('ErrorDescription' in e);
  });

  it('a schema-invalid CALL is answered with the CALLERROR code its fault calls for, and not published', async () => {
    const ws = await rawCp('RAW1');
    const before = got.length;
    ws.send(JSON.stringify([2, 'bad-1', 'BootNotification', { chargePointVendor: 5, chargePointModel: 'X' }]));
    assert.deepEqual((await nextFrame(ws)).slice(0, 3), [4, 'bad-1', 'TypeConstraintViolation']);
    ws.send(JSON.stringify([2, 'bad-2', 'BootNotification', { chargePointModel: 'X' }]));
    assert.deepEqual((await nextFrame(ws)).slice(0, 3), [4, 'bad-2', 'OccurenceConstraintViolation']);
    ws.send(JSON.stringify([2, 'bad-3', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Sleeping' }]));
    assert.deepEqual((await nextFrame(ws)).slice(0, 3), [4, 'bad-3', 'PropertyConstraintViolation']);
    ws.send(JSON.stringify([2, 'bad-4', 'MakeCoffee', {}]));
    assert.deepEqual((await nextFrame(ws)).slice(0, 3), [4, 'bad-4', 'NotImplemented']);
    ws.send(JSON.stringify([2, 'bad-5', 'Heartbeat']));
    assert.deepEqual((await nextFrame(ws)).slice(0, 3), [4, 'bad-5', 'FormationViolation']);
    ws.send(JSON.stringify([2, 'ok-1', 'Heartbeat', {}]));
    await until(() => got.some((m) => m.topic === 'ocpp/cp/RAW1'), 3000, 'the valid Heartbeat');
    assert.deepEqual(got.slice(before).filter((m) => m.topic === 'ocpp/cp/RAW1').map((m) => json(m).UniqueId), ['ok-1']);
  });

  it('an invalid or unmatched central system message is dropped and counted; a valid one still goes through', async () => {
    const ws = await rawCp('RAW2');
    const frames: unknown[][] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as unknown[]));
    const count = async (): Promise<number> => ((await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/gateways/ocpp')).metrics['messages.dropped_downstream'] ?? 0);
    const dropped = await count();
    await cs.publishAsync('ocpp/cs/RAW2', 'not json', { qos: 1 });
    await cs.publishAsync('ocpp/cs/RAW2', JSON.stringify({ MessageTypeId: 2, UniqueId: 'x1', Action: 'RemoteStartTransaction', Payload: {} }), { qos: 1 });
    await cs.publishAsync('ocpp/cs/RAW2', JSON.stringify({ MessageTypeId: 3, UniqueId: 'nobody-asked', Payload: {} }), { qos: 1 });
    await cs.publishAsync('ocpp/cs/RAW2', JSON.stringify({ MessageTypeId: 2, UniqueId: 'x2', Action: 'RemoteStartTransaction', Payload: { idTag: 'tag' } }), { qos: 1 });
    await until(() => frames.length === 1, 3000, 'the valid CALL');
    assert.deepEqual(frames[0], [2, 'x2', 'RemoteStartTransaction', { idTag: 'tag' }]);
    await until(async () => (await count()) === dropped + 3, 3000, 'three drops counted');
  });

  it('a central system CALL the charge point never answers releases the next one after 30 s', async () => {
    const ws = await rawCp('RAW5');
    const frames: unknown[][] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as unknown[]));
    const call = (id: string) => cs.publishAsync('ocpp/cs/RAW5', JSON.stringify({ MessageTypeId: 2, UniqueId: id, Action: 'ClearCache', Payload: {} }), { qos: 1 });
    await call('c1');
    await call('c2');
    await until(() => frames.length === 1, 3000, 'the first CALL');
    await sleep(200);
    assert.equal(frames.length, 1, 'the second CALL waits for the first to be answered');
    // The gateway's once-a-second timer, run as if 31 s had passed (white-box: the wait is fixed at 30 s).
    b.node.gateways.get('ocpp')!.tick(Date.now() + 31_000);
    await until(() => frames.length === 2, 3000, 'the second CALL');
    assert.deepEqual(frames.map((f) => f[1]), ['c1', 'c2']);
    ws.send(JSON.stringify([3, 'c2', { status: 'Accepted' }]));
    await until(() => got.some((m) => m.topic === 'ocpp/cp/RAW5/Reply'), 3000, 'the reply');
    assert.deepEqual(json(got.find((m) => m.topic === 'ocpp/cp/RAW5/Reply')!), { MessageTypeId: 3, UniqueId: 'c2', Payload: { status: 'Accepted' } });
  });

  it('answers that fail their .conf schema: the charge point\'s reaches the central system as a CALLERROR, the central system\'s is dropped', async () => {
    const ws = await rawCp('RAW6');
    const frames: unknown[][] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as unknown[]));
    await cs.publishAsync('ocpp/cs/RAW6', JSON.stringify({ MessageTypeId: 2, UniqueId: 'u1', Action: 'UnlockConnector', Payload: { connectorId: 1 } }), { qos: 1 });
    await until(() => frames.length === 1, 3000, 'the CALL');
    ws.send(JSON.stringify([3, 'u1', { status: 'Maybe' }]));
    await until(() => got.some((m) => m.topic === 'ocpp/cp/RAW6/Reply'), 3000, 'the error');
    const e = json(got.find((m) => m.topic === 'ocpp/cp/RAW6/Reply')!);
    assert.equal(e.MessageTypeId, 4);
    assert.equal(e.UniqueId, 'u1');
    assert.equal(e.ErrorCode, 'PropertyConstraintViolation');
    assert.match(String(e.ErrorDescription), /UnlockConnector\.conf/);
    ws.send(JSON.stringify([2, 'b1', 'BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' }]));
    await until(() => got.some((m) => m.topic === 'ocpp/cp/RAW6'), 3000, 'the BootNotification');
    await cs.publishAsync('ocpp/cs/RAW6', JSON.stringify({ MessageTypeId: 3, UniqueId: 'b1', Payload: { status: 'Accepted' } }), { qos: 1 });
    await sleep(200);
    assert.equal(frames.length, 1, 'the answer without currentTime and interval is not passed on');
    await cs.publishAsync('ocpp/cs/RAW6', JSON.stringify({ MessageTypeId: 3, UniqueId: 'b1', Payload: { status: 'Accepted', currentTime: new Date().toISOString(), interval: 120 } }), { qos: 1 });
    await until(() => frames.length === 2, 3000, 'the valid answer');
    assert.deepEqual(frames[1]!.slice(0, 2), [3, 'b1']);
    assert.equal((await getJson<Record<string, unknown>>(b, '/api/v5/clients/RAW6')).keepalive, 120);
  });

  it('refuses a wrong or missing subprotocol (400), bad credentials (401), and paths without a charge point id', async () => {
    assert.equal(await raw('/ocpp/RAW3', { protocols: ['ocpp2.0.1'], auth: basic('RAW3', 'pw-RAW3') }), 400);
    assert.equal(await raw('/ocpp/RAW3', { protocols: [], auth: basic('RAW3', 'pw-RAW3') }), 400);
    assert.equal(await raw('/ocpp/RAW3', { auth: basic('RAW3', 'wrong') }), 401);
    assert.equal(await raw('/ocpp/RAW3'), 401);
    assert.equal(await raw('/ocpp/RAW3', { auth: basic('CP1', 'pw-CP1') }), 401, 'another charge point\'s credentials');
    assert.equal(await raw('/ocpp/', { auth: basic('RAW3', 'pw-RAW3') }), 400);
    assert.equal(await raw('/mqtt/RAW3', { auth: basic('RAW3', 'pw-RAW3') }), 404);
    assert.equal(await raw('/ocpp/a%2Fb', { auth: basic('a/b', 'x') }), 400);
    const page = await getJson<{ data: Array<{ clientid: string }> }>(b, '/api/v5/gateways/ocpp/clients');
    assert.ok(!page.data.some((c) => c.clientid === 'RAW3'));
  });

  it('malformed frames close (or are answered on) only the sender; other charge points carry on', async () => {
    const good = await chargePoint('CP1');
    const bad1 = await rawCp('RAW3');
    bad1.send('this is not json');
    assert.equal(await closed(bad1), 1007);
    const bad2 = await rawCp('RAW3');
    bad2.send(Buffer.alloc(100 * 1024, 0x5b).toString());
    assert.equal(await closed(bad2), 1009);
    const bad3 = await rawCp('RAW3');
    bad3.send(Buffer.from([1, 2, 3]));
    assert.equal(await closed(bad3), 1003);
    const bad5 = await rawCp('RAW3');
    bad5.send('é'.repeat(300));
    assert.equal(await closed(bad5), 1007);
    const bad4 = await rawCp('RAW4');
    bad4.send(JSON.stringify([9, 'id-9', 'X', {}]));
    bad4.send(JSON.stringify({ not: 'an array' }));
    assert.equal(await closed(bad4), 1007);
    const call = good.call('Heartbeat', {});
    await until(() => got.some((m) => m.topic === 'ocpp/cp/CP1' && json(m).Action === 'Heartbeat'), 3000, 'the good charge point\'s Heartbeat');
    const id = json(got.filter((m) => m.topic === 'ocpp/cp/CP1' && json(m).Action === 'Heartbeat').at(-1)!).UniqueId;
    await cs.publishAsync('ocpp/cs/CP1', JSON.stringify({ MessageTypeId: 3, UniqueId: id, Payload: { currentTime: new Date().toISOString() } }));
    assert.ok('currentTime' in (await call as object));
    const s = await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/gateways/ocpp');
    assert.ok(s.metrics['frames.malformed']! >= 3);
  });

  it('is listed by /api/v5/gateways with its ws listener (protocol ocpp)', async () => {
    const list = await getJson<Array<Record<string, unknown>>>(b, '/api/v5/gateways');
    const row = list.find((g) => g.name === 'ocpp')!;
    assert.equal(row.status, 'running');
    const ls = await getJson<Array<Record<string, unknown>>>(b, '/api/v5/gateways/ocpp/listeners');
    assert.equal(ls[0]!.id, 'ocpp:ws:default');
    assert.equal(ls[0]!.protocol, 'ocpp');
  });

  it('throughput: CALLs from one charge point into an MQTT subscriber', async () => {
    const n = 5000;
    const sub = await client(b, { clientId: 'bench-sub', username: 'cs', password: 'pw-cs' });
    let count = 0;
    sub.on('message', () => { count++; });
    await sub.subscribeAsync('ocpp/cp/BENCH', { qos: 0 });
    const ws = await rawCp('BENCH');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) ws.send(`[2,"h${i}","Heartbeat",{}]`);
    await until(() => count === n, 60_000, `${n} messages`);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`# OCPP CALL → MQTT subscriber: ${n} in ${s.toFixed(2)} s = ${Math.round(n / s)} msg/s (schema checking on)`);
    await end(sub);
  });
});

describe('OCPP gateway: heartbeat', () => {
  let h: TestBroker;
  before(async () => {
    h = await startBroker({ gateway: { ocpp: { default_heartbeat_interval: '1s', listeners: { ws: { default: { bind: '127.0.0.1:0' } } } } } });
  });
  after(async () => { await h.stop(); });

  it('a silent charge point is closed after (backoff + ½) heartbeat intervals; one that talks is kept', async () => {
    const p = (await getJson<Array<{ port: number }>>(h, '/api/v5/gateways/ocpp/listeners'))[0].port;
    const open = (id: string): Promise<WebSocket> => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${p}/ocpp/${id}`, ['ocpp1.6']);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
    const silent = await open('silent');
    const talker = await open('talker');
    const timer = setInterval(() => talker.send(JSON.stringify([2, `hb${Date.now()}`, 'Heartbeat', {}])), 400);
    const t0 = Date.now();
    await closed(silent);
    const took = Date.now() - t0;
    assert.ok(took >= 1000 && took < 4000, `closed after ${took} ms`);
    assert.equal(talker.readyState, WebSocket.OPEN);
    clearInterval(timer);
    talker.terminate();
  });
});
