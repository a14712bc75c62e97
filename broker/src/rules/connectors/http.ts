/**
 * The `http` sink (EMQX's HTTP Server connector and action): one undici Pool per connector with
 * keep-alive (and pipelining when asked), one request per item. The action's `path`, `headers`
 * and `body` are templates; an empty body sends the whole rule output as JSON, as EMQX does.
 *
 * Outcomes: 2xx delivered; 5xx, a timeout or a connection error is tried again `max_retries`
 * times at once, then reported retryable (the buffer keeps it and retries with backoff); any
 * other status (4xx: the server refused this request) is not retryable. Items of a batch go one
 * after another, so a batch that fails halfway is sent again from its first item: keep
 * batch_size 1 (the default) where a repeat matters.
 */
import net from 'node:net';
import type { Pool } from 'undici';
import { lazyModule } from '../../util/lazy-module.js';
import { duration, int, oneOf, str } from '../../config/schema-types.js';
import { Reader, parseTls, tlsOptions, type TlsConfig } from '../../access/backends/config.js';
import { Template, toText } from '../template.js';
import { SinkConfigError, SinkError, type Connection, type ConnectorType, type PreparedAction } from './types.js';
import { isObj, readFields } from './fields.js';
import { jsonSafe } from '../actions.js';

const undici = lazyModule<typeof import('undici')>('undici');

export interface HttpConnectorConf {
  url: URL;
  headers: Record<string, string>;
  connect_timeout: number;
  pool_size: number;
  enable_pipelining: number;
  tls: TlsConfig | null;
}

export interface HttpParams {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  max_retries: number;
  request_timeout: number;
}

interface HttpItem { method: string; path: string; headers: string[]; body: string }

function stringMap(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new SinkConfigError(`${where}: expected a map of header → value`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' && typeof x !== 'number') throw new SinkConfigError(`${where}.${k}: expected a string`);
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new SinkConfigError(`${where}: '${k}' is not a valid header name`);
    out[k] = String(x);
  }
  return out;
}

function template(src: string, where: string): Template {
  try { return new Template(src); } catch (err) { throw new SinkConfigError(`${where}: ${(err as Error).message}`); }
}

