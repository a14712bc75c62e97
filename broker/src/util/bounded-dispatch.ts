/**
 * A bounded asynchronous hand-off: the publish path puts work in, a later event-loop turn
 * takes it out. Rule evaluation, sinks and other slow consumers of broker events hang off
 * the side through one of these, so they never run inside publish and can never grow memory
 * without bound: past `maxQueue` items new ones are dropped and counted (`dropped`), the
 * producer never waits.
 *
 * Items are handled in order, in batches of at most `batch` per turn (setImmediate between
 * batches, so I/O keeps flowing while a backlog drains). A handler that throws (or whose
 * promise rejects) is reported to `onError` and the next item goes on.
 */
export interface BoundedDispatchOptions {
  /** Most items waiting; further ones are dropped. */
  maxQueue: number;
  /** Most items handled per event-loop turn (default 256). */
  batch?: number;
  onError?: (err: unknown) => void;
}

export class BoundedDispatch<T> {
  /** Items dropped because the queue was full. */
  dropped = 0;
  /** Items handed to the handler. */
  handled = 0;
  private queue: T[] = [];
  private head = 0;
  private scheduled = false;
  private readonly handler: (item: T) => unknown;
  private readonly max: number;
  private readonly batch: number;
  private readonly onError: (err: unknown) => void;
  private readonly runBound: () => void;

  constructor(handler: (item: T) => unknown, opts: BoundedDispatchOptions) {
    if (!(opts.maxQueue >= 1)) throw new RangeError('maxQueue must be at least 1');
    this.handler = handler;
    this.max = opts.maxQueue;
    this.batch = opts.batch ?? 256;
    this.onError = opts.onError ?? (() => {});
    this.runBound = () => this.run();
  }

  /** Items waiting. */
  get size(): number { return this.queue.length - this.head; }

  /** Queues an item; false (and counted in `dropped`) when the queue is full. */
  push(item: T): boolean {
    if (this.queue.length - this.head >= this.max) { this.dropped++; return false; }
    this.queue.push(item);
    if (!this.scheduled) { this.scheduled = true; setImmediate(this.runBound); }
    return true;
  }

  private run(): void {
    this.scheduled = false;
    const end = Math.min(this.queue.length, this.head + this.batch);
    while (this.head < end) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined as T;
      this.handled++;
      try {
        const r = this.handler(item) as { then?: unknown } | undefined;
        if (r !== undefined && r !== null && typeof r.then === 'function') (r as Promise<unknown>).then(undefined, this.onError);
      } catch (err) { this.onError(err); }
    }
    if (this.head === this.queue.length) { this.queue = []; this.head = 0; }
    else {
      if (this.head > 4096) { this.queue = this.queue.slice(this.head); this.head = 0; }
      // A handler that pushed has scheduled the next run already: a second one would double the
      // runs (and the batches) per turn each time.
      if (!this.scheduled) { this.scheduled = true; setImmediate(this.runBound); }
    }
  }
}
