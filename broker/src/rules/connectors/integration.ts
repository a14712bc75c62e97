/**
 * Data integration at run time: the connectors, actions and sources from the config file and
 * from REST, each change applied at once (no restart). A connector's connection is shared by its
 * actions and sources; replacing or disabling a connector restarts what hangs off it.
 *
 * Entries made through REST are kept in the shared store (namespaces `connectors`, `actions`,
 * `sources`, by id, as the raw settings): the node's own store on a single node, etcd in a cluster,
 * where every node follows the others' changes by watch and runs the same connectors and actions
 * (as the rules that name them are the cluster's too). They are loaded at start; an entry in the
 * config file wins over a saved one with its id, as emqx.conf wins over cluster.hocon.
 */
import type { Logger } from '../../log.js';
import { SinkConfigError } from './types.js';
import { ConnectorRuntime, errText, withTimeout, type ResourceStatus } from './connector-runtime.js';
import { ActionWorker, type Report } from './action-worker.js';
import { sourceType, connectorType } from './registry.js';
import {
  parseActionEntry, parseConnectorEntry, parseSourceEntry,
  type ActionEntry, type ConnectorEntry, type SourceEntry,
} from './integration-config.js';
import { newActionMetrics, type ActionMetrics } from './action-metrics.js';

const MASK = '******';

export type Kind = 'connectors' | 'actions' | 'sources';
type Entry = ConnectorEntry | ActionEntry | SourceEntry;

export interface IntegrationStore {
  all(ns: Kind): Iterable<[string, unknown]>;
  put(ns: Kind, id: string, raw: unknown): void | Promise<void>;
  del(ns: Kind, id: string): void | Promise<void>;
  /** Changes made on another node: the entry's raw settings now, undefined when deleted. Returns the remover. */
  watch?(ns: Kind, fn: (id: string, raw: unknown) => void): () => void;
}

export interface IntegrationDeps {
  log: Logger;
  node: string;
  /** `<data_dir>`; action buffers spill under `<data_dir>/sinks/`. null = memory only. */
  dataDir: string | null;
  saved?: IntegrationStore;
  /** An item's final outcome, for its rule's actions.success / actions.failed. */
  report: Report;
  /** A source's message, to the rules that select from `$bridges/<id>`. */
  ingest(bridgeId: string, columns: Record<string, unknown>): void;
  /** The rules that name an action (it cannot be deleted while any does). */
  rulesUsing(actionId: string): string[];
}

export type Change = { ok: true; id: string } | { ok: false; status: 400 | 404 | 409; error: string };

interface LiveConnector { entry: ConnectorEntry; rt: ConnectorRuntime }
interface LiveAction { entry: ActionEntry; worker: ActionWorker | null; metrics: ActionMetrics | null }
interface LiveSource { entry: SourceEntry; stop: (() => Promise<void>) | null; unwatch: (() => void) | null; gen: number }

export interface ResourceView { id: string; type: string; name: string; enable: boolean; status: ResourceStatus; status_reason: string | null; raw: Record<string, unknown> }

export class DataIntegration {
  private readonly connectors = new Map<string, LiveConnector>();
  private readonly actions = new Map<string, LiveAction>();
  private readonly sources = new Map<string, LiveSource>();
  private stopped = false;
  private unwatch: Array<() => void> = [];

  constructor(private readonly deps: IntegrationDeps) {}

  /** Follows the other nodes' REST changes (after load(): connectors first, so what refers to one finds it). */
  follow(): void {
    const w = this.deps.saved?.watch;
    if (w === undefined) return;
    for (const ns of ['connectors', 'actions', 'sources'] as const) this.unwatch.push(w.call(this.deps.saved, ns, (id, raw) => this.remote(ns, id, raw)));
  }

  /** Another node created, changed or deleted an entry: applied here, not written back. */
  private remote(kind: Kind, id: string, raw: unknown): void {
    if (this.stopped) return;
    const cur = this.map(kind).get(id);
    if (raw === undefined || raw === null) {
      if (cur !== undefined) { const r = this.delete(kind, id, false); if (!r.ok) this.deps.log.warn({ id, err: r.error }, 'a deletion from the cluster was not applied here'); }
      return;
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) { this.deps.log.error({ id }, `${kind.slice(0, -1)} from the cluster is not a map; skipped`); return; }
    if (cur !== undefined && JSON.stringify(cur.entry.raw) === JSON.stringify(raw)) return;
    const r = this.apply(kind, id, raw as Record<string, unknown>, false);
    if (!r.ok) this.deps.log.error({ id, err: r.error }, `${kind.slice(0, -1)} from the cluster refused; skipped`);
  }

