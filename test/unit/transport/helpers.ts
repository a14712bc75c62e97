/** Shared bits for transport tests: listener configs on loopback port 0, fixtures, a recording handler. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../../broker/src/config/index.js';
import { silentLogger } from '../../../broker/src/log.js';
import type { Connection, ConnectionHandler } from '../../../broker/src/transport/index.js';

export const log = silentLogger();

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

export const TLS_DIR = join(repoRoot(), 'test', 'fixtures', 'tls');
export const tlsFile = (name: string) => join(TLS_DIR, name);
export const tlsRead = (name: string) => readFileSync(tlsFile(name));

/** Config['listeners'] with all defaults disabled plus the given listeners. */
export function listenersCfg(listeners: Record<string, Record<string, object>>): Config['listeners'] {
  const base = { tcp: { default: { enable: false } }, ssl: { default: { enable: false } }, ws: { default: { enable: false } }, wss: { default: { enable: false } } };
  const merged: Record<string, Record<string, object>> = { ...base };
  for (const [t, entries] of Object.entries(listeners)) merged[t] = { ...merged[t], ...entries };
  return loadConfig({ overrides: { listeners: merged } }).listeners;
}

export const serverSsl = (extra: object = {}) => ({
  certfile: tlsFile('server.crt'), keyfile: tlsFile('server.key'), cacertfile: tlsFile('ca.crt'), ...extra,
});

/** A handler that records everything; optionally echoes. */
export class Recorder implements ConnectionHandler {
  readonly chunks: Buffer[] = [];
  closes: (Error | undefined)[] = [];
  drains = 0;
  private waiters: (() => void)[] = [];
  constructor(readonly conn: Connection, private readonly echo = false) {}
  data(buf: Buffer): void {
    this.chunks.push(buf);
    if (this.echo) this.conn.write(buf);
    this.wake();
  }
  drain(): void { this.drains++; this.wake(); }
  close(err?: Error): void { this.closes.push(err); this.wake(); }
  get text(): string { return Buffer.concat(this.chunks).toString(); }
  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  /** Wait until pred() holds (bounded). */
  async until(pred: () => boolean, what: string, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => { const t = setTimeout(r, Math.min(left, 50)); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
}

/** Collects connections from a Listeners onConnection callback. */
export class Accepted {
  readonly conns: Connection[] = [];
  readonly recs: Recorder[] = [];
  constructor(private readonly echo = false) {}
  readonly onConnection = (c: Connection): void => {
    this.conns.push(c);
    const r = new Recorder(c, this.echo);
    this.recs.push(r);
    c.setHandler(r);
  };
  async count(n: number, ms = 3000): Promise<void> {
    await waitFor(() => this.conns.length >= n, `${n} connections`, ms);
  }
}

export async function waitFor(pred: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
