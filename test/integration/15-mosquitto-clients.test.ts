/**
 * 15 — Debian's mosquitto_pub / mosquitto_sub (package mosquitto-clients) against Petrel,
 * with `-V mqttv311` and `-V mqttv5`: publish/subscribe at QoS 0/1/2, retained messages
 * (--retained-only, -R), MQTT 5 properties set with -D and shown with -F, a persistent
 * session (-c) that collects messages while away, and MQTT.js ↔ mosquitto interop.
 *
 * v3 vs v5: the same flows in both; the -D property flows are v5 only.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startBroker, client, collect, until, end, sleep, requireBinary, repoRoot, type TestBroker } from '../support/broker.js';
import { clientInfo, retainedMessage } from '../support/api.js';

const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';

let b: TestBroker;
before(async () => {
  requireBinary(PUB, 'mosquitto-clients');
  requireBinary(SUB, 'mosquitto-clients');
  const fx = (f: string) => join(repoRoot(), 'test', 'fixtures', 'tls', f);
  b = await startBroker({ listeners: { ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: {
    certfile: fx('server.crt'), keyfile: fx('server.key'), cacertfile: fx('ca.crt'), verify: 'verify_peer', fail_if_no_peer_cert: false,
  } } } } });
});
after(async () => { await b?.stop(); });

interface Run { code: number | null; out: string; err: string }
/** Runs a mosquitto client with -h/-p set, killed after `ms`. */
function run(bin: string, args: string[], ms = 5000, port = b.port): { done: Promise<Run>; started: Promise<void> } {
  const p = spawn(bin, ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => p.kill('SIGKILL'), ms);
  // 'close', not 'exit': stdout may still hold data when the process has exited
  const done = new Promise<Run>((ok) => p.once('close', (code) => { clearTimeout(timer); ok({ code, out, err }); }));
  const started = new Promise<void>((ok) => p.once('spawn', () => ok()));
  return { done, started };
}
const pub = (args: string[]) => run(PUB, args).done;

/** Waits until the broker has a subscription for `clientId` (so a publish cannot race the subscriber). */
const subscribed = (clientId: string) => until(async () => ((await clientInfo(b, clientId))?.subscriptions_cnt ?? 0) > 0, 3000, `${clientId} subscribed`);

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

for (const V of ['mqttv311', 'mqttv5'] as const) {
  test(`${V}: mosquitto_sub receives mosquitto_pub messages at QoS 0/1/2 in order`, async () => {
    const id = `msub-${V}`;
    const s = run(SUB, ['-V', V, '-i', id, '-t', `${V}/m/#`, '-q', '2', '-C', '3', '-v']);
    await subscribed(id);
    for (const q of ['0', '1', '2']) {
      const r = await pub(['-V', V, '-t', `${V}/m/q${q}`, '-q', q, '-m', `msg${q}`]);
      assert.equal(r.code, 0, r.err);
    }
    const r = await s.done;
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), [`${V}/m/q0 msg0`, `${V}/m/q1 msg1`, `${V}/m/q2 msg2`]);
  });

  test(`${V}: retained message set by mosquitto_pub -r, read by --retained-only, cleared by -r -n`, async () => {
    const t = `${V}/ret/x`;
    assert.equal((await pub(['-V', V, '-t', t, '-r', '-q', '1', '-m', 'stay'])).code, 0);
    const r = await run(SUB, ['-V', V, '-t', t, '--retained-only', '-W', '2', '-F', '%r %t %p']).done;
    assert.equal(r.out.trim(), `1 ${t} stay`);
    assert.equal((await pub(['-V', V, '-t', t, '-r', '-n'])).code, 0);
    await sleep(50);
    assert.equal(await retainedMessage(b, t), undefined);
  });

  test(`${V}: persistent mosquitto_sub session (-c) gets QoS 1 messages published while it was away`, async () => {
    const id = `mpers-${V}`;
    const t = `${V}/pers`;
    const first = await run(SUB, ['-V', V, '-i', id, '-c', '-q', '1', '-t', t, '-E', ...(V === 'mqttv5' ? ['-x', '60'] : [])]).done;
    assert.equal(first.code, 0, first.err);
    await sleep(50);
    const kept = await clientInfo(b, id);
    assert.equal(kept?.connected, false, 'session kept');
    assert.equal(kept?.subscriptions_cnt, 1);
    for (const m of ['a', 'b']) assert.equal((await pub(['-V', V, '-t', t, '-q', '1', '-m', m])).code, 0);
    const r = await run(SUB, ['-V', V, '-i', id, '-c', '-q', '1', '-t', t, '-C', '2', ...(V === 'mqttv5' ? ['-x', '0'] : [])]).done;
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), ['a', 'b'], r.err);
  });

  test(`${V}: MQTT.js publisher → mosquitto_sub, and mosquitto_pub → MQTT.js subscriber`, async () => {
    const protocolVersion = V === 'mqttv5' ? 5 : 4;
    const id = `mix-${V}`;
    const s = run(SUB, ['-V', V, '-i', id, '-t', `${V}/mix/to-mosq`, '-C', '1']);
    await subscribed(id);
    const js = await client(b, { protocolVersion });
    const got = collect(js);
    await js.subscribeAsync(`${V}/mix/to-js`, { qos: 1 });
    await js.publishAsync(`${V}/mix/to-mosq`, 'from-js', { qos: 1 });
    assert.equal((await s.done).out.trim(), 'from-js');
    assert.equal((await pub(['-V', V, '-t', `${V}/mix/to-js`, '-q', '1', '-m', 'from-mosquitto'])).code, 0);
    await until(() => got.length === 1);
    assert.equal(got[0].payload, 'from-mosquitto');
    await end(js);
  });
}