  private persist(kind: Kind, id: string, raw: Record<string, unknown> | undefined): void {
    const saved = this.deps.saved;
    if (saved === undefined) return;
    const w = raw === undefined ? saved.del(kind, id) : saved.put(kind, id, raw);
    if (w instanceof Promise) w.catch((err: Error) => this.deps.log.error({ id, err: err.message }, `${kind.slice(0, -1)} change not stored cluster-wide`));
  }

  /** Saved entries, then the config file's; throws SinkConfigError naming the key on a bad reference. */
  load(cfg: { connectors: readonly ConnectorEntry[]; actions: readonly ActionEntry[]; sources: readonly SourceEntry[] }): void {
    const fromFile = new Set<string>();
    const all: Entry[] = [];
    for (const e of [...cfg.connectors, ...cfg.actions, ...cfg.sources]) { fromFile.add(`${e.kind}:${e.id}`); all.push(e); }
    for (const ns of ['connectors', 'actions', 'sources'] as const) {
      for (const [id, raw] of this.deps.saved?.all(ns) ?? []) {
        const kind = ns.slice(0, -1);
        if (fromFile.has(`${kind}:${id}`)) continue;
        try { all.push(this.parse(ns, id, raw)); } catch (err) { this.deps.log.error({ id, err: errText(err) }, `saved ${kind} refused; skipped`); }
      }
    }
    for (const e of all) if (e.kind === 'connector') this.connectors.set(e.id, { entry: e, rt: this.runtime(e) });
    for (const e of all) {
      if (e.kind === 'connector') continue;
      const where = `${e.kind}s.${e.type}.${e.name}.connector`;
      if (!this.connectors.has(`${e.type}:${e.connector}`)) {
        const msg = `${where}: no ${e.type} connector '${e.connector}' (connectors.${e.type}.${e.connector})`;
        if (fromFile.has(`${e.kind}:${e.id}`)) { void this.stop(); throw new SinkConfigError(msg); }
        this.deps.log.error({ id: e.id }, msg + '; skipped');
        continue;
      }
      if (e.kind === 'action') this.actions.set(e.id, { entry: e, worker: null, metrics: null });
      else this.sources.set(e.id, { entry: e, stop: null, unwatch: null, gen: -1 });
    }
    for (const c of this.connectors.values()) c.rt.start();
    for (const a of this.actions.values()) this.startAction(a);
    for (const s of this.sources.values()) this.startSource(s);
  }

  // ------------------------------------------------------------ rule side

  hasAction(id: string): boolean { return this.actions.has(id); }

  /** Queues one rule output for the action; throws when it cannot take it (the rule counts a failure). */
  submit(id: string, output: Record<string, unknown>, ruleId: string): void {
    const a = this.actions.get(id);
    if (a === undefined) throw new Error(`action '${id}' does not exist`);
    if (a.worker === null) {
      if (a.metrics !== null) { a.metrics.matched++; a.metrics.dropped++; a.metrics['dropped.resource_stopped']++; }
      throw new Error(`action '${id}' is disabled (or its connector is)`);
    }
    a.worker.submit(output, ruleId);
  }

  // ------------------------------------------------------------ views

  list(kind: Kind): ResourceView[] {
    return [...this.map(kind).keys()].map((id) => this.view(kind, id)!);
  }

  view(kind: Kind, id: string): ResourceView | null {
    const x = this.map(kind).get(id);
    if (x === undefined) return null;
    const e = x.entry;
    const st = this.statusOf(kind, id);
    const raw = e.raw.password === undefined ? e.raw : { ...e.raw, password: MASK };
    return { id, type: e.type, name: e.name, enable: e.enable, status: st.status, status_reason: st.error, raw };
  }

  actionMetrics(id: string): (ActionMetrics & { queuing: number; inflight: number }) | null {
    const a = this.actions.get(id);
    if (a === undefined) return null;
    const m = a.worker?.metrics ?? a.metrics;
    return { ...(m ?? emptyMetrics()), queuing: a.worker?.queuing ?? 0, inflight: a.worker?.inflightCount ?? 0 };
  }

  resetActionMetrics(id: string): boolean {
    const a = this.actions.get(id);
    if (a === undefined) return false;
    if (a.worker !== null) a.worker.metrics = emptyMetrics();
    a.metrics = null;
    return true;
  }

  // ------------------------------------------------------------ changes (REST)

