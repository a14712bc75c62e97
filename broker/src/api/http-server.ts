/**
 * The node's HTTP endpoint (dashboard.listeners.http, default port 18083): health for probes,
 * a REST API shaped like EMQX's /api/v5, Prometheus metrics, and the drain hook the Kubernetes
 * operator calls before a replica pod stops. Endpoints, access and errors: docs/api.md.
 *
 * This file is the HTTP layer only: listen, find the route, check access, read and parse the
 * body, run the route's handler, write its reply, and turn every ApiError (or crash) into a
 * `{code, message}` response. What each endpoint does lives in routes/; what it may ask of
 * the node is the AdminApi.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseBind } from '../config/bind.js';
import type { AdminApi } from './admin.js';
import { ApiError } from './errors.js';
import { Router } from './router.js';
import { ROUTES } from './routes/index.js';
import type { RawBody, Reply, Route } from './route.js';
import { identify, loadKeys } from './auth.js';
import type { Caller } from './accounts/roles.js';
import { DashboardFiles } from './dashboard-files.js';
import { Monitor, registerMonitor } from './monitor.js';

export interface ApiServerOptions {
  /** "port", "host:port" or "[ipv6]:port" (dashboard.listeners.http.bind). */
  bind: string;
  /** api_key.bootstrap_file; '' = no keys (loopback clients only). */
  apiKeyFile: string;
  /** Largest request body; 1 MiB when omitted. */
  maxBodyBytes?: number;
  /** The built dashboard served at `/`; dist/dashboard/ when omitted. */
  dashboardDir?: string;
  /** /api/v5/monitor's sampling interval; 10 s when omitted. */
  monitorIntervalMs?: number;
}

export interface ApiLogger {
  error(o: object, m?: string): void;
}

const MAX_BODY = 1024 * 1024;

export class ApiServer {
  private readonly admin: AdminApi;
  private readonly log: ApiLogger;
  private readonly bind: string;
  private readonly maxBody: number;
  private readonly keys: Map<string, string>;
  private readonly router: Router;
  private readonly server: Server;
  private readonly dashboard: DashboardFiles;
  private readonly monitor: Monitor;

  constructor(admin: AdminApi, opts: ApiServerOptions, log: ApiLogger, routes: readonly Route[] = ROUTES) {
    this.admin = admin;
    this.log = log;
    this.bind = opts.bind;
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY;
    this.keys = loadKeys(opts.apiKeyFile);
    this.router = new Router(routes);
    this.dashboard = new DashboardFiles(opts.dashboardDir);
    this.monitor = new Monitor(admin, opts.monitorIntervalMs);
    registerMonitor(admin, this.monitor);
    this.server = createServer((req, res) => { this.handle(req, res).catch((err) => this.failed(req, res, err)); });
  }

