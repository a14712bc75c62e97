/**
 * The HTTP request an HTTP authenticator or authorization source sends, with EMQX's keys:
 * `method` (post | get), `url`, `headers`, `body` (a map whose string values may hold
 * placeholders), `connect_timeout`, `request_timeout`, `pool_size`, `ssl`.
 *
 * Values are encoded for where they land: URL-encoded in the URL (path and query); for POST a
 * JSON body holds them as JSON strings, a form body (`content-type:
 * application/x-www-form-urlencoded`) form-encodes them; for GET the body's entries become
 * query parameters, as EMQX does. A header value may hold placeholders too, but a value with a
 * line break or NUL makes the request fail instead of splitting a header.
 *
 * Connections are kept alive, at most `pool_size` per source, and a response larger than
 * 1 MiB is refused.
 */
import http from 'node:http';
import https from 'node:https';
import type { Parsed } from '../types.js';
import { parseTls, Reader, tlsOptions, type TlsConfig } from './config.js';
import { parseTemplate, render, type Template, type Vars, type VarName } from './template.js';

const MAX_RESPONSE = 1 << 20;

type BodyTemplate = { [k: string]: BodyTemplate | Template | number | boolean | null } | Array<BodyTemplate | Template | number | boolean | null>;

export interface HttpRequestConfig {
  method: 'get' | 'post';
  url: Template;
  https: boolean;
  headers: ReadonlyArray<[string, Template]>;
  contentType: 'json' | 'form' | null;
  body: BodyTemplate | null;
  poolSize: number;
  ssl: TlsConfig | null;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

function parseBody(v: unknown, allowed: readonly VarName[], path: string): Parsed<BodyTemplate | Template | number | boolean | null> {
  if (typeof v === 'string') return parseTemplate(v, allowed, path);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return { ok: true, value: v };
  if (Array.isArray(v)) {
    const out: Array<BodyTemplate | Template | number | boolean | null> = [];
    for (let i = 0; i < v.length; i++) { const r = parseBody(v[i], allowed, `${path}[${i}]`); if (!r.ok) return r; out.push(r.value); }
    return { ok: true, value: out };
  }
  if (typeof v === 'object') {
    const out: Record<string, BodyTemplate | Template | number | boolean | null> = {};
    for (const [k, x] of Object.entries(v)) { const r = parseBody(x, allowed, `${path}.${k}`); if (!r.ok) return r; out[k] = r.value; }
    return { ok: true, value: out };
  }
  return { ok: false, error: `${path}: unsupported value ${JSON.stringify(v)}` };
}

const isTemplate = (v: unknown): v is Template => typeof v === 'object' && v !== null && 'parts' in v;

/** Reads the request keys of an HTTP entry (the caller reads the rest and calls `r.done`). */
export function parseHttpRequest(r: Reader, allowed: readonly VarName[]): HttpRequestConfig {
  const method = r.oneOf('method', ['post', 'get'] as const, 'post');
  const urlRaw = r.str('url');
  let url: Template = { parts: [], literal: true };
  let secure = false;
  if (r.error === null) {
    const m = /^(https?):\/\/([^/?#]*)/i.exec(urlRaw);
    if (!m) r.fail('url', `expected an http:// or https:// URL, got ${JSON.stringify(urlRaw)}`);
    else if (m[2].includes('${')) r.fail('url', 'placeholders in the host are not supported (EMQX hostname_resolution: dynamic)');
    else if (m[2] === '' || m[2].includes('@')) r.fail('url', `expected a host without user info, got ${JSON.stringify(m[2])}`);
    else {
      secure = m[1].toLowerCase() === 'https';
      const t = parseTemplate(urlRaw, allowed, 'url');
      if (t.ok) url = t.value; else r.fail('url', t.error.replace(/^url: /, ''));
    }
  }
  const headers: Array<[string, Template]> = [];
  let contentType: string | null = null;
  for (const [name, value] of Object.entries(r.obj('headers') ?? {})) {
    const lname = name.toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lname)) { r.fail('headers', `invalid header name ${JSON.stringify(name)}`); continue; }
    const t = parseTemplate(typeof value === 'string' ? value : String(value), allowed, `headers.${name}`);
    if (!t.ok) { r.fail('headers', t.error.replace(/^headers\./, '')); continue; }
    if (lname === 'content-type') contentType = typeof value === 'string' ? value.toLowerCase() : '';
    headers.push([lname, t.value]);
  }
  let ct: HttpRequestConfig['contentType'] = null;
  if (method === 'get') {
    if (contentType !== null) r.fail('headers', 'a GET request has no body, so no content-type header');
  } else {
    if (contentType === null) { contentType = 'application/json'; headers.push(['content-type', { parts: ['application/json'], literal: true }]); }
    if (contentType.startsWith('application/json')) ct = 'json';
    else if (contentType.startsWith('application/x-www-form-urlencoded')) ct = 'form';
    else r.fail('headers', `content-type ${contentType} not supported for the body (application/json or application/x-www-form-urlencoded)`);
  }
  if (!headers.some(([n]) => n === 'accept')) headers.push(['accept', { parts: ['application/json'], literal: true }]);
  let body: BodyTemplate | null = null;
  const rawBody = r.raw_('body');
  if (rawBody !== undefined && rawBody !== null) {
    if (typeof rawBody !== 'object' || Array.isArray(rawBody)) r.fail('body', 'expected a map of names to values');
    else {
      const b = parseBody(rawBody, allowed, 'body');
      if (!b.ok) r.fail('body', b.error.replace(/^body\.?/, ''));
      else body = b.value as BodyTemplate;
      if ((method === 'get' || ct === 'form') && body && Object.values(body).some((v) => typeof v === 'object' && v !== null && !isTemplate(v))) {
        r.fail('body', 'nested maps need a JSON body (POST with content-type application/json)');
      }
    }
  }
  r.accept('enable_pipelining', 'max_retries', 'retry_interval', 'request');
  return {
    method, url, https: secure, headers, contentType: ct, body,
    poolSize: r.int('pool_size', 8, 1, 1024),
    ssl: parseTls(r),
    connectTimeoutMs: r.duration('connect_timeout', 15_000),
    requestTimeoutMs: r.duration('request_timeout', 5000),
  };
}

function renderJson(b: BodyTemplate | Template | number | boolean | null, vars: Vars): unknown {
  if (isTemplate(b)) return render(b, vars);
  if (Array.isArray(b)) return b.map((x) => renderJson(x, vars));
  if (typeof b === 'object' && b !== null) return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, renderJson(v, vars)]));
  return b;
}

