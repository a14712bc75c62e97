/**
 * Real backing services for tests: redis-server, PostgreSQL and MariaDB from Debian's packages,
 * each a throwaway process on 127.0.0.1 with its data and Unix socket in a temp dir, a user with
 * a password and a database ready. Nothing is printed unless a start fails (then the service's
 * own output is in the error).
 *
 * Every service can be taken down and brought back on the same port with the same data
 * (`down()` / `up()`), for tests of what happens while a backend is away; `stop()` ends it and
 * removes the temp dir.
 *
 * Ports are picked by binding port 0 and releasing it just before the service starts (none of
 * the three can report a port they chose), so a start retries once on a bind failure.
 *
 * PostgreSQL and MariaDB refuse to run as root: as root, their processes run as the `postgres` /
 * `mysql` users the Debian packages create (setpriv), with the temp dir handed over to them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './etcd-cluster.js';

export interface TestService {
  host: string;
  port: number;
  /** Directory of the service's Unix socket. */
  socketDir: string;
  username: string;
  password: string;
  /** Redis: none (''). */
  database: string;
  /** Stops the process; data and port are kept for up(). */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  up(): Promise<void>;
  /** Stops the process and removes its temp dir. */
  stop(): Promise<void>;
}

/** A server certificate and key (PEM files) the service serves TLS with, on its only port. */
export interface ServiceTls { certFile: string; keyFile: string }

export const SERVICE_USER = 'petrel';
export const SERVICE_PASSWORD = 'petrel-secret';
export const SERVICE_DATABASE = 'petrel';

const isRoot = process.getuid?.() === 0;

/** The binary, or an error naming the Debian package that brings it. */
function need(file: string, pkg: string): string {
  if (!existsSync(file)) throw new Error(`${file} not found: install it with "apt-get install -y ${pkg}" (scripts/system-deps.sh does)`);
  return file;
}

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return need(path.join(root, versions[0] ?? '<version>', 'bin', name), 'postgresql');
}

export { freePort } from './etcd-cluster.js';

/** argv prefixed to run as `user` when we are root (the services refuse root). */
function asUser(user: string | null, argv: string[]): [string, string[]] {
  if (!isRoot || user === null) return [argv[0], argv.slice(1)];
  // setpriv execs the service itself (runuser would stay in between and not pass every signal on).
  return ['/usr/bin/setpriv', ['--reuid', user, '--regid', user, '--init-groups', '--', ...argv]];
}

function handOver(dir: string, user: string | null): void {
  if (!isRoot || user === null) return;
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`user '${user}' missing: it comes with the Debian package (apt-get install -y ${user === 'mysql' ? 'mariadb-server' : 'postgresql'})`);
  chownSync(dir, Number(r.stdout), Number(g.stdout));
}

function run(user: string | null, argv: string[], what: string): void {
  const [cmd, args] = asUser(user, argv);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.error?.message ?? ''}\n${(r.stdout + r.stderr).slice(-3000)}`);
}

/** Resolves once something accepts TCP connections on the port; rejects when the process exits first. */
async function waitListening(port: number, proc: ChildProcess, output: () => string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited during start (${proc.exitCode ?? proc.signalCode}):\n${output().slice(-3000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  proc.kill('SIGKILL');
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output().slice(-3000)}`);
}

/** One service process that can be started, stopped and started again the same way. */
class Proc {
  private proc: ChildProcess | null = null;
  private out = '';
  constructor(
    private readonly what: string, private readonly user: string | null, private readonly argv: () => string[], private readonly port: () => number,
    /** Beyond listening: true once the service takes queries (PostgreSQL refuses them while it starts up). */
    private readonly ready: () => boolean = () => true,
    /** The signal for a quick clean shutdown (PostgreSQL's SIGTERM waits for its clients to leave). */
    private readonly stopSignal: NodeJS.Signals = 'SIGTERM',
  ) {}

  async start(): Promise<void> {
    const [cmd, args] = asUser(this.user, this.argv());
    this.out = '';
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d) => { this.out += d; });
    p.stderr!.on('data', (d) => { this.out += d; });
    p.once('error', (err) => { this.out += `\n${err.message}`; });
    this.proc = p;
    await waitListening(this.port(), p, () => this.out, this.what);
    const deadline = Date.now() + 30_000;
    while (!this.ready()) {
      if (Date.now() > deadline || p.exitCode !== null) { p.kill('SIGKILL'); throw new Error(`${this.what} never became ready:\n${this.out.slice(-3000)}`); }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The stop signal (the service shuts down cleanly), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(this.stopSignal);
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

/** Starts with a fresh port, once more on a bind race. */
async function startFresh(setPort: (p: number) => void, proc: Proc): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    setPort(await freePort());
    try { await proc.start(); return; } catch (err) {
      if (attempt >= 1 || !/in use|bind/i.test(String(err))) throw err;
    }
  }
}

