/**
 * Load-generator worker process (forked by the pool). It owns a share of the benchmark's clients
 * in named groups ("sub", "pub", "idle", …) and performs the actions the coordinator asks for
 * over IPC: connect, subscribe, start/stop publishing, snapshot counters, wait for deliveries.
 * Each snapshot carries this process's own CPU time, so a saturated generator is visible.
 *
 * Protocol: request {id, action, args} → reply {id, ok: true, result} | {id, ok: false, error}.
 */
import mqtt from 'mqtt-packet';
import { BenchClient, LatencyRecorder, SequenceTracker, type ClientTransport } from './client.js';
import { floodGate } from './flood-gate.js';
import { publishTemplate, type QoS } from '../lib/packets.js';
import { percentileSorted } from '../lib/stats.js';

interface Request {
  id: number;
  action: string;
  args: Record<string, unknown>;
}

const groups = new Map<string, BenchClient[]>();
let latency: LatencyRecorder | null = null;

function group(name: string): BenchClient[] {
  let g = groups.get(name);
  if (g === undefined) groups.set(name, (g = []));
  return g;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run `fn` over items with at most `limit` running at once. */
async function withConcurrency<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes: Promise<void>[] = [];
  for (let l = 0; l < Math.min(limit, items.length); l++) {
    lanes.push((async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    })());
  }
  await Promise.all(lanes);
}

interface ConnectArgs {
  group: string;
  port: number;
  ids: string[];
  clean: boolean;
  keepalive: number;
  concurrency: number;
  timeoutMs: number;
  /** Subscribe each client to topics[i] (or topic) after CONNACK. */
  topic?: string;
  topics?: string[];
  qos?: QoS;
  track?: boolean;
  latency?: boolean;
  /** Per client (parallel to ids): the username to send, and its password (null: none). */
  usernames?: string[];
  passwords?: (string | null)[];
  /** tls or wss: the connections scenario over the other transports (default tcp). */
  transport?: ClientTransport;
}

async function connect(a: ConnectArgs) {
  const g = group(a.group);
  const started = performance.now();
  let failed = 0;
  let firstError: string | null = null;
  let sessionPresent = 0;
  const clients = a.ids.map((id) => {
    const c = new BenchClient(id);
    c.tracker = a.track ? new SequenceTracker() : null;
    g.push(c);
    return c;
  });
  if (a.latency) {
    latency = new LatencyRecorder(2_000_000);
    for (const c of clients) c.latency = latency;
  }
  await withConcurrency(clients, a.concurrency, async (c, i) => {
    try {
      const cred = a.usernames ? { username: a.usernames[i], password: a.passwords?.[i] ?? null } : null;
      if (await c.connect(a.port, a.clean, a.keepalive, a.timeoutMs, cred, a.transport)) sessionPresent++;
      const topic = a.topics ? a.topics[i] : a.topic;
      if (topic !== undefined) await c.subscribe(topic, a.qos ?? 0, a.timeoutMs);
    } catch (e) {
      failed++;
      if (firstError === null) firstError = (e as Error).message;
    }
  });
  return { connected: clients.length - failed, failed, firstError, sessionPresent, elapsedMs: performance.now() - started };
}

interface StartArgs {
  group: string;
  mode: 'flood' | 'window' | 'paced';
  topics: string[];
  qos: QoS;
  payload: number;
  /** A fixed payload text instead of `payload` bytes of filler (QoS 0 flood only). */
  payloadText?: string;
  batch?: number;
  window?: number;
  rate?: number;
  /** Safety stop, ms from now: publishing ends even if the coordinator never says stop. */
  maxMs: number;
  streamBase: number;
  limit?: number;
}

function start(a: StartArgs) {
  const g = group(a.group);
  const stopAt = performance.now() + a.maxMs;
  g.forEach((c, i) => {
    const t = publishTemplate(a.topics[i % a.topics.length], a.qos, a.payload, false, a.payloadText === undefined ? undefined : Buffer.from(a.payloadText));
    c.limit = a.limit ?? 0;
    if (a.mode === 'flood') c.startFlood(t, a.batch ?? 64, stopAt);
    else if (a.mode === 'window') c.startWindow(t, a.qos, a.window ?? 10, a.streamBase + i, stopAt);
    else c.startPaced(t, a.qos, a.rate ?? 1000, a.window ?? 1000, a.streamBase + i, stopAt);
  });
  return { started: g.length };
}

