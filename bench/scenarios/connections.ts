/**
 * Idle connections on a freshly started broker: N clients (spread over the workers so each
 * process stays under its open-file limit) connect with a bounded number of CONNECTs in flight
 * per worker. Reports the connect rate (CONNACKs/s), broker CPU µs per connect, and broker RSS
 * per connection: (RSS after the connections settled − RSS before) / N.
 *
 * `connections` runs over plain TCP on every broker; `conn-transports` (opt-in, Petrel only)
 * runs the same measurement over TCP, TLS and secure WebSocket, one fresh broker each, with a
 * throw-away self-signed certificate made with openssl, and reports TLS and WSS against TCP.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../brokers/launch.js';
import type { ClientTransport } from '../gen/client.js';
import { spread } from '../gen/pool.js';
import { type MetricDef, type Scenario, type ScenarioContext, type ScenarioResult, type Setup, type WorkerSnapshot, requireConnected, saturationNote, sleep, sampleBroker } from './common.js';

const METRICS: MetricDef[] = [
  { key: 'rate', label: 'connect rate /s', unit: '/s', better: 'higher', digits: 0 },
  { key: 'cpuPerConn', label: 'broker CPU µs/connect', unit: 'µs', better: 'lower', digits: 1 },
  { key: 'kibPerConn', label: 'broker RSS KiB/connection', unit: 'KiB', better: 'lower', digits: 2 },
  { key: 'brokerCpu', label: 'broker CPU % while connecting', unit: '%', better: 'none', digits: 0 },
  { key: 'genCpu', label: 'generator CPU % (busiest worker)', unit: '%', better: 'none', digits: 0 },
  { key: 'connected', label: 'connected', unit: '', better: 'none', digits: 0 },
];

export const connections: Scenario = {
  name: 'connections',
  title: 'idle connections on a fresh broker',
  metrics: METRICS,
  run: (ctx) => measureIdle(ctx, ctx.broker.port, 'tcp'),
};

/** Listener port and transport of each conn-transports setup, by setup name (set by its plan). */
const targets = new Map<string, { port: number; transport: ClientTransport }>();

export const connTransports: Scenario = {
  name: 'conn-transports',
  title: 'idle connections over TCP, TLS and secure WebSocket (Petrel)',
  metrics: METRICS,
  optIn: true,
  async setups() {
    const dir = mkdtempSync(join(tmpdir(), 'petrel-bench-cert-'));
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const [tlsPort, wssPort] = [await freePort(), await freePort()];
    const ssl = { certfile: cert, keyfile: key };
    const setup = (name: string, petrel: Record<string, unknown>): Setup => ({
      name, petrel, credentials: (username) => ({ username, password: null }), probe: { username: 'probe', password: null }, mustRefuse: [], mustDenySubscribe: [],
    });
    targets.set('tls', { port: tlsPort, transport: 'tls' });
    targets.set('wss', { port: wssPort, transport: 'wss' });
    return {
      setups: [
        setup('tcp', {}),
        setup('tls', { listeners: { ssl: { default: { enable: true, bind: `127.0.0.1:${tlsPort}`, ssl_options: ssl } } } }),
        setup('wss', { listeners: { wss: { default: { enable: true, bind: `127.0.0.1:${wssPort}`, ssl_options: ssl } } } }),
      ],
      reference: 'tcp',
      targets: [{ metric: 'kibPerConn', setups: ['tls', 'wss'], delta: true, why: 'RSS per idle connection, TLS or WSS minus plain TCP', show: ['kibPerConn', 'cpuPerConn'] }],
      dispose: () => { targets.clear(); rmSync(dir, { recursive: true, force: true }); },
    };
  },
  run(ctx) {
    const t = targets.get(ctx.setup?.name ?? 'tcp');
    return t === undefined ? measureIdle(ctx, ctx.broker.port, 'tcp') : measureIdle(ctx, t.port, t.transport);
  },
};

async function measureIdle(ctx: ScenarioContext, port: number, transport: ClientTransport): Promise<ScenarioResult> {
  const { pool, broker, opts } = ctx;
  await sleep(500);
  const before = sampleBroker(broker);
  const parts = spread(opts.connections, pool.size);
  const g0 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
  const t0 = performance.now();
  const res = await Promise.all(parts.map((idx, wi) => pool.workers[wi].call<{ connected: number; failed: number; firstError: string | null }>('connect', {
    group: 'idle', port, ids: idx.map((i) => `bc-${ctx.tag}-${i}`), clean: true, keepalive: 600,
    concurrency: opts.connectConcurrency, timeoutMs: 30_000, transport,
  }, 300_000)));
  const elapsed = performance.now() - t0;
  const afterConnect = sampleBroker(broker);
  const g1 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
  let genCpu = 0;
  for (let i = 0; i < g1.length; i++) {
    const dt = (g1[i].wall - g0[i].wall) * 1000;
    if (dt > 0) genCpu = Math.max(genCpu, ((g1[i].cpuUs - g0[i].cpuUs) / dt) * 100);
  }
  const connected = res.reduce((s, r) => s + r.connected, 0);
  requireConnected(res, 'idle clients');
  // Let the broker settle (lazy allocations, GC) before reading its memory.
  await sleep(2000);
  const after = sampleBroker(broker);
  return {
    values: {
      connected,
      rate: connected / (elapsed / 1000),
      cpuPerConn: (afterConnect.cpuUs - before.cpuUs) / connected,
      kibPerConn: (after.rssKiB - before.rssKiB) / connected,
      genCpu,
      brokerCpu: ((afterConnect.cpuUs - before.cpuUs) / (elapsed * 1000)) * 100,
      rssBeforeMiB: before.rssKiB / 1024,
      rssAfterMiB: after.rssKiB / 1024,
    },
    notes: saturationNote(genCpu),
  };
}
