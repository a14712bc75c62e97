/**
 * A Petrel node: the config turned into running parts — store, broker, listeners, the
 * REST/status API and $SYS — and their orderly stop. `main.ts` is the CLI around it;
 * tests start nodes in-process with `startNode()`.
 */
import { resolve } from 'node:path';
import type { Config } from './config/index.js';
import { openStore, memoryStore, type Store } from './store/index.js';
import { Listeners, type Connection, type ListenerSpec } from './transport/index.js';
import { Broker } from './broker.js';
import { Channel } from './mqtt/channel.js';
import type { Logger } from './log.js';
import { Alarms, ALARM_SAMPLE_TICKS, alarmSample } from './alarms.js';
import { clientMessages, configsAdmin, delayedAdmin } from './node-admin-extras.js';
import type { ChannelSettings } from './mqtt/settings.js';
import { ClientManager } from './clients/client-manager.js';
import { LocalClusterState } from './cluster/local.js';
import type { ClusterState } from './cluster/state.js';
import { joinCluster, type Joined } from './cluster/join.js';
import { BackupStore } from './cluster/session-backup.js';
import { SysPublisher } from './sys.js';
import { ApiServer } from './api/http-server.js';
import { Accounts } from './api/accounts/index.js';
import { nodeAdmin } from './node-admin.js';
import { registerAdminCalls } from './cluster/calls.js';
import { NEVER_EXPIRE } from './session/registry.js';
import type { PublishProperties, QoS } from './types.js';
import { validTopicName } from './router/index.js';
import type { ErrorCode } from './errors.js';
import type { AccessContext } from './access/types.js';
import { installAuthz, authzSettingsSet, ClientAclMap, type AuthzService } from './access/authz/index.js';
import { asShared } from './access/shared-store.js';
import { startBanned, type BannedRuntime } from './access/banned-setup.js';
import { installAuthn, type AuthnService } from './access/authn/index.js';
import { RuleEngine } from './rules/engine.js';
import { DataIntegration } from './rules/connectors/integration.js';
import { GatewayRegistry } from './gateway/registry.js';
import { installTopicRewrite } from './transform/topic-rewrite.js';
import { installAutoSubscribe } from './transform/auto-subscribe.js';
import { TraceService } from './trace/service.js';

export interface PetrelNode {
  readonly config: Config;
  readonly broker: Broker;
  /** The broker's hook points (node.broker.hooks): authentication, authorization, message and client events. */
  readonly hooks: Broker['hooks'];
  /** Publishes a message as the broker itself (like Aedes' publish); returns how many deliveries it made on this node. */
  publish(topic: string, payload: string | Buffer, opts?: { qos?: QoS; retain?: boolean; properties?: PublishProperties | null }): number;
  /** Connected clients and their lifecycle (takeover, wills, expiry). */
  readonly clients: ClientManager;
  readonly listeners: Listeners;
  readonly api: ApiServer | null;
  readonly store: Store;
  /** The banned list and flapping detection (docs/banned-and-limits.md). */
  readonly banned: BannedRuntime;
  /** The rule engine (docs/rules.md): rule_engine.rules and /api/v5/rules. */
  readonly rules: RuleEngine;
  /** Connectors, actions and sources (docs/data-integration.md). */
  readonly integration: DataIntegration;
  /** The gateways (docs/gateways.md): gateway.mqttsn and /api/v5/gateways. */
  readonly gateways: GatewayRegistry;
  /** All live MQTT channels, connected or not. */
  readonly channels: Set<Channel>;
  /** Gauges: connections, sessions, subscriptions, topics, retained, delayed (REST /stats and $SYS stats/). */
  stats(): Record<string, number>;
  /** Port a listener is bound to (useful with port 0), e.g. port('tcp:default'). */
  port(id: string): number;
  /** Stops accepting, closes every client (v5: DISCONNECT with the reason), persists, closes the store. */
  stop(code?: ErrorCode): Promise<void>;
  /** Stops accepting and sends every client elsewhere (DISCONNECT 0x9C); the node keeps running until stop(). */
  drain(serverReference?: string): Promise<number>;
  readonly draining: boolean;
}