function groupStats(g: BenchClient[]) {
  let sent = 0, acked = 0, received = 0, retained = 0, inflight = 0, closed = 0, errors = 0;
  let firstError: string | null = null;
  const trackers = new Set<SequenceTracker>();
  for (const c of g) {
    sent += c.sent; acked += c.acked; received += c.received; retained += c.receivedRetained;
    inflight += c.inflight;
    if (c.closed) closed++;
    if (c.error !== null) { errors++; firstError ??= c.error; }
    if (c.tracker) trackers.add(c.tracker);
  }
  let unique = 0, duplicates = 0;
  for (const t of trackers) { unique += t.unique; duplicates += t.duplicates; }
  return { clients: g.length, sent, acked, received, retained, inflight, closed, errors, firstError, unique, duplicates };
}

function snapshot() {
  const out: Record<string, ReturnType<typeof groupStats>> = {};
  for (const [name, g] of groups) out[name] = groupStats(g);
  const cpu = process.cpuUsage();
  return { wall: performance.timeOrigin + performance.now(), cpuUs: cpu.user + cpu.system, groups: out };
}

/** Wait until the group's received total reaches `total` (bounded); returns elapsed ms. */
async function waitReceived(a: { group: string; total: number; timeoutMs: number }) {
  const g = group(a.group);
  const started = performance.now();
  const deadline = started + a.timeoutMs;
  for (;;) {
    let r = 0;
    for (const c of g) r += c.received;
    if (r >= a.total) return { done: true, received: r, elapsedMs: performance.now() - started };
    if (performance.now() >= deadline) return { done: false, received: r, elapsedMs: performance.now() - started };
    await sleep(2);
  }
}

/** Publish `count` retained QoS 1 messages on distinct topics, window-limited; waits for all acks. */
async function publishRetained(a: { group: string; count: number; prefix: string; payload: number; window: number; timeoutMs: number }) {
  const c = group(a.group)[0];
  if (!c || !c.socket) throw new Error('no connected publisher');
  const started = performance.now();
  const payload = Buffer.alloc(a.payload, 0x72);
  const frames: Buffer[] = [];
  for (let i = 0; i < a.count; i++) {
    frames.push(mqtt.generate({ cmd: 'publish', topic: `${a.prefix}${i}`, payload, qos: 1, retain: true, dup: false, messageId: (i % 65535) + 1 } as mqtt.IPublishPacket));
  }
  const deadline = started + a.timeoutMs;
  let sent = 0;
  while (sent < a.count && performance.now() < deadline && !c.closed) {
    const room = a.window - (sent - c.acked);
    if (room > 0) {
      const n = Math.min(room, a.count - sent);
      c.write(Buffer.concat(frames.slice(sent, sent + n)));
      sent += n;
      c.inflight += n;
    }
    await sleep(1);
  }
  const ok = await c.waitIdle(Math.max(0, deadline - performance.now()));
  return { sent, acked: c.acked, ok, elapsedMs: performance.now() - started };
}

/** Send SUBSCRIBE and time until `expect` retained messages have arrived. */
async function timedSubscribe(a: { group: string; topic: string; qos: QoS; expect: number; timeoutMs: number }) {
  const c = group(a.group)[0];
  if (!c) throw new Error('no subscriber');
  const started = performance.now();
  c.write(mqtt.generate({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: a.topic, qos: a.qos }] }));
  const deadline = started + a.timeoutMs;
  while (c.receivedRetained < a.expect && performance.now() < deadline && !c.closed) await sleep(1);
  return { done: c.receivedRetained >= a.expect, received: c.receivedRetained, elapsedMs: performance.now() - started };
}

