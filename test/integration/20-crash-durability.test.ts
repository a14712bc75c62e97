/**
 * 20 — durability across kill -9. Persistent QoS 1 (v3.1.1, clean_session=0) and QoS 2
 * (v5, session expiry 1 h) subscribers go offline; a publisher sends N messages of each QoS
 * and a retained message; the broker process is killed with SIGKILL and restarted on the
 * same data dir. Every QoS 1 message must arrive at least once, every QoS 2 message exactly
 * once, in order, and the retained message must still be there.
 *
 * batched mode (default): a crash may lose the last flush_interval (10 ms) of writes, so the
 * test waits past it before the kill; sync mode acknowledges only after the commit, so there
 * the kill follows the last acknowledgement immediately.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBroker, client, collect, until, end, sleep } from '../support/broker.js';

const N = 300;

async function startChild(dir: string, mode: string) {
  const cfgFile = join(dir, 'petrel.yaml');
  writeFileSync(cfgFile, [
    `node: {data_dir: ${join(dir, 'data')}}`,
    `durability: {mode: ${mode}}`,
    'listeners: {tcp: {default: {bind: "127.0.0.1:0"}}, ws: {default: {enable: false}}}',
    'dashboard: {listeners: {http: {enable: false}}}',
    'log: {level: info, format: json}',
  ].join('\n'));
  const child = await spawnBroker(cfgFile);
  let port = 0;
  await until(() => {
    const m = /"listener":"tcp:default"[^\n]*"port":(\d+)/.exec(child.output());
    if (m) port = Number(m[1]);
    return port > 0;
  }, 15000, 'broker child to listen');
  return { ...child, port };
}

for (const mode of ['batched', 'sync']) {
  test(`kill -9 loses no QoS 1/2 message and no retained message (durability.mode=${mode})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petrel-crash-'));
    try {
      let b = await startChild(dir, mode);
      const s1 = await client(b.port, { clientId: 'crash-q1', clean: false, protocolVersion: 4 });
      await s1.subscribeAsync('crash/q1', { qos: 1 });
      const s2 = await client(b.port, { clientId: 'crash-q2', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
      await s2.subscribeAsync('crash/q2', { qos: 2 });
      await end(s1, s2);

      const pub = await client(b.port, { clientId: 'crash-pub', protocolVersion: 5 });
      await pub.publishAsync('crash/retained', 'keep-me', { qos: 1, retain: true });
      // Windows of 50: within the broker's Receive Maximum (max_awaiting_rel = 100), which
      // MQTT.js does not enforce on its own.
      for (let i = 0; i < N; i += 50) {
        const sends: Promise<unknown>[] = [];
        for (let j = i; j < i + 50; j++) {
          sends.push(pub.publishAsync('crash/q1', `a${j}`, { qos: 1 }));
          sends.push(pub.publishAsync('crash/q2', `b${j}`, { qos: 2 }));
        }
        await Promise.all(sends);
      }
      if (mode === 'batched') await sleep(200);
      b.proc.kill('SIGKILL');
      await b.exited;
      pub.end(true);

      b = await startChild(dir, mode);
      const r1 = await client(b.port, { clientId: 'crash-q1', clean: false, protocolVersion: 4 });
      const got1 = collect(r1);
      const r2raw = await client(b.port, { clientId: 'crash-q2', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
      const got2 = collect(r2raw);
      await until(() => new Set(got1.map((m) => m.payload)).size >= N && got2.length >= N, 15000, `${N} + ${N} messages after restart`);
      await sleep(300); // would-be duplicates have time to arrive
      const q1 = new Set(got1.map((m) => m.payload));
      for (let i = 0; i < N; i++) assert.ok(q1.has(`a${i}`), `QoS 1 message a${i} lost`);
      assert.equal(got2.length, N, 'QoS 2 messages must arrive exactly once');
      assert.deepEqual(got2.map((m) => m.payload), Array.from({ length: N }, (_, i) => `b${i}`), 'QoS 2 order');
      // A second restart must not bring back messages that were acknowledged.
      const r3 = await client(b.port, { clientId: 'reader' });
      const got3 = collect(r3);
      await r3.subscribeAsync('crash/retained', { qos: 1 });
      await until(() => got3.length === 1, 3000, 'retained message');
      assert.equal(got3[0].payload, 'keep-me');
      assert.equal(got3[0].packet.retain, true);
      await end(r1, r2raw, r3);
      b.proc.kill('SIGTERM');
      assert.equal(await b.exited, 0, 'graceful stop exits 0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
