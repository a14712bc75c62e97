/**
 * Placeholders in backend requests, as EMQX writes them: `${username}`, `${clientid}`,
 * `${peerhost}`, `${cert_common_name}`, `${cert_subject}`, `${password}` (authentication) and
 * `${topic}`, `${action}`, `${qos}`, `${retain}` (authorization).
 *
 * A client chooses its username and client id, so a value is never spliced into a language it
 * could escape from. Each backend binds values its own safe way:
 * - SQL: the query becomes a prepared statement, each placeholder a parameter (`$1` / `?`);
 * - Redis: the command is split into arguments first, then each argument is rendered, so a
 *   value with spaces stays one argument;
 * - HTTP: URL-encoded in the URL, a JSON string in a JSON body, form-encoded in a form body;
 *   headers refuse CR/LF.
 *
 * A template is parsed once when the config is loaded; an unknown placeholder is a config error.
 */
import type { AuthRequest, AuthzRequest, ClientInfo } from '../../hooks.js';
import type { Parsed } from '../types.js';

export const AUTHN_VARS = ['username', 'clientid', 'peerhost', 'cert_common_name', 'cert_subject', 'password'] as const;
export const AUTHZ_VARS = ['username', 'clientid', 'peerhost', 'cert_common_name', 'cert_subject', 'topic', 'action', 'qos', 'retain'] as const;
export type VarName = (typeof AUTHN_VARS)[number] | (typeof AUTHZ_VARS)[number];

/** The values of one request; null where the client has none (no username, no certificate). */
export type Vars = Partial<Record<VarName, string | null>>;

export type Part = string | { v: VarName };
export interface Template {
  readonly parts: readonly Part[];
  /** True when the template has no placeholder (rendering returns the text as it is). */
  readonly literal: boolean;
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Parses `text`; `where` names the config key in errors. */
export function parseTemplate(text: string, allowed: readonly VarName[], where: string): Parsed<Template> {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = m[1].trim();
    if (!(allowed as readonly string[]).includes(name)) {
      return { ok: false, error: `${where}: unknown placeholder \${${m[1]}}; known: ${allowed.map((a) => '${' + a + '}').join(' ')}` };
    }
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ v: name as VarName });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return { ok: true, value: { parts, literal: parts.every((p) => typeof p === 'string') } };
}

/** Renders with each value passed through `encode` (identity for a Redis argument). */
export function render(t: Template, vars: Vars, encode: (v: string) => string = (v) => v): string {
  let out = '';
  for (const p of t.parts) out += typeof p === 'string' ? p : encode(vars[p.v] ?? '');
  return out;
}

// ---------------------------------------------------------------- request values

function clientVars(client: ClientInfo): Vars {
  return {
    username: client.username, clientid: client.clientId, peerhost: client.peerHost,
    cert_common_name: client.peerCert?.cn ?? null, cert_subject: client.peerCert?.dn ?? null, // EMQX's dn: most specific first
  };
}

export function authnVars(req: AuthRequest): Vars {
  const v = clientVars(req.client);
  v.password = req.password === null ? null : req.password.toString('utf8');
  return v;
}

export function authzVars(req: AuthzRequest): Vars {
  const v = clientVars(req.client);
  v.topic = req.topic; v.action = req.action; v.qos = String(req.qos); v.retain = String(req.retain);
  return v;
}

// ---------------------------------------------------------------- SQL

export interface SqlTemplate {
  /** The query with `$1…` (PostgreSQL) or `?` (MySQL) in place of each placeholder. */
  readonly text: string;
  /** Which value each parameter takes, in order. */
  readonly params: readonly VarName[];
}

/**
 * A query as a prepared statement. A placeholder the user quoted (`'${username}'`, the EMQX 4
 * habit) loses its quotes: as a parameter it needs none, and quoted it would be a literal.
 */
export function sqlTemplate(query: string, allowed: readonly VarName[], style: 'pg' | 'mysql', where: string): Parsed<SqlTemplate> {
  const t = parseTemplate(query, allowed, where);
  if (!t.ok) return t;
  const params: VarName[] = [];
  let text = '';
  const parts = [...t.value.parts];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') { text += p; continue; }
    const before = typeof parts[i - 1] === 'string' ? parts[i - 1] as string : '';
    const after = typeof parts[i + 1] === 'string' ? parts[i + 1] as string : '';
    for (const q of ['\'', '"']) {
      if (before.endsWith(q) && after.startsWith(q)) {
        text = text.slice(0, -1);
        parts[i + 1] = after.slice(1);
        break;
      }
    }
    params.push(p.v);
    text += style === 'pg' ? `$${params.length}` : '?';
  }
  if (params.length === 0) return { ok: false, error: `${where}: the query has no placeholder, so every client would get the same row; use \${username} or \${clientid}` };
  return { ok: true, value: { text, params } };
}

/** SQL parameters: a missing value is NULL (matches no row), never the string 'undefined'. */
export function sqlParams(t: SqlTemplate, vars: Vars): (string | null)[] {
  return t.params.map((n) => vars[n] ?? null);
}

// ---------------------------------------------------------------- Redis

/**
 * Splits a Redis command as redis-cli does for simple input: on blanks, with "double" or
 * 'single' quotes keeping blanks inside one argument. Placeholders are then parsed per argument.
 */
export function splitRedisCommand(cmd: string, where: string): Parsed<string[]> {
  const out: string[] = [];
  let i = 0;
  while (i < cmd.length) {
    while (i < cmd.length && /\s/.test(cmd[i])) i++;
    if (i >= cmd.length) break;
    let arg = '';
    while (i < cmd.length && !/\s/.test(cmd[i])) {
      const q = cmd[i];
      if (q === '"' || q === '\'') {
        const end = cmd.indexOf(q, i + 1);
        if (end < 0) return { ok: false, error: `${where}: unbalanced ${q} at character ${i + 1}` };
        arg += cmd.slice(i + 1, end);
        i = end + 1;
      } else { arg += q; i++; }
    }
    out.push(arg);
  }
  if (out.length === 0) return { ok: false, error: `${where}: empty command` };
  return { ok: true, value: out };
}
