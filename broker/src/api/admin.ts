/**
 * The admin interface: everything the REST API may ask of a node, and nothing more.
 *
 * The API imports no broker module, only these types; `node-admin.ts` (outside api/) adapts
 * a running node to them. So the HTTP layer is tested against a small fake, and the broker's
 * internals can change without touching a route. Rows are already in the REST API's shape
 * (EMQX's snake_case field names), so a route only pages and serialises them.
 */
import type { AuthzAdmin } from './routes/authorization.js';
import type { AuthnAdmin } from '../access/authn/index.js';
import type { RulesAdmin } from './routes/rules.js';
import type { IntegrationAdmin } from './routes/connectors.js';
import type { GatewaysAdmin } from './routes/gateways.js';
import type { Accounts } from './accounts/index.js';
import type { MessagesKind, MessagesPage, MessagesQuery } from './routes/client-messages.js';
import type { DelayedAdmin } from './routes/delayed.js';
import type { AlarmsAdmin } from './routes/alarms.js';
import type { ConfigsAdmin } from './routes/configs.js';
import type { TraceAdmin } from './routes/trace.js';

/** One client: a connected channel, or (from getClient) a session whose client is away. */
export interface ClientView {
  clientid: string;
  /** null while the client is offline: the node keeps no connection details for a bare session. */
  username: string | null;
  ip_address: string | null;
  port: number | null;
  listener: string | null;
  /** 'MQTT' (3.1.1, 5) or 'MQIsdp' (3.1). */
  proto_name: string | null;
  proto_ver: number | null;
  connected: boolean;
  connected_at: string | null;
  /** The client asked for a new session (false while offline). */
  clean_start: boolean;
  /** Seconds, 0 = off (and while offline). */
  keepalive: number;
  /** Session expiry interval in seconds. */
  expiry_interval: number;
  subscriptions_cnt: number;
  inflight_cnt: number;
  mqueue_len: number;
  awaiting_rel_cnt: number;
  node: string;
}

export interface SubscriptionView {
  clientid: string;
  /** The filter as subscribed, e.g. `$share/g/a/+`. */
  topic: string;
  qos: number;
  nl: 0 | 1;
  rap: 0 | 1;
  rh: 0 | 1 | 2;
  node: string;
}

export interface RetainedView {
  topic: string;
  qos: number;
  from_clientid: string;
  publish_at: string;
  msgid: string;
  payload: Buffer;
}

/** A message published through the API; `properties` uses the broker's (mqtt-packet's) names. */
export interface AdminPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: Record<string, unknown> | null;
}

/**
 * EMQX's filters of GET /api/v5/clients, applied on each node to its own rows (`node` picks
 * the nodes asked). Exact matches except the `like_` ones, which are substrings.
 */
export interface ClientFilter {
  node?: string;
  clientid?: string;
  username?: string;
  ip_address?: string;
  proto_ver?: number;
  like_clientid?: string;
  like_username?: string;
  /** connected (the default): clients with a connection; disconnected: sessions whose client is away. */
  conn_state?: 'connected' | 'disconnected';
}

/**
 * One row of /api/v5/nodes: the node's own nodeInfo() plus what membership says of it.
 * A member whose call failed has `node_status: 'unreachable'` and only membership's fields
 * (`connections` and `memory_used` are null).
 */
export interface NodeRow {
  node: string;
  node_status: 'running' | 'draining' | 'unreachable';
  version: string;
  role: string;
  region: string;
  /** Seconds. */
  uptime: number;
  connections: number | null;
  memory_used: number | null;
  /** How this node reaches the row's node: itself, or its link up or down. */
  link_state: 'self' | 'up' | 'down';
  [field: string]: unknown;
}

/** Rows gathered from several nodes, with the nodes that did not answer. */
export interface Gathered<T> {
  rows: T[];
  /** Members whose call failed (down link, timeout, error); their rows are missing. */
  unreachable: string[];
}

/**
 * The cluster-wide reads and actions: each asks every live member (this one included) by a
 * cluster call and merges the answers. On a single node they ask only this node.
 */
export interface ClusterAdmin {
  /** One row per node, in membership order (this node first); a multi-process node's workers are one row (`workers`, `workers_running`). */
  nodes(): Promise<NodeRow[]>;
  /** One row per member: each worker of a multi-process node on its own. */
  workerRows(): Promise<NodeRow[]>;
  /** null = no such member. */
  node(name: string): Promise<NodeRow | null>;
  /** The members' client rows (only `filter.node`'s when given), in membership order. Throws an Error with code 'UNKNOWN_NODE' for a `node` that is not a member. */
  clients(filter: ClientFilter): Promise<Gathered<ClientView>>;
  /** The client's row from the node that holds it (its connection before an offline session); null = none found. */
  client(id: string): Promise<{ row: ClientView | null; unreachable: string[] }>;
  /** Kicks the client on every node that has it; false = none had it. */
  kick(id: string): Promise<{ kicked: boolean; unreachable: string[] }>;
  subscriptions(id: string): Promise<{ rows: SubscriptionView[] | null; unreachable: string[] }>;
  /** A page of the client's queued or in-flight messages from the node holding its session; null = none has it. */
  clientMessages(id: string, kind: MessagesKind, q: MessagesQuery): Promise<{ page: MessagesPage | null; unreachable: string[] }>;
  /** Every node's own routes (topic filter, node). */
  topics(): Promise<Gathered<{ topic: string; node: string }>>;
    /** Per node (`{node, …}`), as EMQX's `aggregate=false`; nodes that fail are left out. */
  statsPerNode(): Promise<Array<Record<string, unknown>>>;
  /** Summed over nodes, except the gauges of what the cluster shares (retained, topics, delayed), taken from this node. */
  statsAggregate(): Promise<Record<string, number>>;
  metricsPerNode(): Promise<Array<Record<string, unknown>>>;
  /** Every counter summed over the nodes that answered. */
  metricsAggregate(): Promise<Record<string, number>>;
  /** Only in a worker of a multi-process node (node.workers): the node's gauges and counters, summed over its workers. */
  statsNode?(): Promise<Record<string, number>>;
  metricsNode?(): Promise<Record<string, number>>;
}

