/**
 * The operator as a client of the brokers' HTTP API: GET /api/v5/nodes on the core (through its
 * headless Service) and on each region (through `<name>-<region>-api`), with the operator's key in
 * HTTP Basic. One short-timeout request per target per reconcile; a failure is returned as a
 * message naming the target and URL (it becomes the ClusterJoined condition), never thrown.
 */
import http from 'node:http';
import https from 'node:https';
import type { ResolvedMqttCluster } from '../api/types.js';
import { basicAuth, type ApiKey } from '../desired/api-key.js';
import { API_PORT } from '../desired/config-map.js';
import { names } from '../desired/meta.js';

export const NODES_PATH = '/api/v5/nodes';
export const NODES_TIMEOUT_MS = 3_000;
/** A sane upper bound on one answer (a few hundred members is a few hundred KB at most). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** One row of GET /api/v5/nodes (the fields the operator reads; the broker sends more). */
export interface NodeRow {
  node: string;
  node_status: string;
  role?: string;
  region?: string;
  [k: string]: unknown;
}

/** Where the operator asks: the core, or one region. */
export interface JoinTarget {
  /** 'core' or the region name. */
  group: string;
  /** The MqttCluster's namespace and name. */
  namespace: string;
  cluster: string;
  service: string;
  url: string;
}

/**
 * Overrides the base URL of a Service (tests and out-of-cluster runs reach brokers on loopback or
 * through a port-forward); undefined keeps the in-cluster URL.
 */
export type BrokerApiURLOverride = (namespace: string, service: string) => string | undefined;

/** The base URL of a broker Service's HTTP API: `http://<svc>.<ns>.svc:18083`, unless overridden. */
export function brokerApiBaseURL(cr: ResolvedMqttCluster, service: string, override?: BrokerApiURLOverride): string {
  const base = override?.(cr.metadata.namespace, service) ?? `http://${service}.${cr.metadata.namespace}.svc:${API_PORT}`;
  return base.replace(/\/+$/, '');
}

/** The core's headless Service first, then each region's API Service, in spec order. */
export function joinTargets(cr: ResolvedMqttCluster, override?: BrokerApiURLOverride): JoinTarget[] {
  const t = (group: string, service: string): JoinTarget => ({ group, namespace: cr.metadata.namespace, cluster: cr.metadata.name, service, url: brokerApiBaseURL(cr, service, override) + NODES_PATH });
  return [t('core', names.coreHeadless(cr)), ...cr.spec.regions.map((r) => t(r.name, names.regionApi(cr, r.name)))];
}

export type NodesAnswer = { rows: NodeRow[] } | { error: string };

/** Asks one target; the answer is the rows, or an error message `GET <url>: <why>`. */
export type NodesFetcher = (target: JoinTarget, key: ApiKey, timeoutMs: number) => Promise<NodesAnswer>;

function rowsOf(body: unknown): NodeRow[] | string {
  const list = Array.isArray(body) ? body : (body as { data?: unknown })?.data;
  if (!Array.isArray(list)) return 'expected a JSON array of nodes';
  const rows = list.filter((r): r is NodeRow => typeof r?.node === 'string' && typeof r?.node_status === 'string');
  if (rows.length !== list.length) return 'a node row without node or node_status';
  return rows;
}

/** The real fetcher: node:http(s) with a whole-request timeout. */
export const fetchNodes: NodesFetcher = (target, key, timeoutMs) =>
  new Promise((resolve) => {
    const fail = (why: string): void => resolve({ error: `GET ${target.url}: ${why}` });
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      fail('invalid URL');
      return;
    }
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.get(url, { headers: { authorization: basicAuth(key), accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', (e) => fail(e.message));
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status === 401 || status === 403) return fail(`HTTP ${status}: the broker refused the operator's API key "${key.key}"`);
        if (status !== 200) return fail(`HTTP ${status}`);
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return fail('answer is not JSON');
        }
        const rows = rowsOf(body);
        if (typeof rows === 'string') fail(rows);
        else resolve({ rows });
      });
    });
    // `timeout` above is idle time on the socket; this bounds the whole exchange.
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => {
      clearTimeout(timer);
      fail(e.message);
    });
  });
