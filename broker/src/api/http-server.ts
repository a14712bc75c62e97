/**
 * The node's HTTP endpoint (dashboard.listeners.http, default port 18083): health for
 * probes, a REST API shaped like EMQX's /api/v5, Prometheus metrics, and the drain hook
 * the Kubernetes operator calls before a replica pod stops.
 *
 * Access: `/status` and `/api/v5/status` are open (probes). Everything else needs an API
 * key by HTTP Basic (`key:secret` lines in api_key.bootstrap_file); with no keys configured
 * it is served to loopback clients only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseBind, type Config } from '../config/index.js';
import type { PetrelNode } from '../node.js';
import type { Logger } from '../mqtt/channel.js';
import { VERSION } from '../version.js';
import { validTopicName } from '../router/index.js';
import type { Message, QoS } from '../types.js';

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], body: unknown) => void | Promise<void>;
interface Route { method: string; re: RegExp; h: Handler }

export class ApiServer {
  private readonly node: PetrelNode;
  private readonly cfg: Config;
  private readonly log: Logger;
  private readonly server: Server;
  private readonly keys: Map<string, string>;
  private readonly routes: Route[] = [];

  constructor(node: PetrelNode, cfg: Config, log: Logger) {
    this.node = node;
    this.cfg = cfg;
    this.log = log;
    this.keys = loadKeys(cfg.api_key.bootstrap_file);
    this.server = createServer((req, res) => { this.handle(req, res).catch((err) => this.fail(res, 500, 'INTERNAL_ERROR', String(err))); });
    this.defineRoutes();
  }

  async listen(): Promise<void> {
    const b = parseBind(this.cfg.dashboard.listeners.http.bind);
    if (!b.ok) throw new Error(`dashboard.listeners.http.bind: ${b.error}`);
    const { host, port } = b.value;
    await new Promise<void>((ok, bad) => {
      this.server.once('error', (err: NodeJS.ErrnoException) => bad(new Error(
        `listener http:dashboard cannot bind ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
      this.server.listen(port, host, () => ok());
    });
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  close(): Promise<void> {
    return new Promise((ok) => { this.server.close(() => ok()); this.server.closeAllConnections(); });
  }

  private defineRoutes(): void {
    const r = (method: string, path: string, h: Handler): void => {
      this.routes.push({ method, re: new RegExp('^' + path.replace(/:(\w+)/g, '([^/]+)') + '$'), h });
    };
    const b = this.node.broker;
    r('GET', '/api/v5/stats', (_q, res) => this.json(res, 200, this.node.stats()));
    r('GET', '/api/v5/metrics', (_q, res) => this.json(res, 200, { node: this.cfg.node.name, ...b.metrics.snapshot() }));
    r('GET', '/api/v5/nodes', (_q, res) => this.json(res, 200, [this.nodeInfo()]));
    r('GET', '/api/v5/clients', (q, res) => {
      const rows = [...this.node.clients.connections()].map((ch) => {
        const i = ch.info;
        const s = b.sessions.get(i.clientId);
        return {
          clientid: i.clientId, username: i.username, ip_address: i.peerHost, port: i.peerPort, listener: i.listener,
          proto_ver: i.protocolVersion, connected: true, connected_at: new Date(ch.connectedAt).toISOString(),
          subscriptions_cnt: s?.subscriptions.size ?? 0, inflight_cnt: s?.inflight.size ?? 0, mqueue_len: s?.queued ?? 0,
          expiry_interval: s?.expiryInterval ?? 0,
        };
      });
      this.json(res, 200, page(q, rows));
    });
    r('GET', '/api/v5/clients/:id', (_q, res, [id]) => {
      const ch = this.node.clients.get(id);
      const s = b.sessions.get(id);
      if (!ch && !s) return this.fail(res, 404, 'CLIENTID_NOT_FOUND', 'client not found');
      const i = ch?.info;
      this.json(res, 200, {
        clientid: id, connected: !!ch, username: i?.username ?? null, ip_address: i?.peerHost, proto_ver: i?.protocolVersion,
        subscriptions_cnt: s?.subscriptions.size ?? 0, inflight_cnt: s?.inflight.size ?? 0, mqueue_len: s?.queued ?? 0,
        expiry_interval: s?.expiryInterval ?? 0,
      });
    });
    r('DELETE', '/api/v5/clients/:id', (_q, res, [id]) => {
      if (!this.node.clients.discard(id)) return this.fail(res, 404, 'CLIENTID_NOT_FOUND', 'client not found');
      res.writeHead(204).end();
    });
    r('GET', '/api/v5/clients/:id/subscriptions', (_q, res, [id]) => {
      const s = b.sessions.get(id);
      if (!s) return this.fail(res, 404, 'CLIENTID_NOT_FOUND', 'client not found');
      this.json(res, 200, [...s.subscriptions.values()].map(subRow));
    });
    r('GET', '/api/v5/subscriptions', (q, res) => {
      const rows = [];
      for (const s of b.sessions.values()) for (const sub of s.subscriptions.values()) rows.push(subRow(sub));
      this.json(res, 200, page(q, rows));
    });
    r('GET', '/api/v5/topics', (q, res) => this.json(res, 200, page(q, b.state.routes.list())));
    r('GET', '/api/v5/retainer/messages', (q, res) => {
      this.json(res, 200, page(q, [...b.state.retained.values()].map((m) => msgRow(m, false))));
    });
    r('GET', '/api/v5/retainer/message/:topic', (_q, res, [topic]) => {
      const m = b.getRetained(decodeURIComponent(topic));
      if (!m) return this.fail(res, 404, 'NOT_FOUND', 'no retained message on this topic');
      this.json(res, 200, msgRow(m, true));
    });
    r('DELETE', '/api/v5/retainer/message/:topic', (_q, res, [topic]) => {
      const t = decodeURIComponent(topic);
      b.deleteRetained(t);
      res.writeHead(204).end();
    });
    r('POST', '/api/v5/publish', (_q, res, _p, body) => {
      const o = body as { topic?: unknown; payload?: unknown; qos?: unknown; retain?: unknown; payload_encoding?: unknown };
      if (typeof o?.topic !== 'string' || !validTopicName(o.topic, this.cfg.mqtt.max_topic_levels)) return this.fail(res, 400, 'BAD_REQUEST', 'topic must be a valid topic name');
      const qos = o.qos === undefined ? 0 : Number(o.qos);
      if (qos !== 0 && qos !== 1 && qos !== 2) return this.fail(res, 400, 'BAD_REQUEST', 'qos must be 0, 1 or 2');
      const payload = typeof o.payload === 'string' ? Buffer.from(o.payload, o.payload_encoding === 'base64' ? 'base64' : 'utf8') : Buffer.alloc(0);
      const msg = b.newMessage(o.topic, payload, qos as QoS, o.retain === true, null, 'http_api');
      const n = b.publish(msg);
      if (n === 0) return this.json(res, 202, { id: String(msg.id), reason_code: 0x10, message: 'no matching subscribers' });
      this.json(res, 200, { id: String(msg.id) });
    });
    r('POST', '/api/v5/node/drain', async (_q, res, _p, body) => {
      const ref = (body as { server_reference?: string } | null)?.server_reference;
      const n = await this.node.drain(ref);
      this.json(res, 200, { drained: n });
    });
    r('GET', '/api/v5/listeners', (_q, res) => {
      this.json(res, 200, this.node.listeners.list().map((l) => ({ ...l, maxConnections: l.maxConnections === Infinity ? 'infinity' : l.maxConnections })));
    });
    // EMQX: PUT /api/v5/listeners/{id}/{start|stop|restart}
    r('PUT', '/api/v5/listeners/:id/:action', async (_q, res, [id, action]) => {
      const lid = decodeURIComponent(id);
      if (!this.node.listeners.list().some((l) => l.id === lid)) return this.fail(res, 404, 'NOT_FOUND', `no listener ${lid}`);
      try {
        if (action === 'start') await this.node.listeners.startOne(lid);
        else if (action === 'stop') await this.node.listeners.stopOne(lid);
        else if (action === 'restart') await this.node.listeners.restartOne(lid);
        else return this.fail(res, 400, 'BAD_REQUEST', 'action must be start, stop or restart');
      } catch (err) {
        return this.fail(res, 409, 'LISTENER_ERROR', (err as Error).message);
      }
      res.writeHead(204).end();
    });
    r('GET', '/api/v5/prometheus/stats', (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.prometheus());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method === 'GET' && (path === '/status' || path === '/api/v5/status')) {
      const ok = !this.node.draining;
      if (path === '/status') {
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' })
          .end(`Node ${this.cfg.node.name} is ${ok ? 'started' : 'stopping'}\npetrel is ${ok ? 'running' : 'draining'}\n`);
      } else this.json(res, ok ? 200 : 503, { node: this.cfg.node.name, status: ok ? 'running' : 'draining', version: VERSION, uptime: this.uptime() });
      return;
    }
    if (path === '/metrics' && req.method === 'GET') { res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.prometheus()); return; }
    // The drain hook is called by the pod's own preStop (loopback) and needs no key.
    const preStop = path === '/api/v5/node/drain' && isLoopback(req.socket.remoteAddress);
    if (!preStop && !this.authorized(req)) {
      res.setHeader('www-authenticate', 'Basic realm="petrel"');
      return this.fail(res, 401, 'UNAUTHORIZED', this.keys.size === 0 ? 'no API keys configured: the API answers loopback clients only' : 'API key required (HTTP Basic)');
    }
    for (const route of this.routes) {
      const m = route.re.exec(path);
      if (m === null) continue;
      if (route.method !== req.method) continue;
      let body: unknown = null;
      if (req.method === 'POST' || req.method === 'PUT') {
        const raw = await readBody(req, 1024 * 1024);
        if (raw.length > 0) {
          try { body = JSON.parse(raw.toString('utf8')); } catch { return this.fail(res, 400, 'BAD_REQUEST', 'body is not valid JSON'); }
        }
      }
      await route.h(req, res, m.slice(1), body);
      return;
    }
    this.fail(res, 404, 'NOT_FOUND', `no such endpoint: ${req.method} ${path}`);
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.keys.size === 0) return isLoopback(req.socket.remoteAddress);
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Basic ')) return false;
    const [key, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
    const want = this.keys.get(key);
    const got = Buffer.from(rest.join(':'));
    return want !== undefined && want.length === got.length && timingSafeEqual(Buffer.from(want), got);
  }

  private nodeInfo(): object {
    const mem = process.memoryUsage();
    return {
      node: this.cfg.node.name, node_status: this.node.draining ? 'draining' : 'running', version: VERSION,
      role: this.cfg.node.role, region: this.cfg.node.region, uptime: this.uptime(),
      memory_used: mem.rss, connections: this.node.channels.size, otp_release: `node ${process.version}`,
    };
  }

  private uptime(): number { return Math.floor((Date.now() - this.node.broker.metrics.startedAt) / 1000); }

  /** Prometheus text format, EMQX-style names (`emqx_…` becomes `petrel_…`). */
  private prometheus(): string {
    const lines: string[] = [];
    const node = this.cfg.node.name.replace(/"/g, '');
    for (const [k, v] of Object.entries(this.node.stats())) {
      const name = 'petrel_' + k.replace(/[.]/g, '_');
      lines.push(`# TYPE ${name} gauge`, `${name}{node="${node}"} ${v}`);
    }
    for (const [k, v] of Object.entries(this.node.broker.metrics.counters)) {
      const name = 'petrel_' + k.replace(/[.]/g, '_');
      lines.push(`# TYPE ${name} counter`, `${name}{node="${node}"} ${v}`);
    }
    return lines.join('\n') + '\n';
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private fail(res: ServerResponse, status: number, code: string, message: string): void {
    if (res.headersSent) { res.end(); return; }
    this.json(res, status, { code, message });
  }
}

function isLoopback(a: string | undefined): boolean {
  return a !== undefined && (a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'));
}

function loadKeys(file: string): Map<string, string> {
  const keys = new Map<string, string>();
  if (!file) return keys;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const i = t.indexOf(':');
    if (i <= 0) throw new Error(`api_key.bootstrap_file ${file}: lines must be "key:secret"`);
    keys.set(t.slice(0, i), t.slice(i + 1));
  }
  return keys;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((ok, bad) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; if (n > limit) { bad(new Error('body too large')); req.destroy(); } else chunks.push(c); });
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', bad);
  });
}

function page<T>(req: IncomingMessage, rows: T[]): { data: T[]; meta: { page: number; limit: number; count: number } } {
  const u = new URL(req.url ?? '/', 'http://x');
  const limit = Math.max(1, Math.min(10000, Number(u.searchParams.get('limit') ?? 100) || 100));
  const pageNo = Math.max(1, Number(u.searchParams.get('page') ?? 1) || 1);
  return { data: rows.slice((pageNo - 1) * limit, pageNo * limit), meta: { page: pageNo, limit, count: rows.length } };
}

function subRow(s: import('../types.js').Subscription): object {
  return { clientid: s.clientId, topic: s.filter, qos: s.options.qos, nl: s.options.noLocal ? 1 : 0, rap: s.options.retainAsPublished ? 1 : 0, rh: s.options.retainHandling };
}

function msgRow(m: Message, withPayload: boolean): object {
  const o: Record<string, unknown> = { topic: m.topic, qos: m.qos, from_clientid: m.from, publish_at: new Date(m.timestamp).toISOString(), msgid: String(m.id) };
  if (withPayload) o.payload = m.payload.toString('base64');
  return o;
}
