/**
 * Connection set-up time over QUIC against TCP and TLS: Petrel alone, one fresh broker per
 * setup (the gateways scenario's config, with the TLS and QUIC listeners on the same
 * certificate), --handshakes connections one after another from this process, each timed from
 * the first packet to the transport being ready (TCP connect, TLS secureConnect, the QUIC
 * handshake done) and to CONNACK, then closed (DISCONNECT). The first 10 are a warm-up.
 *
 *   tcp    MQTT over TCP
 *   tls    MQTT over TLS (TLS 1.3, a full handshake each time: no session is reused)
 *   quic   MQTT over QUIC (@matrixai/quic, a full handshake each time: the library offers no
 *          session resumption and no 0-RTT, see docs/bench.md)
 *
 *   node dist/bench/run.js --only handshake [--reps 3] [--handshakes 200]
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { sampleBroker, type MetricDef, type Scenario, type ScenarioContext, type ScenarioResult, type SetupPlan } from './common.js';
import { gwSetup, listenerPort, tlsFile } from './gateways.js';
import { QuicMqttClient } from '../../test/support/quic-client.js';
import { connectPacket, DISCONNECT } from '../lib/packets.js';
import { percentileSorted } from '../lib/stats.js';

const WARMUP = 10;
const TIMEOUT_MS = 10_000;

interface Timing { ready: number; connack: number }

/** CONNECT on an open socket; resolves at CONNACK 0. */
function mqttConnect(sock: net.Socket, clientId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length < 4) return;
      sock.off('data', onData);
      if (got[0] !== 0x20 || got[3] !== 0) reject(new Error(`${clientId}: no CONNACK 0 (got ${got.subarray(0, 4).toString('hex')})`));
      else resolve();
    };
    sock.on('data', onData);
    sock.write(connectPacket(clientId, true, 60));
  });
}

async function overStream(open: () => net.Socket, readyEvent: 'connect' | 'secureConnect', clientId: string): Promise<Timing> {
  const t0 = performance.now();
  const sock = open();
  const timer = setTimeout(() => sock.destroy(new Error(`${clientId}: no CONNACK within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  try {
    const failed = new Promise<never>((_, reject) => sock.once('error', reject));
    await Promise.race([new Promise((r) => sock.once(readyEvent, r)), failed]);
    const ready = performance.now();
    await Promise.race([mqttConnect(sock, clientId), failed]);
    return { ready: ready - t0, connack: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    sock.end(DISCONNECT);
    sock.destroy();
  }
}

async function overQuic(port: number, clientId: string): Promise<Timing> {
  const t0 = performance.now();
  const c = await QuicMqttClient.connect({ port, ca: tlsFile('ca.crt') });
  const ready = performance.now();
  try {
    const ack = (await c.mqttConnect({ clientId, keepalive: 60 })) as { returnCode?: number };
    if (ack.returnCode !== 0) throw new Error(`${clientId}: CONNACK over QUIC return code ${String(ack.returnCode)}`);
    return { ready: ready - t0, connack: performance.now() - t0 };
  } finally {
    await c.send({ cmd: 'disconnect' }).catch(() => undefined);
    await c.close();
  }
}

let caPem: Buffer | null = null;

async function connectOnce(ctx: ScenarioContext, port: number, i: number): Promise<Timing> {
  const id = `hs${ctx.tag}-${i}`;
  const ca = (caPem ??= readFileSync(tlsFile('ca.crt')));
  switch (ctx.setup?.name) {
    case 'tcp': return overStream(() => net.connect({ host: '127.0.0.1', port, noDelay: true }), 'connect', id);
    case 'tls': return overStream(() => tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }), 'secureConnect', id);
    case 'quic': return overQuic(port, id);
    default: throw new Error(`unknown handshake setup ${String(ctx.setup?.name)}`);
  }
}

async function runHandshake(ctx: ScenarioContext): Promise<ScenarioResult> {
  const name = ctx.setup?.name;
  const port = name === 'tcp' ? ctx.broker.port : await listenerPort(ctx, { listener: name === 'tls' ? 'ssl:default' : 'quic:default' });
  const n = ctx.opts.handshakes;
  for (let i = 0; i < WARMUP; i++) await connectOnce(ctx, port, -i - 1);
  const ready = new Float64Array(n);
  const connack = new Float64Array(n);
  const cpu0 = sampleBroker(ctx.broker).cpuUs;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = await connectOnce(ctx, port, i);
    ready[i] = t.ready;
    connack[i] = t.connack;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuUs = sampleBroker(ctx.broker).cpuUs - cpu0;
  ready.sort();
  connack.sort();
  return {
    values: {
      connackP50: percentileSorted(connack, 50), connackP99: percentileSorted(connack, 99),
      readyP50: percentileSorted(ready, 50), readyP99: percentileSorted(ready, 99),
      cpuPerConn: cpuUs / n, rate: n / seconds,
    },
    notes: [],
  };
}

export const HANDSHAKE_METRICS: MetricDef[] = [
  { key: 'connackP50', label: 'connect → CONNACK p50 ms', unit: 'ms', better: 'lower', digits: 2 },
  { key: 'connackP99', label: 'connect → CONNACK p99 ms', unit: 'ms', better: 'lower', digits: 2 },
  { key: 'readyP50', label: 'transport ready p50 ms', unit: 'ms', better: 'lower', digits: 2 },
  { key: 'readyP99', label: 'transport ready p99 ms', unit: 'ms', better: 'lower', digits: 2 },
  { key: 'cpuPerConn', label: 'broker CPU µs/connection', unit: 'µs', better: 'lower', digits: 0 },
  { key: 'rate', label: 'connections/s (one at a time)', unit: '/s', better: 'none', digits: 0 },
];

export function handshakePlan(): SetupPlan {
  return {
    setups: ['tcp', 'tls', 'quic'].map(gwSetup),
    reference: 'tcp',
    referenceOf: { tcp: 'tcp', tls: 'tcp', quic: 'tls' },
    targets: [{ metric: 'connackP50', setups: ['tls', 'quic'], delta: true, show: ['connackP99'], why: 'QUIC against TLS over TCP, TLS against plain TCP' }],
    dispose: () => undefined,
  };
}

export const handshake: Scenario = {
  name: 'handshake',
  title: 'connection set-up: MQTT over QUIC against TCP and TLS, connect → CONNACK one connection at a time (Petrel only)',
  optIn: true,
  metrics: HANDSHAKE_METRICS,
  setups: async () => handshakePlan(),
  run: runHandshake,
};
