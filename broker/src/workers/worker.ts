/**
 * A worker's side of a multi-process node (node.workers; the primary is primary.ts): its index,
 * and its share of the listening sockets the primary holds for raw TCP listeners. Listeners on
 * `net` (TLS, WebSocket, the REST API) are shared by Node's cluster module, which hands each
 * worker its turn of accepted connections the same way.
 *
 * The messages, all objects with a `petrel` field (Node's cluster module uses its own):
 *   worker → primary  {petrel:'listen', id, address, port}   {petrel:'unlisten', id}   {petrel:'ready', …}
 *   primary → worker  {petrel:'listening', id, port}  {petrel:'listen-failed', id, code, message}
 *                     {petrel:'conn', id} + the accepted connection's handle
 */
import cluster from 'node:cluster';
import type { SharedListen } from '../transport/raw-tcp.js';

export interface WorkerMessage {
  petrel: 'listen' | 'unlisten' | 'ready' | 'listening' | 'listen-failed' | 'conn';
  id?: string;
  address?: string;
  port?: number;
  code?: string;
  message?: string;
  [field: string]: unknown;
}

/** This process's worker index (1-based) when it is a worker of a multi-process node; 0 otherwise. */
export const workerIndex: number = cluster.isWorker && process.env.PETREL_WORKER !== undefined ? Number(process.env.PETREL_WORKER) : 0;

class WorkerListens implements SharedListen {
  private readonly handlers = new Map<string, (handle: unknown) => void>();
  private readonly waiting = new Map<string, { ok: (port: number) => void; fail: (err: Error) => void }>();

  constructor() {
    process.on('message', (msg: WorkerMessage, handle: unknown) => {
      if (msg === null || typeof msg !== 'object' || typeof msg.petrel !== 'string') return;
      if (msg.petrel === 'conn') {
        const on = this.handlers.get(msg.id ?? '');
        if (on !== undefined && handle !== undefined) on(handle);
        else if (handle !== undefined) (handle as { close(): void }).close();
        return;
      }
      const w = this.waiting.get(msg.id ?? '');
      if (w === undefined) return;
      this.waiting.delete(msg.id!);
      if (msg.petrel === 'listening') w.ok(msg.port ?? 0);
      else if (msg.petrel === 'listen-failed') {
        const err = new Error(msg.message ?? 'listen failed') as NodeJS.ErrnoException;
        err.code = msg.code;
        w.fail(err);
      }
    });
  }

  listen(id: string, address: string, port: number, onHandle: (handle: unknown) => void): Promise<number> {
    if (this.waiting.has(id) || this.handlers.has(id)) return Promise.reject(new Error(`listener ${id} is already listening`));
    return new Promise<number>((ok, fail) => {
      this.waiting.set(id, {
        ok: (p) => { this.handlers.set(id, onHandle); ok(p); },
        fail,
      });
      process.send!({ petrel: 'listen', id, address, port } satisfies WorkerMessage);
    });
  }

  unlisten(id: string): void {
    if (!this.handlers.delete(id)) return;
    if (process.connected) process.send!({ petrel: 'unlisten', id } satisfies WorkerMessage);
  }
}

/** The primary's private directory (mode 0700) of the workers' same-host link sockets; '' when there is none. */
export const workerLinkDir: string = workerIndex > 0 ? process.env.PETREL_WORKER_LINK_DIR ?? '' : '';

/** The worker's shared listens; null in a node of one process. */
export const sharedListen: SharedListen | null = workerIndex > 0 ? new WorkerListens() : null;

/** Tells the primary this worker serves (its listeners are bound and it joined the cluster). */
export function reportReady(details: Record<string, unknown>): void {
  if (workerIndex > 0 && process.connected) process.send!({ petrel: 'ready', ...details } satisfies WorkerMessage);
}
