/**
 * OCPP charge points as first-class clients: TLS security profiles 2 (wss + Basic) and 3 (wss
 * + client certificate), authorization by the broker's ACL sources (a denied CALL is answered
 * with CALLERROR SecurityError; a denied downstream subscription leaves the charge point
 * unreachable and is counted), the rule engine seeing their messages, takeover of a charge
 * point id by a new connection, and the gateway stopped and started through REST.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { WebSocket, type ClientOptions } from 'ws';
import { startBroker, client, collect, until, end, type TestBroker } from '../support/broker.js';
import { api, getJson } from '../support/api.js';
import { Pki } from '../support/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-ocpp-access-'));
const users = join(dir, 'users.csv');
writeFileSync(users, 'user_id,password,is_superuser\nTLS1,pw-TLS1,false\nDENIED,pw-DENIED,false\nNOSUB,pw-NOSUB,false\nRULE1,pw-RULE1,false\nTAKE,pw-TAKE,false\ncs,pw-cs,false\n');
const acl = join(dir, 'acl.conf');
writeFileSync(acl, [
  '{deny, {clientid, "DENIED"}, publish, ["ocpp/cp/DENIED"]}.',
  '{deny, {clientid, "NOSUB"}, subscribe, ["ocpp/cs/NOSUB"]}.',
  '{allow, all}.',
].join('\n') + '\n');
const pki = new Pki();
const server = pki.issue('server', { kind: 'server' });
const device = pki.issue('TLS1');

let b: TestBroker;
let wsPort: number;
let wssPort: number;
let mtlsPort: number;
const sockets: WebSocket[] = [];

before(async () => {
  const ssl = { certfile: server.crt, keyfile: server.key, cacertfile: pki.ca.crt };
  b = await startBroker({
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
    authorization: { sources: [{ type: 'file', enable: true, path: acl }] },
    rule_engine: { rules: { ocpp: { sql: 'SELECT payload.Action as action, clientid FROM "ocpp/cp/+"', actions: [{ function: 'republish', args: { topic: 'rules/${clientid}/${action}', payload: '${action}' } }] } } },
    gateway: {
      ocpp: {
        listeners: {
          ws: { default: { bind: '127.0.0.1:0' } },
          wss: {
            default: { bind: '127.0.0.1:0', ssl_options: ssl },
            mtls: { bind: '127.0.0.1:0', enable_authn: false, ssl_options: { ...ssl, verify: 'verify_peer', fail_if_no_peer_cert: true } },
          },
        },
      },
    },
  });
  const ls = await getJson<Array<{ id: string; port: number }>>(b, '/api/v5/gateways/ocpp/listeners');
  wsPort = ls.find((l) => l.id === 'ocpp:ws:default')!.port;
  wssPort = ls.find((l) => l.id === 'ocpp:wss:default')!.port;
  mtlsPort = ls.find((l) => l.id === 'ocpp:wss:mtls')!.port;
});
after(async () => {
  for (const s of sockets) s.terminate();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

const basic = (u: string): string => 'Basic ' + Buffer.from(`${u}:pw-${u}`).toString('base64');

/** Opens a charge point connection; resolves with the socket, the HTTP status that refused it, or 'tls' when TLS failed. */
function connect(url: string, opts: ClientOptions = {}): Promise<WebSocket | number | 'tls'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['ocpp1.6'], opts);
    ws.once('open', () => { sockets.push(ws); resolve(ws); });
    ws.once('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.once('error', () => resolve('tls'));
  });
}
function frame(ws: WebSocket): Promise<unknown[]> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()) as unknown[])));
}
async function cp(id: string): Promise<WebSocket> {
  const ws = await connect(`ws://127.0.0.1:${wsPort}/ocpp/${id}`, { headers: { Authorization: basic(id) } });
  assert.ok(ws instanceof WebSocket, `refused: ${String(ws)}`);
  return ws;
}

describe('OCPP over TLS (security profiles 2 and 3)', () => {
  it('profile 2: wss with Basic credentials; wrong ones get 401', async () => {
    const ca = readFileSync(pki.ca.crt);
    const ok = await connect(`wss://127.0.0.1:${wssPort}/ocpp/TLS1`, { ca, headers: { Authorization: basic('TLS1') } });
    assert.ok(ok instanceof WebSocket);
    assert.equal(ok.protocol, 'ocpp1.6');
    const bad = await connect(`wss://127.0.0.1:${wssPort}/ocpp/TLS1`, { ca, headers: { Authorization: 'Basic ' + Buffer.from('TLS1:nope').toString('base64') } });
    assert.equal(bad, 401);
    ok.close();
  });

  it('profile 3: a client certificate is required and verified; the charge point is listed on that listener', async () => {
    const ca = readFileSync(pki.ca.crt);
    assert.equal(await connect(`wss://127.0.0.1:${mtlsPort}/ocpp/TLS1`, { ca }), 'tls');
    const ws = await connect(`wss://127.0.0.1:${mtlsPort}/ocpp/TLS1`, { ca, cert: readFileSync(device.crt), key: readFileSync(device.key) });
    assert.ok(ws instanceof WebSocket, String(ws));
    await until(async () => (await api(b, '/api/v5/clients/TLS1')).status === 200, 3000, 'the client row');
    const row = await getJson<Record<string, unknown>>(b, '/api/v5/clients/TLS1');
    assert.equal(row.proto_name, 'OCPP');
    assert.equal(row.listener, 'ocpp:wss:mtls');
    ws.close();
  });
});

