/**
 * What every page is built from: a polled or one-off API read (`useApi`), a table, a labelled
 * field, an error line, and `Admin`, which renders its children for administrators only (the
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
