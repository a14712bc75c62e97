/**
 * Micro-benchmark: what a log trace costs per PUBLISH. Not part of the test suite.
 * Run: node --import tsx bench/micro/trace-cost.ts   (about 6 s; or node dist/bench/micro/trace-cost.js)
 *
 * One real node in this process (its store in a temp dir), three MQTT 3.1.1 channels on
 * in-memory connections (no sockets): `pub` publishes QoS 0 to `bench/t` (64-byte payload),
 * `sub` is subscribed to it, `idle` is connected and silent. Each case feeds `pub` the same
 * encoded PUBLISH in batches through the channel's input (parse → authorize → route → deliver →
 * encode → write to a connection that drops the bytes) and reports publishes per second (best of
 * BENCH_ROUNDS over BENCH_SECONDS, bench/micro/measure.ts) and the time per publish:
 *
 *   no trace                                    the baseline
 *   client id trace on another client (idle)    what untraced clients pay while a trace runs
 *   topic trace on another topic                each PUBLISH compared with the filter
 *   client id trace on the publisher            the traced client's own cost (lines formatted
 *                                               and buffered; the file is written between rounds)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../broker/src/config/index.js';
import { createLogger } from '../../broker/src/log.js';
import { channelSettings, startNode, type PetrelNode } from '../../broker/src/node.js';
import { Channel } from '../../broker/src/mqtt/channel.js';
import { encode, type Packet } from '../../broker/src/mqtt/codec/index.js';
import type { Connection, ConnectionHandler } from '../../broker/src/transport/index.js';
import { measure } from './measure.js';

const BATCH = 1000;

/** A connection that accepts every write and drops it. */
class NullConnection implements Connection {
  readonly info;
  handler: ConnectionHandler | null = null;
  readonly bufferedAmount = 0;
  closed = false;
  constructor(port: number) {
    this.info = { listener: 'tcp:default', transport: 'tcp' as const, remoteAddress: '127.0.0.1', remotePort: port, localPort: 1883 };
  }
  setHandler(h: ConnectionHandler): void { this.handler = h; }
  write(): boolean { return true; }
  cork(): void {}
  uncork(): void {}
  pause(): void {}
  resume(): void {}
  end(): void { this.closed = true; }
  destroy(): void { this.closed = true; }
}

function open(node: PetrelNode, clientId: string, port: number): NullConnection {
  const conn = new NullConnection(port);
  const ch = new Channel(conn, node.broker, node.clients, channelSettings(node.config), { highWaterMark: 1 << 30 }, silentLog);
  node.channels.add(ch);
  conn.handler!.data(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 } as Packet, 4));
  return conn;
}

const silentLog = { info() {}, warn() {}, error() {}, debug() {}, isLevelEnabled: () => false };

async function rest(node: PetrelNode, method: string, path: string, body?: unknown): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${node.api!.port}${path}`, {
    method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
}

const dir = mkdtempSync(join(tmpdir(), 'petrel-trace-bench-'));
const cfg = loadConfig({
  overrides: {
    node: { data_dir: dir },
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } },
    dashboard: { listeners: { http: { bind: '127.0.0.1:0' } } },
    trace: { max_file_size: '10GB' },
    sys_topics: { sys_msg_interval: '0', sys_heartbeat_interval: '0' },
    log: { level: 'error' },
  },
});
const node = await startNode(cfg, createLogger(cfg.log, { write() {} } as never));
try {
  const pub = open(node, 'pub', 40001);
  const sub = open(node, 'sub', 40002);
  open(node, 'idle', 40003);
  sub.handler!.data(encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/t', qos: 0 }] } as Packet, 4));
  const publish = encode({ cmd: 'publish', topic: 'bench/t', payload: Buffer.alloc(64, 0x61), qos: 0, retain: false, dup: false } as Packet, 4);
  const batch = Buffer.concat(new Array<Buffer>(BATCH).fill(publish));
  const delivered = (): number => node.broker.metrics.counters['messages.sent'];

  const run = async (label: string): Promise<number> => {
    const before = delivered();
    const rate = measure(() => { pub.handler!.data(batch); return BATCH; });
    if (delivered() === before) throw new Error('nothing was delivered');
    console.log(`${label.padEnd(44)} ${(rate / 1e3).toFixed(0).padStart(6)} k publishes/s  ${(1e9 / rate).toFixed(0).padStart(6)} ns/publish`);
    await new Promise((r) => setTimeout(r, 300)); // let corked writes and trace files flush
    return rate;
  };

  const base = await run('no trace');
  await rest(node, 'POST', '/api/v5/trace', { name: 'other', type: 'clientid', clientid: 'idle' });
  const other = await run('client id trace on another client');
  await rest(node, 'DELETE', '/api/v5/trace/other');
  await rest(node, 'POST', '/api/v5/trace', { name: 'topic', type: 'topic', topic: 'elsewhere/#' });
  const topic = await run('topic trace on another topic');
  await rest(node, 'DELETE', '/api/v5/trace/topic');
  await rest(node, 'POST', '/api/v5/trace', { name: 'self', type: 'clientid', clientid: 'pub' });
  const self = await run('client id trace on the publisher');
  await rest(node, 'DELETE', '/api/v5/trace/self');
  const extra = (r: number): string => `${(1e9 / r - 1e9 / base).toFixed(0)} ns`;
  console.log(`extra per publish: another client ${extra(other)}, topic trace ${extra(topic)}, the publisher traced ${extra(self)}`);
} finally {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}
