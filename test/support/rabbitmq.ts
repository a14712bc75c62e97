/**
 * A real RabbitMQ for tests: Debian's rabbitmq-server started as its own Erlang node (its own
 * node name, epmd on its own port, AMQP and distribution ports all free ports on 127.0.0.1),
 * with its database, logs, config and Erlang cookie in a temp dir and a user RABBITMQ_USER /
 * RABBITMQ_PASSWORD owning the default vhost `/`. Nothing it does touches the system service.
 *
 * `down()` stops the node keeping ports and data (exchanges, durable queues and their persistent
 * messages survive), `up()` starts it again, `stop()` ends it and its epmd and removes the dir.
 *
 * No plugins are enabled, which keeps a start at a few seconds. The node runs in the foreground as
 * the Erlang VM itself (RUNNING_UNDER_SYSTEMD makes the start script exec `erl`), so SIGTERM is a
 * clean shutdown and no shell stands in between.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './etcd-cluster.js';

export const RABBITMQ_USER = 'petrel';
export const RABBITMQ_PASSWORD = 'petrel-secret';
const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** A server certificate and key (PEM files) for an AMQPS listener beside the plain one. */
export interface RabbitTls { certFile: string; keyFile: string }

export interface TestRabbitMQ {
  host: string;
  port: number;
  /** The AMQPS listener when started with `tls`, else 0. */
  tlsPort: number;
  username: string;
  password: string;
  /** Milliseconds the last start took, until AMQP connections are accepted. */
  startMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

function spawnLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv, sink: (s: string) => void): ChildProcess {
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout!.on('data', (d) => sink(String(d)));
  p.stderr!.on('data', (d) => sink(String(d)));
  p.once('error', (err) => sink(`\n${err.message}`));
  return p;
}

async function stopProc(p: ChildProcess | null, graceMs: number): Promise<void> {
  if (p === null || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/** True once the port answers an AMQP protocol header with the server's Connection.Start. */
async function amqpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.once('data', (d) => done(d.length > 0 && d[0] === 1));
    s.once('error', () => done(false));
    s.setTimeout(2000, () => done(false));
  });
}

export async function startRabbitMQ(opts: { tls?: RabbitTls } = {}): Promise<TestRabbitMQ> {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} not found: install it with "apt-get install -y rabbitmq-server" (scripts/system-deps.sh does)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-rabbitmq-'));
  for (const d of ['mnesia', 'log', 'home']) mkdirSync(path.join(dir, d));
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const tlsPort = opts.tls ? await freePort() : 0;
  const nodeName = `petrel${port}@localhost`;
  const config = path.join(dir, 'rabbitmq.conf');
  writeFileSync(config, [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    `default_user = ${RABBITMQ_USER}`,
    `default_pass = ${RABBITMQ_PASSWORD}`,
    'default_vhost = /',
    'loopback_users = none',
    // A test machine's disk may be nearly full; the default 50 MB alarm would block publishers.
    'disk_free_limit.absolute = 1MB',
    ...(opts.tls ? [`listeners.ssl.default = 127.0.0.1:${tlsPort}`, `ssl_options.certfile = ${opts.tls.certFile}`,
      `ssl_options.keyfile = ${opts.tls.keyFile}`, 'ssl_options.verify = verify_none', 'ssl_options.fail_if_no_peer_cert = false'] : []),
    '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: path.join(dir, 'home'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONFIG_FILE: config,
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
    RUNNING_UNDER_SYSTEMD: 'true',
  };
  let out = '';
  let epmd: ChildProcess | null = null;
  let proc: ChildProcess | null = null;
  let startMs = 0;

  const up = async (): Promise<void> => {
    const t0 = Date.now();
    out = '';
    if (epmd === null || epmd.exitCode !== null) {
      // Our own epmd in the foreground, so it is ours to stop (erl would start a daemon that outlives the node).
      epmd = spawnLogged('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], env, (s) => { out += s; });
    }
    const p = spawnLogged(SERVER, [], env, (s) => { out += s; });
    proc = p;
    const deadline = Date.now() + 90_000;
    while (!(await amqpAnswers(port))) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`rabbitmq-server exited during start (${p.exitCode ?? p.signalCode}):\n${out.slice(-3000)}`);
      if (Date.now() > deadline) { p.kill('SIGKILL'); throw new Error(`rabbitmq-server did not accept AMQP on 127.0.0.1:${port} within 90 s:\n${out.slice(-3000)}`); }
      await new Promise((r) => setTimeout(r, 100));
    }
    startMs = Date.now() - t0;
  };
  const down = async (): Promise<void> => {
    const p = proc;
    proc = null;
    await stopProc(p, 20_000);
  };

  try { await up(); } catch (err) {
    await down();
    await stopProc(epmd, 2000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1', port, tlsPort, username: RABBITMQ_USER, password: RABBITMQ_PASSWORD,
    get startMs() { return startMs; },
    down, up,
    async stop() {
      await down();
      await stopProc(epmd, 2000);
      epmd = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
