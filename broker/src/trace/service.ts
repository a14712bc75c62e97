/**
 * Log traces on a node: their definitions, the clock that starts and stops them, their files,
 * and the REST API's view of all that across the cluster (TraceAdmin).
 *
 * Definitions live in the shared store (namespace `traces`, keyed by name): the node's own
 * store, so they survive a restart like other objects made through REST, or etcd on a cluster,
 * so a trace made on one node runs on every node, each writing its own file. A node hears
 * other nodes' changes through the store's watch. Every node decides from the clock alone
 * which traces run (`traceStatus`); one timer fires at the next start_at or end_at.
 *
 * Files: <data_dir>/trace/<name>.log, appended while the trace runs, kept when it stops,
 * removed with the trace (and at start when no definition names them any more).
 *
 * The REST reads that need every node's file (sizes, a page of one node's file, the download)
 * go through cluster calls answered by each node for itself (`trace.sizes`, `trace.detail`,
 * `trace.read`); with the local backend the cluster is this node.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SharedStore } from '../access/shared-store.js';
import type { ClusterState } from '../cluster/state.js';
import type { TraceAdmin, TraceChunk, TraceCreated, TraceRow } from '../api/routes/trace.js';
import { zip } from '../util/zip.js';
import { nowSecond, parseTrace, rfc3339, storedTrace, traceStatus, validName, type TraceDef } from './definition.js';
import { TraceFile } from './trace-file.js';
import { Tracer, type ActiveTrace, type ChannelTracer, type TracedChannel } from './tracer.js';

const NS = 'traces';
/** A peer answers a trace call within this long (a page of a file can be megabytes). */
const CALL_TIMEOUT_MS = 10_000;
/** Download reads a peer's file in pages this large (under the cluster link's frame limit). */
const DOWNLOAD_PAGE = 4 * 1024 * 1024;

export interface TraceServiceOptions {
  /** <data_dir>/trace */
  dir: string;
  shared: SharedStore;
  /** The broker: its `trace` and `traceTopics` fields are what the channels read. */
  broker: { trace: ChannelTracer | null; traceTopics: boolean };
  /** Every live MQTT connection of this node. */
  channels: () => Iterable<TracedChannel>;
  maxTraces: number;
  maxFileBytes: number;
  maxTopicLevels: number;
  cluster: Pick<ClusterState, 'nodeName' | 'members' | 'handle' | 'call'>;
  log: { warn(o: object, m?: string): void };
}

export class TraceService implements TraceAdmin {
  readonly tracer: Tracer;
  private readonly o: TraceServiceOptions;
  private readonly defs = new Map<string, TraceDef>();
  /** Traces running on this node, by name. */
  private readonly active = new Map<string, ActiveTrace>();
  private timer: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;

  constructor(o: TraceServiceOptions) {
    this.o = o;
    this.tracer = new Tracer(o.broker, o.channels);
  }

  /** Loads the definitions, removes files no trace names, starts what runs now, answers the cluster calls. */
  start(): void {
    mkdirSync(this.o.dir, { recursive: true });
    for (const [k, v] of this.o.shared.scan(NS)) { const d = storedTrace(v); if (d !== null && d.name === k) this.defs.set(k, d); }
    for (const f of readdirSync(this.o.dir)) {
      if (f.endsWith('.log') && !this.defs.has(f.slice(0, -4))) rmSync(join(this.o.dir, f), { force: true });
    }
    this.unwatch = this.o.shared.watch(NS, (key, value) => {
      if (!validName(key)) return; // not a name this API makes: never a file path
      const d = value === undefined ? null : storedTrace(value);
      if (d === null || d.name !== key) void this.forget(key); else this.defs.set(key, d);
      this.refresh();
    });
    const c = this.o.cluster;
    c.handle('trace.sizes', () => this.sizes());
    c.handle('trace.detail', (args) => this.localDetail(nameArg(args)));
    c.handle('trace.read', (args) => {
      const a = args as { position?: unknown; bytes?: unknown };
      if (typeof a.position !== 'number' || typeof a.bytes !== 'number') throw new TypeError('trace.read: {name, position, bytes} expected');
      return this.localRead(nameArg(args), a.position, a.bytes);
    });
    this.o.broker.trace = this.tracer;
    this.refresh();
  }

