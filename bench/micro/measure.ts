/** The timing loop the micro-benchmarks share. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * Operations per second of fn (which returns how many it did): the best of BENCH_ROUNDS (3) timed
 * runs of BENCH_SECONDS/BENCH_ROUNDS each, after one warm-up call (best-of damps noise from a
 * shared machine).
 */
export function measure(fn: () => number): number {
  fn();
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < SECONDS / ROUNDS) {
      n += fn();
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    best = Math.max(best, n / elapsed);
  }
  return best;
}
