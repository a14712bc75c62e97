/**
 * Child process for the store's kill -9 test (test/unit/store/crash.test.ts), and for the
 * "second process is refused" test. Usage:
 *   store-crash-child <dir> write <mode>   open, write 2000 records, flush, print "flushed <n>",
 *                                          then keep writing until killed (bounded: 20 s)
 *   store-crash-child <dir> open           try to open; print "opened" or "error <code>"
 * Records are `rec-<i padded>` → { i, payload: Buffer of 200 bytes derived from i }.
 */
import { openStore, type DurabilityMode } from '../../broker/src/store/index.js';

export function record(i: number): { i: number; payload: Buffer } {
  const payload = Buffer.alloc(200, i & 0xff);
  payload.writeUInt32BE(i, 0);
  return { i, payload };
}

export function recordKey(i: number): string {
  return `rec-${String(i).padStart(8, '0')}`;
}

async function main(): Promise<void> {
  const [dir, action, mode] = process.argv.slice(2);
  if (dir === undefined || action === undefined) throw new Error('usage: store-crash-child <dir> write|open [mode]');
  if (action === 'open') {
    try {
      const store = await openStore({ dir });
      process.stdout.write('opened\n');
      await store.close();
    } catch (err) {
      process.stdout.write(`error ${(err as { code?: string }).code ?? 'UNKNOWN'} ${(err as Error).message}\n`);
    }
    return;
  }
  const store = await openStore({ dir, mode: (mode ?? 'batched') as DurabilityMode, flushIntervalMs: 5 });
  let i = 0;
  for (; i < 2000; i++) store.put('sessmsg', recordKey(i), record(i));
  for (let j = 0; j < 500; j++) store.del('sessmsg', recordKey(j * 4)); // acked: must stay deleted
  await store.flush();
  process.stdout.write(`flushed ${i}\n`);
  const deadline = Date.now() + 20_000;
  const more = (): void => {
    if (Date.now() > deadline) { void store.close(); return; }
    for (let k = 0; k < 200; k++, i++) store.put('sessmsg', recordKey(i), record(i));
    setImmediate(more);
  };
  more();
}

if (process.argv[1] !== undefined && /store-crash-child\.(ts|js)$/.test(process.argv[1])) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}
