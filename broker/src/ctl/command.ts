/**
 * What every `petrel ctl` command shares: its parsed arguments, the context it prints through,
 * and the list helper behind every paged resource (`--page N --limit N`, `--all` following
 * pages, the "page P of N" hint when the API says there is more).
 */
import { ApiClient, usageError } from './http.js';
import { rowsTable, type Column } from './table.js';

/** Positional words and `--name value` / `--flag` options, as given. */
export interface Args {
  readonly pos: readonly string[];
  readonly opts: ReadonlyMap<string, string>;
  readonly flags: ReadonlySet<string>;
}

export interface Ctx {
  readonly api: ApiClient;
  /** --json: print the API's answer instead of a table. */
  readonly json: boolean;
  /** stdout: the table or the JSON. */
  out(text: string): void;
  /** stderr: hints (more pages, nodes that did not answer). */
  note(text: string): void;
}

export interface Command {
  /** The command word and its aliases. */
  readonly names: readonly string[];
  /** One usage line, without the `petrel ctl` prefix. */
  readonly usage: string;
  /** The `--name value` options it takes (besides --api), and its `--flag`s (besides --json). */
  readonly options?: readonly string[];
  readonly flags?: readonly string[];
  /** The exit code (errors are thrown as CtlError). */
  run(ctx: Ctx, a: Args): Promise<number>;
}

/** Every option that takes a value, of any command: the parser needs to know which words are values. */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  'api', 'page', 'limit', 'node', 'username', 'ip', 'like-clientid', 'conn-state', 'clientid', 'topic', 'qos',
  'as', 'who', 'until', 'reason', 'max-connections', 'max-conn-rate', 'bind',
  'start', 'end', 'payload-encode', 'formatter', 'position', 'bytes', 'output',
]);
export const FLAG_OPTIONS: ReadonlySet<string> = new Set(['json', 'all', 'retain']);

/** Splits argv into positional words, options and flags; an unknown option or a missing value is a usage error. */
export function parseArgs(argv: readonly string[]): Args {
  const pos: string[] = [];
  const opts = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') { pos.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (FLAG_OPTIONS.has(name) && eq < 0) { flags.add(name); continue; }
    if (!VALUE_OPTIONS.has(name)) throw usageError(`unknown option --${name}`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw usageError(`--${name} needs a value`);
    opts.set(name, value);
  }
  return { pos, opts, flags };
}

/** The positional word at `i`, or a usage error naming it. */
export function need(a: Args, i: number, what: string): string {
  const v = a.pos[i];
  if (v === undefined || v === '') throw usageError(`missing ${what}`);
  return v;
}

/** A whole number ≥ `min` from an option, or undefined when absent. */
export function intOpt(a: Args, name: string, min = 1): number | undefined {
  const v = a.opts.get(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw usageError(`--${name} must be a whole number ≥ ${min}, not ${v}`);
  return Number(v);
}

/** Prints the API's answer as JSON. */
export const printJson = (ctx: Ctx, body: unknown): void => ctx.out(JSON.stringify(body, null, 2));

interface PageBody { data: Array<Record<string, unknown>>; meta: { page: number; limit: number; count: number; hasnext: boolean; unreachable?: string[] } }

const MAX_LIMIT = 10000;

/**
 * A paged list: `query` holds the command's filters (API names), the rows go out as a table of
 * `columns` or, with --json, as the API's answer. --all asks page after page and prints every
 * row (with --json: `{data, meta}` with every row, hasnext false). `enrich` adds to the rows what
 * the table shows besides the list's own fields (not called for --json).
 */
export async function listCommand(
  ctx: Ctx, a: Args, path: string, query: Record<string, string | undefined>, columns: ReadonlyArray<Column<Record<string, unknown>>>,
  enrich?: (rows: Array<Record<string, unknown>>) => Promise<void>,
): Promise<number> {
  const all = a.flags.has('all');
  const page = intOpt(a, 'page');
  const limit = intOpt(a, 'limit');
  if (limit !== undefined && limit > MAX_LIMIT) throw usageError(`--limit is at most ${MAX_LIMIT}`);
  if (all && page !== undefined) throw usageError('--all and --page do not go together');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, v);
  const fetchPage = async (p: number | undefined, l: number | undefined): Promise<PageBody> => {
    const pq = new URLSearchParams(q);
    if (p !== undefined) pq.set('page', String(p));
    if (l !== undefined) pq.set('limit', String(l));
    const s = pq.toString();
    return await ctx.api.get(path + (s ? '?' + s : '')) as PageBody;
  };
  let body: PageBody;
  if (all) {
    const l = limit ?? 1000;
    const rows: Array<Record<string, unknown>> = [];
    const unreachable = new Set<string>();
    for (let p = 1; ; p++) {
      const got = await fetchPage(p, l);
      rows.push(...got.data);
      for (const n of got.meta.unreachable ?? []) unreachable.add(n);
      if (!got.meta.hasnext || got.data.length === 0) break;
    }
    body = { data: rows, meta: { page: 1, limit: rows.length, count: rows.length, hasnext: false } };
    if (unreachable.size > 0) body.meta.unreachable = [...unreachable];
  } else {
    body = await fetchPage(page, limit);
  }
  if (ctx.json) { printJson(ctx, body); return 0; }
  if (enrich !== undefined) await enrich(body.data);
  ctx.out(rowsTable(columns, body.data));
  const m = body.meta;
  if (m.unreachable !== undefined && m.unreachable.length > 0) ctx.note(`not answering, their rows are missing: ${m.unreachable.join(', ')}`);
  if (m.hasnext) ctx.note(`page ${m.page} of ${Math.max(1, Math.ceil(m.count / m.limit))}, more: pass --page ${m.page + 1} (or --all)`);
  return 0;
}
