/**
 * 50 — the MQTT bridge against a real Mosquitto (/usr/sbin/mosquitto on a free port): egress
 * (an action publishing templated messages to the remote broker at QoS 1, surviving the remote
 * going away and coming back) and ingress (a source whose messages feed a rule selecting from
 * "$bridges/mqtt:<name>", which republishes them locally).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, requireBinary, type TestBroker } from '../support/broker.js';
import { freePort } from '../support/etcd-cluster.js';
import { getJson } from '../support/api.js';
import { actionMetrics, actionStatus, ruleMetrics } from './50-sinks-support.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

class Mosquitto {
  port = 0;
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'petrel-mosq-'));
  async up(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const conf = join(this.dir, 'm.conf');
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    const p = spawn(requireBinary(MOSQUITTO, 'mosquitto'), ['-c', conf], { stdio: 'ignore' });
    this.proc = p;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((r) => { const s = net.connect(this.port, '127.0.0.1', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
      if (ok) return;
      if (Date.now() > deadline || p.exitCode !== null) throw new Error('mosquitto did not start');
      await sleep(25);
    }
  }
  async down(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p === null || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await gone;
  }
  async stop(): Promise<void> { await this.down(); rmSync(this.dir, { recursive: true, force: true }); }
}

const m = new Mosquitto();
let b: TestBroker;
let remote: MqttClient;

before(async () => {
  await m.up();
  b = await startBroker({
    connectors: { mqtt: { m1: { server: `127.0.0.1:${m.port}`, proto_ver: 'v5', clientid_prefix: 'petrel-', resource_opts: { health_check_interval: '300ms' } } } },
    actions: { mqtt: { out: { connector: 'm1', parameters: { topic: 'remote/${topic}', qos: 1, retain: false, payload: '${clientid}:${payload}' }, resource_opts: { request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' } } } },
    sources: { mqtt: { in: { connector: 'm1', parameters: { topic: 'in/#', qos: 1 } } } },
    rule_engine: {
      rules: {
        egress: { sql: 'SELECT * FROM "e/#"', actions: ['mqtt:out'] },
        ingress: { sql: 'SELECT topic, payload, qos FROM "$bridges/mqtt:in"', actions: [{ function: 'republish', args: { topic: 'local/${topic}', payload: '${payload}', qos: 1 } }] },
      },
    },
  });
  await until(async () => (await actionStatus(b, 'mqtt:out')).status === 'connected', 10_000, 'connected to mosquitto');
  remote = await client(m.port, { protocolVersion: 5 });
});
after(async () => { await end(remote); await b?.stop(); await m.stop(); });

describe('50 mqtt bridge', () => {
  it('egress: matching messages are published to the remote broker at QoS 1 with templated topic and payload', async () => {
    await remote.subscribeAsync('remote/#', { qos: 1 });
    const got = collect(remote);
    const pub = await client(b, { clientId: 'p1' });
    await pub.publishAsync('e/1', 'hello', { qos: 1 });
    await until(() => got.length >= 1, 5000, 'message at mosquitto');
    assert.equal(got[0]!.topic, 'remote/e/1');
    assert.equal(got[0]!.payload, 'p1:hello');
    assert.equal(got[0]!.packet.qos, 1);
    await until(async () => (await ruleMetrics(b, 'egress'))['actions.success'] === 1, 3000, 'success after PUBACK');
    await end(pub);
  });

  it('ingress: a message published at Mosquitto feeds the $bridges/mqtt:in rule and is republished locally', async () => {
    const sub = await client(b);
    await sub.subscribeAsync('local/#', { qos: 1 });
    const got = collect(sub);
    await remote.publishAsync('in/a/b', 'from-remote', { qos: 1 });
    await until(() => got.length >= 1, 5000, 'republished locally');
    assert.equal(got[0]!.topic, 'local/in/a/b');
    assert.equal(got[0]!.payload, 'from-remote');
    await remote.publishAsync('other/x', 'not-subscribed', { qos: 1 });
    await sleep(200);
    assert.equal(got.length, 1);
    const sources = await getJson<Array<{ type: string; name: string; status: string; parameters: { topic: string } }>>(b, '/api/v5/sources');
    assert.deepEqual(sources.map((x) => [x.type, x.name, x.status, x.parameters.topic]), [['mqtt', 'in', 'connected', 'in/#']]);
    await end(sub);
  });

  it('egress while Mosquitto is away: messages wait and all arrive once it is back', async () => {
    const pub = await client(b, { clientId: 'p2' });
    await end(remote);
    await m.down();
    await until(async () => (await actionStatus(b, 'mqtt:out')).status === 'disconnected', 5000, 'disconnected');
    const N = 20;
    for (let i = 0; i < N; i++) await pub.publishAsync('e/2', String(i), { qos: 1 });
    await m.up();
    remote = await client(m.port, { protocolVersion: 5 });
    await remote.subscribeAsync('remote/#', { qos: 1 });
    const got = collect(remote);
    await until(() => got.length >= N, 20_000, 'all after Mosquitto returned');
    await sleep(300);
    assert.deepEqual(got.map((g) => g.payload), Array.from({ length: N }, (_, i) => `p2:${i}`));
    assert.equal((await actionMetrics(b, 'mqtt:out')).dropped, 0);
    await end(pub);
  });
});
