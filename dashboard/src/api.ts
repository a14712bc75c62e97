/**
 * The dashboard's only door to the node: fetch over /api/v5 with the login token (Bearer), one
 * error type carrying the API's `{code, message}`, and the session (token, role, user name)
 * kept in sessionStorage so a reload stays logged in while a closed tab does not.
 *
 * A node with no API keys and no dashboard users answers loopback callers without credentials;
 * `probeOpen` finds that out so such a node needs no login page.
 */
export type Role = 'administrator' | 'viewer';

export interface Session {
  /** null: the node answered without credentials (loopback, nothing configured). */
  token: string | null;
  role: Role;
  username: string;
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const KEY = 'petrel.session';
let session: Session | null = readStored();
const listeners = new Set<() => void>();

function readStored(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s !== null && typeof s.role === 'string' ? s : null;
  } catch { return null; }
}

export function currentSession(): Session | null { return session; }
export function isAdmin(): boolean { return session?.role === 'administrator'; }

export function onSessionChange(f: () => void): () => void {
  listeners.add(f);
  return () => { listeners.delete(f); };
}

function setSession(s: Session | null): void {
  session = s;
  if (s === null) sessionStorage.removeItem(KEY); else sessionStorage.setItem(KEY, JSON.stringify(s));
  for (const f of listeners) f();
}

/** One API call; resolves to the parsed JSON (undefined for 204), rejects with ApiFailure. */
export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (session?.token) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let parsed: unknown = undefined;
  if (text !== '') { try { parsed = JSON.parse(text); } catch { parsed = text; } }
  if (r.ok) return parsed as T;
  const e = (parsed ?? {}) as { code?: string; message?: string };
  // A token that expired or was revoked: back to the login page.
  if (r.status === 401 && session !== null) setSession(null);
  throw new ApiFailure(r.status, e.code ?? `HTTP_${r.status}`, e.message ?? (typeof parsed === 'string' ? parsed : r.statusText));
}

export const get = <T = unknown>(path: string): Promise<T> => call<T>('GET', path);

export async function login(username: string, password: string): Promise<void> {
  const r = await call<{ token: string; role?: Role }>('POST', '/api/v5/login', { username, password });
  setSession({ token: r.token, role: r.role === 'viewer' ? 'viewer' : 'administrator', username });
}

export async function logout(): Promise<void> {
  const s = session;
  setSession(null);
  if (s?.token) await fetch('/api/v5/logout', { method: 'POST', headers: { authorization: `Bearer ${s.token}` } }).catch(() => undefined);
}

/** True when the node answers without credentials; the session is then an open administrator one. */
export async function probeOpen(): Promise<boolean> {
  const r = await fetch('/api/v5/nodes').catch(() => null);
  if (r === null || !r.ok) return false;
  setSession({ token: null, role: 'administrator', username: 'loopback' });
  return true;
}

export const enc = encodeURIComponent;
