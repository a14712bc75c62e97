/**
 * What every page is built from: a polled or one-off API read (`useApi`), one page of a paged
 * list (`usePaged`, with `Pager` for its controls), a table, a labelled field, an error line, and `Admin`, which renders its children for administrators only (the
 * node refuses a viewer's changes anyway; hiding the controls keeps the page honest).
 */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiFailure, get, isAdmin } from './api.js';

export interface Loaded<T> { data: T | undefined; error: string | null; reload: () => void }

/** GETs `path` now, again every `everyMs` when given, and on reload(); `null` path = nothing. */
export function useApi<T>(path: string | null, everyMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    const load = (): void => {
      get<T>(path).then((d) => { if (live) { setData(d); setError(null); } }, (e: unknown) => { if (live) setError(describe(e)); });
    };
    load();
    const t = everyMs > 0 ? setInterval(load, everyMs) : null;
    return () => { live = false; if (t !== null) clearInterval(t); };
  }, [path, everyMs, tick]);
  return { data, error, reload };
}

/** EMQX's paging: `?page=&limit=`, answered with `{data, meta: {page, limit, count, hasnext}}`. */
export interface PageMeta { page: number; limit: number; count?: number; hasnext: boolean }
export interface Paged<T> extends Loaded<{ data: T[]; meta: PageMeta }> { page: number; setPage: (n: number) => void }

export const PAGE_SIZE = 100;

/** One page of `path` (which may carry its own query); a new path (a new search) starts at page 1. */
export function usePaged<T>(path: string, everyMs = 0, limit = PAGE_SIZE): Paged<T> {
  const [at, setAt] = useState({ path, page: 1 });
  const page = at.path === path ? at.page : 1;
  const setPage = useCallback((n: number) => setAt({ path, page: Math.max(1, n) }), [path]);
  const loaded = useApi<{ data: T[]; meta: PageMeta }>(`${path}${path.includes('?') ? '&' : '?'}page=${page}&limit=${limit}`, everyMs);
  // The last rows of the last page went away (deleted, disconnected): show the page before.
  const m = loaded.data?.meta;
  useEffect(() => { if (m && m.page > 1 && loaded.data!.data.length === 0) setPage(m.page - 1); }, [m]);
  return { ...loaded, page, setPage };
}

/** "Page 2 of 12 · 1,200 clients", with Previous and Next (just the total when one page holds all); nothing while the first page loads. */
export function Pager({ list, what }: { list: Paged<unknown>; what: string }): JSX.Element | null {
  const m = list.data?.meta;
  if (m === undefined) return null;
  const pages = m.count === undefined ? null : Math.max(1, Math.ceil(m.count / m.limit));
  // All of it on one page: the total is enough.
  if (m.page === 1 && !m.hasnext) return <p class="muted" data-testid={`pager-${what}`}>{m.count === undefined ? '' : `${m.count.toLocaleString('en')} ${what}`}</p>;
  return (
    <div class="pager" role="group" aria-label={`Pages of ${what}`}>
      <button type="button" disabled={m.page <= 1} aria-label={`Previous page of ${what}`} onClick={() => list.setPage(m.page - 1)}>Previous</button>
      <span data-testid={`pager-${what}`}>Page {m.page}{pages === null ? '' : ` of ${pages}`}{m.count === undefined ? '' : ` · ${m.count.toLocaleString('en')} ${what}`}</span>
      <button type="button" disabled={!m.hasnext} aria-label={`Next page of ${what}`} onClick={() => list.setPage(m.page + 1)}>Next</button>
    </div>
  );
}

export function describe(e: unknown): string {
  if (e instanceof ApiFailure) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** Runs an action, reporting its failure on the page; returns whether it succeeded. */
export function useAction(): [string | null, (f: () => Promise<unknown>) => Promise<boolean>] {
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (f: () => Promise<unknown>) => {
    try { await f(); setError(null); return true; } catch (e) { setError(describe(e)); return false; }
  }, []);
  return [error, run];
}

export function ErrorLine({ error }: { error: string | null | undefined }): JSX.Element | null {
  return error ? <p class="error" role="alert">{error}</p> : null;
}

export function Admin({ children }: { children: ComponentChildren }): JSX.Element | null {
  return isAdmin() ? <>{children}</> : null;
}

export interface Column<R> { label: string; cell: (r: R) => ComponentChildren }

export function Table<R>({ caption, cols, rows, empty = 'Nothing here.', rowKey }: {
  caption: string; cols: Column<R>[]; rows: R[] | undefined; empty?: string; rowKey: (r: R) => string;
}): JSX.Element {
  if (rows === undefined) return <p class="muted">Loading {caption.toLowerCase()}…</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead><tr>{cols.map((c) => <th scope="col" key={c.label}>{c.label}</th>)}</tr></thead>
        <tbody>
          {rows.length === 0 ? <tr><td colSpan={cols.length} class="muted">{empty}</td></tr>
            : rows.map((r) => <tr key={rowKey(r)}>{cols.map((c) => <td key={c.label}>{c.cell(r)}</td>)}</tr>)}
        </tbody>
      </table>
    </div>
  );
}

/** A visible label around its control, so every input has an accessible name. */
export function Field({ label, children }: { label: string; children: ComponentChildren }): JSX.Element {
  return <label class="field"><span>{label}</span>{children}</label>;
}

export function Section({ title, children }: { title: string; children: ComponentChildren }): JSX.Element {
  return <section aria-label={title}><h2>{title}</h2>{children}</section>;
}

export function Status({ value }: { value: string | boolean | undefined }): JSX.Element {
  const s = value === true ? 'running' : value === false ? 'stopped' : value ?? 'unknown';
  const good = ['running', 'connected', 'up', 'self'].includes(s);
  return <span class={`status ${good ? 'good' : s === 'disabled' || s === 'stopped' || s === 'unloaded' ? 'idle' : 'bad'}`}>{s}</span>;
}

export const inputValue = (e: Event): string => (e.currentTarget as HTMLInputElement).value;

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined) return '–';
  const d = Math.floor(s / 86400); const h = Math.floor((s % 86400) / 3600); const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '–');
