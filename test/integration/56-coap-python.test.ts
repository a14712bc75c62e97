/**
 * The CoAP gateway against a third-party Python client: aiocoap (pinned in
 * scripts/python-requirements.txt, installed into a cached venv by scripts/python-deps.sh),
 * driven by test/support/coap-py-client.py. It publishes small and large (Block1) messages to
 * an MQTT.js subscriber, is refused an ACL-denied topic, and observes a topic that MQTT.js
 * publishes to, a large message arriving block-wise (Block2).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startBroker, client, collect, until, end, repoRoot, type TestBroker } from '../support/broker.js';
import { getJson } from '../support/api.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-coap-py-'));
writeFileSync(join(dir, 'acl.conf'), '{deny, all, publish, ["denied/#"]}.\n{allow, all, all, ["#"]}.\n');
let b: TestBroker;
let port: number;
let python: string;

before(async () => {
  python = execFileSync('bash', [join(repoRoot(), 'scripts/python-deps.sh'), '--print'], { encoding: 'utf8' }).trim();
  b = await startBroker({
    authorization: { sources: [{ type: 'file', enable: true, path: join(dir, 'acl.conf') }], no_match: 'allow' },
    gateway: { coap: { listeners: { udp: { default: { bind: '127.0.0.1:0' } } } } },
  });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/coap/listeners'))[0].port;
});
after(async () => {
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CoAP gateway with the aiocoap Python client', () => {
  it('publishes (small, block-wise large, denied) and observes MQTT publishes (small, block-wise large)', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('py/up/#', { qos: 1 });
    const proc = spawn(python, [join(repoRoot(), 'test/support/coap-py-client.py'), String(port), 'py-coap', 'py/up', 'py/down'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const steps: Array<Record<string, unknown>> = [];
    createInterface({ input: proc.stdout }).on('line', (l) => { try { steps.push(JSON.parse(l)); } catch { stderr += l + '\n'; } });
    const exited = new Promise<number>((r) => proc.on('exit', (code) => r(code ?? -1)));
    const pub = await client(b);
    try {
      await until(() => steps.some((s) => s.step === 'observing'), 20000, `the Python client to observe (${stderr})`);
      assert.deepEqual(steps.slice(0, 4).map((s) => [s.step, s.code]), [
        ['publish', '2.04 Changed'], ['publish-large', '2.04 Changed'], ['publish-denied', '4.01 Unauthorized'], ['observing', '2.05 Content'],
      ]);
      await until(() => got.length === 2, 3000, 'two messages from Python');
      assert.equal(got.find((m) => m.topic === 'py/up')?.payload, 'from aiocoap');
      assert.equal(got.find((m) => m.topic === 'py/up/big')?.payload, 'B'.repeat(4000));
      assert.equal((await getJson<Record<string, unknown>>(b, '/api/v5/clients/py-coap')).proto_name, 'CoAP');
      await pub.publishAsync('py/down', 'to python', { qos: 0 });
      await until(() => steps.some((s) => s.step === 'notification'), 5000, 'the first notification');
      await pub.publishAsync('py/down', 'D'.repeat(3000), { qos: 1 });
      assert.equal(await exited, 0, stderr);
      const notes = steps.filter((s) => s.step === 'notification');
      assert.deepEqual(notes.map((n) => n.size), [9, 3000], JSON.stringify(steps) + stderr);
      assert.equal(notes[0].head, 'to python');
    } finally {
      proc.kill();
      await end(sub, pub);
    }
  });
});
