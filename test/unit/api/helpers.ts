/**
 * A small in-memory AdminApi and an ApiServer on a loopback port 0 around it, for the HTTP
 * layer's white-box tests: no broker, no MQTT.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminApi, AdminPublish, BannedAdmin, ClientView, ClusterAdmin, RetainedView, SubscriptionView } from '../../../broker/src/api/admin.js';
import { ApiServer } from '../../../broker/src/api/http-server.js';
import { clusterAdmin, registerAdminCalls } from '../../../broker/src/cluster/calls.js';
import type { ClusterCallHandler, MemberView } from '../../../broker/src/cluster/state.js';

export const NODE = 'fake@127.0.0.1';

export function clientRow(id: string): ClientView {
  return {
    clientid: id, username: null, ip_address: '127.0.0.1', port: 50000, listener: 'tcp:default', proto_name: 'MQTT', proto_ver: 5,
    connected: true, connected_at: new Date(0).toISOString(), clean_start: true, keepalive: 60, expiry_interval: 0, subscriptions_cnt: 0,
    inflight_cnt: 0, mqueue_len: 0, awaiting_rel_cnt: 0, node: NODE,
  };
}

export class FakeAdmin implements AdminApi {
  readonly nodeName = NODE;
  readonly maxTopicLevels = 8;
  draining = false;
  clients: ClientView[] = [];
  subs: SubscriptionView[] = [];
  retained: RetainedView[] = [];
  listeners = [{ id: 'tcp:default', running: true }];
  /** Subscribers per topic for publish(); topics not listed have none. */
  subscribers = new Map<string, number>();
  published: AdminPublish[] = [];
  drained: Array<string | undefined> = [];
  listenerCalls: string[] = [];
  listenerFailure: Error | null = null;
  statsThrow = false;
  private nextId = 1;
  /** The fake is a single node: its cluster calls run its own methods, as on the local backend (a test may replace it). */
  cluster: ClusterAdmin;
  /** No bans; the banned routes are tested against a real node (test/integration/44-banned-limits). */
  banned: BannedAdmin = { list: () => [], create: () => ({ ok: false, error: 'not in the fake' }), delete: () => false, clear: () => {} };

  constructor() {
    const handlers = new Map<string, ClusterCallHandler>();
    const self: MemberView = { name: NODE, role: 'core', region: '', version: '0.0.0', startedAt: Date.now() - 42_000, link: '', self: true, linkState: 'self' };
    registerAdminCalls({ handle: (m, fn) => { handlers.set(m, fn); } }, this);
    this.cluster = clusterAdmin({
      nodeName: NODE,
      members: () => [self],
      call: async (node, method, args) => {
        if (node !== NODE) throw new Error(`node ${node} is not a member`);
        return handlers.get(method)!(args, NODE);
      },
    });
  }

  running(): boolean { return !this.draining; }
  uptimeSec(): number { return 42; }
  nodeInfo(): Record<string, unknown> { return { node: NODE, node_status: this.draining ? 'draining' : 'running', uptime: 42 }; }
  stats(): Record<string, number> {
    if (this.statsThrow) throw new Error('stats exploded');
    return { 'connections.count': this.clients.length };
  }
  metrics(): Record<string, number> { return { 'messages.received': 7 }; }
  listClients(): ClientView[] { return this.clients; }
  getClient(id: string): ClientView | null { return this.clients.find((c) => c.clientid === id) ?? null; }
  kickClient(id: string): boolean {
    const n = this.clients.length;
    this.clients = this.clients.filter((c) => c.clientid !== id);
    return this.clients.length < n;
  }
  clientSubscriptions(id: string): SubscriptionView[] | null {
    return this.getClient(id) === null ? null : this.subs.filter((s) => s.clientid === id);
  }
  listSubscriptions(): SubscriptionView[] { return this.subs; }
  listTopics(): Array<{ topic: string; node: string }> { return [...new Set(this.subs.map((s) => s.topic))].map((topic) => ({ topic, node: NODE })); }
  listRetained(): RetainedView[] { return this.retained; }
  getRetained(topic: string): RetainedView | null { return this.retained.find((m) => m.topic === topic) ?? null; }
  deleteRetained(topic: string): boolean {
    const n = this.retained.length;
    this.retained = this.retained.filter((m) => m.topic !== topic);
    return this.retained.length < n;
  }
  async publish(m: AdminPublish): Promise<{ id: string; delivered: number }> {
    this.published.push(m);
    return { id: String(this.nextId++), delivered: this.subscribers.get(m.topic) ?? 0 };
  }
  async drain(ref?: string): Promise<number> { this.draining = true; this.drained.push(ref); return this.clients.length; }
  listListeners(): Array<Record<string, unknown>> { return this.listeners; }
  async listenerAction(id: string, action: 'start' | 'stop' | 'restart'): Promise<void> {
    if (!this.listeners.some((l) => l.id === id)) throw Object.assign(new Error(`no listener ${id}`), { code: 'UNKNOWN_LISTENER' });
    if (this.listenerFailure) throw this.listenerFailure;
    this.listenerCalls.push(`${action} ${id}`);
  }
}

export interface TestApi {
  admin: FakeAdmin;
  server: ApiServer;
  base: string;
  logged: object[];
  close(): Promise<void>;
}

/** Starts an ApiServer on 127.0.0.1:0 (or `host`); `keys` are written to an api_key.bootstrap_file. */
export async function startApi(o: { keys?: string; host?: string; maxBodyBytes?: number } = {}): Promise<TestApi> {
  const admin = new FakeAdmin();
  let dir: string | null = null;
  let apiKeyFile = '';
  if (o.keys !== undefined) {
    dir = mkdtempSync(join(tmpdir(), 'petrel-api-'));
    apiKeyFile = join(dir, 'keys');
    writeFileSync(apiKeyFile, o.keys);
  }
  const logged: object[] = [];
  const host = o.host ?? '127.0.0.1';
  const server = new ApiServer(admin, { bind: `${host.includes(':') ? `[${host}]` : host}:0`, apiKeyFile, maxBodyBytes: o.maxBodyBytes }, { error: (x) => { logged.push(x); } });
  await server.listen();
  return {
    admin, server, logged, base: `http://127.0.0.1:${server.port}`,
    async close() { await server.close(); if (dir) rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function call(t: TestApi, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const r = await fetch(t.base + path, init);
  const text = await r.text();
  let json: any = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}