  create(kind: Kind, body: Record<string, unknown>): Change {
    const { type, name, ...raw } = body;
    if (typeof type !== 'string' || typeof name !== 'string') return { ok: false, status: 400, error: `'type' and 'name' are required strings` };
    const id = `${type}:${name}`;
    if (this.map(kind).has(id)) return { ok: false, status: 409, error: `${kind.slice(0, -1)} '${id}' already exists` };
    return this.apply(kind, id, raw);
  }

  update(kind: Kind, id: string, body: Record<string, unknown>): Change {
    if (!this.map(kind).has(id)) return { ok: false, status: 404, error: `no ${kind.slice(0, -1)} '${id}'` };
    const { type: _t, name: _n, ...raw } = body;
    // EMQX shows a password as "******"; sending that back keeps the one set before.
    if (raw.password === MASK) raw.password = this.map(kind).get(id)!.entry.raw.password;
    return this.apply(kind, id, raw);
  }

  enable(kind: Kind, id: string, on: boolean): Change {
    const x = this.map(kind).get(id);
    if (x === undefined) return { ok: false, status: 404, error: `no ${kind.slice(0, -1)} '${id}'` };
    return this.apply(kind, id, { ...x.entry.raw, enable: on });
  }

  delete(kind: Kind, id: string, save = true): Change {
    if (!this.map(kind).has(id)) return { ok: false, status: 404, error: `no ${kind.slice(0, -1)} '${id}'` };
    if (kind === 'connectors') {
      const deps = [...this.actions.values(), ...this.sources.values()].filter((x) => `${x.entry.type}:${x.entry.connector}` === id).map((x) => x.entry.id);
      if (deps.length > 0) return { ok: false, status: 400, error: `connector '${id}' is used by ${deps.join(', ')}; delete those first` };
      const c = this.connectors.get(id)!;
      this.connectors.delete(id);
      void c.rt.stop();
    } else if (kind === 'actions') {
      const rules = this.deps.rulesUsing(id);
      if (rules.length > 0) return { ok: false, status: 400, error: `action '${id}' is used by rule${rules.length > 1 ? 's' : ''} ${rules.join(', ')}; remove it from them first` };
      const a = this.actions.get(id)!;
      this.actions.delete(id);
      a.worker?.destroy();
    } else {
      const s = this.sources.get(id)!;
      this.sources.delete(id);
      this.stopSource(s);
    }
    if (save) this.persist(kind, id, undefined);
    return { ok: true, id };
  }

  /** Tries a connector's settings: connects, checks, closes. Resolves to null or the reason. */
  async probe(body: Record<string, unknown>): Promise<{ ok: true } | { ok: false; status: 400; error: string }> {
    const { type, name, ...raw } = body;
    if (typeof type !== 'string') return { ok: false, status: 400, error: `'type' is required` };
    let e: ConnectorEntry;
    try { e = parseConnectorEntry(type, typeof name === 'string' && name !== '' ? name : 'probe', raw); } catch (err) {
      return { ok: false, status: 400, error: errText(err) };
    }
    const t = connectorType(type)!;
    try {
      const c = await withTimeout(t.connect(e.conf, { id: e.id, log: this.deps.log, dataDir: this.deps.dataDir ?? '', node: this.deps.node }), e.resourceOpts.start_timeout, 'connect');
      try { await withTimeout(c.health(), e.resourceOpts.start_timeout, 'health check'); } finally { await c.close().catch(() => {}); }
      return { ok: true };
    } catch (err) {
      return { ok: false, status: 400, error: `cannot reach the target: ${errText(err)}` };
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unwatch.splice(0)) u();
    for (const a of this.actions.values()) a.worker?.close();
    await Promise.all([...this.sources.values()].map((s) => { this.stopSource(s); return Promise.resolve(); }));
    await Promise.all([...this.connectors.values()].map((c) => c.rt.stop()));
  }

  // ------------------------------------------------------------ internals

  private map(kind: Kind): Map<string, { entry: Entry }> {
    return (kind === 'connectors' ? this.connectors : kind === 'actions' ? this.actions : this.sources) as Map<string, { entry: Entry }>;
  }

  private parse(kind: Kind, id: string, raw: unknown): Entry {
    const i = id.indexOf(':');
    if (i <= 0) throw new SinkConfigError(`id '${id}': expected "<type>:<name>"`);
    const type = id.slice(0, i);
    const name = id.slice(i + 1);
    if (kind === 'connectors') return parseConnectorEntry(type, name, raw);
    if (kind === 'actions') return parseActionEntry(type, name, raw);
    return parseSourceEntry(type, name, raw);
  }

