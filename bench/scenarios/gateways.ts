/**
 * The gateways' publish path against plain MQTT over TCP: Petrel alone (Aedes and Mosquitto have
 * none of these gateways), one fresh broker per setup with every gateway and the QUIC listener
 * on (the same config for all), the setups interleaved in every repetition (as `access`).
 * A setup is the path its devices publish through; one MQTT subscriber over TCP takes it all:
 *
 *   mqtt-qos0    MQTT over TCP, QoS 0 (the reference of the QoS 0 paths)
 *   mqtt-qos1    MQTT over TCP, QoS 1 (the reference of the others)
 *   mqttsn-qos0  MQTT-SN PUBLISH QoS 0 with a registered topic id
 *   mqttsn-qos1  the same at QoS 1 (PUBACK from the gateway)
 *   coap-non     CoAP POST /ps/{topic}, NON (published at QoS 0)
 *   coap-con     the same CON (QoS 1, ACK with 2.04)
 *   ocpp         OCPP 1.6-J DataTransfer CALLs, published to ocpp/cp/{cid} (QoS 2, delivered at 1)
 *   quic-qos1    MQTT over QUIC, QoS 1
 *
 * Each run has two phases, the driver and its devices in this process (../gateways/load.ts):
 * latency, all devices together paced at --gw-rate msg/s (2,000: well below what the TCP, UDP and
 * WebSocket paths carry; MQTT over QUIC at --gw-quic-rate, 200, as it carries only a few
 * thousand), p50/p99 from the send time in the payload to the subscriber; then throughput, each
 * device keeping --gw-window messages in flight end to end: delivered msg/s, broker CPU µs per
 * message, and the CPU of the broker and of this process, to tell which side saturated.
 *
 *   node dist/bench/run.js --only gateways [--reps 3] [--duration 5] [--gw-devices 20] [--gw-rate 2000] [--gw-window 20]
 */
import { join } from 'node:path';
import { sampleBroker, type MetricDef, type RunOptions, type Scenario, type ScenarioContext, type ScenarioResult, type Setup, type SetupPlan } from './common.js';
import { openDevice, RETRY_MS, type Device, type DeviceKind } from '../gateways/devices.js';
import { GwSubscriber } from '../gateways/subscriber.js';
import { GwLoad } from '../gateways/load.js';
import { repoRoot } from '../lib/repo.js';

export const tlsFile = (f: string): string => join(repoRoot(), 'test', 'fixtures', 'tls', f);

/** Every gateway and the QUIC and TLS listeners on free loopback ports: the config of every setup. */
export function gatewaysConfig(): Record<string, unknown> {
  const ssl = { certfile: tlsFile('server.crt'), keyfile: tlsFile('server.key'), cacertfile: tlsFile('ca.crt') };
  const udp = { default: { bind: '127.0.0.1:0', max_connections: 'infinity', max_conn_rate: 100_000 } };
  return {
    gateway: {
      mqttsn: { mountpoint: '', listeners: { udp } },
      coap: { mountpoint: '', listeners: { udp } },
      ocpp: { listeners: { ws: { default: { bind: '127.0.0.1:0', max_conn_rate: 100_000 } } } },
    },
    listeners: {
      ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl } },
      quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl } },
    },
  };
}

