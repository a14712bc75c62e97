/**
 * The AdminApi (api/admin.ts) over a running node: the only file that knows both the REST API's
 * view of a node and the broker's insides. The API asks through it and imports nothing else of
 * the broker, so when the internals move only this file follows them.
 */
import { workerIndex } from './workers/worker.js';
import { workerListenersAdmin } from './workers/listeners-admin.js';
import { loadavg } from 'node:os';
import type { AdminApi, ClientView, RetainedView, SubscriptionView } from './api/admin.js';
import type { PetrelNode } from './node.js';
import type { ClientConnection } from './clients/client-manager.js';
import type { Session } from './session/session.js';
import type { Message, PublishProperties, QoS, Subscription } from './types.js';
import { VERSION } from './version.js';
import { clusterAdmin } from './cluster/calls.js';
import { bannedAdmin } from './access/banned-admin.js';
import { listenerUpdate } from './config/listener-update.js';
import type { ListenerStatus } from './transport/listener.js';

export function nodeAdmin(node: PetrelNode): AdminApi {
  const cfg = node.config;
  const b = node.broker;
  const name = cfg.node.name;

  const sessionCounts = (s: Session | undefined) => ({
    expiry_interval: s?.expiryInterval ?? 0,
    subscriptions_cnt: s?.subscriptions.size ?? 0,
    inflight_cnt: s?.inflightCount ?? 0,
    mqueue_len: s?.queued ?? 0,
    awaiting_rel_cnt: s?.awaitingRelCount ?? 0,
  });

  const online = (ch: ClientConnection): ClientView => {
    const i = ch.info;
    return {
      clientid: i.clientId, username: i.username, ip_address: i.peerHost, port: i.peerPort, listener: i.listener,
      proto_name: i.protocol === 'mqtt' ? (i.protocolVersion === 3 ? 'MQIsdp' : 'MQTT') : i.protocol, proto_ver: i.protocolVersion,
      connected: true, connected_at: new Date(ch.connectedAt).toISOString(),
      clean_start: ch.cleanStart, keepalive: ch.keepalive,
      ...sessionCounts(b.sessions.get(i.clientId)), node: name,
    };
  };

  const offline = (s: Session): ClientView => ({
    clientid: s.clientId, username: null, ip_address: null, port: null, listener: null, proto_name: null, proto_ver: null,
    connected: false, connected_at: null, clean_start: false, keepalive: 0, ...sessionCounts(s), node: name,
  });

  const sub = (s: Subscription): SubscriptionView => ({
    clientid: s.clientId, topic: s.filter, qos: s.options.qos, nl: s.options.noLocal ? 1 : 0,
    rap: s.options.retainAsPublished ? 1 : 0, rh: s.options.retainHandling, node: name,
  });

  const retained = (m: Message): RetainedView => ({
    topic: m.topic, qos: m.qos, from_clientid: m.from, publish_at: new Date(m.timestamp).toISOString(), msgid: String(m.id), payload: m.payload,
  });

  const uptimeSec = (): number => Math.floor((Date.now() - b.metrics.startedAt) / 1000);

  const admin: AdminApi = {
    nodeName: name,
    maxTopicLevels: cfg.mqtt.max_topic_levels,
    running: () => !node.draining,
    uptimeSec,
    nodeInfo() {
      const [load1, load5, load15] = loadavg();
      return {
        node: name, node_status: node.draining ? 'draining' : 'running', version: VERSION,
        role: cfg.node.role, region: cfg.node.region, uptime: uptimeSec(),
        memory_used: process.memoryUsage().rss, connections: node.channels.size, live_connections: node.clients.size,
        load1: round2(load1), load5: round2(load5), load15: round2(load15), otp_release: `node ${process.version}`,
      };
    },
    stats: () => node.stats(),
    // With the rule engine's drops (a full evaluation or action queue: the publisher never waited).
    metrics: () => ({ ...b.metrics.snapshot(), 'rules.dropped': node.rules.dropped }),
    listClients: () => [...node.clients.connections()].map(online),
    listOfflineSessions() {
      const rows: ClientView[] = [];
      for (const s of b.sessions.values()) if (node.clients.get(s.clientId) === undefined) rows.push(offline(s));
      return rows;
    },
    getClient(id) {
      const ch = node.clients.get(id);
      if (ch !== undefined) return online(ch);
      const s = b.sessions.get(id);
      return s === undefined ? null : offline(s);
    },
    // Kicking ends the connection; the session (persistent or not) goes too.
    kickClient: (id) => node.clients.discard(id),
    banned: bannedAdmin(node.banned.list),
    clientSubscriptions(id) {
      const s = b.sessions.get(id);
      return s === undefined ? null : [...s.subscriptions.values()].map(sub);
    },
    listSubscriptions() {
      const rows: SubscriptionView[] = [];
      for (const s of b.sessions.values()) for (const x of s.subscriptions.values()) rows.push(sub(x));
      return rows;
    },
    listTopics: () => b.state.routes.list().filter((r) => r.node === b.nodeName),
    listRetained: () => [...b.state.retained.values()].map(retained),
    getRetained(topic) {
      const m = b.getRetained(topic);
      return m === undefined ? null : retained(m);
    },
    deleteRetained: (topic) => b.deleteRetained(topic),
    async publish(m) {
      const msg = b.newMessage(m.topic, m.payload, m.qos as QoS, m.retain, m.properties as PublishProperties | null, 'http_api');
      return { id: String(msg.id), delivered: b.publish(msg) };
    },
    drain: (ref) => node.drain(ref),
    listListeners: () => node.listeners.list().map(listenerRow),
    async updateListener(id, body) {
      const current = node.listeners.configOf(id);
      const got = listenerUpdate(id.slice(0, id.indexOf(':')), current as unknown as Record<string, unknown>, body);
      if (!got.ok) throw Object.assign(new Error(got.error), { code: 'BAD_CONFIG' });
      await node.listeners.updateOne(id, got.cfg as unknown as typeof current);
      return listenerRow(node.listeners.list().find((l) => l.id === id)!);
    },
    async listenerAction(id, action) {
      if (action === 'start') await node.listeners.startOne(id);
      else if (action === 'stop') await node.listeners.stopOne(id);
      else await node.listeners.restartOne(id);
    },
    cluster: clusterAdmin(b.state, { workers: workerIndex > 0 }),
  };
  // Every worker of a multi-process node runs the node's listeners: an action on one is an action on all.
  if (workerIndex > 0) Object.assign(admin, workerListenersAdmin(b.state, { ...admin, updateListener: admin.updateListener! }));
  return admin;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** A listener's status as JSON: no limit is "infinity". */
const listenerRow = (l: ListenerStatus): Record<string, unknown> => ({ ...l, maxConnections: l.maxConnections === Infinity ? 'infinity' : l.maxConnections });
