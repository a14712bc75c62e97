/**
 * 06 — what a graceful restart (node stopped, a new node started on the same data
 * directory) keeps: persistent sessions with their subscriptions and options (subscription
 * id), queued messages in order with expiry still applied, unacknowledged deliveries resent
 * with DUP and their packet ids, QoS 2 ids awaiting PUBREL (no duplicate after restart),
 * retained messages (and deletions), and `$delayed` messages. kill -9 is tested in 20-crash-*.
 *
 * v3 vs v5: a v3 clean_session=0 session and a v5 session with expiry both survive; the
 * subscription identifier and message expiry checks are v5 only.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';

const dataDir = mkdtempSync(join(tmpdir(), 'petrel-restart-'));
let b: TestBroker | null = null;
after(async () => { await b?.stop(); rmSync(dataDir, { recursive: true, force: true }); });

const start = async () => { b = await startBroker({}, { dataDir, keepData: true }); return b; };
const restart = async () => { await b!.stop(); return start(); };
const p5 = { clean: false, properties: { sessionExpiryInterval: 300 } };

test('sessions, queues, inflight, QoS 2 state, retained and delayed messages survive a restart', async () => {
  let tb = await start();
  // v5 persistent subscriber with a subscription id; v3 persistent subscriber
  const s5 = await rawClient(tb.port, 5);
  await s5.connect({ clientId: 'rs-v5', ...p5 });
  s5.send({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 9 }, subscriptions: [{ topic: 'rs/#', qos: 2 }] });
  await s5.next('suback');
  const s3 = await rawClient(tb.port, 4);
  await s3.connect({ clientId: 'rs-v3', clean: false });
  s3.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rs/#', qos: 1 }] });
  await s3.next('suback');
  const pub = await client(tb, { protocolVersion: 5 });
  // in flight to both, never acknowledged
  await pub.publishAsync('rs/inflight', 'f', { qos: 1 });
  const f5 = await s5.next('publish');
  const f3 = await s3.next('publish');
  s5.destroy(); s3.destroy();
  await sleep(50);
  // queued while offline
  await pub.publishAsync('rs/a', 'a', { qos: 1 });
  await pub.publishAsync('rs/b', 'b', { qos: 2 });
  await pub.publishAsync('rs/short', 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('rs/c', 'c', { qos: 1 });
  // retained kept and retained deleted
  await pub.publishAsync('rsr/keep', 'kept', { qos: 1, retain: true, properties: { contentType: 'text/plain' } });
  await pub.publishAsync('rsr/gone', 'x', { qos: 1, retain: true });
  await pub.publishAsync('rsr/gone', '', { qos: 1, retain: true });
  // delayed by 4 s (fires after the restart)
  await pub.publishAsync('$delayed/4/rsd/t', 'late', { qos: 1 });
  // a QoS 2 publisher with a packet id awaiting PUBREL
  const q2 = await rawClient(tb.port, 5);
  await q2.connect({ clientId: 'rs-q2', ...p5 });
  q2.send({ cmd: 'publish', topic: 'rsq2/t', payload: Buffer.from('once'), qos: 2, messageId: 31 });
  await q2.next('pubrec');
  q2.destroy();
  await end(pub);

  tb = await restart();
  await sleep(1100); // the 1 s message expires while the subscriber is away

  const watch = await client(tb, { protocolVersion: 5 });
  const seen = collect(watch);
  await watch.subscribeAsync(['rsq2/t', 'rsd/t'], { qos: 2 });

  const r5 = await rawClient(tb.port, 5);
  assert.equal((await r5.connect({ clientId: 'rs-v5', ...p5 })).sessionPresent, true);
  const got5 = [];
  for (let i = 0; i < 4; i++) {
    const p = await r5.next('publish');
    got5.push([p.payload.toString(), p.dup, p.properties?.subscriptionIdentifier]);
    if (p.qos === 1) r5.send({ cmd: 'puback', messageId: p.messageId });
    else { r5.send({ cmd: 'pubrec', messageId: p.messageId }); await r5.next('pubrel'); r5.send({ cmd: 'pubcomp', messageId: p.messageId }); }
    if (i === 0) assert.equal(p.messageId, f5.messageId, 'inflight message keeps its packet id');
  }
  assert.deepEqual(got5, [['f', true, 9], ['a', false, 9], ['b', false, 9], ['c', false, 9]]);

  const r3 = await rawClient(tb.port, 4);
  assert.equal((await r3.connect({ clientId: 'rs-v3', clean: false })).sessionPresent, true);
  const got3 = [];
  for (let i = 0; i < 4; i++) {
    const p = await r3.next('publish');
    got3.push([p.payload.toString(), p.dup]);
    r3.send({ cmd: 'puback', messageId: p.messageId });
    if (i === 0) assert.equal(p.messageId, f3.messageId);
  }
  assert.deepEqual(got3, [['f', true], ['a', false], ['b', false], ['c', false]]);

  // the QoS 2 publisher resends: acknowledged, not published again; PUBREL completes it
  const q2b = await rawClient(tb.port, 5);
  await q2b.connect({ clientId: 'rs-q2', ...p5 });
  q2b.send({ cmd: 'publish', topic: 'rsq2/t', payload: Buffer.from('once'), qos: 2, messageId: 31, dup: true });
  await q2b.next('pubrec');
  q2b.send({ cmd: 'pubrel', messageId: 31 });
  assert.equal((await q2b.next('pubcomp')).reasonCode ?? 0, 0);

  // retained
  const rsub = await client(tb, { protocolVersion: 5 });
  const ret = collect(rsub);
  await rsub.subscribeAsync('rsr/#', { qos: 1 });
  await until(() => ret.length >= 1);
  await sleep(100);
  assert.deepEqual(ret.map((m) => [m.topic, m.payload, m.packet.properties?.contentType]), [['rsr/keep', 'kept', 'text/plain']]);

  // delayed message fires after the restart, once
  await until(() => seen.some((m) => m.topic === 'rsd/t'), 5000, 'delayed message after restart');
  await sleep(100);
  assert.equal(seen.filter((m) => m.topic === 'rsd/t').length, 1);
  assert.equal(seen.filter((m) => m.topic === 'rsq2/t').length, 0, 'QoS 2 message published again after restart');

  for (const r of [r5, r3, q2b]) r.destroy();
  await end(watch, rsub);
});

test('a delayed will pending at shutdown is published after the restart, unless its client came back in time', async () => {
  let tb = b ?? await start();
  const mk = (id: string) => ({
    protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 },
    will: { topic: `rsw/${id}`, payload: Buffer.from(id), qos: 1 as const, retain: false, properties: { willDelayInterval: 2 } },
  });
  const gone = await client(tb, mk('will-gone'));
  const back = await client(tb, mk('will-back'));
  gone.stream.destroy(); back.stream.destroy();
  await sleep(100);
  const t0 = Date.now();
  tb = await restart();
  const w = await client(tb, { protocolVersion: 5 });
  const got = collect(w);
  await w.subscribeAsync('rsw/#', { qos: 1 });
  const again = await client(tb, { ...mk('will-back'), will: undefined });
  await until(() => got.length >= 1, 4000, 'will after restart');
  await sleep(300);
  assert.deepEqual(got.map((m) => m.topic), ['rsw/will-gone']);
  assert.ok(Date.now() - t0 >= 1500, 'will published before its delay');
  await new Promise<void>((r) => again.end(false, { properties: { sessionExpiryInterval: 0 } }, () => r()));
  await end(w, gone, back);
});
