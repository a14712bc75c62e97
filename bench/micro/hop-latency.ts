/**
 * The machine's floor for the cluster's latency target: round trips of a 64-byte ping through 0, 1
 * and 2 echo/relay processes on loopback (plain Node sockets, no broker). A single broker puts one
 * process between publisher and subscriber, a two-node cluster two; what the second process alone
 * adds to p99 here is what no link design can remove. Not part of the test suite.
 *
 * Run: node dist/bench/micro/hop-latency.js [pings per case, default 10000]
 * One ping in flight at a time, the next sent either at once (back to back: every process stays
 * awake) or 1 ms after the answer (paced: every process sleeps between pings and is woken, as at
 * the latency scenario's 5,000 msg/s).
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

function echo(next: number): void {
  const server = net.createServer((c) => {
    c.setNoDelay(true);
    if (next === 0) { c.on('data', (d) => c.write(d)); return; }
    const up = net.connect(next, '127.0.0.1');
    up.setNoDelay(true);
    c.on('data', (d) => up.write(d));
    up.on('data', (d) => c.write(d));
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
}

async function run(hops: number, n: number, paced: boolean): Promise<string> {
  const kids: ChildProcess[] = [];
  let port = 0;
  if (hops === 0) {
    const server = net.createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
    server.unref();
  } else {
    for (let i = 0; i < hops; i++) {
      const k = fork(fileURLToPath(import.meta.url), ['echo', String(port)]);
      kids.push(k);
      port = await new Promise<number>((r) => k.once('message', (m) => r(m as number)));
    }
  }
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise((r) => s.once('connect', r));
  const ping = Buffer.alloc(64, 1);
  const rtts: number[] = [];
  let t0 = 0;
  await new Promise<void>((done) => {
    s.on('data', () => {
      rtts.push(performance.now() - t0);
      if (rtts.length >= n) { done(); return; }
      const next = (): void => { t0 = performance.now(); s.write(ping); };
      if (paced) setTimeout(next, 1); else setImmediate(next);
    });
    t0 = performance.now();
    s.write(ping);
  });
  s.destroy();
  for (const k of kids) k.kill();
  rtts.sort((a, b) => a - b);
  const q = (x: number): string => rtts[Math.floor(x * (rtts.length - 1))]!.toFixed(3).padStart(7);
  return `${paced ? 'paced       ' : 'back to back'} ${hops} process${hops === 1 ? ' ' : 'es'} on the path: p50 ${q(0.5)}  p99 ${q(0.99)}  p99.9 ${q(0.999)}  max ${q(1)} ms`;
}

if (process.argv[2] === 'echo') {
  echo(Number(process.argv[3]));
} else {
  const n = Number(process.argv[2] ?? 10_000);
  for (const paced of [false, true]) for (const hops of [0, 1, 2]) console.log(await run(hops, n, paced));
}
