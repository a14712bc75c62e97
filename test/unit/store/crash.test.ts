/**
 * kill -9: a child process writes in 'batched' mode, awaits flush(), says "flushed", keeps
 * writing, and is SIGKILLed mid-stream. Reopening must succeed (integrity check included) and
 * show everything written before "flushed" — including its deletes — plus possibly some later writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../../broker/src/store/index.js';
import { record, recordKey } from '../../support/store-crash-child.js';
import { spawnStoreChild, waitForLine } from '../../support/store-child.js';

for (const mode of ['batched', 'none'] as const) {
  test(`kill -9 after flush loses nothing flushed (${mode})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-crash-'));
    try {
      const child = spawnStoreChild(import.meta.url, [dir, 'write', mode]);
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      const line = await waitForLine(child, /^flushed \d+$/, 20_000);
      const flushed = Number(line.split(' ')[1]);
      await new Promise((r) => setTimeout(r, 150)); // let it write (and commit) more, then kill mid-stream
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const store = await openStore({ dir, mode: 'batched' }); // stale lock taken over, quick_check passes
      try {
        for (let i = 0; i < flushed; i++) {
          const v = store.get('sessmsg', recordKey(i));
          if (i % 4 === 0 && i < 2000) assert.equal(v, undefined, `record ${i} was deleted before flush`);
          else assert.deepEqual(v, record(i), `record ${i} written before "flushed"`);
        }
        // Whatever survived beyond that is a prefix of the write stream, intact.
        let count = 0;
        let last = -1;
        for (const [key, v] of store.scan('sessmsg')) {
          const i = (v as { i: number }).i;
          assert.equal(key, recordKey(i));
          assert.deepEqual(v, record(i));
          assert.ok(i > last);
          last = i;
          count++;
        }
        assert.equal(count, last + 1 - 500, 'no gaps: the survivors are a prefix of the stream');
        assert.ok(last + 1 >= flushed);
        if (process.env.STORE_CRASH_DEBUG) console.log({ flushed, survived: last + 1 });
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
