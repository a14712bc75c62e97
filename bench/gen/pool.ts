/**
 * Coordinator side of the load generator: forks the worker processes and talks to them by
 * request/reply over the IPC channel. Every call has a timeout, so a broker that stops answering
 * turns into a failed scenario instead of a hung benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuOfPids, processTree } from '../lib/proc-stat.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Worker {
  readonly index: number;
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  exited = false;

  /** Receives the worker's flood-gate progress reports. */
  onProgress: ((index: number, sent: number, received: number) => void) | null = null;

  constructor(index: number) {
    this.index = index;
    const self = import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js';
    this.child = fork(fileURLToPath(new URL(self, import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, '--max-old-space-size=2048'],
      // Worker k dials from 127.0.<k+1>.1–250 (gen/client.ts): ephemeral ports enough for any storm.
      env: { ...process.env, BENCH_GEN_INDEX: String(index) },
    });
    this.child.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string; type?: string; sent?: number; received?: number }) => {
      if (m.type === 'progress') { this.onProgress?.(this.index, m.sent ?? 0, m.received ?? 0); return; }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`worker ${this.index}: ${m.error}`));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`worker ${this.index} exited (${code ?? signal})`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<T = unknown>(action: string, args: object = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`worker ${this.index} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${this.index}: ${action} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, action, args });
    });
  }

  /** Fire-and-forget message (flood-gate credit). */
  post(msg: object): void {
    if (!this.exited && this.child.connected) this.child.send(msg);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

export class Pool {
  workers: Worker[] = [];
  readonly size: number;

  constructor(size: number) {
    this.size = size;
    for (let i = 0; i < size; i++) this.workers.push(new Worker(i));
    this.heal();
  }

  private sent: number[] = [];
  private received: number[] = [];

  /** Replace dead workers (after a crash) so the next scenario starts clean. */
  heal(): void {
    this.workers = this.workers.map((w) => (w.exited ? new Worker(w.index) : w));
    for (const w of this.workers) w.onProgress = (i, s, r) => this.relay(i, s, r);
  }

  private brokerTimer: NodeJS.Timeout | null = null;
  private brokerCpu: { at: number; cpuUs: number }[] = [];
  private brokerActive = true;

  /**
   * Watch the broker's CPU while a flood is gated: the gate only writes off outstanding
   * deliveries when the broker is idle (it has nothing left to deliver, so it dropped them),
   * never while it is busy working through a backlog or collecting garbage.
   */
  watchBroker(roots: readonly number[]): void {
    this.unwatchBroker();
    this.brokerCpu = [];
    this.brokerActive = true;
    const pids = roots.flatMap((pid) => processTree(pid));
    this.brokerTimer = setInterval(() => {
      const s = { at: performance.now(), cpuUs: cpuOfPids(pids) };
      this.brokerCpu.push({ at: s.at, cpuUs: s.cpuUs });
      while (this.brokerCpu.length > 2 && s.at - this.brokerCpu[0].at > 300) this.brokerCpu.shift();
      const first = this.brokerCpu[0];
      // Active: at least 10 % of a core over the last ~300 ms (10 ms ticks: a few ticks).
      this.brokerActive = this.brokerCpu.length < 2 || s.cpuUs - first.cpuUs >= 0.1 * (s.at - first.at) * 1000;
    }, 50);
  }

  unwatchBroker(): void {
    if (this.brokerTimer) clearInterval(this.brokerTimer);
    this.brokerTimer = null;
  }

  /** Flood-gate relay: every progress report is answered with the totals of all workers. */
  private relay(index: number, sent: number, received: number): void {
    this.sent[index] = sent;
    this.received[index] = received;
    let totalSent = 0;
    let totalReceived = 0;
    for (let i = 0; i < this.workers.length; i++) {
      totalSent += this.sent[i] ?? 0;
      totalReceived += this.received[i] ?? 0;
    }
    for (const w of this.workers) {
      w.post({ type: 'credit', otherSent: totalSent - (this.sent[w.index] ?? 0), delivered: totalReceived, brokerActive: this.brokerActive });
    }
  }

  /** Forget relayed counters (before a new gated run). */
  clearRelay(): void {
    this.sent = [];
    this.received = [];
  }

  all<T = unknown>(action: string, args: (i: number) => object, timeoutMs?: number): Promise<T[]> {
    return Promise.all(this.workers.map((w, i) => w.call<T>(action, args(i), timeoutMs)));
  }

  async reset(): Promise<void> {
    this.unwatchBroker();
    this.heal();
    await this.all('reset', () => ({}), 10_000);
  }

  async close(): Promise<void> {
    this.unwatchBroker();
    await Promise.allSettled(this.workers.map((w) => w.call('exit', {}, 2000)));
    for (const w of this.workers) w.kill();
  }
}

/** Split `n` items over `k` workers round-robin, starting at worker `offset`: indices per worker. */
export function spread(n: number, k: number, offset = 0): number[][] {
  const out: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) out[(i + offset) % k].push(i);
  return out;
}
