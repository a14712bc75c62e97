/**
 * Object store of the FAKE Kubernetes API server (test support only — an in-memory imitation of
 * etcd + the generic registry of kube-apiserver, good enough to run a controller against).
 *
 * What it keeps like the real thing: one global resourceVersion counter bumped on every change
 * (no bump for a write that changes nothing), optimistic concurrency (409 Conflict on a stale
 * resourceVersion), metadata.generation bumped on changes outside metadata/status, the status
 * subresource split, server-side apply field ownership (./field-ownership.ts), a bounded event
 * history for watches resumed from a resourceVersion (410 Gone when too old), label and field
 * selectors, finalizers + deletionTimestamp, and ownerReference garbage collection in the
 * background. CRDs registered through it become servable kinds.
 *
 * What it does not do: admission, defaulting or pruning by schema, CEL, RBAC, controllers
 * (no pods appear for a Deployment — tests write status themselves).
 */
import { randomUUID } from 'node:crypto';
import {
  ApplyConflict, clone, deepEqual, isObj, jsonPatch, mergePatch, recordUpdate, serverSideApply, strategicMergePatch,
} from './field-ownership.js';
import { Registry, ResourceType, groupVersion } from './registry.js';

export class KubeError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: object) {
    super(message);
  }

  status(): object {
    return {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message,
      reason: this.reason, code: this.code, ...(this.details ? { details: this.details } : {}),
    };
  }
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent { rv: number; type: EventType; typeKey: string; object: any; old?: any }

export interface WriteRecord {
  verb: 'create' | 'update' | 'patch' | 'apply' | 'delete';
  resource: string; // plural, with '/status' for the subresource
  namespace: string;
  name: string;
  manager: string;
  changed: boolean; // false when the write was a no-op (no new resourceVersion)
}

export interface WriteOptions { manager?: string; dryRun?: boolean; subresource?: string; force?: boolean }

export interface Selector { label?: string; field?: string }

const HISTORY_LIMIT = 5000;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function typeKey(t: ResourceType): string {
  return `${t.group}/${t.plural}`;
}

function ts(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

// ---- selectors --------------------------------------------------------------------------------

function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Kubernetes label selector syntax: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a. */
export function matchLabels(selector: string | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return true;
  for (const term of splitTerms(selector)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$/))) {
      const vals = m[3].split(',').map((v) => v.trim());
      const has = m[1] in labels && vals.includes(labels[m[1]]);
      if (m[2] === 'in' ? !has : has) return false;
    } else if ((m = term.match(/^([^\s!=]+)\s*!=\s*(.*)$/))) {
      if (labels[m[1]] === m[2]) return false;
    } else if ((m = term.match(/^([^\s!=]+)\s*==?\s*(.*)$/))) {
      if (labels[m[1]] !== m[2]) return false;
    } else if ((m = term.match(/^!\s*(\S+)$/))) {
      if (m[1] in labels) return false;
    } else if (!(term in labels)) return false;
  }
  return true;
}

/** Field selectors: path=value / path!=value on dotted paths (metadata.name, involvedObject.uid …). */
export function matchFields(selector: string | undefined, obj: any): boolean {
  if (!selector) return true;
  for (const term of splitTerms(selector)) {
    const m = term.match(/^([^!=]+?)\s*(!=|==|=)\s*(.*)$/);
    if (!m) throw new KubeError(400, 'BadRequest', `invalid field selector term "${term}"`);
    const v = m[1].split('.').reduce((cur: any, k) => cur?.[k], obj);
    const eq = String(v ?? '') === m[3];
    if (m[2] === '!=' ? eq : !eq) return false;
  }
  return true;
}

function matches(sel: Selector, obj: any): boolean {
  return matchLabels(sel.label, obj?.metadata?.labels) && matchFields(sel.field, obj);
}

// ---- the store ---------------------------------------------------------------------------------

export type WatchSink = (type: EventType | 'ERROR', object: any) => void;