export interface AdminApi {
  readonly nodeName: string;
  /** mqtt.max_topic_levels: the API checks topic names against it before publishing. */
  readonly maxTopicLevels: number;
  /** false while the node drains or stops. */
  running(): boolean;
  uptimeSec(): number;
  /** This node's row of /api/v5/nodes (node, node_status, version, role, region, uptime, memory_used, connections, …). */
  nodeInfo(): Record<string, unknown>;
  /** Gauges (connections.count, sessions.count, …). */
  stats(): Record<string, number>;
  /** Counters, EMQX names (messages.received, …). */
  metrics(): Record<string, number>;
  /** Connected clients. */
  listClients(): ClientView[];
  /** Sessions whose client is away (persistent sessions waiting for it); absent = none are kept. */
  listOfflineSessions?(): ClientView[];
  /** A connected client or an offline session; null when neither exists. */
  getClient(id: string): ClientView | null;
  /** Disconnects the client (v5: DISCONNECT 0x98) and discards its session; false = no such client or session. */
  kickClient(id: string): boolean;
  /** null = no such session. */
  clientSubscriptions(id: string): SubscriptionView[] | null;
  listSubscriptions(): SubscriptionView[];
  /** This node's own routes (topic filter, node): /api/v5/topics gathers them from every node. */
  listTopics(): Array<{ topic: string; node: string }>;
  listRetained(): RetainedView[];
  getRetained(topic: string): RetainedView | null;
  /** false = nothing was retained on the topic. */
  deleteRetained(topic: string): boolean;
  /** `delivered` = number of matching subscriptions the message went to (0 → the API answers 202). */
  publish(m: AdminPublish): Promise<{ id: string; delivered: number }>;
  /** Stops accepting and sends every client elsewhere; resolves to the number of clients moved. */
  drain(serverReference?: string): Promise<number>;
  /** JSON-safe listener rows (id, transport, bind, running, currentConnections, maxConnections, …). */
  listListeners(): Array<Record<string, unknown>>;
  /** A multi-process node (node.workers): the rows of every worker's listeners, connections summed, `running` when every worker runs it, `workers_running`. */
  listListenersNode?(): Promise<Array<Record<string, unknown>>>;
  /** Rejects with an Error whose `code` is 'UNKNOWN_LISTENER' for an unknown id; any other rejection is a failed action. */
  listenerAction(id: string, action: 'start' | 'stop' | 'restart'): Promise<void>;
  /**
   * Lays `body` (some of the listener's config fields) over its config and restarts it with the
   * result; resolves to its new row of listListeners. Rejects with an Error whose `code` is
   * 'UNKNOWN_LISTENER', 'BAD_CONFIG' (the message names the fields) or anything else for a failed start.
   */
  updateListener?(id: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The same reads and kick over every node of the cluster. */
  readonly cluster: ClusterAdmin;
  /** Authorization sources, settings and built-in rules (absent: the routes answer 404). */
  authorization?: AuthzAdmin;
  /** The authentication chain and its user databases (/api/v5/authentication); absent in API-only tests. */
  authn?: AuthnAdmin;
  /** This node's banned list (/api/v5/banned). */
  readonly banned: BannedAdmin;
  /** The rule engine (/api/v5/rules, /api/v5/rule_test); absent in API-only tests. */
  rules?: RulesAdmin;
  /** Connectors, actions and sources (/api/v5/connectors, /api/v5/actions, /api/v5/sources). */
  integration?: IntegrationAdmin;
  /** The gateways (/api/v5/gateways); absent in API-only tests. */
  gateways?: GatewaysAdmin;
  /** API keys made over REST and dashboard users (/api/v5/api_key, /users, /login); absent in API-only tests. */
  accounts?: Accounts;
  /** This node's page of a session's queued or in-flight messages; null = no such session here. */
  clientMessages?(id: string, kind: MessagesKind, q: MessagesQuery): MessagesPage | null;
  /** Delayed publish (/api/v5/mqtt/delayed). */
  delayed?: DelayedAdmin;
  /** This node's alarms (/api/v5/alarms). */
  alarms?: AlarmsAdmin;
  /** The configuration by root, and the roots that can change at run time (/api/v5/configs). */
  configs?: ConfigsAdmin;
  /** Log traces (/api/v5/trace), every node's files. */
  trace?: TraceAdmin;
}

/** A ban as EMQX's API renders it: times in RFC 3339, `until` possibly "infinity". */
export interface BanView { as: string; who: string; by: string; reason: string; at: string; until: string }

export type BanResult = { ok: true; ban: BanView } | { ok: false; error: string; exists?: BanView };

export interface BannedAdmin {
  /** Active bans, oldest first. */
  list(): BanView[];
  /**
   * Adds a ban from EMQX's POST body (as, who, by, reason, at, until): `error` names the bad
   * field; `exists` is the active ban with the same as/who (EMQX: delete it to change it).
   */
  create(body: Record<string, unknown>): BanResult | Promise<BanResult>;
  /** false = no such ban (or `who` is not valid for `as`). A promise settles once the change is stored (cluster-wide on etcd). */
  delete(as: string, who: string): boolean | Promise<boolean>;
  clear(): void | Promise<void>;
}