function service(dir: string, proc: Proc, port: () => number, database: string): TestService {
  return {
    host: '127.0.0.1', get port() { return port(); }, socketDir: dir,
    username: SERVICE_USER, password: SERVICE_PASSWORD, database,
    down: () => proc.stop(),
    up: () => proc.start(),
    async stop() { await proc.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

// ---------------------------------------------------------------- Redis

/**
 * redis-server with `requirepass` (the `default` user's password is SERVICE_PASSWORD). A save
 * point is set only so that a clean shutdown (down()) writes the data for up() to read back.
 */
export async function startRedis(opts: { tls?: ServiceTls } = {}): Promise<TestService> {
  const bin = need('/usr/bin/redis-server', 'redis-server');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-redis-'));
  let port = 0;
  const listen = (): string[] => opts.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.certFile, '--tls-key-file', opts.tls.keyFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const proc = new Proc('redis-server', null, () => [bin, ...listen(), '--bind', '127.0.0.1', '--dir', dir,
    '--unixsocket', path.join(dir, 'redis.sock'), '--save', '3600 1', '--appendonly', 'no', '--requirepass', SERVICE_PASSWORD,
    '--daemonize', 'no', '--loglevel', 'warning', '--logfile', ''], () => port);
  try { await startFresh((p) => { port = p; }, proc); } catch (err) { rmSync(dir, { recursive: true, force: true }); throw err; }
  const s = service(dir, proc, () => port, '');
  return { ...s, username: 'default', get port() { return port; } };
}

// ---------------------------------------------------------------- PostgreSQL

/**
 * initdb (no fsync, C locale, password auth over TCP) and postgres with durability off: a test
 * database needs none. The superuser is SERVICE_USER, which owns database SERVICE_DATABASE.
 */
export async function startPostgres(opts: { tls?: ServiceTls } = {}): Promise<TestService> {
  const initdb = pgBin('initdb');
  const postgres = pgBin('postgres');
  const isReady = pgBin('pg_isready');
  const user = isRoot ? 'postgres' : null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-pg-'));
  let port = 0;
  try {
    handOver(dir, user);
    const pwfile = path.join(dir, 'pw');
    writeFileSync(pwfile, SERVICE_PASSWORD + '\n');
    if (user !== null) handOver(pwfile, user);
    const data = path.join(dir, 'data');
    // PostgreSQL wants its key private to its own user: copies in the temp dir.
    const tlsArgs: string[] = [];
    if (opts.tls) {
      const cert = path.join(dir, 'server.crt');
      const key = path.join(dir, 'server.key');
      copyFileSync(opts.tls.certFile, cert);
      copyFileSync(opts.tls.keyFile, key);
      chmodSync(key, 0o600);
      handOver(cert, user); handOver(key, user);
      tlsArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`);
    }
    run(user, [initdb, '-D', data, '-U', SERVICE_USER, '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256',
      '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C'], 'initdb');
    const proc = new Proc('postgres', user, () => [postgres, '-D', data, '-p', String(port), '-k', dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200', '-c', 'shared_buffers=16MB', '-c', 'logging_collector=off', '-c', 'log_min_messages=fatal', ...tlsArgs], () => port,
      () => spawnSync(isReady, ['-q', '-h', dir, '-p', String(port)]).status === 0, 'SIGINT');
    await startFresh((p) => { port = p; }, proc);
    // The database the tests use, made over the socket (trust) so no client library is needed here.
    const psql = path.join(path.dirname(postgres), 'psql');
    const psqlBin = existsSync(psql) ? psql : need('/usr/bin/psql', 'postgresql-client');
    run(user, [psqlBin, '-h', dir, '-p', String(port), '-U', SERVICE_USER, '-d', 'postgres', '-q', '-c', `CREATE DATABASE ${SERVICE_DATABASE}`], 'createdb');
    return service(dir, proc, () => port, SERVICE_DATABASE);
  } catch (err) { rmSync(dir, { recursive: true, force: true }); throw err; }
}

// ---------------------------------------------------------------- MariaDB

/**
 * mariadb-install-db (no test db, no name resolution) and mariadbd without the binary log, the
 * performance schema or durable flushes; SERVICE_USER@'%' owns database SERVICE_DATABASE,
 * made through the Unix socket as the passwordless root.
 */
export async function startMariadb(): Promise<TestService> {
  const install = need('/usr/bin/mariadb-install-db', 'mariadb-server');
  const mariadbd = need('/usr/sbin/mariadbd', 'mariadb-server');
  const client = existsSync('/usr/bin/mariadb') ? '/usr/bin/mariadb' : need('/usr/bin/mysql', 'mariadb-client');
  const user = isRoot ? 'mysql' : null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-maria-'));
  let port = 0;
  try {
    handOver(dir, user);
    const data = path.join(dir, 'data');
    const sock = path.join(dir, 'mysqld.sock');
    run(user, [install, '--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db',
      '--skip-name-resolve', '--innodb-buffer-pool-size=16M', '--innodb-flush-log-at-trx-commit=0'], 'mariadb-install-db');
    const proc = new Proc('mariadbd', user, () => [mariadbd, '--no-defaults', `--datadir=${data}`, `--port=${port}`,
      '--bind-address=127.0.0.1', `--socket=${sock}`, `--pid-file=${path.join(dir, 'mariadbd.pid')}`, '--skip-name-resolve',
      '--skip-log-bin', '--performance-schema=OFF', '--innodb-buffer-pool-size=16M', '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0', '--skip-innodb-adaptive-hash-index', '--max-connections=200', '--log-error=' + path.join(dir, 'error.log')], () => port);
    await startFresh((p) => { port = p; }, proc);
    const sql = `CREATE DATABASE ${SERVICE_DATABASE}; CREATE USER '${SERVICE_USER}'@'%' IDENTIFIED BY '${SERVICE_PASSWORD}'; ` +
      `GRANT ALL ON ${SERVICE_DATABASE}.* TO '${SERVICE_USER}'@'%'; GRANT PROCESS ON *.* TO '${SERVICE_USER}'@'%';`;
    run(null, [client, '--no-defaults', `--socket=${sock}`, '-uroot', '-e', sql], 'creating the MariaDB user');
    return service(dir, proc, () => port, SERVICE_DATABASE);
  } catch (err) { rmSync(dir, { recursive: true, force: true }); throw err; }
}