export class FakeStore {
  readonly registry = new Registry();
  readonly writes: WriteRecord[] = [];
  private readonly objects = new Map<string, any>();
  private rv = 1;
  private readonly history: HistoryEvent[] = [];
  private oldestRv = 1;
  private readonly sinks = new Set<(ev: HistoryEvent) => void>();
  private readonly faults: { match: (w: WriteRecord) => boolean; error: KubeError; times: number }[] = [];

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Fails the next `times` writes matching `match` with `error` (tests: conflicts, outages). */
  injectFault(match: (w: WriteRecord) => boolean, error: KubeError, times = 1): void {
    this.faults.push({ match, error, times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  private checkFault(w: WriteRecord): void {
    const f = this.faults.find((x) => x.times > 0 && x.match(w));
    if (f) { f.times--; throw f.error; }
  }

  private key(t: ResourceType, ns: string, name: string): string {
    return `${typeKey(t)}|${t.namespaced ? ns : ''}|${name}`;
  }

  private out(t: ResourceType, obj: any, version?: string): any {
    const o = clone(obj);
    o.apiVersion = groupVersion(t.group, version ?? t.versions[0]);
    return o;
  }

  private emit(t: ResourceType, type: EventType, object: any, old?: any): void {
    const ev: HistoryEvent = { rv: this.rv, type, typeKey: typeKey(t), object: clone(object), old: old && clone(old) };
    this.history.push(ev);
    if (this.history.length > HISTORY_LIMIT) this.oldestRv = this.history.shift()!.rv;
    for (const s of this.sinks) s(ev);
  }

  get(t: ResourceType, ns: string, name: string, version?: string): any {
    const o = this.objects.get(this.key(t, ns, name));
    if (!o) throw notFound(t, name);
    return this.out(t, o, version);
  }

  tryGet(t: ResourceType, ns: string, name: string): any | undefined {
    const o = this.objects.get(this.key(t, ns, name));
    return o && this.out(t, o);
  }

  list(t: ResourceType, ns: string | undefined, sel: Selector = {}, version?: string): { items: any[]; resourceVersion: string } {
    const prefix = `${typeKey(t)}|`;
    const items: any[] = [];
    for (const [k, o] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      if (t.namespaced && ns && o.metadata.namespace !== ns) continue;
      if (!matches(sel, o)) continue;
      items.push(this.out(t, o, version));
    }
    items.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    return { items, resourceVersion: this.resourceVersion };
  }

  /** Every stored object of every kind (tests). */
  dump(): any[] {
    return [...this.objects.values()].map((o) => clone(o));
  }

  /**
   * Streams changes. From resourceVersion "" / "0": synthetic ADDED for what exists, then live events.
   * From N: every retained event after N, then live; 410 Gone when N fell out of the history.
   */
  watch(t: ResourceType, ns: string | undefined, sel: Selector, since: string | undefined, version: string | undefined, sink: WatchSink): () => void {
    const tk = typeKey(t);
    const deliver = (ev: HistoryEvent): void => {
      if (ev.typeKey !== tk) return;
      const obj = ev.object;
      if (t.namespaced && ns && obj.metadata.namespace !== ns) return;
      const now = matches(sel, obj);
      const before = ev.old ? matches(sel, ev.old) : false;
      let type: EventType = ev.type;
      if (ev.type === 'MODIFIED') {
        if (now && !before) type = 'ADDED';
        else if (!now && before) type = 'DELETED';
        else if (!now) return;
      } else if (!now) return;
      sink(type, this.out(t, obj, version));
    };
    if (!since || since === '0') {
      for (const o of this.list(t, ns, sel, version).items) sink('ADDED', o);
    } else {
      const n = Number(since);
      if (!Number.isFinite(n) || n < this.oldestRv - 1) {
        throw new KubeError(410, 'Expired', `too old resource version: ${since} (${this.oldestRv})`);
      }
      for (const ev of this.history) if (ev.rv > n) deliver(ev);
    }
    this.sinks.add(deliver);
    return () => { this.sinks.delete(deliver); };
  }

  // ---- writes ----------------------------------------------------------------------------------

  private record(w: WriteRecord): WriteRecord {
    this.checkFault(w);
    this.writes.push(w);
    return w;
  }

  /** Persists `next` in place of `old` (undefined: create). Returns the stored object. */
  private commit(t: ResourceType, old: any | undefined, next: any, w: WriteRecord, dryRun: boolean): any {
    const meta = next.metadata;
    if (old) {
      meta.uid = old.metadata.uid;
      meta.creationTimestamp = old.metadata.creationTimestamp;
      meta.resourceVersion = old.metadata.resourceVersion;
      meta.generation = old.metadata.generation;
      if (old.metadata.deletionTimestamp) meta.deletionTimestamp = old.metadata.deletionTimestamp;
      const spec = (o: any): any => { const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o; return rest; };
      if (!deepEqual(spec(old), spec(next))) meta.generation = (old.metadata.generation ?? 1) + 1;
      if (deepEqual(withoutTimes(old), withoutTimes(next))) {
        w.changed = false;
        return old;
      }
    } else {
      meta.uid = randomUUID();
      meta.creationTimestamp = ts();
      meta.generation = 1;
      if (t.crd === undefined && t.kind === 'CustomResourceDefinition') next.status = crdStatus(next);
    }
    if (dryRun) return next;
    this.rv++;
    meta.resourceVersion = String(this.rv);
    const k = this.key(t, meta.namespace ?? '', meta.name);
    if (old && meta.deletionTimestamp && !(meta.finalizers ?? []).length) {
      this.objects.delete(k);
      this.emit(t, 'DELETED', next, old);
      this.afterDelete(t, next);
      return next;
    }
    this.objects.set(k, next);
    this.emit(t, old ? 'MODIFIED' : 'ADDED', next, old);
    if (!old && (meta.ownerReferences ?? []).length) this.collectIfOrphaned(t, k);
    if (t.kind === 'CustomResourceDefinition' && t.group === 'apiextensions.k8s.io') this.registry.registerCrd(next);
    return next;
  }

  private prepare(t: ResourceType, ns: string, obj: any, name?: string): any {
    if (!isObj(obj)) throw new KubeError(400, 'BadRequest', 'request body must be a JSON object');
    const o = clone(obj);
    o.metadata ??= {};
    if (t.namespaced) o.metadata.namespace = o.metadata.namespace ?? ns;
    else delete o.metadata.namespace;
    if (t.namespaced && o.metadata.namespace !== ns) {
      throw new KubeError(400, 'BadRequest', `the namespace of the provided object does not match the namespace sent on the request`);
    }
    if (name !== undefined && o.metadata.name !== undefined && o.metadata.name !== name) {
      throw new KubeError(400, 'BadRequest', `the name of the object (${o.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (name !== undefined) o.metadata.name = name;
    if (o.kind !== undefined && o.kind !== t.kind) throw new KubeError(400, 'BadRequest', `kind ${o.kind} does not match ${t.kind}`);
    o.kind = t.kind;
    o.apiVersion = groupVersion(t.group, t.versions[0]);
    return o;
  }

  create(t: ResourceType, ns: string, body: any, opts: WriteOptions = {}): any {
    const o = this.prepare(t, ns, body);
    if (!o.metadata.name && o.metadata.generateName) o.metadata.name = o.metadata.generateName + randomUUID().slice(0, 5);
    const name = o.metadata.name;
    if (typeof name !== 'string' || !DNS_SUBDOMAIN.test(name)) {
      throw new KubeError(422, 'Invalid', `${t.kind} "${name ?? ''}" is invalid: metadata.name: Invalid value: must be a lowercase RFC 1123 subdomain`);
    }
    const w = this.record({ verb: 'create', resource: t.plural, namespace: ns, name, manager: opts.manager ?? 'unknown', changed: true });
    if (this.objects.has(this.key(t, ns, name))) throw new KubeError(409, 'AlreadyExists', `${t.plural}${t.group ? '.' + t.group : ''} "${name}" already exists`, { name, group: t.group, kind: t.plural });
    delete o.metadata.resourceVersion;
    delete o.metadata.managedFields;
    if (t.statusSubresource && t.kind !== 'CustomResourceDefinition') delete o.status;
    recordUpdate(undefined, o, w.manager, o.apiVersion);
    return this.out(t, this.commit(t, undefined, o, w, opts.dryRun ?? false));
  }

  /** PUT: full replacement of the main resource or of /status. */
  update(t: ResourceType, ns: string, name: string, body: any, opts: WriteOptions = {}): any {
    const sub = opts.subresource;
    const w = this.record({ verb: 'update', resource: t.plural + (sub ? `/${sub}` : ''), namespace: ns, name, manager: opts.manager ?? 'unknown', changed: true });
    const old = this.objects.get(this.key(t, ns, name));
    if (!old) throw notFound(t, name);
    const o = this.prepare(t, ns, body, name);
    const rv = o.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(t, name);
    return this.out(t, this.replace(t, old, o, w, opts));
  }

  private replace(t: ResourceType, old: any, o: any, w: WriteRecord, opts: WriteOptions): any {
    let next: any;
    if (opts.subresource === 'status') {
      next = { ...clone(old), status: o.status };
      if (o.status === undefined) delete next.status;
    } else {
      next = o;
      next.metadata.managedFields = old.metadata.managedFields;
      if (t.statusSubresource) {
        if (old.status !== undefined) next.status = clone(old.status); else delete next.status;
      }
    }
    recordUpdate(old, next, w.manager, o.apiVersion, opts.subresource);
    return this.commit(t, old, next, w, opts.dryRun ?? false);
  }

  patch(t: ResourceType, ns: string, name: string, contentType: string, body: any, opts: WriteOptions = {}): any {
    const sub = opts.subresource;
    const apply = contentType.startsWith('application/apply-patch');
    const w = this.record({
      verb: apply ? 'apply' : 'patch', resource: t.plural + (sub ? `/${sub}` : ''), namespace: ns, name,
      manager: opts.manager ?? 'unknown', changed: true,
    });
    const old = this.objects.get(this.key(t, ns, name));
    if (apply) {
      if (!opts.manager) throw new KubeError(422, 'Invalid', 'fieldManager is required for apply requests');
      const cfg = this.prepare(t, ns, body, name);
      const rv = cfg.metadata.resourceVersion;
      if (old && rv && rv !== old.metadata.resourceVersion) throw conflict(t, name);
      if (!old && sub) throw notFound(t, name);
      let next: any;
      try {
        next = serverSideApply(old, cfg, { manager: opts.manager, force: opts.force ?? false, apiVersion: cfg.apiVersion, subresource: sub });
      } catch (e) {
        if (e instanceof ApplyConflict) {
          throw new KubeError(409, 'Conflict', e.message, {
            name, group: t.group, kind: t.plural,
            causes: e.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.field })),
          });
        }
        throw e;
      }
      next.kind = t.kind;
      next.apiVersion = cfg.apiVersion;
      next.metadata.name = name;
      if (t.namespaced) next.metadata.namespace = ns;
      if (!old && t.statusSubresource && t.kind !== 'CustomResourceDefinition') delete next.status;
      if (!old) w.verb = 'apply';
      return this.out(t, this.commit(t, old, next, w, opts.dryRun ?? false));
    }
    if (!old) throw notFound(t, name);
    let patched: any;
    try {
      if (contentType.startsWith('application/json-patch+json')) patched = jsonPatch(old, body);
      else if (contentType.startsWith('application/merge-patch+json')) patched = mergePatch(old, body);
      else if (contentType.startsWith('application/strategic-merge-patch+json')) patched = strategicMergePatch(old, body);
      else throw new KubeError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
    } catch (e) {
      if (e instanceof KubeError) throw e;
      throw new KubeError(422, 'Invalid', (e as Error).message);
    }
    const rv = isObj(body) ? body.metadata?.resourceVersion : undefined;
    if (rv && rv !== old.metadata.resourceVersion) throw conflict(t, name);
    const o = this.prepare(t, ns, patched, name);
    return this.out(t, this.replace(t, old, o, w, opts));
  }

  delete(t: ResourceType, ns: string, name: string, opts: WriteOptions & { propagationPolicy?: string; preconditionUid?: string } = {}): any {
    const w = this.record({ verb: 'delete', resource: t.plural, namespace: ns, name, manager: opts.manager ?? 'unknown', changed: true });
    const k = this.key(t, ns, name);
    const old = this.objects.get(k);
    if (!old) throw notFound(t, name);
    if (opts.preconditionUid && opts.preconditionUid !== old.metadata.uid) throw conflict(t, name);
    if (opts.dryRun) return this.out(t, old);
    if (opts.propagationPolicy === 'Orphan') this.orphan(old.metadata.uid);
    if ((old.metadata.finalizers ?? []).length) {
      if (old.metadata.deletionTimestamp) { w.changed = false; return this.out(t, old); }
      const next = clone(old);
      next.metadata.deletionTimestamp = ts();
      this.rv++;
      next.metadata.resourceVersion = String(this.rv);
      this.objects.set(k, next);
      this.emit(t, 'MODIFIED', next, old);
      return this.out(t, next);
    }
    this.objects.delete(k);
    this.rv++;
    const gone = clone(old);
    gone.metadata.resourceVersion = String(this.rv);
    this.emit(t, 'DELETED', gone, old);
    this.afterDelete(t, gone);
    return this.out(t, gone);
  }

  deleteCollection(t: ResourceType, ns: string | undefined, sel: Selector, opts: WriteOptions = {}): any {
    const items = this.list(t, ns, sel).items;
    for (const o of items) this.delete(t, o.metadata.namespace ?? '', o.metadata.name, opts);
    return { kind: t.listKind, apiVersion: groupVersion(t.group, t.versions[0]), metadata: { resourceVersion: this.resourceVersion }, items };
  }

  private orphan(uid: string): void {
    for (const [k, o] of this.objects) {
      const refs: any[] = o.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      const next = clone(o);
      next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
      if (!next.metadata.ownerReferences.length) delete next.metadata.ownerReferences;
      this.rv++;
      next.metadata.resourceVersion = String(this.rv);
      this.objects.set(k, next);
      this.emit(this.typeOfKey(k)!, 'MODIFIED', next, o);
    }
  }

  private typeOfKey(k: string): ResourceType | undefined {
    const tk = k.slice(0, k.indexOf('|'));
    return this.registry.all().find((t) => typeKey(t) === tk);
  }

  /** Garbage collection (background propagation), CRD and namespace teardown. */
  private afterDelete(t: ResourceType, gone: any): void {
    const uid = gone.metadata.uid;
    if (t.kind === 'CustomResourceDefinition' && t.group === 'apiextensions.k8s.io') {
      const crdType = this.registry.all().find((x) => x.crd && x.group === gone.spec?.group && x.plural === gone.spec?.names?.plural);
      if (crdType) {
        for (const o of this.list(crdType, undefined).items) this.removeQuietly(crdType, o);
        this.registry.unregisterCrd(crdType.group, crdType.plural);
      }
    }
    setImmediate(() => {
      for (const [k, o] of [...this.objects]) {
        const refs: any[] = o.metadata.ownerReferences ?? [];
        const isNsMember = t.kind === 'Namespace' && t.group === '' && o.metadata.namespace === gone.metadata.name;
        if (!isNsMember && !refs.some((r) => r.uid === uid)) continue;
        const dt = this.typeOfKey(k);
        if (!dt || !this.objects.has(k)) continue;
        const liveOwners = refs.filter((r) => r.uid !== uid && this.ownerExists(r, o.metadata.namespace));
        if (!isNsMember && liveOwners.length) continue; // still owned by someone else
        try {
          this.delete(dt, o.metadata.namespace ?? '', o.metadata.name, { manager: 'generic-garbage-collector' });
        } catch { /* already gone */ }
      }
    });
  }

  /**
   * Like the real garbage collector: an object created with owner references none of which exists
   * (the owner was deleted meanwhile) is deleted in the background.
   */
  private collectIfOrphaned(t: ResourceType, k: string): void {
    setImmediate(() => {
      const o = this.objects.get(k);
      if (!o) return;
      const refs: any[] = o.metadata.ownerReferences ?? [];
      if (!refs.length || refs.some((r) => this.ownerExists(r, o.metadata.namespace))) return;
      try {
        this.delete(t, o.metadata.namespace ?? '', o.metadata.name, { manager: 'generic-garbage-collector' });
      } catch { /* already gone */ }
    });
  }

  private ownerExists(ref: any, ns: string | undefined): boolean {
    for (const o of this.objects.values()) {
      if (o.metadata.uid === ref.uid && (o.metadata.namespace === undefined || o.metadata.namespace === ns)) return true;
    }
    return false;
  }

  private removeQuietly(t: ResourceType, o: any): void {
    const k = this.key(t, o.metadata.namespace ?? '', o.metadata.name);
    const old = this.objects.get(k);
    if (!old) return;
    this.objects.delete(k);
    this.rv++;
    this.emit(t, 'DELETED', { ...clone(old), metadata: { ...clone(old.metadata), resourceVersion: String(this.rv) } }, old);
  }
}

function withoutTimes(o: any): any {
  const c = clone(o);
  for (const e of c.metadata?.managedFields ?? []) delete e.time;
  return c;
}

function crdStatus(crd: any): object {
  const t = ts();
  const storage = (crd.spec?.versions ?? []).find((v: any) => v.storage) ?? crd.spec?.versions?.[0];
  return {
    acceptedNames: crd.spec?.names ?? {},
    storedVersions: storage ? [storage.name] : [],
    conditions: [
      { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: t },
      { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: t },
    ],
  };
}

function notFound(t: ResourceType, name: string): KubeError {
  const res = `${t.plural}${t.group ? '.' + t.group : ''}`;
  return new KubeError(404, 'NotFound', `${res} "${name}" not found`, { name, group: t.group, kind: t.plural });
}

function conflict(t: ResourceType, name: string): KubeError {
  const res = `${t.plural}${t.group ? '.' + t.group : ''}`;
  return new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${res} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: t.group, kind: t.plural });
}