test('mqttv31 (MQIsdp): mosquitto_pub → mosquitto_sub at QoS 1', async () => {
  const id = 'msub-mqttv31';
  const s = run(SUB, ['-V', 'mqttv31', '-i', id, '-t', 'v31/m', '-q', '1', '-C', '1']);
  await subscribed(id);
  assert.equal((await pub(['-V', 'mqttv31', '-i', 'mpub-mqttv31', '-t', 'v31/m', '-q', '1', '-m', 'hello31'])).code, 0);
  const r = await s.done;
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), 'hello31');
});

test('mqttv5 over TLS: mosquitto_sub --cafile and mosquitto_pub with a client certificate (--cert/--key)', async () => {
  const tls = (f: string) => join(repoRoot(), 'test', 'fixtures', 'tls', f);
  const port = b.node.port('ssl:default');
  const id = 'msub-tls';
  const s = run(SUB, ['-V', 'mqttv5', '--cafile', tls('ca.crt'), '-i', id, '-t', 'v5/tls/m', '-q', '1', '-C', '1'], 5000, port);
  await subscribed(id);
  const r = await run(PUB, ['-V', 'mqttv5', '--cafile', tls('ca.crt'), '--cert', tls('client.crt'), '--key', tls('client.key'), '-t', 'v5/tls/m', '-q', '1', '-m', 'over-tls'], 5000, port).done;
  assert.equal(r.code, 0, r.err);
  const out = await s.done;
  assert.equal(out.code, 0, out.err);
  assert.equal(out.out.trim(), 'over-tls');
  const watch = await client(b, { protocolVersion: 5 });
  const seen = collect(watch);
  await watch.subscribeAsync('v5/tls/m', { qos: 1 });
  const bad = await run(PUB, ['-V', 'mqttv5', '--cafile', tls('ca.crt'), '--cert', tls('rogue-client.crt'), '--key', tls('rogue-client.key'), '-t', 'v5/tls/m', '-q', '1', '-m', 'rogue'], 5000, port).done;
  assert.notEqual(bad.code, 0, 'client certificate from another CA accepted');
  await sleep(200);
  assert.deepEqual(seen.map((m) => m.payload), [], 'a client with a rogue certificate published');
  await end(watch);
});

test('mqttv5: properties set with mosquitto_pub -D arrive at MQTT.js and at mosquitto_sub -F', async () => {
  const id = 'mprops-sub';
  const s = run(SUB, ['-V', 'mqttv5', '-i', id, '-t', 'v5/mprops', '-C', '1', '-F', '%t|%p|%C|%R|%D']);
  await subscribed(id);
  const js = await client(b, { protocolVersion: 5 });
  const got = collect(js);
  await js.subscribeAsync('v5/mprops', { qos: 1 });
  const r = await pub(['-V', 'mqttv5', '-t', 'v5/mprops', '-q', '1', '-m', 'body',
    '-D', 'publish', 'content-type', 'text/x-test', '-D', 'publish', 'response-topic', 'v5/mprops/reply',
    '-D', 'publish', 'correlation-data', 'abc', '-D', 'publish', 'user-property', 'k', 'v',
    '-D', 'publish', 'message-expiry-interval', '100', '-D', 'publish', 'payload-format-indicator', '1']);
  assert.equal(r.code, 0, r.err);
  const out = (await s.done).out.trim();
  assert.equal(out, 'v5/mprops|body|text/x-test|v5/mprops/reply|abc');
  await until(() => got.length === 1);
  const p = got[0].packet.properties ?? {};
  assert.equal(p.contentType, 'text/x-test');
  assert.equal(p.responseTopic, 'v5/mprops/reply');
  assert.equal(Buffer.from(p.correlationData as Buffer).toString(), 'abc');
  assert.deepEqual({ ...p.userProperties }, { k: 'v' });
  assert.equal(p.payloadFormatIndicator, true);
  assert.ok((p.messageExpiryInterval ?? 0) > 95);
  await end(js);
});

test('mqttv311: mosquitto_sub with an over-long client id is refused (CONNACK 2)', async () => {
  const b2 = await startBroker({ mqtt: { max_clientid_len: 23 } });
  try {
    const p = spawn(SUB, ['-h', '127.0.0.1', '-p', String(b2.port), '-V', 'mqttv311', '-i', 'z'.repeat(30), '-t', 'x', '-W', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stdout.on('data', (d) => { err += d; });
    p.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((ok) => p.once('close', ok));
    assert.notEqual(code, 0);
    assert.match(err, /identifier rejected|Client identifier/i, `exit ${code}: ${err}`);
  } finally { await b2.stop(); }
});

describe('15 mosquitto clients', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