export const httpConnector: ConnectorType<HttpConnectorConf, HttpParams, HttpItem> = {
  type: 'http',
  parseConnector(raw, where) {
    const r = readFields<Record<string, unknown>>(raw, where, {
      url: str('', 'Base URL.'),
      headers: 'any',
      connect_timeout: duration('15s', 'TCP connect timeout.', { min: 1 }),
      pool_size: int(8, 'Connections in the pool.', { min: 1, max: 1024 }),
      enable_pipelining: int(100, 'Requests pipelined on one connection.', { min: 1, max: 10_000 }),
      request_timeout: 'any', retry_interval: 'any', pool_type: 'any', max_retries: 'any',
    }, ['ssl']);
    let url: URL;
    try { url = new URL(r.url as string); } catch { throw new SinkConfigError(`${where}.url: expected an http:// or https:// URL, got ${JSON.stringify(r.url)}`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SinkConfigError(`${where}.url: expected an http:// or https:// URL, got ${JSON.stringify(r.url)}`);
    const tr = new Reader({ ssl: r.ssl }, where);
    const tls = parseTls(tr);
    if (tr.error !== null) throw new SinkConfigError(tr.error);
    return { url, headers: stringMap(r.headers, `${where}.headers`), connect_timeout: r.connect_timeout as number, pool_size: r.pool_size as number, enable_pipelining: r.enable_pipelining as number, tls };
  },
  parseParameters(raw, where) {
    const r = readFields<Record<string, unknown>>(raw, where, {
      path: str('', 'Path (template) after the connector URL\'s.'),
      method: oneOf(['post', 'put', 'get', 'delete'] as const, 'post', 'HTTP method.'),
      headers: 'any',
      body: str('', 'Body template; empty = the rule output as JSON.'),
      max_retries: int(2, 'Immediate retries of a failed request.', { min: 0, max: 100 }),
      request_timeout: duration('15s', 'How long a request may take.', { min: 1 }),
    });
    const p = { path: r.path as string, method: r.method as string, headers: stringMap(r.headers, `${where}.headers`), body: r.body as string, max_retries: r.max_retries as number, request_timeout: r.request_timeout as number };
    template(p.path, `${where}.path`); template(p.body, `${where}.body`);
    for (const [k, v] of Object.entries(p.headers)) template(v, `${where}.headers.${k}`);
    return p;
  },
  async connect(conf, ctx) {
    const tls = conf.tls === null || conf.url.protocol !== 'https:' ? {} : tlsOptions(conf.tls, process.cwd());
    const pool = new (undici().Pool)(conf.url.origin, {
      connections: conf.pool_size, pipelining: conf.enable_pipelining, keepAliveTimeout: 30_000,
      connect: { timeout: conf.connect_timeout, ...tls },
    });
    const port = Number(conf.url.port || (conf.url.protocol === 'https:' ? 443 : 80));
    const base = conf.url.pathname === '/' ? '' : conf.url.pathname.replace(/\/$/, '');
    const conn: Connection<HttpParams, HttpItem> = {
      prepare: (p) => prepare(pool, conf, base, p),
      health: () => tcpReach(conf.url.hostname, port, conf.connect_timeout),
      close: () => pool.close(),
    };
    void ctx;
    return conn;
  },
};

function prepare(pool: Pool, conf: HttpConnectorConf, base: string, p: HttpParams): PreparedAction<HttpItem> {
  const path = new Template(p.path);
  const body = p.body === '' ? null : new Template(p.body);
  // Action headers override the connector's (names compared case-insensitively).
  const merged = new Map<string, [string, Template]>();
  for (const [k, v] of [...Object.entries(conf.headers), ...Object.entries(p.headers)]) merged.set(k.toLowerCase(), [k, new Template(v)]);
  const headers = [...merged.values()];
  const method = p.method.toUpperCase();
  return {
    render(out) {
      const h: string[] = [];
      for (const [k, t] of headers) h.push(k, t.render(out));
      let rel = path.render(out);
      if (rel !== '' && !rel.startsWith('/')) rel = '/' + rel;
      const pathname = (base + rel) || '/';
      const b = body === null ? JSON.stringify(jsonSafe(out)) : toText(body.value(out));
      if (body === null && !merged.has('content-type')) h.push('content-type', 'application/json');
      return { method, path: pathname + (rel === '' ? conf.url.search : ''), headers: h, body: b };
    },
    async send(items) {
      for (const it of items) await request(pool, it, p);
    },
  };
}

async function request(pool: Pool, it: HttpItem, p: HttpParams): Promise<void> {
  let last: SinkError | null = null;
  for (let attempt = 0; attempt <= p.max_retries; attempt++) {
    try {
      const res = await pool.request({
        method: it.method as 'POST', path: it.path, headers: it.headers,
        body: it.method === 'GET' || it.method === 'DELETE' ? undefined : it.body,
        headersTimeout: p.request_timeout, bodyTimeout: p.request_timeout,
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return;
      const msg = `HTTP ${res.statusCode} from ${it.method} ${it.path}: ${text.slice(0, 200)}`;
      if (res.statusCode < 500) throw new SinkError(msg, false);
      last = new SinkError(msg, true);
    } catch (err) {
      if (err instanceof SinkError) throw err;
      last = new SinkError(`${it.method} ${it.path}: ${(err as Error).message}`, true, { cause: err });
    }
  }
  throw last!;
}

function tcpReach(host: string, port: number, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`connect to ${host}:${port} timed out`)); }, timeout);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(); });
    s.once('error', (err) => { clearTimeout(t); reject(new Error(`connect to ${host}:${port}: ${err.message}`)); });
  });
}
