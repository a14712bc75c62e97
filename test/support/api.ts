/**
 * Test support: the node's REST API (/api/v5, EMQX-shaped) as the integration tests see it.
 * These are the only views of broker state the black-box tests use besides MQTT itself, so
 * they keep working when one node becomes a cluster: no test reads the broker's objects.
 * The API answers loopback clients without a key when no API keys are configured.
 */

/**
 * Anything with the HTTP port of a node (a TestBroker, a cluster node). `apiHost` defaults to
 * 127.0.0.1; `apiAuth` ("key:secret") is sent as HTTP Basic, needed when the node has API keys
 * or is reached from outside loopback (a node in a test network namespace).
 */
export interface HasApi { apiPort: number; apiHost?: string; apiAuth?: string }

/** GET /api/v5/clients/:id: a connected client or a disconnected persistent session. */
export interface ClientInfo {
  clientid: string;
  connected: boolean;
  username: string | null;
  proto_ver?: number;
  subscriptions_cnt: number;
  inflight_cnt: number;
  mqueue_len: number;
  expiry_interval: number;
}

/** One row of /api/v5/subscriptions and /api/v5/clients/:id/subscriptions. */
export interface SubscriptionRow { clientid: string; topic: string; qos: number; nl: number; rap: number; rh: number }

/** GET /api/v5/retainer/message/:topic (payload in base64). */
export interface RetainedRow { topic: string; qos: number; payload: string; from_clientid: string | null }

/** A request to the node's HTTP endpoint; `path` starts with '/'. */
export function api(b: HasApi, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (b.apiAuth !== undefined && !headers.has('authorization')) headers.set('authorization', `Basic ${Buffer.from(b.apiAuth).toString('base64')}`);
  return fetch(`http://${b.apiHost ?? '127.0.0.1'}:${b.apiPort}${path}`, { ...init, headers });
}

/** GET returning JSON; fails the test on any status other than 200. */
export async function getJson<T>(b: HasApi, path: string): Promise<T> {
  const r = await api(b, path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${await r.text()}`);
  return await r.json() as T;
}

/** GET returning JSON, or undefined on 404; fails on any other status. */
async function getOrNone<T>(b: HasApi, path: string): Promise<T | undefined> {
  const r = await api(b, path);
  if (r.status === 404) { await r.body?.cancel(); return undefined; }
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${await r.text()}`);
  return await r.json() as T;
}

/** The client/session with this id, or undefined when the node has neither (404). */
export function clientInfo(b: HasApi, id: string): Promise<ClientInfo | undefined> {
  return getOrNone<ClientInfo>(b, `/api/v5/clients/${encodeURIComponent(id)}`);
}

/** The subscriptions of this client's session, or undefined when there is no session (404). */
export function clientSubscriptions(b: HasApi, id: string): Promise<SubscriptionRow[] | undefined> {
  return getOrNone<SubscriptionRow[]>(b, `/api/v5/clients/${encodeURIComponent(id)}/subscriptions`);
}

/** Every subscription of every session on the node. */
export async function subscriptions(b: HasApi): Promise<SubscriptionRow[]> {
  return (await getJson<{ data: SubscriptionRow[] }>(b, '/api/v5/subscriptions?limit=10000')).data;
}

/** Every topic filter the node routes. */
export async function topics(b: HasApi): Promise<string[]> {
  return (await getJson<{ data: Array<{ topic: string }> }>(b, '/api/v5/topics?limit=10000')).data.map((t) => t.topic);
}

/** The retained message on this topic, or undefined when there is none (404). */
export function retainedMessage(b: HasApi, topic: string): Promise<RetainedRow | undefined> {
  return getOrNone<RetainedRow>(b, `/api/v5/retainer/message/${encodeURIComponent(topic)}`);
}

/** Node-wide counters (`messages.received`, `delivery.dropped.too_large`, …). */
export function metrics(b: HasApi): Promise<Record<string, number>> {
  return getJson<Record<string, number>>(b, '/api/v5/metrics');
}

/** Gauges (`connections.count`, `sessions.count`, `subscriptions.count`, …). */
export function stats(b: HasApi): Promise<Record<string, number>> {
  return getJson<Record<string, number>>(b, '/api/v5/stats');
}

/** One row of /api/v5/nodes. */
export interface NodeRow { node: string; node_status: string; version: string; role: string; region: string; uptime: number; connections: number }

/** The nodes this node knows of (itself included). */
export function nodes(b: HasApi): Promise<NodeRow[]> {
  return getJson<NodeRow[]>(b, '/api/v5/nodes');
}

/** Every route of the node's table: a topic filter and the node that holds subscribers to it. */
export async function routes(b: HasApi): Promise<Array<{ topic: string; node: string }>> {
  return (await getJson<{ data: Array<{ topic: string; node: string }> }>(b, '/api/v5/topics?limit=10000')).data;
}