/** Where a listener of the broker under test is: GET /api/v5/listeners or /api/v5/gateways/{gw}/listeners. */
export async function listenerPort(ctx: ScenarioContext, where: { listener: string } | { gateway: string }): Promise<number> {
  const api = ctx.broker.apiPort;
  if (api === undefined) throw new Error('the gateway scenarios need the broker\'s REST port (Petrel only)');
  const path = 'gateway' in where ? `/api/v5/gateways/${where.gateway}/listeners` : '/api/v5/listeners';
  const res = await fetch(`http://127.0.0.1:${api}${path}`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  const rows = (await res.json()) as Array<{ id?: string; port?: number }>;
  const row = 'gateway' in where ? rows[0] : rows.find((r) => r.id === where.listener);
  if (!row?.port) throw new Error(`GET ${path}: no port for ${JSON.stringify(where)}`);
  return row.port;
}

interface GwPath { kind: DeviceKind; qos: 0 | 1; reference: string }

export const GW_PATHS: Record<string, GwPath> = {
  'mqtt-qos0': { kind: 'mqtt', qos: 0, reference: 'mqtt-qos0' },
  'mqtt-qos1': { kind: 'mqtt', qos: 1, reference: 'mqtt-qos1' },
  'mqttsn-qos0': { kind: 'mqttsn', qos: 0, reference: 'mqtt-qos0' },
  'mqttsn-qos1': { kind: 'mqttsn', qos: 1, reference: 'mqtt-qos1' },
  'coap-non': { kind: 'coap', qos: 0, reference: 'mqtt-qos0' },
  'coap-con': { kind: 'coap', qos: 1, reference: 'mqtt-qos1' },
  ocpp: { kind: 'ocpp', qos: 1, reference: 'mqtt-qos1' },
  'quic-qos1': { kind: 'quic', qos: 1, reference: 'mqtt-qos1' },
};

export function gwSetup(name: string): Setup {
  return {
    name,
    petrel: gatewaysConfig(),
    credentials: (username) => ({ username, password: null }),
    probe: { username: 'probe', password: null },
    mustRefuse: [],
    mustDenySubscribe: [],
  };
}

export function gatewaysPlan(): SetupPlan {
  const names = Object.keys(GW_PATHS);
  const referenceOf: Record<string, string> = {};
  for (const n of names) referenceOf[n] = GW_PATHS[n].reference;
  const gws = names.filter((n) => GW_PATHS[n].kind !== 'mqtt');
  return {
    setups: names.map(gwSetup),
    reference: 'mqtt-qos1',
    referenceOf,
    targets: [
      { metric: 'msgs', setups: gws, show: ['brokerCpu', 'genCpu'], why: 'delivered msg/s against plain MQTT at the same QoS; broker and generator CPU % show which side saturated' },
      { metric: 'p99', setups: gws, delta: true, show: ['p50'], why: `at a fixed rate, against plain MQTT at the same QoS` },
    ],
    dispose: () => undefined,
  };
}

export const GATEWAY_METRICS: MetricDef[] = [
  { key: 'msgs', label: 'delivered msg/s (window)', unit: 'msg/s', better: 'higher', digits: 0 },
  { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 2 },
  { key: 'brokerCpu', label: 'broker CPU %', unit: '%', better: 'none', digits: 0 },
  { key: 'genCpu', label: 'generator CPU %', unit: '%', better: 'none', digits: 0 },
  { key: 'p50', label: 'p50 ms (paced)', unit: 'ms', better: 'lower', digits: 3 },
  { key: 'p99', label: 'p99 ms (paced)', unit: 'ms', better: 'lower', digits: 3 },
  { key: 'pacedMsgs', label: 'paced msg/s achieved', unit: 'msg/s', better: 'none', digits: 0 },
  { key: 'lost', label: 'lost', unit: '', better: 'lower', digits: 0 },
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function portOf(ctx: ScenarioContext, kind: DeviceKind): Promise<number> {
  switch (kind) {
    case 'mqtt': return ctx.broker.port;
    case 'quic': return listenerPort(ctx, { listener: 'quic:default' });
    default: return listenerPort(ctx, { gateway: kind });
  }
}

interface Mark { at: number; unique: number; brokerUs: number; genUs: number }

function markNow(ctx: ScenarioContext, load: GwLoad): Mark {
  const cpu = process.cpuUsage();
  return { at: performance.now(), unique: load.totals().unique, brokerUs: sampleBroker(ctx.broker).cpuUs, genUs: cpu.user + cpu.system };
}

/** One setup's run: connect, the paced phase, the window phase, the drain. */
export async function runGatewayPath(ctx: ScenarioContext, name: string): Promise<ScenarioResult> {
  const path = GW_PATHS[name];
  if (path === undefined) throw new Error(`unknown gateway path ${name}`);
  const { opts } = ctx;
  const port = await portOf(ctx, path.kind);
  const filter = path.kind === 'ocpp' ? 'ocpp/cp/+' : `gw/${name}/+`;
  const sub = await GwSubscriber.open(ctx.broker.port, `gw-sub-${ctx.tag}`, filter, path.kind === 'ocpp');
  const devices: Device[] = [];
  let load: GwLoad | null = null;
  try {
    for (let i = 0; i < opts.gwDevices; i++) {
      devices.push(await openDevice({ kind: path.kind, qos: path.qos, port, clientId: `gw${ctx.tag}d${i}`, topic: `gw/${name}/${i}`, payload: opts.payload, ca: tlsFile('ca.crt') }, i));
    }
    load = new GwLoad(devices, sub, opts.gwWindow);
    const phaseMs = opts.warmupMs + opts.durationMs;
    load.latencyWindow(opts.warmupMs, phaseMs);
    const p0 = load.totals();
    const rate = path.kind === 'quic' ? Math.min(opts.gwRate, opts.gwQuicRate) : opts.gwRate;
    load.startPaced(rate, phaseMs);
    await sleep(phaseMs);
    load.stop();
    await load.drain(1000, 5000);
    const lat = load.latencyFigures();
    const p1 = load.totals();

    load.startWindow(phaseMs);
    await sleep(opts.warmupMs);
    const m0 = markNow(ctx, load);
    await sleep(opts.durationMs);
    const m1 = markNow(ctx, load);
    load.stop();
    // Longer than the paced phase's drain: a QoS 1 message still on its way is not lost.
    await load.drain(3000, 15_000);
    const end = load.totals();

    const dt = (m1.at - m0.at) * 1000;
    const delivered = m1.unique - m0.unique;
    const values: Record<string, number> = {
      msgs: delivered / (dt / 1e6),
      cpuPerMsg: delivered > 0 ? (m1.brokerUs - m0.brokerUs) / delivered : NaN,
      brokerCpu: ((m1.brokerUs - m0.brokerUs) / dt) * 100,
      genCpu: ((m1.genUs - m0.genUs) / dt) * 100,
      p50: lat.p50, p99: lat.p99, max: lat.max, samples: lat.samples,
      pacedMsgs: ((p1.unique - p0.unique) * 1000) / phaseMs,
      lost: end.sent - end.unique,
      sent: end.sent, duplicates: end.duplicates, skipped: end.skipped, writeOffs: end.writeOffs,
      acks: devices.reduce((s, d) => s + d.acks, 0),
      retries: devices.reduce((s, d) => s + (d.retries ?? 0), 0),
    };
    const notes: string[] = rate !== opts.gwRate ? [`paced phase at ${rate} msg/s (--gw-quic-rate)`] : [];
    const err = load.firstError();
    if (err !== null) notes.push(`error: ${err}`);
    if (sub.unreadable > 0) notes.push(`${sub.unreadable} messages without a readable stamp`);
    if (values.lost > 0) notes.push(`${path.qos === 1 ? 'LOST' : 'lost'} ${values.lost} of ${end.sent} (${((values.lost / end.sent) * 100).toFixed(2)} %)`);
    if (end.duplicates > 0) notes.push(`${end.duplicates} duplicates`);
    if (values.retries > 0) notes.push(`${values.retries} datagrams sent again (no acknowledgement within ${RETRY_MS} ms)`);
    if (end.skipped > 0) notes.push(`paced phase: ${end.skipped} sends skipped (a device's window was full)`);
    if (values.genCpu >= 90) notes.push(`generator at ${values.genCpu.toFixed(0)} % CPU: the throughput may be the generator's`);
    return { values, notes };
  } finally {
    load?.stop();
    await Promise.allSettled(devices.map((d) => d.close()));
    sub.close();
  }
}

export const gateways: Scenario = {
  name: 'gateways',
  title: 'gateways: MQTT-SN, CoAP, OCPP and MQTT over QUIC devices → one MQTT subscriber, against MQTT over TCP (Petrel only)',
  optIn: true,
  metrics: GATEWAY_METRICS,
  setups: async (_opts: RunOptions) => gatewaysPlan(),
  run: (ctx) => {
    if (!ctx.setup) throw new Error('the gateways scenario runs once per setup');
    return runGatewayPath(ctx, ctx.setup.name);
  },
};
