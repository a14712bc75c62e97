/**
 * Server-side apply and field ownership for the FAKE Kubernetes API server (test support only).
 *
 * Real Kubernetes records, per object, which "field manager" owns which fields (metadata.managedFields,
 * encoded as FieldsV1: `f:<field>` for a map key, `k:{"name":"x"}` for an item of a keyed list, `.`
 * for the item itself). An apply (PATCH application/apply-patch+yaml) by manager M:
 *   - conflicts (409) when it sets a field another manager owns to a different value, unless force;
 *   - removes fields M applied before but no longer applies (when nobody else owns them);
 *   - merges the applied config into the live object; M then owns exactly the applied fields.
 * Any other write (create, update, merge patch) gives the fields it changed to its manager.
 *
 * Simplification (documented in docs/operator-controller.md): the real server reads list semantics
 * from the schema (x-kubernetes-list-type=map, patchMergeKey). This fake infers them: a list whose
 * items are all objects with a unique string `name` is keyed by name; otherwise by a unique string
 * `type` (conditions); every other list is atomic (replaced as a whole, owned as one leaf).
 */

export type Path = string[]; // segments: 'f:x', 'k:{"name":"a"}', '.'
const SEP = '\u0000';

export function isObj(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export function clone<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/** The key field of a list, or undefined when the list is atomic. */
export function listKey(items: unknown[]): 'name' | 'type' | undefined {
  if (items.length === 0 || !items.every(isObj)) return undefined;
  for (const k of ['name', 'type'] as const) {
    const vals = items.map((i) => (i as any)[k]);
    if (vals.every((v) => typeof v === 'string') && new Set(vals).size === vals.length) return k;
  }
  return undefined;
}

function keySeg(key: string, item: Record<string, any>): string {
  return `k:${JSON.stringify({ [key]: item[key] })}`;
}

function parseKeySeg(seg: string): [string, unknown] {
  const o = JSON.parse(seg.slice(2));
  const k = Object.keys(o)[0];
  return [k, o[k]];
}

/** Top-level fields that no manager owns. */
const UNOWNED_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'selfLink']);

/** The leaf paths set by an object (what a manager would own if it wrote exactly this object). */
export function fieldSet(obj: Record<string, any>, includeStatus: boolean, onlyStatus = false): Set<string> {
  const out = new Set<string>();
  const walk = (v: any, path: Path): void => {
    if (isObj(v) && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) if (child !== undefined) walk(child, [...path, `f:${k}`]);
      return;
    }
    if (Array.isArray(v)) {
      const key = listKey(v);
      if (key) {
        for (const item of v) {
          const p = [...path, keySeg(key, item)];
          out.add([...p, '.'].join(SEP));
          for (const [k, child] of Object.entries(item)) if (child !== undefined) walk(child, [...p, `f:${k}`]);
        }
        return;
      }
    }
    out.add(path.join(SEP));
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (k === 'status' ? !includeStatus : onlyStatus) continue;
    if (k === 'metadata' && isObj(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (!UNOWNED_META.has(mk) && mv !== undefined) walk(mv, ['f:metadata', `f:${mk}`]);
      }
      continue;
    }
    walk(v, [`f:${k}`]);
  }
  return out;
}

/** Reads the value at a path; `undefined` when absent. */
export function getAt(obj: any, path: Path): unknown {
  let cur = obj;
  for (const seg of path) {
    if (seg === '.') return cur;
    if (cur === undefined || cur === null) return undefined;
    if (seg.startsWith('f:')) cur = isObj(cur) ? cur[seg.slice(2)] : undefined;
    else if (seg.startsWith('k:')) {
      const [k, val] = parseKeySeg(seg);
      cur = Array.isArray(cur) ? cur.find((i) => isObj(i) && i[k] === val) : undefined;
    }
  }
  return cur;
}

/** Deletes the value at a path (a keyed item when the path ends in '.'), pruning emptied maps. */
function deleteAt(obj: any, path: Path): void {
  const parents: any[] = [];
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    parents.push(cur);
    const next = getAt(cur, [path[i]]);
    if (next === undefined) return;
    cur = next;
  }
  const last = path[path.length - 1];
  if (last === '.') {
    // remove the item itself from its list
    const itemSeg = path[path.length - 2];
    const list = getAt(obj, path.slice(0, -2));
    if (Array.isArray(list)) {
      const [k, val] = parseKeySeg(itemSeg);
      const idx = list.findIndex((i) => isObj(i) && i[k] === val);
      if (idx >= 0) list.splice(idx, 1);
    }
    return;
  }
  if (last.startsWith('f:') && isObj(cur)) delete cur[last.slice(2)];
  // prune maps emptied by the removal (never the object root)
  for (let depth = path.length - 1; depth >= 2; depth--) {
    const container = getAt(obj, path.slice(0, depth));
    if (isObj(container) && Object.keys(container).length === 0 && path[depth - 1].startsWith('f:')) {
      const parent = getAt(obj, path.slice(0, depth - 1));
      if (isObj(parent)) delete parent[path[depth - 1].slice(2)];
    } else break;
  }
}