  private apply(kind: Kind, id: string, raw: Record<string, unknown>, save = true): Change {
    if (this.stopped) return { ok: false, status: 409, error: 'the node is stopping' };
    let e: Entry;
    try { e = this.parse(kind, id, raw); } catch (err) {
      if (err instanceof SinkConfigError) return { ok: false, status: 400, error: err.message };
      throw err;
    }
    if (e.kind !== 'connector' && !this.connectors.has(`${e.type}:${e.connector}`)) {
      return { ok: false, status: 400, error: `${kind}.${e.type}.${e.name}.connector: no ${e.type} connector '${e.connector}'` };
    }
    if (e.kind === 'connector') {
      const old = this.connectors.get(id);
      const live = { entry: e, rt: this.runtime(e) };
      this.connectors.set(id, live);
      if (old !== undefined) void old.rt.stop();
      live.rt.start();
      // Actions and sources of a replaced connector move to the new connection.
      for (const a of this.actions.values()) if (`${a.entry.type}:${a.entry.connector}` === id) { this.stopAction(a); this.startAction(a); }
      for (const s of this.sources.values()) if (`${s.entry.type}:${s.entry.connector}` === id) { this.stopSource(s); this.startSource(s); }
    } else if (e.kind === 'action') {
      const old = this.actions.get(id);
      const live: LiveAction = { entry: e, worker: null, metrics: null };
      if (old !== undefined) { this.stopAction(old); live.metrics = old.metrics; }
      this.actions.set(id, live);
      this.startAction(live);
    } else {
      const old = this.sources.get(id);
      if (old !== undefined) this.stopSource(old);
      const live: LiveSource = { entry: e, stop: null, unwatch: null, gen: -1 };
      this.sources.set(id, live);
      this.startSource(live);
    }
    if (save) this.persist(kind, id, raw);
    return { ok: true, id };
  }

  private runtime(e: ConnectorEntry): ConnectorRuntime {
    return new ConnectorRuntime(e.id, connectorType(e.type)!, e.conf, e.resourceOpts, e.enable, { log: this.deps.log, dataDir: this.deps.dataDir ?? '', node: this.deps.node });
  }

  private statusOf(kind: Kind, id: string): { status: ResourceStatus; error: string | null } {
    if (kind === 'connectors') { const c = this.connectors.get(id)!; return { status: c.rt.status, error: c.rt.lastError }; }
    const x = (kind === 'actions' ? this.actions : this.sources).get(id)!;
    if (!x.entry.enable) return { status: 'stopped', error: null };
    const c = this.connectors.get(`${x.entry.type}:${x.entry.connector}`);
    if (c === undefined) return { status: 'disconnected', error: `connector '${x.entry.connector}' does not exist` };
    return { status: c.rt.status, error: c.rt.lastError };
  }

  private startAction(a: LiveAction): void {
    const c = this.connectors.get(`${a.entry.type}:${a.entry.connector}`);
    if (!a.entry.enable || c === undefined || !c.entry.enable) return;
    a.worker = new ActionWorker(a.entry.id, c.rt, a.entry.params, a.entry.resourceOpts, this.deps.log, this.deps.report, this.deps.dataDir);
    if (a.metrics !== null) a.worker.metrics = a.metrics;
  }

  private stopAction(a: LiveAction): void {
    if (a.worker === null) return;
    a.metrics = a.worker.metrics;
    a.worker.close();
    a.worker = null;
  }

  private startSource(s: LiveSource): void {
    const c = this.connectors.get(`${s.entry.type}:${s.entry.connector}`);
    if (!s.entry.enable || c === undefined || !c.entry.enable) return;
    const st = sourceType(s.entry.type)!;
    const bridge = `$bridges/${s.entry.id}`;
    const attach = (): void => {
      if (c.rt.conn === null || s.gen === c.rt.generation) return;
      s.gen = c.rt.generation;
      const conn = c.rt.conn;
      st.subscribe(conn, s.entry.params, (cols) => this.deps.ingest(bridge, cols)).then((stop) => {
        if (this.sources.get(s.entry.id) === s && s.unwatch !== null) s.stop = stop; else void stop();
      }, (err: unknown) => { s.gen = -1; this.deps.log.warn({ source: s.entry.id, err: errText(err) }, 'source subscribe failed'); });
    };
    s.unwatch = c.rt.watch(attach);
    attach();
  }

  private stopSource(s: LiveSource): void {
    s.unwatch?.();
    s.unwatch = null;
    const stop = s.stop;
    s.stop = null;
    s.gen = -1;
    if (stop !== null) void stop().catch(() => {});
  }
}

const emptyMetrics = newActionMetrics;
