/**
 * The admin interface: everything the REST API may ask of a node, and nothing more.
 *
 * The API imports no broker module, only these types; `node-admin.ts` (outside api/) adapts
 * a running node to them. So the HTTP layer is tested against a small fake, and the broker's
 * internals can change without touching a route. Rows are already in the REST API's shape
 * (EMQX's snake_case field names), so a route only pages and serialises them.
 */

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

export interface AdminApi {
  readonly nodeName: string;
  /** mqtt.max_topic_levels: the API checks topic names against it before publishing. */
  readonly maxTopicLevels: number;
  /** false while the node drains or stops. */
  running(): boolean;
  uptimeSec(): number;
  /** One row of /api/v5/nodes (node, node_status, version, role, region, uptime, memory_used, connections, …). */
  nodeInfo(): Record<string, unknown>;
  /** Gauges (connections.count, sessions.count, …). */
  stats(): Record<string, number>;
  /** Counters, EMQX names (messages.received, …). */
  metrics(): Record<string, number>;
  /** Connected clients. */
  listClients(): ClientView[];
  /** A connected client or an offline session; null when neither exists. */
  getClient(id: string): ClientView | null;
  /** Disconnects the client (v5: DISCONNECT 0x98) and discards its session; false = no such client or session. */
  kickClient(id: string): boolean;
  /** null = no such session. */
  clientSubscriptions(id: string): SubscriptionView[] | null;
  listSubscriptions(): SubscriptionView[];
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
  /** Rejects with an Error whose `code` is 'UNKNOWN_LISTENER' for an unknown id; any other rejection is a failed action. */
  listenerAction(id: string, action: 'start' | 'stop' | 'restart'): Promise<void>;
}