const secs = (ms: number): number => (ms === Infinity ? NEVER_EXPIRE : Math.round(ms / 1000));

export function channelSettings(cfg: Config): ChannelSettings {
  const m = cfg.mqtt;
  return {
    maxPacketSize: m.max_packet_size,
    maxClientIdLen: m.max_clientid_len,
    maxTopicLevels: m.max_topic_levels,
    maxQosAllowed: m.max_qos_allowed as QoS,
    maxTopicAlias: m.max_topic_alias,
    retainAvailable: m.retain_available && cfg.retainer.enable,
    wildcardSubscription: m.wildcard_subscription,
    sharedSubscription: m.shared_subscription,
    exclusiveSubscription: m.exclusive_subscription,
    idleTimeoutMs: m.idle_timeout,
    keepaliveMultiplier: m.keepalive_multiplier,
    serverKeepalive: typeof m.server_keepalive === 'number' ? m.server_keepalive : null,
    maxSubscriptions: m.max_subscriptions,
    maxAwaitingRel: m.max_awaiting_rel === 0 ? 65535 : m.max_awaiting_rel,
    sessionExpirySec: secs(m.session_expiry_interval),
    durableAcks: cfg.durability.mode === 'sync',
    maxWillDelaySec: secs(m.max_will_delay),
    responseInformation: m.response_information,
    messageExpiryMaxMs: m.message_expiry_interval,
    peerCertAsUsername: m.peer_cert_as_username,
    peerCertAsClientid: m.peer_cert_as_clientid,
  };
}

/** Each listener's bind and own authentication chain (null = the global one). */
function listenerAuthn(cfg: Config): Array<{ id: string; bind: string; enable: boolean; authentication: Config['authentication'] | null }> {
  const out = [];
  for (const type of ['tcp', 'ssl', 'ws', 'wss'] as const) {
    for (const [name, l] of Object.entries(cfg.listeners[type])) out.push({ id: `${type}:${name}`, bind: l.bind, enable: l.enable, authentication: l.authentication });
  }
  return out;
}

