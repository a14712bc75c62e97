/**
 * The gateway and handshake benchmark scenarios end to end, in miniature: one Petrel started as
 * the benchmark starts it (bench/brokers/launch.ts) with the scenarios' config, every path run
 * for about a second with a few devices. A gateway whose publish path breaks, loses a
 * QoS 1 message or stops answering fails here, in `make test`, before a benchmark run would.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBroker, type BrokerHandle } from '../../bench/brokers/launch.js';
import { GW_PATHS, gatewaysConfig, gatewaysPlan, gwSetup, runGatewayPath } from '../../bench/scenarios/gateways.js';
import { handshake, handshakePlan } from '../../bench/scenarios/handshake.js';
import { ocppCall, readStamp } from '../../bench/gateways/stamp.js';
import type { RunOptions, ScenarioContext } from '../../bench/scenarios/common.js';

const OPTS = { warmupMs: 200, durationMs: 1000, payload: 64, gwDevices: 3, gwRate: 300, gwQuicRate: 100, gwWindow: 5, handshakes: 5 } as RunOptions;

let broker: BrokerHandle;
let n = 0;
const ctx = (setup?: string): ScenarioContext =>
  ({ broker, opts: OPTS, tag: `t${process.pid}x${n++}`, ...(setup ? { setup: gwSetup(setup) } : {}) }) as unknown as ScenarioContext;

before(async () => {
  broker = await launchBroker('petrel', { readyTimeoutMs: 20_000, petrelExtra: gatewaysConfig() });
});
after(async () => {
  await broker?.stop();
});

test('stamps: binary and OCPP JSON carry device, sequence and send time; a binary stamp is never read as JSON', () => {
  const buf = Buffer.alloc(64);
  // A send time whose first byte is '{' (0x7b): the subscriber knows the path, not the first byte.
  const t = 1 + 123 * 2 ** -52;
  buf.writeDoubleLE(t, 0);
  assert.equal(buf[0], 0x7b);
  buf.writeUInt32LE(7, 8);
  buf.writeUInt32LE(42, 12);
  assert.deepEqual(readStamp(buf, 0, 64, false), { sentAt: t, device: 7, seq: 42 });
  const call = JSON.parse(ocppCall(3, 9, 123.5)) as [number, string, string, Record<string, unknown>];
  const published = Buffer.from(JSON.stringify({ MessageTypeId: 2, UniqueId: call[1], Action: call[2], Payload: call[3] }));
  assert.deepEqual(readStamp(published, 0, published.length, true), { device: 3, seq: 9, sentAt: 123.5 });
  assert.equal(readStamp(Buffer.from('{"UniqueId":"x"}'), 0, 16, true), null);
});

test('the plans: every gateway path against plain MQTT at its QoS; QUIC against TLS, TLS against TCP', () => {
  const plan = gatewaysPlan();
  assert.deepEqual(plan.setups.map((s) => s.name), Object.keys(GW_PATHS));
  assert.equal(plan.referenceOf?.['coap-non'], 'mqtt-qos0');
  assert.equal(plan.referenceOf?.['quic-qos1'], 'mqtt-qos1');
  assert.equal(plan.referenceOf?.['mqtt-qos0'], 'mqtt-qos0');
  assert.deepEqual(handshakePlan().referenceOf, { tcp: 'tcp', tls: 'tcp', quic: 'tls' });
});

for (const [name, path] of Object.entries(GW_PATHS)) {
  test(`gateways scenario, ${name}: delivered, latency sampled${path.qos === 1 ? ', no QoS 1 message lost' : ''}`, async () => {
    const r = await runGatewayPath(ctx(name), name);
    const v = r.values;
    assert.ok(v.sent - v.lost > 0, `${name}: nothing delivered (${r.notes.join('; ')})`);
    // MQTT over QUIC can stall for a second on a loaded machine (docs/bench.md): its window phase may deliver nothing.
    if (path.kind !== 'quic') assert.ok(v.msgs > 0 && v.cpuPerMsg > 0, `${name}: nothing delivered in the window phase (${r.notes.join('; ')})`);
    assert.ok(v.samples > 0 && Number.isFinite(v.p99), `${name}: no latency samples (${r.notes.join('; ')})`);
    assert.ok(v.pacedMsgs > 0, `${name}: nothing delivered in the paced phase`);
    assert.ok(!r.notes.some((x) => x.startsWith('error:') || x.includes('readable stamp')), r.notes.join('; '));
    if (path.qos === 1) assert.equal(v.lost, 0, `${name}: ${r.notes.join('; ')}`);
    if (path.kind !== 'mqtt' && path.qos === 1 && path.kind !== 'ocpp') assert.ok(v.acks > 0, `${name}: no acknowledgement from the gateway`);
  });
}

for (const setup of ['tcp', 'tls', 'quic']) {
  test(`handshake scenario, ${setup}: connect → CONNACK timed`, async () => {
    const r = await handshake.run(ctx(setup));
    assert.ok(r.values.connackP50 > 0 && Number.isFinite(r.values.connackP99), JSON.stringify(r.values));
    assert.ok(r.values.readyP50 > 0 && r.values.readyP50 <= r.values.connackP50, JSON.stringify(r.values));
  });
}