/** Merges an applied config into a live value: maps recursively, keyed lists by key, else replace. */
export function mergeApplied(live: any, cfg: any): any {
  if (isObj(live) && isObj(cfg)) {
    const out: Record<string, any> = { ...live };
    for (const [k, v] of Object.entries(cfg)) {
      if (v === undefined) continue;
      out[k] = k in live ? mergeApplied(live[k], v) : clone(v);
    }
    return out;
  }
  if (Array.isArray(live) && Array.isArray(cfg)) {
    const key = listKey(cfg);
    if (key && listKey(live) === key) {
      const result: any[] = cfg.map((item) => {
        const existing = live.find((l) => l[key] === item[key]);
        return existing ? mergeApplied(existing, item) : clone(item);
      });
      for (const l of live) if (!cfg.some((c) => c[key] === l[key])) result.push(l);
      return result;
    }
  }
  return clone(cfg);
}

// ---- FieldsV1 encoding ---------------------------------------------------------------------------

export function encodeFieldsV1(set: Set<string>): Record<string, any> {
  const root: Record<string, any> = {};
  for (const p of set) {
    let node = root;
    for (const seg of p.split(SEP)) node = node[seg] ??= {};
  }
  return root;
}

export function decodeFieldsV1(f: Record<string, any> | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: Record<string, any>, path: string[]): void => {
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length) out.add(path.join(SEP));
    for (const k of keys) walk(node[k], [...path, k]);
  };
  if (f) walk(f, []);
  return out;
}

/** Human form of a path for conflict messages: ".spec.replicas", ".spec.containers[name=\"a\"]". */
export function pathString(p: string): string {
  return p.split(SEP).map((s) => {
    if (s.startsWith('f:')) return `.${s.slice(2)}`;
    if (s.startsWith('k:')) {
      const [k, v] = parseKeySeg(s);
      return `[${k}=${JSON.stringify(v)}]`;
    }
    return '';
  }).join('');
}

// ---- managed fields bookkeeping ------------------------------------------------------------------

export interface ManagedEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, any>;
  subresource?: string;
}

interface Owned { entry: ManagedEntry; set: Set<string> }

function readManaged(obj: any): Owned[] {
  return ((obj?.metadata?.managedFields ?? []) as ManagedEntry[]).map((e) => ({ entry: e, set: decodeFieldsV1(e.fieldsV1) }));
}