export async function startNode(cfg: Config, log: Logger): Promise<PetrelNode> {
  const dir = resolve(cfg.node.data_dir);
  const store = cfg.durability.mode === 'none' && dir === '' ? memoryStore()
    : await openStore({
      dir, mode: cfg.durability.mode, flushIntervalMs: cfg.durability.flush_interval,
      onError: (err) => log.error({ err }, 'store commit failed; retrying'),
    });
  const m = cfg.mqtt;
  let joined: Joined | null = null;
  let state: ClusterState;
  if (cfg.cluster.backend === 'etcd') {
    try { joined = await joinCluster(cfg, log); } catch (err) { await store.close(); throw err; }
    state = joined.state;
  } else {
    state = new LocalClusterState(cfg.node.name, store, {
      maxDelayed: cfg.delayed.max_delayed_messages, role: cfg.node.role, region: cfg.node.region, strategy: m.shared_subscription_strategy,
    });
  }
  // In a cluster, persistent sessions are mirrored to a backup node as they are written.
  let sessionStore: Store = store;
  if (joined !== null) {
    const st = joined.state;
    const mirrored = new BackupStore(store, { backupNode: () => st.backupNode(), call: (n, m, a, t) => st.call(n, m, a, t), log });
    st.onMembers = () => mirrored.resync();
    st.backupStats = () => mirrored.counters;
    sessionStore = mirrored;
  }
  const broker = new Broker({
    nodeName: cfg.node.name,
    store: sessionStore,
    state,
    log,
    limits: {
      maxInflight: m.max_inflight,
      maxQueue: m.max_mqueue_len === 0 ? Infinity : m.max_mqueue_len,
      storeQos0: m.mqueue_store_qos0,
      dropPolicy: m.mqueue_drop_policy,
      maxAwaitingRel: m.max_awaiting_rel,
      awaitRelTimeoutMs: m.await_rel_timeout,
      retryIntervalMs: m.retry_interval === Infinity ? 0 : m.retry_interval,
    },
    sharedStrategy: m.shared_subscription_strategy,
    upgradeQos: m.upgrade_qos,
    ignoreLoopDeliver: m.ignore_loop_deliver,
    retainer: {
      enable: cfg.retainer.enable && m.retain_available,
      maxRetained: cfg.retainer.max_retained_messages,
      maxPayloadSize: cfg.retainer.max_payload_size,
      msgExpiryMs: cfg.retainer.msg_expiry_interval,
    },
    delayed: { enable: cfg.delayed.enable },
    sysEvents: { connected: cfg.sys_topics.sys_event_messages.client_connected, disconnected: cfg.sys_topics.sys_event_messages.client_disconnected },
    authorization: {
      cache: { enable: cfg.authorization.cache.enable, maxSize: cfg.authorization.cache.max_size, ttlMs: cfg.authorization.cache.ttl },
      noMatch: cfg.authorization.no_match,
      denyAction: cfg.authorization.deny_action,
    },
  });
  if (joined !== null) {
    const link = joined.link;
    broker.forwarder = (to, msg, plain, groups, acked) => link.forward(to, msg, plain, groups, acked);
    broker.clusterBusy = () => link.congested;
    link.onRelief = () => broker.relieved();
    // durability.mode sync: a forwarded QoS 1/2 message is acknowledged to its node once it is
    // committed here (and mirrored to this node's backup) — the sender's publisher waits for that.
    const syncAcks = cfg.durability.mode === 'sync';
    joined.onDeliver = (_from, msg, plain, groups) => {
      broker.dispatchRemote(msg, plain, groups);
      if (msg.qos === 0) return undefined;
      const slow = broker.remoteBackPressure();
      // Subscribers here are behind: later messages from that node wait on the link, not in their queues.
      if (slow !== null) link.holdDelivery(slow);
      if (!syncAcks) return slow ?? undefined;
      return slow === null ? broker.store.flush() : Promise.all([slow, broker.store.flush()]);
    };
  }
  // Users, rules, bans and REST-changed chains: the node's store, or etcd shared by the cluster.
  const shared = joined !== null ? joined.access : asShared(store);
  const access: AccessContext = { store, shared, log, configDir: process.cwd(), clientAcl: new ClientAclMap() };
  let authz: AuthzService;
  try {
    authz = installAuthz({
      ctx: access, hooks: broker.hooks, authorizer: broker.authorizer, sources: cfg.authorization.sources,
      settingsFromFile: authzSettingsSet(cfg.authorization),
    });
  } catch (err) {
    if (joined !== null) await joined.leave();
    await store.close();
    throw err;
  }
  let authn: AuthnService;
  try {
    authn = await installAuthn({ hooks: broker.hooks, ctx: access, nodeName: cfg.node.name, global: cfg.authentication, listeners: listenerAuthn(cfg) });
  } catch (err) {
    await authz.close();
    if (joined !== null) await joined.leave();
    await store.close();
    throw err;
  }
  const clients = new ClientManager(broker, log);
  const banned = startBanned(cfg, shared, broker.hooks, clients, broker.metrics.counters, log);
  // Integration and rules refer to each other: actions report outcomes to rules, sources feed them.
  let rulesRef: RuleEngine | null = null;
  const integration = new DataIntegration({
    log, node: cfg.node.name, dataDir: dir,
    // Like the rules that name them: the node's store alone, or etcd shared by the cluster.
    saved: { all: (ns) => shared.scan(ns), put: (ns, id, raw) => shared.put(ns, id, raw), del: (ns, id) => shared.del(ns, id), watch: (ns, fn) => shared.watch(ns, fn) },
    report: (ruleId, outcome) => rulesRef?.report(ruleId, outcome),
    ingest: (bridge, cols) => rulesRef?.bridgeMessage(bridge, cols),
    rulesUsing: (id) => rulesRef?.rulesUsing(id) ?? [],
  });
  const rules = new RuleEngine({
    hooks: broker.hooks, log, node: cfg.node.name,
    connection: (id) => clients.get(id),
    publish: (msg) => { broker.publish(msg); },
    newMessage: (topic, payload, qos, retain, props) => broker.newMessage(topic, payload, qos, retain, props, ''),
    validTopic: (topic) => validTopicName(topic, cfg.mqtt.max_topic_levels),
    // In a cluster the rules changed through REST live in etcd (shared.ts), so every node runs them.
    saved: { all: () => shared.scan('rules'), put: (id, spec) => shared.put('rules', id, spec), del: (id) => shared.del('rules', id), watch: (fn) => shared.watch('rules', fn) },
    sinks: integration,
  });
  rulesRef = rules;
  try {
    integration.load({ connectors: cfg.connectors ?? [], actions: cfg.actions ?? [], sources: cfg.sources ?? [] });
    rules.load(cfg.rule_engine.rules ?? []);
    integration.follow();
  } catch (err) {
    rules.stop();
    await integration.stop();
    banned.stop();
    await authn.close();
    await authz.close();
    if (joined !== null) await joined.leave();
    await store.close();
    throw err;
  }
  const rewrite = installTopicRewrite(cfg.rewrite ?? [], {
    hooks: broker.hooks, maxTopicLevels: cfg.mqtt.max_topic_levels, log, username: (id) => clients.get(id)?.info.username ?? null,
  });
  broker.rewriteFilter = rewrite.rewriteFilter;
  installAutoSubscribe(cfg.auto_subscribe.topics ?? [], broker, cfg.mqtt.max_topic_levels, log);
  broker.start();
  // Delayed wills pending at the last stop are re-armed (published at once if overdue) [MQTT-3.1.3-9].
  clients.start();

  const settings = channelSettings(cfg);
  const channels = new Set<Channel>();
  // One function for every channel (called as ch.onClosed()), not a closure per connection.
  const forget = function (this: Channel): void { channels.delete(this); };
  // The channel for each protocol a listener can name (gateways add theirs). The listener's spec
  // (one object per listener) carries its high-water mark (tcp_options.high_watermark).
  const channelFactories: Readonly<Record<string, (conn: Connection, spec: ListenerSpec) => void>> = {
    mqtt: (conn, spec) => {
      const ch = new Channel(conn, broker, clients, settings, spec, log);
      channels.add(ch);
      ch.onClosed = forget;
    },
  };
  const listeners = new Listeners(cfg.listeners, (conn, spec) => {
    if (!Object.hasOwn(channelFactories, spec.protocol)) {
      log.error({ listener: spec.id, protocol: spec.protocol }, 'no channel for this protocol; connection closed');
      conn.destroy();
      return;
    }
    channelFactories[spec.protocol]!(conn, spec);
  }, log, { crlCache: cfg.crl_cache });
  // A start that fails half-way undoes what it started, in reverse.
  const unwind = async (): Promise<void> => {
    await listeners.stop().catch(() => {});
    rules.stop();
    await integration.stop();
    banned.stop();
    await authn.close();
    broker.stop();
    clients.stop();
    await authz.close();
    if (joined !== null) await joined.leave();
    await store.close();
  };
  try {
    await listeners.start();
  } catch (err) {
    await unwind();
    throw err;
  }
  const gateways = new GatewayRegistry(cfg, {
    broker, clients, log,
    limits: {
      maxTopicLevels: m.max_topic_levels, maxQosAllowed: m.max_qos_allowed as QoS, maxClientIdLen: m.max_clientid_len,
      sessionExpirySec: settings.sessionExpirySec, maxBuffered: m.max_mqueue_len === 0 ? 1000 : m.max_mqueue_len,
      retryIntervalMs: m.retry_interval === Infinity ? 0 : m.retry_interval,
    },
  });
  try {
    await gateways.start();
  } catch (err) {
    await unwind(); // the registry stopped the gateways it had started
    throw err;
  }
  // Log traces: definitions in the shared store like rules, files under <data_dir>/trace.
  const trace = new TraceService({
    dir: resolve(dir, 'trace'), shared, broker, channels: () => channels, cluster: state, log,
    maxTraces: cfg.trace.max_traces, maxFileBytes: cfg.trace.max_file_size, maxTopicLevels: m.max_topic_levels,
  });
  try { trace.start(); } catch (err) {
    await gateways.stop();
    await unwind();
    throw err;
  }
  const alarms = new Alarms(cfg.node.name);
  let tick = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    if (++tick % ALARM_SAMPLE_TICKS === 0) alarms.check(alarmSample(listeners, integration), now);
    for (const ch of channels) ch.tick(now);
    clients.tick(now);
    // Listeners count their own max_connections refusals; mirror the total into the metrics.
    let rejected = 0;
    let overRate = 0;
    for (const l of listeners.list()) { rejected += l.rejected; overRate += l.rejectedRate; }
    broker.metrics.counters['listener.rejected.max_connections'] = rejected;
    broker.metrics.counters['listener.rejected.max_conn_rate'] = overRate;
  }, 1000);
  ticker.unref();
  const sys = new SysPublisher(broker, cfg, () => channels.size, () => clients.size);
  sys.start();

  let draining = false;
  let stopped = false;
  const node: PetrelNode = {
    config: cfg, broker, clients, listeners, store, channels, gateways, api: null, hooks: broker.hooks, banned, rules, integration,
    publish(topic, payload, opts = {}) {
      if (!validTopicName(topic, cfg.mqtt.max_topic_levels)) throw new TypeError(`not a valid topic name: '${topic}'`);
      const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
      return broker.publish(broker.newMessage(topic, body, opts.qos ?? 0, opts.retain ?? false, opts.properties ?? null, ''));
    },
    get draining() { return draining; },
    port: (id) => listeners.boundPort(id),
    stats: () => ({ ...sys.statsSnapshot(), ...gateways.stats() }),
    async drain(serverReference) {
      draining = true;
      await listeners.stop();
      let n = 0;
      for (const ch of [...channels]) { ch.kick('USE_ANOTHER_SERVER', serverReference); n++; }
      return n;
    },
    async stop(code = 'SERVER_SHUTTING_DOWN') {
      if (stopped) return;
      stopped = true;
      draining = true;
      clearInterval(ticker);
      sys.stop();
      await listeners.stop();
      await gateways.stop();
      rules.stop();
      await integration.stop();
      banned.stop();
      for (const ch of [...channels]) ch.kick(code);
      await trace.close();
      broker.stop();
      clients.stop();
      await authz.close();
      await authn.close();
      if (joined !== null) await joined.leave();
      if (node.api) await node.api.close();
      await store.close();
      log.info({ node: cfg.node.name }, 'node stopped');
    },
  };
  // Other nodes ask this one through these calls whether or not it serves the REST API itself.
  const admin = nodeAdmin(node);
  admin.authorization = authz;
  admin.authn = authn.admin;
  admin.rules = rules;
  admin.integration = integration;
  admin.gateways = gateways;
  admin.clientMessages = (id, kind, q) => clientMessages(broker, id, kind, q);
  admin.delayed = delayedAdmin(broker, cfg);
  admin.alarms = alarms;
  admin.configs = configsAdmin(cfg, log, authz);
  admin.trace = trace;
  registerAdminCalls(state, admin);
  if (cfg.dashboard.listeners.http.enable) {
    // In the shared store, like users and rules: a key or dashboard user made on one node works on all.
    const d = cfg.dashboard;
    admin.accounts = new Accounts({
      store: shared, tokenTtlMs: d.token_expired_time, log,
      limits: { maxAttempts: d.unsuccessful_login_max_attempts, intervalMs: d.unsuccessful_login_interval, lockMs: d.unsuccessful_login_lock_duration },
    });
    try {
      if (await admin.accounts.users.ensureDefault(d.default_username, d.default_password)) log.info({ username: d.default_username }, 'dashboard administrator created from dashboard.default_password');
    } catch (err) { await node.stop(); throw err; }
    const api = new ApiServer(admin, { bind: cfg.dashboard.listeners.http.bind, apiKeyFile: cfg.api_key.bootstrap_file }, log);
    try { await api.listen(); } catch (err) { await node.stop(); throw err; }
    (node as { api: ApiServer | null }).api = api;
  }
  return node;
}