function formEntries(b: BodyTemplate | null, vars: Vars): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(b ?? {})) out.append(k, isTemplate(v) ? render(v, vars) : String(v));
  return out;
}

export interface BuiltRequest { url: URL; method: 'GET' | 'POST'; headers: Record<string, string>; body: Buffer | null }

/** The request for these values; throws on a value that cannot go into a header. */
export function buildRequest(cfg: HttpRequestConfig, vars: Vars): BuiltRequest {
  const url = new URL(render(cfg.url, vars, encodeURIComponent));
  const headers: Record<string, string> = {};
  for (const [name, t] of cfg.headers) {
    const v = render(t, vars);
    if (/[\r\n\0]/.test(v)) throw new Error(`header ${name}: a placeholder's value holds a line break or NUL`);
    headers[name] = v;
  }
  let body: Buffer | null = null;
  if (cfg.method === 'get') {
    for (const [k, v] of formEntries(cfg.body, vars)) url.searchParams.append(k, v);
  } else if (cfg.contentType === 'form') {
    body = Buffer.from(formEntries(cfg.body, vars).toString());
  } else {
    body = Buffer.from(JSON.stringify(cfg.body === null ? {} : renderJson(cfg.body, vars)));
  }
  if (body !== null) headers['content-length'] = String(body.length);
  return { url, method: cfg.method === 'get' ? 'GET' : 'POST', headers, body };
}

export interface HttpResponse { status: number; contentType: string; body: Buffer }

/** Sends requests over a keep-alive pool of `pool_size` connections. */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  constructor(private readonly cfg: HttpRequestConfig, configDir: string) {
    const opts = { keepAlive: true, maxSockets: cfg.poolSize, maxFreeSockets: cfg.poolSize };
    this.mod = cfg.https ? https : http;
    this.agent = cfg.https ? new https.Agent({ ...opts, ...tlsOptions(cfg.ssl ?? { verify: true }, configDir) }) : new http.Agent(opts);
  }

  send(req: BuiltRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null, res?: HttpResponse): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) { r.destroy(); reject(err); } else resolve(res!);
      };
      const r = this.mod.request(req.url, { method: req.method, headers: req.headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) { finish(new Error(`response larger than ${MAX_RESPONSE} bytes`)); res.destroy(); return; }
          chunks.push(c);
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? '').toLowerCase(), body: Buffer.concat(chunks) }));
        res.on('error', (e) => finish(e));
      });
      const timer = setTimeout(() => finish(new Error(`no answer within request_timeout (${this.cfg.requestTimeoutMs} ms)`)), this.cfg.requestTimeoutMs);
      r.on('socket', (s) => {
        if (!s.connecting) return;
        const t = setTimeout(() => finish(new Error(`no connection within connect_timeout (${this.cfg.connectTimeoutMs} ms)`)), this.cfg.connectTimeoutMs);
        s.once('connect', () => clearTimeout(t));
        s.once('close', () => clearTimeout(t));
      });
      r.on('error', (e) => finish(e));
      r.end(req.body ?? undefined);
    });
  }

  close(): void { this.agent.destroy(); }
}

/** A 200 answer's body as a map: JSON, or a form (`result=allow&is_superuser=true`). */
export function parseAnswer(res: HttpResponse): Record<string, unknown> {
  const ct = res.contentType;
  if (ct.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(res.body.toString('utf8')));
  if (ct !== '' && !ct.startsWith('application/json')) throw new Error(`unsupported content-type ${ct} in the answer`);
  let j: unknown;
  try { j = JSON.parse(res.body.toString('utf8')); } catch { throw new Error('the answer is not valid JSON'); }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('the answer is not a JSON object');
  return j as Record<string, unknown>;
}