function writeManaged(obj: any, owned: Owned[]): void {
  const entries = owned.filter((o) => o.set.size > 0).map((o) => ({ ...o.entry, fieldsV1: encodeFieldsV1(o.set) }));
  obj.metadata ??= {};
  if (entries.length) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class ApplyConflict extends Error {
  constructor(readonly conflicts: { manager: string; field: string }[]) {
    super(`Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ` +
      conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`).join('; '));
  }
}

export interface ApplyOptions {
  manager: string;
  force: boolean;
  apiVersion: string;
  subresource?: string; // 'status' for applies to /status
}

/**
 * Server-side apply of `config` onto `live` (undefined when creating). Returns the new object with
 * managedFields updated; throws ApplyConflict. Server-owned metadata is the caller's job.
 */
export function serverSideApply(live: any | undefined, config: any, opts: ApplyOptions): any {
  const onStatus = opts.subresource === 'status';
  const base = clone(live ?? { apiVersion: config.apiVersion, kind: config.kind, metadata: {} });
  const owned = readManaged(base);
  const sameEntry = (o: Owned): boolean =>
    o.entry.manager === opts.manager && o.entry.operation === 'Apply' && (o.entry.subresource ?? '') === (opts.subresource ?? '');
  const mine = owned.find(sameEntry);
  const cfgSet = fieldSet(config, onStatus, onStatus);

  const conflicts: { manager: string; field: string; path: string; owner: Owned }[] = [];
  for (const p of cfgSet) {
    const path = p.split(SEP);
    if (path[path.length - 1] === '.') continue;
    for (const o of owned) {
      if (o === mine || !o.set.has(p)) continue;
      if (!deepEqual(getAt(base, path), getAt(config, path))) {
        conflicts.push({ manager: o.entry.manager, field: pathString(p), path: p, owner: o });
      }
    }
  }
  if (conflicts.length && !opts.force) throw new ApplyConflict(conflicts);
  for (const c of conflicts) c.owner.set.delete(c.path);

  // fields this manager applied before and no longer applies: remove unless someone else owns them
  if (mine) {
    const removed = [...mine.set].filter((p) => !cfgSet.has(p) && !owned.some((o) => o !== mine && o.set.has(p)));
    removed.sort((a, b) => b.split(SEP).length - a.split(SEP).length);
    for (const p of removed) {
      const path = p.split(SEP);
      // an item removal must not take fields others own inside the item
      if (path[path.length - 1] === '.') {
        const prefix = path.slice(0, -1).join(SEP) + SEP;
        if (owned.some((o) => o !== mine && [...o.set].some((q) => q.startsWith(prefix)))) continue;
      }
      deleteAt(base, path);
    }
  }

  const { metadata: cfgMeta, apiVersion: _a, kind: _k, ...rest } = config;
  let merged: any = base;
  if (onStatus) {
    merged = { ...base, status: mergeApplied(base.status ?? {}, config.status ?? {}) };
  } else {
    const { status: _s, ...body } = rest;
    merged = mergeApplied(base, body);
    const meta = { ...(cfgMeta ?? {}) };
    for (const k of UNOWNED_META) delete meta[k];
    merged.metadata = mergeApplied(base.metadata ?? {}, meta);
  }

  const entry: ManagedEntry = {
    manager: opts.manager, operation: 'Apply', apiVersion: opts.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {},
    ...(opts.subresource ? { subresource: opts.subresource } : {}),
  };
  const next = owned.filter((o) => o !== mine);
  next.push({ entry, set: cfgSet });
  writeManaged(merged, next);
  return merged;
}

/**
 * Ownership after a non-apply write (create, update, patch) by `manager`: the fields it changed
 * become its own (operation Update); fields that disappeared are dropped from every manager.
 */
export function recordUpdate(oldObj: any | undefined, newObj: any, manager: string, apiVersion: string, subresource?: string): void {
  const onStatus = subresource === 'status';
  const owned = readManaged(oldObj);
  const before = oldObj ? fieldSet(oldObj, onStatus, onStatus) : new Set<string>();
  const after = fieldSet(newObj, onStatus, onStatus);
  const changed = [...after].filter((p) => !before.has(p) || !deepEqual(getAt(oldObj, p.split(SEP)), getAt(newObj, p.split(SEP))));
  for (const o of owned) {
    for (const p of [...o.set]) {
      const inScope = onStatus ? p.startsWith('f:status') : !p.startsWith('f:status');
      if (inScope && (!after.has(p) || changed.includes(p))) o.set.delete(p);
    }
  }
  if (changed.length) {
    let mine = owned.find((o) => o.entry.manager === manager && o.entry.operation === 'Update' && (o.entry.subresource ?? '') === (subresource ?? ''));
    if (!mine) {
      mine = {
        entry: { manager, operation: 'Update', apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {}, ...(subresource ? { subresource } : {}) },
        set: new Set(),
      };
      owned.push(mine);
    }
    mine.entry.time = now();
    for (const p of changed) mine.set.add(p);
  }
  writeManaged(newObj, owned);
}

// ---- other patch types ---------------------------------------------------------------------------

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, any> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Strategic merge patch, approximated: merge patch plus keyed-list merging (no $patch directives). */
export function strategicMergePatch(target: any, patch: any): any {
  if (Array.isArray(target) && Array.isArray(patch)) {
    const key = listKey(patch);
    if (key && listKey(target) === key) {
      const result = target.map((t) => {
        const p = patch.find((x) => x[key] === t[key]);
        return p ? strategicMergePatch(t, p) : t;
      });
      for (const p of patch) if (!target.some((t) => t[key] === p[key])) result.push(clone(p));
      return result;
    }
    return clone(patch);
  }
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, any> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test, copy, move). */
export function jsonPatch(target: any, ops: any[]): any {
  const doc = clone(target);
  const ptr = (p: string): string[] => p.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (segs: string[]): any => segs.slice(0, -1).reduce((cur, s) => cur?.[Array.isArray(cur) ? Number(s) : s], doc);
  const get = (segs: string[]): any => segs.reduce((cur, s) => cur?.[Array.isArray(cur) ? Number(s) : s], doc);
  const put = (segs: string[], value: any, insert: boolean): void => {
    const parent = parentOf(segs);
    const last = segs[segs.length - 1];
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (insert) parent.splice(i, 0, value); else parent[i] = value;
    } else if (isObj(parent)) parent[last] = value;
    else throw new Error(`json patch: no parent for /${segs.join('/')}`);
  };
  const remove = (segs: string[]): void => {
    const parent = parentOf(segs);
    const last = segs[segs.length - 1];
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else if (isObj(parent) && last in parent) delete parent[last];
    else throw new Error(`json patch: nothing at /${segs.join('/')}`);
  };
  for (const op of ops) {
    const segs = ptr(op.path);
    switch (op.op) {
      case 'add': put(segs, clone(op.value), true); break;
      case 'replace': put(segs, clone(op.value), false); break;
      case 'remove': remove(segs); break;
      case 'test': if (!deepEqual(get(segs), op.value)) throw new Error(`json patch: test failed at ${op.path}`); break;
      case 'copy': put(segs, clone(get(ptr(op.from))), true); break;
      case 'move': { const v = get(ptr(op.from)); remove(ptr(op.from)); put(segs, v, true); break; }
      default: throw new Error(`json patch: unknown op ${op.op}`);
    }
  }
  return doc;
}
