/**
 * The MQTT-SN gateway against a third-party client: the PyPI package mqtt-sn-12 (pinned in
 * scripts/python-requirements.txt, installed into a cached venv by scripts/python-deps.sh),
 * driven by test/support/mqttsn-py-client.py. It connects, subscribes by topic name, REGISTERs
 * and publishes at QoS 0/1/2 to an MQTT.js subscriber, then receives an MQTT.js message.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startBroker, client, collect, until, end, repoRoot, type TestBroker } from '../support/broker.js';
import { getJson } from '../support/api.js';

let b: TestBroker;
let port: number;
let python: string;

before(async () => {
  python = execFileSync('bash', [join(repoRoot(), 'scripts/python-deps.sh'), '--print'], { encoding: 'utf8' }).trim();
  b = await startBroker({ gateway: { mqttsn: { listeners: { udp: { default: { bind: '127.0.0.1:0' } } } } } });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/mqttsn/listeners'))[0].port;
});
after(async () => { await b.stop(); });

describe('MQTT-SN gateway with the mqtt-sn-12 Python client', () => {
  it('connects, registers, publishes QoS 0/1/2 to MQTT, and receives from MQTT', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('py/up', { qos: 2 });
    const proc = spawn(python, [join(repoRoot(), 'test/support/mqttsn-py-client.py'), String(port), 'py-client', 'py/down', 'py/up'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const steps: Array<Record<string, unknown>> = [];
    createInterface({ input: proc.stdout }).on('line', (l) => { try { steps.push(JSON.parse(l)); } catch { stderr += l + '\n'; } });
    const exited = new Promise<number>((r) => proc.on('exit', (code) => r(code ?? -1)));
    try {
      await until(() => steps.some((s) => s.step === 'waiting'), 20000, 'the Python client to publish');
      assert.deepEqual(steps[0], { step: 'connected', connected: true });
      await until(() => got.length === 3, 3000, 'three messages from Python');
      assert.deepEqual(got.map((m) => m.payload).sort(), ['from python qos 0', 'from python qos 1', 'from python qos 2']);
      const row = await getJson<Record<string, unknown>>(b, '/api/v5/clients/py-client');
      assert.equal(row.proto_name, 'MQTT-SN');
      const pub = await client(b);
      await pub.publishAsync('py/down', 'to python', { qos: 1 });
      assert.equal(await exited, 0, stderr);
      const msg = steps.find((s) => s.step === 'message');
      assert.ok(msg, `the Python client received nothing: ${JSON.stringify(steps)} ${stderr}`);
      assert.equal(msg.payload, 'to python');
      assert.equal(msg.topic, 'py/down');
      await end(pub);
    } finally {
      proc.kill();
      await end(sub);
    }
  });
});
