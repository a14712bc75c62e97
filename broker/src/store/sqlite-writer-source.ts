/**
 * The SQLite writer thread, as source text. better-sqlite3 is synchronous, and a commit that
 * fsyncs takes milliseconds, so commits run on a worker thread with their own connection while
 * the main thread keeps a second connection for reads (WAL lets readers and the writer overlap).
 *
 * The worker is started with `eval: true` from this string rather than from a file, so the same
 * code works whether the broker runs from TypeScript sources (tsx) or from dist/ — a worker file
 * would need a loader in one case and not in the other.
 *
 * Protocol (main → worker): {type:'commit', id, buf, len} where buf's first len bytes pack the ops:
 *   u8 op | u32 nsLen | ns | u32 keyLen | key | u32 valLen | val
 * (op 0 put: val = serialized value; op 1 del: no val; op 2 delete-prefix: key = prefix,
 * val = exclusive upper bound, empty = none). {type:'close'} checkpoints and closes.
 * Replies: {type:'ready'} | {type:'init-failed', code, message} | {type:'done', id, error?}.
 */
export const SQLITE_WRITER_SOURCE = String.raw`
'use strict';
(function main() {
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
let db;
let put, del, delRange, delFrom;
try {
  db = new Database(workerData.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = ' + workerData.synchronous);
  db.pragma('busy_timeout = 5000');
  if (workerData.maxPageCount > 0) db.pragma('max_page_count = ' + workerData.maxPageCount);
  put = db.prepare('INSERT INTO kv(ns, k, v) VALUES (?, ?, ?) ON CONFLICT(ns, k) DO UPDATE SET v = excluded.v');
  del = db.prepare('DELETE FROM kv WHERE ns = ? AND k = ?');
  delRange = db.prepare('DELETE FROM kv WHERE ns = ? AND k >= ? AND k < ?');
  delFrom = db.prepare('DELETE FROM kv WHERE ns = ? AND k >= ?');
} catch (err) {
  parentPort.postMessage({ type: 'init-failed', code: err.code || 'ERROR', message: err.message });
  return;
}
const apply = db.transaction((buf) => {
  let o = 0;
  while (o < buf.length) {
    const op = buf[o]; o += 1;
    const nsLen = buf.readUInt32LE(o); o += 4;
    const ns = buf.toString('utf8', o, o + nsLen); o += nsLen;
    const keyLen = buf.readUInt32LE(o); o += 4;
    const key = buf.subarray(o, o + keyLen); o += keyLen;
    const valLen = buf.readUInt32LE(o); o += 4;
    const val = buf.subarray(o, o + valLen); o += valLen;
    if (op === 0) put.run(ns, key, val);
    else if (op === 1) del.run(ns, key);
    else if (valLen > 0) delRange.run(ns, key, val);
    else delFrom.run(ns, key);
  }
});
parentPort.on('message', (msg) => {
  if (msg.type === 'commit') {
    try {
      apply(Buffer.from(msg.buf, 0, msg.len));
      parentPort.postMessage({ type: 'done', id: msg.id });
    } catch (err) {
      parentPort.postMessage({ type: 'done', id: msg.id, error: { code: err.code || 'ERROR', message: err.message } });
    }
  } else if (msg.type === 'close') {
    try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch (err) { /* the next open replays the WAL */ }
    db.close();
    parentPort.postMessage({ type: 'closed' });
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'ready' });
})();
`;