  /** Stops every trace's writing (files flushed and closed); the definitions stay stored. */
  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.unwatch?.();
    this.o.broker.trace = null;
    this.o.broker.traceTopics = false;
    const files = [...this.active.values()].map((t) => t.file.close());
    this.active.clear();
    await Promise.all(files);
  }

  /** Starts and stops traces by the clock; follows the connections the running ones match. */
  private refresh(): void {
    const now = nowSecond();
    let next = Infinity;
    let changed = false;
    for (const d of this.defs.values()) {
      const running = traceStatus(d, now) === 'running';
      const a = this.active.get(d.name);
      if (running && (a === undefined || a.def !== d)) {
        const file = a?.file ?? new TraceFile(this.path(d.name), fileSize(this.path(d.name)), this.o.maxFileBytes, (err) => this.o.log.warn({ trace: d.name, err: err.message }, 'trace file write failed'));
        this.active.set(d.name, { def: d, file, payload: { encode: d.payload_encode, limit: d.payload_limit } });
        changed = true;
      } else if (!running && a !== undefined) {
        this.active.delete(d.name);
        void a.file.close();
        changed = true;
      }
      if (d.enable) { if (now < d.start_at) next = Math.min(next, d.start_at); else if (now < d.end_at) next = Math.min(next, d.end_at); }
    }
    // Every connection is matched again only when the running set changed (forget() shrinks it too).
    if (changed || this.tracer.running !== this.active.size) this.tracer.setRunning([...this.active.values()]);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.refresh(), Math.min(2 ** 31 - 1, Math.max(0, next * 1000 - Date.now()) + 1));
      this.timer.unref();
    }
  }

  /** A trace gone (here or on another node): stop it and delete its file (settled once it is gone). */
  private forget(name: string): Promise<void> {
    this.defs.delete(name);
    const a = this.active.get(name);
    this.active.delete(name);
    const removed = a !== undefined ? a.file.remove() : rm(this.path(name), { force: true });
    return removed.catch((err: Error) => this.o.log.warn({ trace: name, err: err.message }, 'trace file not deleted'));
  }

  private path(name: string): string { return join(this.o.dir, `${name}.log`); }

  // ---- this node's files (the cluster calls' answers)

  /** Bytes of every trace's file here (waiting lines included). */
  private async sizes(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const name of this.defs.keys()) {
      const a = this.active.get(name);
      out[name] = a !== undefined ? a.file.size : await stat(this.path(name)).then((s) => s.size, () => 0);
    }
    return out;
  }

  private async localDetail(name: string): Promise<{ size: number; mtime: number } | null> {
    await this.active.get(name)?.file.flush();
    return stat(this.path(name)).then((s) => ({ size: s.size, mtime: Math.floor(s.mtimeMs / 1000) }), () => null);
  }

  /** Whole lines from `position`, at most `bytes` of them unless one line is longer (then that line). */
  private async localRead(name: string, position: number, bytes: number): Promise<{ items: string; position: number; eof: boolean } | null> {
    if (!this.defs.has(name)) return null;
    await this.active.get(name)?.file.flush();
    let h;
    try { h = await open(this.path(name), 'r'); } catch { return { items: '', position, eof: true }; }
    try {
      const size = (await h.stat()).size;
      if (position >= size || bytes === 0) return { items: '', position: Math.min(position, size), eof: position >= size };
      let want = Math.min(bytes, size - position);
      let buf = Buffer.alloc(want);
      let { bytesRead } = await h.read(buf, 0, want, position);
      let end = position + bytesRead >= size ? bytesRead : buf.lastIndexOf(0x0a, bytesRead - 1) + 1;
      // One line longer than `bytes`: read on to its end so a page is never empty mid-file.
      while (end === 0) {
        want = Math.min(want * 2, size - position);
        buf = Buffer.alloc(want);
        ({ bytesRead } = await h.read(buf, 0, want, position));
        end = position + bytesRead >= size ? bytesRead : buf.lastIndexOf(0x0a, bytesRead - 1) + 1;
      }
      return { items: buf.subarray(0, end).toString('utf8'), position: position + end, eof: position + end >= size };
    } finally { await h.close(); }
  }

  // ---- TraceAdmin: the REST API's view, over every node

  async list(): Promise<TraceRow[]> {
    // The timer may be a little late: what the list shows as running is running.
    this.refresh();
    const sizes = await this.gather<Record<string, number>>('trace.sizes', null, isSizes);
    const now = nowSecond();
    return [...this.defs.values()].sort((a, b) => b.start_at - a.start_at).map((d) => this.row(d, now, sizes));
  }

  private row(d: TraceDef, now: number, sizes: Array<{ node: string; value: Record<string, number> }>): TraceRow {
    const log_size: Record<string, number> = {};
    for (const s of sizes) log_size[s.node] = s.value[d.name] ?? 0;
    return {
      name: d.name, type: d.type, [d.type]: d.filter, start_at: rfc3339(d.start_at), end_at: rfc3339(d.end_at), status: traceStatus(d, now),
      payload_encode: d.payload_encode, payload_limit: d.payload_limit, formatter: d.formatter, log_size,
    } as TraceRow;
  }

  async create(body: Record<string, unknown>): Promise<TraceCreated> {
    const p = parseTrace(body, this.o.maxTopicLevels);
    if (!p.ok) return { ok: false, why: 'invalid', error: p.error };
    const d = p.def;
    if (this.defs.has(d.name)) return { ok: false, why: 'exists', error: `${d.name} already exists` };
    if (this.defs.size >= this.o.maxTraces) {
      return { ok: false, why: 'limit', error: this.o.maxTraces === 0 ? 'Creating traces is disallowed (trace.max_traces is 0)' : `Number of existing traces has reached trace.max_traces (${this.o.maxTraces}): delete outdated traces first` };
    }
    const dup = [...this.defs.values()].find((x) => x.type === d.type && x.filter === d.filter && x.start_at === d.start_at);
    if (dup !== undefined) return { ok: false, why: 'duplicate', error: `${dup.name} has the same ${d.type} and start time` };
    if (!(await this.o.shared.create(NS, d.name, d))) return { ok: false, why: 'exists', error: `${d.name} already exists` };
    this.defs.set(d.name, d);
    this.refresh();
    const zero = this.o.cluster.members().map((m) => ({ node: m.name, value: {} }));
    return { ok: true, trace: this.row(d, nowSecond(), zero) };
  }

  async delete(name: string): Promise<boolean> {
    if (!this.defs.has(name)) return false;
    await this.o.shared.del(NS, name);
    const gone = this.forget(name);
    this.refresh();
    await gone;
    return true;
  }

  async clear(): Promise<void> {
    await this.o.shared.delPrefix(NS, '');
    const gone = [...this.defs.keys()].map((name) => this.forget(name));
    this.refresh();
    await Promise.all(gone);
  }

  async stop(name: string): Promise<boolean> {
    const d = this.defs.get(name);
    if (d === undefined) return false;
    const stopped = { ...d, enable: false };
    await this.o.shared.put(NS, name, stopped);
    this.defs.set(name, stopped);
    this.refresh();
    return true;
  }

  async read(name: string, node: string | undefined, position: number, bytes: number): Promise<TraceChunk | null> {
    if (!this.defs.has(name)) return null;
    const target = this.members(node ?? this.o.cluster.nodeName)[0]!.name;
    const r = await this.o.cluster.call(target, 'trace.read', { name, position, bytes }, CALL_TIMEOUT_MS);
    return isChunk(r) || r === null ? r : null;
  }

  async detail(name: string): Promise<Array<{ node: string; size: number; mtime: number }> | null> {
    if (!this.defs.has(name)) return null;
    const got = await this.gather<{ size: number; mtime: number } | null>('trace.detail', { name }, isDetail);
    return got.flatMap((g) => (g.value === null ? [] : [{ node: g.node, ...g.value }]));
  }

  async download(name: string, node: string | undefined): Promise<Buffer | null> {
    if (!this.defs.has(name)) return null;
    const entries = [];
    for (const m of this.members(node)) {
      const parts: string[] = [];
      let position = 0;
      try {
        for (;;) {
          const c = await this.o.cluster.call(m.name, 'trace.read', { name, position, bytes: DOWNLOAD_PAGE }, CALL_TIMEOUT_MS);
          if (!isChunk(c)) break;
          parts.push(c.items);
          position = c.position;
          if (c.eof || c.items === '') break;
        }
      } catch (err) {
        this.o.log.warn({ trace: name, node: m.name, err: (err as Error).message }, 'trace file of a node not read for download');
        continue;
      }
      entries.push({ name: `${m.name}-${name}.log`, data: Buffer.from(parts.join(''), 'utf8') });
    }
    return zip(entries);
  }

  /** The live members, or the one named (an Error with code UNKNOWN_NODE when it is not one). */
  private members(node: string | undefined): Array<{ name: string }> {
    const all = this.o.cluster.members();
    if (node === undefined) return all;
    const m = all.filter((x) => x.name === node);
    if (m.length === 0) throw Object.assign(new Error(`no node ${node}`), { code: 'UNKNOWN_NODE' });
    return m;
  }

  /** Every live member's answer to a call (members that fail are left out). */
  private async gather<T>(method: string, args: unknown, valid: (v: unknown) => v is T): Promise<Array<{ node: string; value: T }>> {
    const members = this.o.cluster.members();
    const settled = await Promise.allSettled(members.map((m) => this.o.cluster.call(m.name, method, args, CALL_TIMEOUT_MS)));
    const out: Array<{ node: string; value: T }> = [];
    settled.forEach((s, i) => { if (s.status === 'fulfilled' && valid(s.value)) out.push({ node: members[i]!.name, value: s.value }); });
    return out;
  }
}

function fileSize(path: string): number {
  try { return statSync(path).size; } catch { return 0; }
}

function nameArg(args: unknown): string {
  const n = typeof args === 'object' && args !== null ? (args as { name?: unknown }).name : undefined;
  if (typeof n !== 'string' || !validName(n)) throw new TypeError('expected {name: a trace name}');
  return n;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSizes = (v: unknown): v is Record<string, number> => isRecord(v) && Object.values(v).every((x) => typeof x === 'number');
const isDetail = (v: unknown): v is { size: number; mtime: number } | null => v === null || (isRecord(v) && typeof v.size === 'number' && typeof v.mtime === 'number');
const isChunk = (v: unknown): v is TraceChunk => isRecord(v) && typeof v.items === 'string' && typeof v.position === 'number' && typeof v.eof === 'boolean';
