/**
 * The CoAP gateway in connection mode (`connection_required: true`) with an authentication
 * chain and a mountpoint: EMQX's `/mqtt/connection` resource (POST → 2.01 and a token, PUT
 * heartbeat, DELETE), the token on every request (missing 4.00, wrong 4.01), the token
 * takeover that lets each coap-client run (a new UDP port each time) act for the same client,
 * heartbeat expiry, and the gateway stopped and started through REST.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, client, collect, until, end, type TestBroker } from '../support/broker.js';
import { api, getJson, clientInfo } from '../support/api.js';
import { RawCoap, coapClient } from '../support/coap-client.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-coap-conn-'));
const users = join(dir, 'users.csv');
writeFileSync(users, 'user_id,password,is_superuser\nalice,alice-pw,false\nbob,bob-pw,false\n');
let b: TestBroker;
let port: number;
const raws: RawCoap[] = [];
const raw = async (): Promise<RawCoap> => { const c = await RawCoap.open(port); raws.push(c); return c; };

before(async () => {
  b = await startBroker({
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
    gateway: { coap: { connection_required: true, heartbeat: '2s', mountpoint: 'coap/${clientid}/', listeners: { udp: { default: { bind: '127.0.0.1:0' } } } } },
  });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/coap/listeners'))[0].port;
});
after(async () => {
  for (const c of raws) c.close();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
});

const connect = async (c: RawCoap, clientid: string, username: string, password: string): Promise<{ code: string; token: string }> => {
  const r = await c.request('POST', '/mqtt/connection', { query: { clientid, username, password } });
  return { code: r.code, token: r.payload.toString() };
};

describe('CoAP connection mode', () => {
  it('POST /mqtt/connection: the access chain decides (4.01 for a bad password, 4.00 without clientid), 2.01 carries a token', async () => {
    const c = await raw();
    assert.equal((await c.request('POST', '/mqtt/connection', { query: { username: 'alice', password: 'alice-pw' } })).code, '4.00');
    assert.equal((await connect(c, 'dev-a', 'alice', 'wrong')).code, '4.01');
    assert.equal(await clientInfo(b, 'dev-a'), undefined);
    const ok = await connect(c, 'dev-a', 'alice', 'alice-pw');
    assert.equal(ok.code, '2.01');
    assert.match(ok.token, /^\d+$/);
    const row = await getJson<Record<string, unknown>>(b, '/api/v5/clients/dev-a');
    assert.equal(row.proto_name, 'CoAP');
    assert.equal(row.username, 'alice');
    // A repeated POST (its 2.01 lost) gets the same token.
    assert.equal((await connect(c, 'dev-a', 'alice', 'alice-pw')).token, ok.token);
  });

  it('requests need clientid and token: missing 4.00, wrong 4.01; with them the publish reaches MQTT under the mountpoint', async () => {
    const sub = await client(b, { username: 'alice', password: 'alice-pw' });
    const got = collect(sub);
    await sub.subscribeAsync('coap/#');
    const c = await raw();
    const { token } = await connect(c, 'dev-b', 'bob', 'bob-pw');
    assert.equal((await c.request('POST', '/ps/room/t', { payload: 'x' })).code, '4.00');
    assert.equal((await c.request('POST', '/ps/room/t', { query: { c: 'dev-b', t: String(Number(token) + 1) }, payload: 'x' })).code, '4.01');
    assert.equal((await c.request('POST', '/ps/room/t', { query: { c: 'dev-b', t: token, q: 1 }, payload: '21.5' })).code, '2.04');
    await until(() => got.length === 1, 3000, 'the message');
    assert.equal(got[0].topic, 'coap/dev-b/room/t');
    assert.equal(got[0].payload, '21.5');
    // Observe under the mountpoint: MQTT's coap/dev-b/cmd arrives as cmd.
    const tok = Buffer.from('obs-b');
    assert.equal((await c.request('GET', '/ps/cmd', { observe: 0, token: tok, query: { c: 'dev-b', t: token } })).code, '2.05');
    await sub.publishAsync('coap/dev-b/cmd', 'on', { qos: 1 });
    await until(() => c.notifications(tok).length === 1, 3000, 'the notification');
    assert.equal(c.notifications(tok)[0].payload.toString(), 'on');
    assert.equal((await c.request('PUT', '/mqtt/connection', { query: { c: 'dev-b', t: token } })).code, '2.04');
    assert.equal((await c.request('DELETE', '/mqtt/connection', { query: { c: 'dev-b', t: token } })).code, '2.02');
    await until(async () => (await clientInfo(b, 'dev-b')) === undefined, 3000, 'the client to go');
    await end(sub);
  });

  it('EMQX\'s documented coap-client flow: connect, then publish with the token from new ports (token takeover)', async () => {
    const sub = await client(b, { username: 'alice', password: 'alice-pw' });
    const got = collect(sub);
    await sub.subscribeAsync('coap/dev-cli/#');
    const base = `coap://127.0.0.1:${port}`;
    const conn = await coapClient(['-m', 'post', '-e', '', `${base}/mqtt/connection?clientid=dev-cli&username=alice&password=alice-pw`]);
    const token = conn.stdout.trim();
    assert.match(token, /^\d+$/, conn.stderr);
    const pub = await coapClient(['-m', 'post', '-e', 'via libcoap', `${base}/ps/up?clientid=dev-cli&token=${token}`]);
    assert.equal(pub.code, 0, pub.stderr);
    await until(() => got.length === 1, 3000, 'the message');
    assert.equal(got[0].topic, 'coap/dev-cli/up');
    const bad = await coapClient(['-m', 'post', '-e', 'no', `${base}/ps/up?clientid=dev-cli&token=1`]);
    assert.match(bad.stdout + bad.stderr, /4\.01/);
    const del = await coapClient(['-m', 'delete', `${base}/mqtt/connection?clientid=dev-cli&token=${token}`]);
    assert.equal(del.code, 0, del.stderr);
    await until(async () => (await clientInfo(b, 'dev-cli')) === undefined, 3000, 'the client to go');
    await end(sub);
  });

  it('a client silent for 1.5 × heartbeat is closed; heartbeats keep another one', async () => {
    const quiet = await raw();
    const busy = await raw();
    await connect(quiet, 'dev-quiet', 'alice', 'alice-pw');
    const { token } = await connect(busy, 'dev-busy', 'bob', 'bob-pw');
    const t0 = Date.now();
    const beat = setInterval(() => { busy.request('PUT', '/mqtt/connection', { query: { c: 'dev-busy', t: token } }).catch(() => undefined); }, 1000);
    try {
      await until(async () => (await clientInfo(b, 'dev-quiet')) === undefined, 8000, 'the silent client to be closed');
      assert.ok(Date.now() - t0 >= 2500, `closed after ${Date.now() - t0} ms`);
      assert.ok(await clientInfo(b, 'dev-busy'), 'the client sending heartbeats stays');
    } finally {
      clearInterval(beat);
    }
  });

  it('the gateway stopped through REST closes its clients and refuses; started again it serves', async () => {
    const c = await raw();
    await connect(c, 'dev-rest', 'alice', 'alice-pw');
    assert.equal((await api(b, '/api/v5/gateways/coap/enable/false', { method: 'PUT' })).status < 300, true);
    await until(async () => (await clientInfo(b, 'dev-rest')) === undefined, 3000, 'the client to go');
    assert.equal((await getJson<{ status: string }>(b, '/api/v5/gateways/coap')).status, 'stopped');
    await assert.rejects(connect(c, 'dev-rest', 'alice', 'alice-pw'));
    assert.equal((await api(b, '/api/v5/gateways/coap/enable/true', { method: 'PUT' })).status < 300, true);
    assert.equal((await connect(c, 'dev-rest', 'alice', 'alice-pw')).code, '2.01');
  });
});
