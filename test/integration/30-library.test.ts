/**
 * 30 — Petrel as a library: a program embeds a broker through the package entry point only
 * (`import { createNode } from 'petrel'`), configures it with an object, plugs in
 * authentication, authorization and message hooks, publishes as the broker, and stops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createNode, ConfigError, type Message } from 'petrel';

const silent = { write() {} };

/** An embedded node on a loopback port 0 with a temp data dir, TCP only, silent. */
async function embedded(): Promise<{ node: Awaited<ReturnType<typeof createNode>>; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-lib-'));
  const { pino } = await import('pino');
  const node = await createNode({
    config: {
      node: { data_dir: dir },
      listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } },
      dashboard: { listeners: { http: { enable: false } } },
    },
    logger: pino({ level: 'silent' }, silent as never),
  });
  return { node, dir };
}

test('an embedded node: object config, hooks, broker-side publish, stop', async () => {
  const { node, dir } = await embedded();
  try {
    const seen: string[] = [];
    node.hooks.add('client.authenticate', ({ client, password }) =>
      client.username === 'dev' && password?.toString() === 'pw' ? { result: 'allow' } : { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
    // An asynchronous authorization source: devices may not publish under admin/.
    node.hooks.add('client.authorize', async (req) => (req.action === 'publish' && req.topic.startsWith('admin/') ? 'deny' : undefined));
    node.hooks.add('message.publish', (msg: Message) => { if (msg.topic.startsWith('lib/')) seen.push(`${msg.topic}=${msg.payload}`); });

    const url = `mqtt://127.0.0.1:${node.port('tcp:default')}`;
    const bad = mqtt.connect(url, { username: 'dev', password: 'nope', reconnectPeriod: 0, protocolVersion: 5 });
    const refused = await new Promise<number>((ok) => bad.once('error', (e: Error & { code?: number }) => ok(e.code ?? -1)));
    assert.equal(refused, 0x86, 'wrong password refused with 0x86');
    bad.end(true);

    const c = mqtt.connect(url, { username: 'dev', password: 'pw', reconnectPeriod: 0, protocolVersion: 5 });
    await new Promise((ok, bad2) => { c.once('connect', ok); c.once('error', bad2); });
    const got: string[] = [];
    c.on('message', (t, p) => got.push(`${t}=${p}`));
    await c.subscribeAsync(['lib/#', 'admin/#'], { qos: 1 });
    await c.publishAsync('lib/a', 'from-client', { qos: 1 });
    await assert.rejects(c.publishAsync('admin/x', 'nope', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87,
      'publish under admin/ refused with PUBACK 0x87 by the async authorization hook');
    assert.equal(node.publish('lib/b', 'from-broker', { qos: 1 }), 1, 'broker-side publish reaches the subscriber');
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(got.sort(), ['lib/a=from-client', 'lib/b=from-broker']);
    assert.deepEqual(seen.sort(), ['lib/a=from-client', 'lib/b=from-broker']);
    assert.throws(() => node.publish('bad/+', 'x'), /not a valid topic name/);
    await c.endAsync();
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('client.connect refuses a client before authentication (banned): v5 CONNACK 0x8A, v3 return code 5', async () => {
  const { node, dir } = await embedded();
  try {
    const authenticated: string[] = [];
    node.hooks.add('client.connect', async (client) => (client.clientId.startsWith('banned-') ? { result: 'deny', reason: 'BANNED' } : undefined));
    node.hooks.add('client.authenticate', ({ client }) => { authenticated.push(client.clientId); return { result: 'allow' }; });
    const url = `mqtt://127.0.0.1:${node.port('tcp:default')}`;
    for (const [protocolVersion, want] of [[5, 0x8a], [4, 5]] as const) {
      const c = mqtt.connect(url, { clientId: `banned-${protocolVersion}`, reconnectPeriod: 0, protocolVersion });
      const code = await new Promise<number>((ok) => c.once('error', (e: Error & { code?: number }) => ok(e.code ?? -1)));
      assert.equal(code, want, `v${protocolVersion} refusal code`);
      c.end(true);
    }
    const ok = mqtt.connect(url, { clientId: 'fine-1', reconnectPeriod: 0, protocolVersion: 5 });
    await new Promise((res, rej) => { ok.once('connect', res); ok.once('error', rej); });
    await ok.endAsync();
    assert.deepEqual(authenticated, ['fine-1'], 'a refused client never reaches authentication');
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad config key is a ConfigError naming the key', async () => {
  await assert.rejects(createNode({ config: { mqtt: { max_packet_sise: 10 } } }), (err: unknown) =>
    err instanceof ConfigError && /max_packet_sise/.test((err as Error).message));
});
