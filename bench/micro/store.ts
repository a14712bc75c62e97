/**
 * Micro benchmark of the embedded store (not a test): the broker's real write pattern against
 * SQLite (the shipped engine) and LMDB, in each durability mode, behind the same write-behind
 * layer, so only the engine differs.
 *
 *   node --import tsx bench/micro/store.ts            (about a minute; BENCH_OPS=100000 by default)
 *
 * Pattern: 1000 persistent sessions each with one QoS 1 message in flight; every new message is a
 * put of a ~200-byte record under `sessmsg/${clientId}\0${msgId}`, and the ack of the message sent
 * 1000 messages earlier is a del — interleaved, 100 ops per event-loop turn, until BENCH_OPS ops.
 * In 'sync' mode each turn then calls flush() (the broker awaits it before PUBACK). We report the
 * put() call's own latency (what the hot path pays), put → durable latency (time from a turn's
 * writes to the commit that covers them: in 'sync' mode that is the PUBACK delay) and the
 * event-loop delay (what every other client on the node feels). Each case runs in a fresh
 * child process; CPU is that process's user+system time, all threads included.
 * Figures go to docs/store.md.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { DurabilityMode } from '../../broker/src/store/index.js';
import { LayeredStore } from '../../broker/src/store/layered-store.js';
import { SqliteBackend } from '../../broker/src/store/sqlite-backend.js';
import { LmdbBackend } from './store-lmdb-backend.js';

const OPS = Number(process.env.BENCH_OPS ?? 100_000);
const PACED_OPS = Number(process.env.BENCH_PACED_OPS ?? 30_000);
const PACED_RATE = Number(process.env.BENCH_RATE ?? 10_000); // ops/s offered in the paced pass
const SESSIONS = 1000;
const BURST = 100;
const MAX_OUTSTANDING_FLUSHES = 64;

interface Result {
  engine: string; mode: DurabilityMode; rate: number; ops: number; wallMs: number; opsPerSec: number;
  cpuMs: number; cpuPct: number; cpuUsPerOp: number;
  putP50Us: number; putP99Us: number; ackP50Ms: number | null; ackP99Ms: number | null; durP50Ms: number; durP99Ms: number;
  loopP99Ms: number; loopMaxMs: number; commits: number; fileBytes: number;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function record(id: number, session: number): Record<string, unknown> {
  return {
    id, topic: `devices/${session}/telemetry`, payload: Buffer.alloc(96, id & 0xff), qos: 1, retain: false,
    properties: null, from: `pub-${session % 10}`, timestamp: Date.now(), expiresAt: 0, dup: false,
  };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, f)).size;
  return n;
}

async function runCase(engine: string, mode: DurabilityMode, totalOps: number, rate: number): Promise<Result> {
  const OPS = totalOps;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `petrel-bench-store-${engine}-`));
  try {
    // Each burst's (last write seq, start time); a commit makes a prefix of them durable.
    const bursts: Array<[number, number]> = [];
    let nextBurst = 0;
    const durLat: number[] = [];
    const onCommitted = (seq: number): void => {
      const now = performance.now();
      while (nextBurst < bursts.length && bursts[nextBurst]![0] <= seq) durLat.push(now - bursts[nextBurst++]![1]);
    };
    const backend = engine === 'sqlite'
      ? await SqliteBackend.open({ dir, mode, maxBytes: 0, verifyOnOpen: true })
      : new LmdbBackend(dir, mode);
    const store = new LayeredStore(backend, { mode, flushIntervalMs: 10, where: dir, onCommitted });
    const keys: string[] = [];
    const putLat = new Float64Array(OPS);
    let nPut = 0;
    const ackLat: number[] = [];
    const outstanding: Promise<void>[] = [];
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let ops = 0;
    let m = 0;
    while (ops < OPS) {
      if (rate > 0) {
        // Paced: this turn's ops are due at t0 + ops / rate; wait for that (timers are ~1 ms coarse).
        const due = t0 + (ops / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      const burstStart = performance.now();
      for (let j = 0; j < BURST && ops < OPS; j++) {
        const session = m % SESSIONS;
        const key = `client-${session}\u0000${String(m).padStart(10, '0')}`;
        keys.push(key);
        const rec = record(m, session);
        const a = performance.now();
        store.put('sessmsg', key, rec);
        putLat[nPut++] = (performance.now() - a) * 1000;
        ops++;
        if (m >= SESSIONS && ops < OPS) {
          store.del('sessmsg', keys[m - SESSIONS]!);
          ops++;
        }
        m++;
      }
      bursts.push([store.writeSeq, burstStart]);
      if (mode === 'sync') {
        outstanding.push(store.flush().then(() => { ackLat.push(performance.now() - burstStart); }));
        if (outstanding.length >= MAX_OUTSTANDING_FLUSHES) await outstanding.shift();
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(outstanding);
    await store.flush();
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    const commits = store.stats.commits;
    await store.close();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const puts = putLat.subarray(0, nPut).sort();
    const acks = Float64Array.from(ackLat).sort();
    const durs = Float64Array.from(durLat).sort();
    return {
      engine, mode, rate, ops, wallMs: Math.round(wallMs), opsPerSec: Math.round((ops / wallMs) * 1000),
      cpuMs: Math.round(cpuMs), cpuPct: Math.round((cpuMs / wallMs) * 100), cpuUsPerOp: +((cpuMs * 1000) / ops).toFixed(1),
      putP50Us: +pct(puts, 50).toFixed(1), putP99Us: +pct(puts, 99).toFixed(1),
      ackP50Ms: mode === 'sync' ? +pct(acks, 50).toFixed(1) : null, ackP99Ms: mode === 'sync' ? +pct(acks, 99).toFixed(1) : null,
      durP50Ms: +pct(durs, 50).toFixed(1), durP99Ms: +pct(durs, 99).toFixed(1),
      loopP99Ms: +(loop.percentile(99) / 1e6).toFixed(1), loopMaxMs: +(loop.max / 1e6).toFixed(1),
      commits, fileBytes: dirBytes(dir),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--case');
  if (i >= 0) {
    const r = await runCase(process.argv[i + 1]!, process.argv[i + 2] as DurabilityMode, Number(process.argv[i + 3]), Number(process.argv[i + 4]));
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const reps = Number(process.env.BENCH_REPS ?? 1);
  const passes: Array<[string, number, number]> = [
    [`Flat out: ${OPS} ops as fast as the process can issue them (throughput, CPU)`, OPS, 0],
    [`Paced: ${PACED_OPS} ops offered at ${PACED_RATE} ops/s (latency at a steady load)`, PACED_OPS, PACED_RATE],
  ];
  console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, Node ${process.version}, ${reps} run(s) per case, median shown`);
  for (const [title, ops, rate] of passes) {
    const rows: Result[] = [];
    for (const mode of ['batched', 'sync', 'none'] as const) {
      for (const engine of ['sqlite', 'lmdb']) {
        const runs: Result[] = [];
        for (let rep = 0; rep < reps; rep++) {
          const out = spawnSync(process.execPath, [...process.execArgv, self, '--case', engine, mode, String(ops), String(rate)], { encoding: 'utf8', timeout: 300_000 });
          if (out.status !== 0) throw new Error(`case ${engine}/${mode} failed: ${out.stderr}`);
          const r = JSON.parse(out.stdout.trim().split('\n').pop()!) as Result;
          process.stderr.write(`${JSON.stringify(r)}\n`);
          runs.push(r);
        }
        runs.sort((a, b) => a.opsPerSec - b.opsPerSec);
        rows.push(runs[runs.length >> 1]!);
      }
    }
    console.log(`\n${title}\n`);
    console.log('| engine | mode | ops/s | CPU % | CPU µs/op | put() p50/p99 µs | put→durable p50/p99 ms | event-loop p99/max ms | commits | files |');
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.engine} | ${r.mode} | ${r.opsPerSec} | ${r.cpuPct} | ${r.cpuUsPerOp} | ${r.putP50Us} / ${r.putP99Us} | ${r.durP50Ms} / ${r.durP99Ms} | ${r.loopP99Ms} / ${r.loopMaxMs} | ${r.commits} | ${(r.fileBytes / 1048576).toFixed(1)} MB |`);
    }
  }
}

await main();