  async listen(): Promise<void> {
    const b = parseBind(this.bind);
    if (!b.ok) throw new Error(`dashboard.listeners.http.bind: ${b.error}`);
    const { host, port } = b.value;
    await new Promise<void>((ok, bad) => {
      this.server.once('error', (err: NodeJS.ErrnoException) => bad(new Error(
        `listener http:dashboard cannot bind ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
      this.server.listen(port, host, () => ok());
    });
    this.monitor.start();
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  close(): Promise<void> {
    this.monitor.stop();
    return new Promise((ok) => { this.server.close(() => ok()); this.server.closeAllConnections(); });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const m = this.router.find(req.method ?? 'GET', path);
    if (m.kind === 'none' && this.dashboard.serve(req, res, url.pathname)) return;
    if (m.kind === 'none' && path === '/') throw new ApiError('NOT_FOUND', 'the dashboard is not built: run "make build"');
    if (m.kind === 'none') throw new ApiError('NOT_FOUND', `no such endpoint: ${req.method} ${path}`);
    if (m.kind === 'method') {
      throw new ApiError('METHOD_NOT_ALLOWED', `${path} does not take ${req.method}; it takes ${m.allow.join(', ')}`, { allow: m.allow.join(', ') });
    }
    const caller = this.checkAccess(m.route, req);
    this.router.authorize(m.compiled, m.rawParams, caller);
    const r = this.router.request(m.compiled, m.rawParams, url.searchParams);
    let body: unknown = null;
    if (m.route.rawBody === true) {
      body = { contentType: req.headers['content-type'] ?? '', raw: await readBody(req, this.maxBody) } satisfies RawBody;
    } else if (m.route.body !== undefined) {
      body = await this.readJson(req);
      this.router.body(m.compiled, body);
    }
    send(res, await m.route.handler({ ...r, body, caller, peer: req.socket.remoteAddress ?? '' }, this.admin));
  }

  /** null on `open` routes, which read no credentials (a scraper's stale ones do not matter). */
  private checkAccess(route: Route, req: IncomingMessage): Caller | null {
    const access = route.access ?? 'key';
    if (access === 'open') return null;
    return identify(access, req.headers.authorization, req.socket.remoteAddress, this.keys, this.admin.accounts);
  }

  /** The body as JSON; an empty body reads as `{}`. */
  private async readJson(req: IncomingMessage): Promise<unknown> {
    if (!jsonMediaType(req.headers['content-type'])) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `content-type ${req.headers['content-type']} is not JSON`);
    }
    const raw = await readBody(req, this.maxBody);
    if (raw.length === 0) return {};
    try { return JSON.parse(raw.toString('utf8')); } catch (err) {
      throw new ApiError('BAD_REQUEST', `body is not valid JSON: ${(err as Error).message}`);
    }
  }

  private failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    // A change the cluster's store (etcd) did not take: the node is fine, the request may be retried.
    const unstored = !(err instanceof ApiError) && (err as { code?: unknown } | null)?.code === 'CLUSTER_WRITE_FAILED';
    const e = err instanceof ApiError ? err : unstored ? new ApiError('SERVICE_UNAVAILABLE', (err as Error).message) : new ApiError('INTERNAL_ERROR', String(err));
    if (!(err instanceof ApiError) && !unstored) this.log.error({ err, method: req.method, url: req.url }, 'REST API handler failed');
    if (res.headersSent) { res.end(); return; }
    // A body left unread (too large, or never read) would be taken for the next request.
    if (!req.complete) res.setHeader('connection', 'close');
    res.writeHead(e.status, { 'content-type': 'application/json', ...withoutBrowserChallenge(req, e.headers) }).end(JSON.stringify({ code: e.code, message: e.message }));
  }
}

/**
 * A script on a page from this server (the dashboard's fetch) gets no `WWW-Authenticate: Basic`:
 * browsers answer that challenge with their own password dialog (headless ones by waiting),
 * while the dashboard wants the 401 to show its login page. Browsers mark such a request with
 * Sec-Fetch-Site `same-origin` and a Sec-Fetch-Mode other than `navigate`; curl, Node's fetch
 * and other clients send no Sec-Fetch-Site and keep the challenge.
 */
function withoutBrowserChallenge(req: IncomingMessage, headers: Record<string, string> | null): Record<string, string> | null {
  if (headers === null || headers['www-authenticate'] === undefined) return headers;
  if (req.headers['sec-fetch-site'] !== 'same-origin' || req.headers['sec-fetch-mode'] === 'navigate') return headers;
  const { 'www-authenticate': _challenge, ...rest } = headers;
  return rest;
}

function send(res: ServerResponse, r: Reply): void {
  if (r.text !== undefined) { res.writeHead(r.status, { ...r.headers, 'content-type': r.contentType ?? 'text/plain' }).end(r.text); return; }
  if (r.body === undefined) { res.writeHead(r.status).end(); return; }
  res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
}

/**
 * JSON is what we read; besides application/json (and `+json` types) we take text/plain and
 * application/x-www-form-urlencoded as JSON too, since that is what `fetch(url, {body})` and
 * `curl -d` send unless told otherwise (and the preStop hook and `petrel ctl` send no type).
 */
function jsonMediaType(ct: string | undefined): boolean {
  if (ct === undefined || ct === '') return true;
  const t = ct.split(';', 1)[0].trim().toLowerCase();
  return t === 'application/json' || t.endsWith('+json') || t === 'text/plain' || t === 'application/x-www-form-urlencoded';
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new ApiError('PAYLOAD_TOO_LARGE', `body of ${declared} bytes is over the limit of ${limit}`));
  return new Promise((ok, bad) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer): void => {
      n += c.length;
      if (n <= limit) { chunks.push(c); return; }
      req.off('data', onData);
      req.resume();
      bad(new ApiError('PAYLOAD_TOO_LARGE', `body is over the limit of ${limit} bytes`));
    };
    req.on('data', onData);
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', bad);
  });
}
