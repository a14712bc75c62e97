/**
 * Test support: start a real Petrel node in this process (loopback, port 0, a temp data
 * dir) or as a child process from the built dist/ (for kill -9 tests), and helpers to
 * connect MQTT.js clients to it.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as net } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadConfig } from '../../broker/src/config/index.js';
import { createLogger } from '../../broker/src/log.js';
import { startNode, type PetrelNode } from '../../broker/src/node.js';

export interface TestBroker {
  node: PetrelNode;
  port: number;
  wsPort: number;
  apiPort: number;
  dataDir: string;
  url: string;
  stop(): Promise<void>;
}

/** Repository root (the directory holding package.json), from src or dist alike. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('package.json not found above ' + import.meta.url);
    d = up;
  }
  return d;
}

const silent = { write() {} };

/** Starts a node in-process. `overrides` are raw config values, as in the YAML file. */
export async function startBroker(overrides: Record<string, unknown> = {}, opts: { dataDir?: string; keepData?: boolean } = {}): Promise<TestBroker> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'petrel-test-'));
  const base = {
    node: { data_dir: dataDir },
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { bind: '127.0.0.1:0' } } },
    dashboard: { listeners: { http: { bind: '127.0.0.1:0' } } },
    log: { level: process.env.PETREL_TEST_LOG ?? 'error', format: 'json' },
  };
  const cfg = loadConfig({ overrides: merge(base, overrides) });
  const log = createLogger(cfg.log, process.env.PETREL_TEST_LOG ? undefined : silent as never);
  const node = await startNode(cfg, log);
  const port = node.port('tcp:default');
  return {
    node, port, dataDir, url: `mqtt://127.0.0.1:${port}`,
    wsPort: cfg.listeners.ws.default?.enable ? node.port('ws:default') : 0,
    apiPort: node.api?.port ?? 0,
    async stop() {
      await node.stop();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
      ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Connects an MQTT.js client and waits for CONNACK (rejects on error). No automatic reconnect. */
export function client(b: { port: number } | number, opts: IClientOptions = {}): Promise<MqttClient> {
  const port = typeof b === 'number' ? b : b.port;
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    // Collect from the first packet: a resumed session's messages can arrive with the CONNACK.
    collect(c);
    const onErr = (err: Error): void => { c.end(true); reject(err); };
    c.once('connect', () => { c.off('error', onErr); resolve(c); });
    c.once('error', onErr);
  });
}

export interface Received { topic: string; payload: string; packet: mqtt.IPublishPacket }
const received = new WeakMap<MqttClient, Received[]>();

/** The messages a client has received since it was created (the same array on every call). */
export function collect(c: MqttClient): Received[] {
  let out = received.get(c);
  if (out === undefined) {
    const list: Received[] = [];
    received.set(c, list);
    c.on('message', (topic, payload, packet) => list.push({ topic, payload: payload.toString(), packet }));
    out = list;
  }
  return out;
}

/** Waits until `cond()` holds, polling (it may be async, e.g. a REST call); fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function end(...cs: MqttClient[]): Promise<void> {
  return Promise.all(cs.map((c) => new Promise<void>((r) => c.end(true, {}, () => r())))).then(() => {});
}

/** A raw TCP socket to the broker, for malformed-input tests. */
export function rawSocket(port: number): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const s = net({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Starts the built broker (dist/broker/src/main.js) as a child process with a YAML config file. */
export async function spawnBroker(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<{ proc: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const main = join(repoRoot(), 'dist', 'broker', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} missing: run "make build" first`);
  const proc = spawn(process.execPath, [main, '--config', configFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => out, exited };
}

/** Requires a Debian binary, failing with the install command when it is missing. */
export function requireBinary(path: string, pkg: string): string {
  if (!existsSync(path)) throw new Error(`${path} not found: install it with "apt-get install -y ${pkg}" (or run "make test" as root)`);
  return path;
}
