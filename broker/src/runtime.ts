/**
 * The Node/V8 options the broker runs with. `bin/petrel`, the image's ENTRYPOINT and the benchmark
 * start it with exactly these (a unit test keeps the three in step with this list).
 *
 * `--max-semi-space-size=4` (MiB; V8's default on this kind of machine is 16): a burst of connects
 * grows V8's young generation to its maximum, and the memory stays committed afterwards — with the
 * default, ≈ 32 MiB, i.e. ≈ 0.9 KiB of resident memory per connection at 19,000 idle connections,
 * more than the connection itself. At 4 MiB the benchmark's RSS per idle connection drops from
 * ≈ 2.7 to ≈ 1.8 KiB; throughput, latency and the persistent-session drain did not move beyond the
 * machine's noise (alternating runs, docs/performance.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