/** Reconnect every client of the group (clean=false) and wait until each has `expectEach` messages. */
async function reconnectAndWait(a: { group: string; port: number; keepalive: number; concurrency: number; expectEach: number; timeoutMs: number }) {
  const g = group(a.group);
  const started = performance.now();
  let failed = 0;
  let firstError: string | null = null;
  let sessionPresent = 0;
  for (const c of g) c.received = 0;
  await withConcurrency(g, a.concurrency, async (c) => {
    try {
      if (await c.connect(a.port, false, a.keepalive, a.timeoutMs)) sessionPresent++;
    } catch (e) {
      failed++;
      firstError ??= (e as Error).message;
    }
  });
  const deadline = started + a.timeoutMs;
  const target = g.length * a.expectEach;
  let r = 0;
  for (;;) {
    r = 0;
    for (const c of g) r += Math.min(c.received, a.expectEach);
    if (r >= target || performance.now() >= deadline) break;
    await sleep(2);
  }
  return { done: r >= target, received: r, failed, firstError, sessionPresent, elapsedMs: performance.now() - started };
}

async function disconnectGroup(a: { group: string; concurrency: number }) {
  await withConcurrency(group(a.group), a.concurrency, (c) => c.disconnect(2000));
  return { done: true };
}

function latencyWindow(a: { fromMs: number; toMs: number }) {
  if (!latency) throw new Error('no latency recorder');
  const now = performance.now();
  latency.from = now + a.fromMs;
  latency.to = now + a.toMs;
  return { ok: true };
}

function latencyResult() {
  if (!latency) throw new Error('no latency recorder');
  const s = latency.samples.slice(0, latency.count).sort();
  return {
    count: s.length,
    p50: percentileSorted(s, 50),
    p99: percentileSorted(s, 99),
    p999: percentileSorted(s, 99.9),
    max: s.length ? s[s.length - 1] : NaN,
  };
}

let progressTimer: NodeJS.Timeout | null = null;

/** Turn the flood gate on (limit > 0) and report progress to the coordinator every `reportMs`. */
function gate(a: { limit: number; fanout: number; reportMs: number }) {
  gateOff();
  floodGate.configure(a.limit, a.fanout);
  if (a.limit <= 0) return { ok: true };
  const subs = group('sub');
  progressTimer = setInterval(() => {
    let received = 0;
    for (const c of subs) received += c.received;
    process.send?.({ type: 'progress', sent: floodGate.localSent, received });
  }, a.reportMs);
  return { ok: true };
}

function gateOff() {
  if (progressTimer) clearInterval(progressTimer);
  progressTimer = null;
  const stalls = floodGate.stalls;
  floodGate.configure(0, 1);
  return { stalls };
}

function reset() {
  gateOff();
  for (const g of groups.values()) for (const c of g) c.destroy();
  groups.clear();
  latency = null;
  return { ok: true };
}

async function handle(req: Request): Promise<unknown> {
  const a = req.args as never;
  switch (req.action) {
    case 'connect': return connect(a);
    case 'start': return start(a);
    case 'stop': { for (const c of group((req.args as { group: string }).group)) c.stopPublishing(); return { ok: true }; }
    case 'waitIdle': {
      const { group: name, timeoutMs } = req.args as { group: string; timeoutMs: number };
      const r = await Promise.all(group(name).map((c) => c.waitIdle(timeoutMs)));
      return { idle: r.every(Boolean) };
    }
    case 'snapshot': return snapshot();
    case 'waitReceived': return waitReceived(a);
    case 'publishRetained': return publishRetained(a);
    case 'timedSubscribe': return timedSubscribe(a);
    case 'reconnectAndWait': return reconnectAndWait(a);
    case 'disconnect': return disconnectGroup(a);
    case 'drop': { const g = group((req.args as { group: string }).group); for (const c of g) c.destroy(); g.length = 0; return { ok: true }; }
    case 'latencyWindow': return latencyWindow(a);
    case 'latencyResult': return latencyResult();
    case 'reset': return reset();
    case 'gate': return gate(a);
    case 'gateOff': return gateOff();
    case 'exit': reset(); setTimeout(() => process.exit(0), 10); return { ok: true };
    default: throw new Error(`unknown action ${req.action}`);
  }
}

process.on('message', (msg: Request | { type: 'credit'; otherSent: number; delivered: number; brokerActive: boolean }) => {
  if ('type' in msg) { floodGate.update(msg.otherSent, msg.delivered, msg.brokerActive); return; }
  handle(msg).then(
    (result) => process.send?.({ id: msg.id, ok: true, result }),
    (e: Error) => process.send?.({ id: msg.id, ok: false, error: e.message }),
  );
});
// The coordinator went away: do not linger with open sockets.
process.on('disconnect', () => { reset(); process.exit(0); });