describe('OCPP charge points and the broker\'s access control, rules and sessions', () => {
  it('a CALL its ACL refuses is answered with CALLERROR SecurityError and not published', async () => {
    const sub = await client(b, { username: 'cs', password: 'pw-cs' });
    const got = collect(sub);
    await sub.subscribeAsync('ocpp/cp/#');
    const ws = await cp('DENIED');
    ws.send(JSON.stringify([2, 'd1', 'Heartbeat', {}]));
    assert.deepEqual((await frame(ws)).slice(0, 3), [4, 'd1', 'SecurityError']);
    const s = await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/gateways/ocpp');
    assert.ok(s.metrics['authorization.deny']! >= 1);
    assert.equal(got.filter((m) => m.topic === 'ocpp/cp/DENIED').length, 0);
    await end(sub);
  });

  it('a downstream subscription its ACL refuses leaves it unreachable', async () => {
    const ws = await cp('NOSUB');
    const frames: unknown[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    const pub = await client(b, { username: 'cs', password: 'pw-cs' });
    await until(async () => (await api(b, '/api/v5/clients/NOSUB')).status === 200, 3000, 'the client row');
    await pub.publishAsync('ocpp/cs/NOSUB', JSON.stringify({ MessageTypeId: 2, UniqueId: 'n1', Action: 'Reset', Payload: { type: 'Soft' } }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(frames.length, 0);
    const s = await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/gateways/ocpp');
    assert.ok(s.metrics['authorization.deny']! >= 2, 'the refused subscription is counted');
    await end(pub);
  });

  it('its messages reach the rule engine', async () => {
    const sub = await client(b, { username: 'cs', password: 'pw-cs' });
    const got = collect(sub);
    await sub.subscribeAsync('rules/#');
    const ws = await cp('RULE1');
    ws.send(JSON.stringify([2, 'r1', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' }]));
    await until(() => got.length === 1, 3000, 'the republished message');
    assert.equal(got[0]!.topic, 'rules/RULE1/StatusNotification');
    await end(sub);
  });

  it('a banned charge point id is refused with 401 until the ban is lifted', async () => {
    const ban = await api(b, '/api/v5/banned', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: 'clientid', who: 'RULE1', reason: 'test' }) });
    assert.equal(ban.status, 200);
    assert.equal(await connect(`ws://127.0.0.1:${wsPort}/ocpp/RULE1`, { headers: { Authorization: basic('RULE1') } }), 401);
    assert.equal((await api(b, '/api/v5/banned/clientid/RULE1', { method: 'DELETE' })).status, 204);
    assert.ok((await cp('RULE1')) instanceof WebSocket);
  });

  it('a second connection with the same charge point id takes the first one over', async () => {
    const first = await cp('TAKE');
    await until(async () => (await api(b, '/api/v5/clients/TAKE')).status === 200, 3000, 'the client row');
    const closed = new Promise<void>((r) => first.once('close', () => r()));
    const second = await cp('TAKE');
    await closed;
    assert.equal(second.readyState, WebSocket.OPEN);
    const page = await getJson<{ data: Array<{ clientid: string }> }>(b, '/api/v5/gateways/ocpp/clients');
    assert.equal(page.data.filter((c) => c.clientid === 'TAKE').length, 1);
  });

  it('REST stops the gateway (its charge points are closed, the port refuses) and starts it again', async () => {
    const ws = await cp('TAKE');
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    const put = (enable: boolean) => api(b, '/api/v5/gateways/ocpp', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enable }) });
    assert.ok((await put(false)).status < 300);
    await closed;
    assert.equal((await getJson<Record<string, unknown>>(b, '/api/v5/gateways/ocpp')).status, 'stopped');
    assert.equal(await connect(`ws://127.0.0.1:${wsPort}/ocpp/TAKE`, { headers: { Authorization: basic('TAKE') } }), 'tls');
    assert.ok((await put(true)).status < 300);
    const again = await cp('TAKE');
    assert.equal(again.readyState, WebSocket.OPEN);
  });
});

describe('OCPP with an HTTP authorization source that answers slowly', () => {
  let h: TestBroker;
  let authz: Server;
  let first = true;
  before(async () => {
    // The first check takes 300 ms; frames behind it must wait, not overtake.
    authz = createServer((req, res) => {
      req.resume();
      const delay = first ? 300 : 0;
      first = false;
      setTimeout(() => { res.writeHead(204); res.end(); }, delay);
    });
    await new Promise<void>((r) => authz.listen(0, '127.0.0.1', () => r()));
    const port = (authz.address() as { port: number }).port;
    h = await startBroker({
      authorization: { sources: [{ type: 'http', enable: true, method: 'post', url: `http://127.0.0.1:${port}/authz`, body: { topic: '${topic}' } }] },
      gateway: { ocpp: { listeners: { ws: { default: { bind: '127.0.0.1:0' } } } } },
    });
  });
  after(async () => { await h.stop(); authz.close(); });

  it('keeps the charge point\'s CALLs in order', async () => {
    const p = (await getJson<Array<{ port: number }>>(h, '/api/v5/gateways/ocpp/listeners'))[0].port;
    const sub = await client(h);
    const got = collect(sub);
    await sub.subscribeAsync('ocpp/cp/#');
    const ws = await connect(`ws://127.0.0.1:${p}/ocpp/SLOW`);
    assert.ok(ws instanceof WebSocket);
    for (let i = 0; i < 20; i++) ws.send(JSON.stringify([2, `s${i}`, 'Heartbeat', {}]));
    await until(() => got.length === 20, 5000, '20 CALLs');
    assert.deepEqual(got.map((m) => (JSON.parse(m.payload) as { UniqueId: string }).UniqueId), Array.from({ length: 20 }, (_, i) => `s${i}`));
    await end(sub);
  });
});
