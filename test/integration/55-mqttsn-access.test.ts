/**
 * MQTT-SN clients and the access chain: MQTT-SN's CONNECT has no user name or password, so
 * with an authentication chain configured a client is refused (CONNACK 0x80) unless
 * `clientinfo_override` supplies credentials, as in EMQX; the mountpoint (with `${clientid}`)
 * prefixes every topic on the way in and is taken off on the way out.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, client, collect, until, end, type TestBroker } from '../support/broker.js';
import { getJson } from '../support/api.js';
import { SnClient } from '../support/mqttsn-client.js';
import { RC } from '../../broker/src/gateway/mqttsn/codec.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-sn-authn-'));
const users = join(dir, 'users.csv');
writeFileSync(users, 'user_id,password,is_superuser\nalice,alice-pw,false\n');
const authentication = [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }];
const udp = { udp: { default: { bind: '127.0.0.1:0' } } };
const snPort = async (b: TestBroker): Promise<number> => (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/mqttsn/listeners'))[0].port;
const clients: SnClient[] = [];
let plain: TestBroker;
let mounted: TestBroker;

before(async () => {
  plain = await startBroker({
    authentication,
    gateway: { mqttsn: { listeners: { udp: { default: { bind: '127.0.0.1:0' }, open: { bind: '127.0.0.1:0', enable_authn: false, max_connections: 2 } } } } },
  });
  mounted = await startBroker({
    authentication,
    gateway: { mqttsn: { mountpoint: 'sn/${clientid}/', clientinfo_override: { username: '${clientid}', password: 'alice-pw' }, listeners: udp } },
  });
});
after(async () => {
  for (const c of clients) c.close();
  await plain.stop();
  await mounted.stop();
  rmSync(dir, { recursive: true, force: true });
});

const open = async (b: TestBroker): Promise<SnClient> => { const c = await SnClient.open(await snPort(b)); clients.push(c); return c; };

describe('MQTT-SN and authentication', () => {
  it('without credentials the chain refuses the client: CONNACK 0x80, and it is not listed', async () => {
    const c = await open(plain);
    assert.equal(await c.connect('anyone'), RC.NOT_AUTHORIZED);
    const page = await getJson<{ data: unknown[] }>(plain, '/api/v5/gateways/mqttsn/clients');
    assert.equal(page.data.length, 0);
  });

  it('clientinfo_override supplies them: alice is let in, mallory (wrong user) is not', async () => {
    const a = await open(mounted);
    assert.equal(await a.connect('alice'), RC.ACCEPTED);
    const row = await getJson<Record<string, unknown>>(mounted, '/api/v5/clients/alice');
    assert.equal(row.username, 'alice');
    const m = await open(mounted);
    assert.equal(await m.connect('mallory'), RC.NOT_AUTHORIZED);
  });
});

describe('MQTT-SN listener settings', () => {
  it('enable_authn false lets a listener\'s clients in without credentials; max_connections caps its peers', async () => {
    const ls = await getJson<Array<{ name: string; port: number }>>(plain, '/api/v5/gateways/mqttsn/listeners');
    const openPort = ls.find((l) => l.name === 'open')!.port;
    const mk = async (): Promise<SnClient> => { const c = await SnClient.open(openPort); clients.push(c); return c; };
    const a = await mk();
    assert.equal(await a.connect('free-1'), RC.ACCEPTED);
    const b2 = await mk();
    assert.equal(await b2.connect('free-2'), RC.ACCEPTED);
    const c = await mk();
    c.send({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 10, clientId: 'free-3' });
    assert.equal(await c.none('connack', 500), undefined, 'a third peer is dropped');
    const row = (await getJson<Array<{ name: string; dropped: number; current_connections: number }>>(plain, '/api/v5/gateways/mqttsn/listeners')).find((l) => l.name === 'open')!;
    assert.equal(row.current_connections, 2);
    assert.ok(row.dropped >= 1);
  });
});

describe('MQTT-SN and the mountpoint', () => {
  it('publishes land under the mountpoint; deliveries come back without it', async () => {
    const sub = await client(mounted, { username: 'alice', password: 'alice-pw' });
    const got = collect(sub);
    await sub.subscribeAsync('sn/#');
    const a = await open(mounted);
    assert.equal(await a.connect('alice'), 0);
    const reg = await a.register('up');
    await a.publish(reg.topicId, 'mounted', 1);
    await until(() => got.some((m) => m.topic === 'sn/alice/up'), 3000, 'the mounted topic');
    const sa = await a.subscribe('in/+', 1);
    assert.equal(sa.returnCode, 0);
    await sub.publishAsync('sn/alice/in/x', 'down', { qos: 1 });
    const r = await a.next('register');
    assert.equal(r.topicName, 'in/x');
    a.send({ type: 'regack', topicId: r.topicId, msgId: r.msgId, returnCode: 0 });
    const p = await a.next('publish');
    assert.equal(p.payload.toString(), 'down');
    await a.ack(p);
    await end(sub);
  });
});
