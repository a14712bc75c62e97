/**
 * Server-side printing for the FAKE Kubernetes API server (test support only).
 *
 * `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
 * columns the server chooses. For a CRD those are Name plus the version's additionalPrinterColumns,
 * each a JSONPath evaluated against the object; `date` columns are shown as an age ("5m"), like the
 * real apiextensions table convertor does. Built-in kinds get Name + Age here (the real server has
 * richer per-kind printers; kubectl tests in this repo only look at MqttClusters).
 */
import type { PrinterColumn, ResourceType } from './registry.js';

/** Evaluates the JSONPath subset printer columns use: .a.b, [n], [*], [?(@.k=="v")]. */
export function evalJsonPath(obj: unknown, expr: string): unknown[] {
  let cur: unknown[] = [obj];
  const re = /\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["']([^"']*)["']\)\]/g;
  const path = expr.trim().replace(/^\{|\}$/g, '').replace(/^\$/, '');
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(path)) !== null) {
    if (m.index !== consumed) return [];
    consumed = re.lastIndex;
    const next: unknown[] = [];
    for (const c of cur) {
      if (c === null || c === undefined) continue;
      if (m[1] !== undefined) {
        if (Array.isArray(c)) for (const x of c) { const v = (x as any)?.[m[1]]; if (v !== undefined) next.push(v); }
        else { const v = (c as any)[m[1]]; if (v !== undefined) next.push(v); }
      } else if (m[2] !== undefined) {
        if (Array.isArray(c) && c[Number(m[2])] !== undefined) next.push(c[Number(m[2])]);
      } else if (m[3] !== undefined) {
        if (Array.isArray(c)) {
          for (const x of c) {
            const v = m[3].split('.').reduce((o: any, k) => o?.[k], x);
            if (String(v) === m[4]) next.push(x);
          }
        }
      } else if (Array.isArray(c)) next.push(...c);
    }
    cur = next;
  }
  return consumed === path.length ? cur : [];
}

/** "5s", "3m", "2h", "4d" (the short form kubectl shows). */
export function humanAge(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '<unknown>';
  if (s < 120) return `${s}s`;
  if (s < 3600 * 3) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function columns(t: ResourceType): PrinterColumn[] {
  if (t.crd && t.printerColumns && t.printerColumns.length) return t.printerColumns;
  return [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
}

function cell(col: PrinterColumn, obj: unknown): unknown {
  const vals = evalJsonPath(obj, col.jsonPath);
  if (vals.length === 0) return col.type === 'date' ? '<unknown>' : null;
  if (col.type === 'date') return humanAge(String(vals[0]));
  if (vals.length > 1) return vals.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  const v = vals[0];
  if (col.type === 'integer' || col.type === 'number') return typeof v === 'number' ? v : Number(v);
  if (col.type === 'boolean') return Boolean(v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Builds a meta.k8s.io/v1 Table for objects; includeObject: None | Metadata (default) | Object. */
export function toTable(t: ResourceType, objects: any[], resourceVersion: string, includeObject = 'Metadata'): object {
  const cols = columns(t);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      ...cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
    ],
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...cols.map((c) => cell(c, o))],
      ...(includeObject === 'None' ? {} : {
        object: includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
      }),
    })),
  };
}
