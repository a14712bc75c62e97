// rawPipeListen / rawPipeConnect: Unix sockets on raw libuv pipe handles (the same-host link of a node's workers).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rawPipeConnect, rawPipeListen, rawPipeSupported, type RawConnection } from '../../../broker/src/transport/raw-tcp.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-raw-pipe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function dial(path: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => rawPipeConnect(path, 'test', (err, conn) => (err ? reject(err) : resolve(conn!))));
}
const until = async (ok: () => boolean): Promise<void> => { while (!ok()) await new Promise((r) => setTimeout(r, 5)); };

test('this Node (a tested major) has raw pipe handles', () => {
  assert.equal(rawPipeSupported(), true);
});

test('listens, accepts, carries 1 MB both ways, closes both ends', async () => {
  const path = join(dir, 'echo.sock');
  const accepted: RawConnection[] = [];
  const close = rawPipeListen(path, 'test', (c) => {
    accepted.push(c);
    c.setHandler({ data: (b) => { c.write(b); }, drain() {}, close() {} });
  }, (err) => assert.fail(err));
  const conn = await dial(path);
  assert.equal(conn.info.remoteAddress, path);
  const got: Buffer[] = [];
  let closed = false;
  conn.setHandler({ data: (b) => got.push(b), drain() {}, close: () => { closed = true; } });
  const big = Buffer.alloc(1024 * 1024, 7);
  conn.write(big);
  await until(() => Buffer.concat(got).length === big.length);
  assert.ok(Buffer.concat(got).equals(big));
  assert.equal(accepted.length, 1);
  accepted[0]!.destroy();
  await until(() => closed);
  close();
});

test('a dial to no socket reports ENOENT once; an abandoned one reports nothing', async () => {
  await assert.rejects(dial(join(dir, 'none.sock')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'connect');
  const path = join(dir, 'slow.sock');
  const close = rawPipeListen(path, 'test', (c) => c.destroy(), () => {});
  let called = 0;
  const abandon = rawPipeConnect(path, 'test', () => { called++; });
  abandon();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(called, 0);
  close();
});
