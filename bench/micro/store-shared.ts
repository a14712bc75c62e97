/**
 * Micro benchmark (not a test) behind node.workers' "one data dir per worker": N processes (default
 * 2) write the broker's QoS 1 persistence pattern at once, either each into its own SQLite store or
 * all into one shared store file (SQLite's WAL lets several processes write one file, one at a
 * time). Per case: every process's ops/s, summed, and in `sync` mode (each turn awaits its commit,
 * as a sync-mode PUBACK does) the commit latency p50/p99.
 *
 *   node dist/bench/micro/store-shared.js [--procs 2] [--ops 60000] [--reps 3]
 *
 * Pattern as bench/micro/store.ts: 1000 sessions, a ~200-byte put per message and the delete of
 * the message 1000 earlier, 100 ops per event-loop turn. Each process uses its own key prefix.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DurabilityMode } from '../../broker/src/store/index.js';
import { LayeredStore } from '../../broker/src/store/layered-store.js';
import { SqliteBackend } from '../../broker/src/store/sqlite-backend.js';

const SESSIONS = 1000;
const BURST = 100;
const MAX_OUTSTANDING = 64;

interface ChildResult { opsPerSec: number; ackP50Ms: number | null; ackP99Ms: number | null; cpuUsPerOp: number }

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const median = (xs: number[]): number => pct(xs, 50);

async function child(dir: string, mode: DurabilityMode, ops: number, who: string): Promise<ChildResult> {
  const backend = await SqliteBackend.open({ dir, mode, maxBytes: 0, verifyOnOpen: false });
  const store = new LayeredStore(backend, { mode, flushIntervalMs: 10, where: dir });
  const keys: string[] = [];
  const acks: number[] = [];
  const outstanding: Promise<void>[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  let m = 0;
  while (done < ops) {
    const start = performance.now();
    for (let j = 0; j < BURST && done < ops; j++) {
      const session = m % SESSIONS;
      const key = `${who}-${session}\u0000${String(m).padStart(10, '0')}`;
      keys.push(key);
      store.put('sessmsg', key, { id: m, topic: `devices/${session}/telemetry`, payload: Buffer.alloc(96, m & 0xff), qos: 1, from: `pub-${session % 10}`, timestamp: Date.now() });
      done++;
      if (m >= SESSIONS && done < ops) { store.del('sessmsg', keys[m - SESSIONS]!); done++; }
      m++;
    }
    if (mode === 'sync') {
      outstanding.push(store.flush().then(() => { acks.push(performance.now() - start); }));
      if (outstanding.length >= MAX_OUTSTANDING) await outstanding.shift();
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(outstanding);
  await store.flush();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  return {
    opsPerSec: Math.round((done / wall) * 1000),
    ackP50Ms: mode === 'sync' ? +pct(acks, 50).toFixed(1) : null, ackP99Ms: mode === 'sync' ? +pct(acks, 99).toFixed(1) : null,
    cpuUsPerOp: +(((cpu.user + cpu.system) / done)).toFixed(1),
  };
}

function runChild(dir: string, mode: DurabilityMode, ops: number, who: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, mode, String(ops), who], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(argv[1]!, argv[2] as DurabilityMode, Number(argv[3]), argv[4]!)));
    return;
  }
  const arg = (name: string, def: number): number => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
  const procs = arg('--procs', 2);
  const ops = arg('--ops', 60_000);
  const reps = arg('--reps', 3);
  console.log(`store-shared: ${procs} processes × ${ops} ops, ${reps} repetitions, ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Node ${process.version}`);
  for (const mode of ['sync', 'batched'] as DurabilityMode[]) {
    for (const layout of ['one store per process', 'one shared store']) {
      const sums: number[] = [];
      const p50: number[] = [];
      const p99: number[] = [];
      const cpu: number[] = [];
      for (let r = 0; r < reps; r++) {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-store-shared-'));
        try {
          const dirs = Array.from({ length: procs }, (_, i) => (layout === 'one shared store' ? root : path.join(root, `w${i + 1}`)));
          for (const d of dirs) fs.mkdirSync(d, { recursive: true });
          // the shared file is created once before the writers race to open it
          if (layout === 'one shared store') await (await SqliteBackend.open({ dir: root, mode, maxBytes: 0, verifyOnOpen: false })).close();
          const got = await Promise.all(dirs.map((d, i) => runChild(d, mode, ops, `w${i + 1}`)));
          sums.push(got.reduce((n, g) => n + g.opsPerSec, 0));
          cpu.push(median(got.map((g) => g.cpuUsPerOp)));
          if (mode === 'sync') { p50.push(median(got.map((g) => g.ackP50Ms!))); p99.push(Math.max(...got.map((g) => g.ackP99Ms!))); }
        } finally {
          fs.rmSync(root, { recursive: true, force: true });
        }
      }
      console.log(`${mode.padEnd(7)} ${layout.padEnd(22)} ops/s (all processes) ${median(sums).toFixed(0).padStart(7)} [${Math.min(...sums)}–${Math.max(...sums)}]` +
        `  CPU µs/op ${median(cpu).toFixed(1)}` + (mode === 'sync' ? `  commit p50 ${median(p50).toFixed(1)} ms, p99 ${median(p99).toFixed(1)} ms` : ''));
    }
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
