/**
 * How `petrel ctl` shows answers on a terminal: padded tables with a header row, key/value
 * tables for one object, and the units people read (uptime as 5m12s). Pure string builders,
 * so they are tested without a node. Nothing is wrapped or cut: `--json` is the whole answer
 * anyway, and a table row stays one line for grep and awk.
 */

/** A cell as text: '-' for what a row lacks (null, undefined, ''), arrays joined with ',', objects as JSON. */
export function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Lines of cells as a table: every column padded to its widest cell, two spaces apart, the last one unpadded. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const lines = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  return lines.map((l) => header.map((_, i) => (i === header.length - 1 ? l[i] ?? '' : (l[i] ?? '').padEnd(widths[i]))).join('  ')).join('\n');
}

/** A column: its header and how a row's cell is taken. */
export interface Column<R> { readonly head: string; readonly get: (row: R) => unknown }

/** Rows as a table of these columns. */
export function rowsTable<R>(columns: ReadonlyArray<Column<R>>, rows: readonly R[]): string {
  return table(columns.map((c) => c.head), rows.map((r) => columns.map((c) => cell(c.get(r)))));
}

/** One object as FIELD VALUE lines, in the object's own order (or `fields`' when given). */
export function fieldsTable(obj: Record<string, unknown>, fields: readonly string[] = Object.keys(obj)): string {
  return table(['FIELD', 'VALUE'], fields.map((f) => [f, cell(obj[f])]));
}

/** Counters or gauges, one NAME VALUE line each, sorted by name. */
export function countersTable(obj: Record<string, unknown>): string {
  return table(['NAME', 'VALUE'], Object.keys(obj).sort().map((k) => [k, cell(obj[k])]));
}

const NODE_COLUMNS: ReadonlyArray<Column<Record<string, unknown>>> = [
  { head: 'NAME', get: (r) => r.node }, { head: 'ROLE', get: (r) => r.role }, { head: 'REGION', get: (r) => r.region },
  { head: 'STATUS', get: (r) => r.node_status }, { head: 'UPTIME', get: (r) => (typeof r.uptime === 'number' ? formatUptime(r.uptime) : null) },
  { head: 'CONNECTIONS', get: (r) => r.connections }, { head: 'LINK', get: (r) => r.link_state },
];

/** The rows of GET /api/v5/nodes as a table, columns padded to their widest cell; '-' for what a row lacks. */
export function nodesTable(rows: Array<Record<string, unknown>>): string {
  return rowsTable(NODE_COLUMNS, rows);
}

/** Seconds as the two largest units: 42s, 5m12s, 3h07m, 2d04h. */
export function formatUptime(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h`;
  if (h > 0) return `${h}h${two(m)}m`;
  if (m > 0) return `${m}m${two(s % 60)}s`;
  return `${s}s`;
}
