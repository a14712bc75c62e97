/**
 * The primary process of a multi-process node (node.workers > 1): it runs no broker. It forks
 * the workers (Node's cluster module: each runs this same command with PETREL_WORKER=<i>),
 * holds the raw TCP listening sockets and hands each accepted connection to the next worker
 * in turn (Node's cluster module does the same for the `net` listeners), restarts a worker that
 * dies, and stops them all on SIGTERM/SIGINT.
 *
 * Start: the node is up when every worker reported ready; a worker that exits before that
 * stops the others and the primary exits with its code (2 bad config, 3 a listener could not
 * bind, 1 otherwise). After that, a worker that dies is forked again (after 1 s, doubling up to
 * 30 s while it keeps dying within a minute of its start); its clients reconnect to the others
 * meanwhile (its sessions are held in the cluster as any dead node's).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.js';
import { RawTcpAcceptor, closeHandle } from '../transport/raw-tcp.js';
import type { WorkerMessage } from './worker.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workerLinkPath } from './config.js';

interface Shared { acceptor: RawTcpAcceptor; id: string; workers: Worker[]; next: number }

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;

export async function runPrimary(count: number, log: Logger): Promise<number> {
  cluster.setupPrimary({ exec: process.argv[1], args: process.argv.slice(2) });
  // The workers' same-host link sockets (cluster/link.ts `local`): a directory only this user can enter.
  let linkDir = mkdtempSync(join(tmpdir(), 'petrel-workers-'));
  if (workerLinkPath(linkDir, count).length > 100) { // sun_path holds 108 bytes
    log.warn({ dir: linkDir }, 'the temp directory\'s path is too long for Unix sockets: the workers link over TCP');
    rmSync(linkDir, { recursive: true, force: true });
    linkDir = '';
  }
  const shared = new Map<string, Shared>();
  const slots: Array<{ worker: Worker | null; startedAt: number; backoff: number; ready: boolean }> = [];
  let stopping = false;
  let started = false;
  let startFailure: number | null = null;
  let onStarted: () => void = () => {};
  let onAllExited: () => void = () => {};

  const fork = (index: number): void => {
    const w = cluster.fork({ PETREL_WORKER: String(index), PETREL_WORKERS: String(count), PETREL_WORKER_LINK_DIR: linkDir });
    const slot = slots[index - 1]!;
    slot.worker = w;
    slot.startedAt = Date.now();
    slot.ready = false;
    w.on('message', (msg: WorkerMessage) => onMessage(index, w, msg));
    w.on('exit', (code, signal) => onExit(index, w, code, signal));
  };

  const onMessage = (index: number, w: Worker, msg: WorkerMessage): void => {
    if (msg === null || typeof msg !== 'object') return;
    switch (msg.petrel) {
      case 'ready': {
        const slot = slots[index - 1]!;
        slot.ready = true;
        log.info({ worker: index, worker_pid: w.process.pid, node: msg['node'] }, 'worker ready');
        if (!started && slots.every((s) => s.ready)) { started = true; onStarted(); }
        return;
      }
      case 'listen': return listen(w, msg);
      case 'unlisten': return unlisten(w, msg.id ?? '');
      default:
    }
  };

  const listen = (w: Worker, msg: WorkerMessage): void => {
    const id = msg.id ?? '';
    // By listener and address: while a listener's bind changes (PUT /api/v5/listeners) worker by worker, the old socket serves those not yet moved.
    const key = `${id} ${msg.address}:${msg.port}`;
    unlisten(w, id);
    let s = shared.get(key);
    if (s === undefined) {
      const entry: Shared = { acceptor: null as unknown as RawTcpAcceptor, id, workers: [], next: 0 };
      entry.acceptor = new RawTcpAcceptor((handle) => handOff(entry, id, handle), (err) => log.warn({ listener: id, err: err.message }, 'accept failed'));
      try {
        entry.acceptor.listen(msg.address ?? '0.0.0.0', msg.port ?? 0);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        w.send({ petrel: 'listen-failed', id, code: e.code ?? 'EINVAL', message: e.message } satisfies WorkerMessage);
        return;
      }
      s = entry;
      shared.set(key, s);
    }
    if (!s.workers.includes(w)) s.workers.push(w);
    w.send({ petrel: 'listening', id, port: s.acceptor.port } satisfies WorkerMessage);
  };

  const unlisten = (w: Worker, id: string): void => {
    for (const [key, s] of shared) {
      if (!key.startsWith(`${id} `)) continue;
      s.workers = s.workers.filter((x) => x !== w);
      if (s.workers.length === 0) { s.acceptor.close(); shared.delete(key); }
    }
  };

  /** The next worker in turn gets the connection; the primary's copy of the handle is closed once it is sent. */
  const handOff = (s: Shared, id: string, handle: unknown): void => {
    for (let tries = 0; tries < s.workers.length; tries++) {
      const w = s.workers[s.next++ % s.workers.length]!;
      if (!w.isConnected()) continue;
      w.send({ petrel: 'conn', id } satisfies WorkerMessage, handle as never, { keepOpen: false }, (err) => {
        if (err !== null) log.warn({ listener: id, err: err.message }, 'could not hand a connection to a worker');
        closeHandle(handle);
      });
      return;
    }
    closeHandle(handle);
  };

  const onExit = (index: number, w: Worker, code: number | null, signal: string | null): void => {
    for (const s of [...shared.values()]) if (s.workers.includes(w)) unlisten(w, s.id);
    const slot = slots[index - 1]!;
    if (slot.worker !== w) return;
    slot.worker = null;
    if (stopping) {
      if (slots.every((s) => s.worker === null)) onAllExited();
      return;
    }
    if (!started) {
      log.error({ worker: index, code, signal }, 'worker exited while starting: stopping the node');
      startFailure = code === 2 || code === 3 ? code : 1;
      stopAll();
      return;
    }
    const up = Date.now() - slot.startedAt;
    slot.backoff = up >= STABLE_MS ? RESTART_MIN_MS : Math.min(RESTART_MAX_MS, slot.backoff * 2 || RESTART_MIN_MS);
    log.error({ worker: index, code, signal, restart_in_ms: slot.backoff }, 'worker died: starting it again');
    setTimeout(() => { if (!stopping) fork(index); }, slot.backoff).unref();
  };

  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    for (const s of shared.values()) s.acceptor.close();
    shared.clear();
    for (const slot of slots) slot.worker?.process.kill('SIGTERM');
    if (slots.every((s) => s.worker === null)) onAllExited();
  };

  const allExited = new Promise<void>((r) => { onAllExited = r; });
  const startedP = new Promise<void>((r) => { onStarted = r; });
  let signals = 0;
  const onSignal = (sig: string): void => {
    signals++;
    if (signals === 1) { log.info({ sig }, 'stopping: every worker closes its listeners, disconnects its clients and persists its state'); stopAll(); }
    else { log.warn({ sig }, 'second signal: workers killed now'); for (const slot of slots) slot.worker?.process.kill('SIGKILL'); }
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  for (let i = 1; i <= count; i++) slots.push({ worker: null, startedAt: 0, backoff: 0, ready: false });
  for (let i = 1; i <= count; i++) fork(i);
  await Promise.race([startedP, allExited]);
  if (started && !stopping) log.info({ workers: count, worker_pids: slots.map((s) => s.worker?.process.pid) }, 'petrel started: every worker serves');
  await allExited;
  if (linkDir !== '') rmSync(linkDir, { recursive: true, force: true });
  return startFailure ?? 0;
}
