/**
 * The cluster calls behind the REST API's cluster-wide reads, and the merging of their answers.
 *
 * Every node registers the same seven calls (`registerAdminCalls`), each answering for that node
 * alone from its AdminApi. `clusterAdmin` asks them of every live member in parallel (this node
 * included: on a single node `call` to itself runs its own handler) and merges the answers the
 * way EMQX's management API does across a cluster:
 *
 * - nodes: one row per member; a member that does not answer is still listed, with what its
 *   membership record says and `node_status: 'unreachable'`;
 * - clients: rows concatenated in membership order; one client: the node that has it connected,
 *   else the first with its offline session; kick: every node that has it;
 * - stats and metrics: per node (`{node, …}`) or summed, except the gauges of what every node
 *   holds a copy of (retained messages, the route table, delayed messages), which summing would
 *   multiply: those come from this node (EMQX's `GlobalStatsKeys` in emqx_mgmt.erl).
 *
 * Answers are JSON-shaped (they cross the node-to-node link); anything malformed from a peer
 * counts as no answer.
 */
import type { AdminApi, ClientFilter, ClientView, ClusterAdmin, Gathered, NodeRow, SubscriptionView } from '../api/admin.js';
import type { ClusterState, MemberView } from './state.js';
import type { MessagesPage, MessagesQuery } from '../api/routes/client-messages.js';
import { isWorkerName, nodeOfMember } from '../workers/config.js';

/** The calls' names, as other nodes ask for them. */
export const ADMIN_CALLS = ['node.info', 'clients.list', 'clients.get', 'clients.kick', 'clients.subscriptions', 'clients.messages', 'topics.list', 'stats', 'metrics'] as const;
export type AdminCall = typeof ADMIN_CALLS[number];

/** A REST request waits at most this long for a peer. */
export const CALL_TIMEOUT_MS = 3000;

/** Gauges of state every node holds a full copy of (ClusterState): the same on every node, not summed. */
export const SHARED_STATS: readonly string[] = ['retained.count', 'topics.count', 'delayed.count'];

/** What a node answers for itself. */
export type LocalAdmin = Pick<AdminApi, 'nodeInfo' | 'listClients' | 'listOfflineSessions' | 'getClient' | 'kickClient' | 'clientSubscriptions' | 'clientMessages' | 'listTopics' | 'stats' | 'metrics'>;

/** The part of ClusterState the merging needs (a fake of it is enough to test it). */
export type ClusterCalls = Pick<ClusterState, 'nodeName' | 'members' | 'call'>;

/** Registers this node's answers to the admin calls; the only place that names them. */
export function registerAdminCalls(state: Pick<ClusterState, 'handle'>, local: LocalAdmin): void {
  const handlers: Record<AdminCall, (args: unknown) => unknown> = {
    'node.info': () => local.nodeInfo(),
    'clients.list': (args) => {
      const f = filterArg(args);
      const rows = f.conn_state === 'disconnected' ? local.listOfflineSessions?.() ?? [] : local.listClients();
      return rows.filter(clientMatcher(f));
    },
    'clients.get': (args) => local.getClient(idArg(args)),
    'clients.kick': (args) => local.kickClient(idArg(args)),
    'clients.subscriptions': (args) => local.clientSubscriptions(idArg(args)),
    'clients.messages': (args) => {
      const a = args as { kind?: unknown; query?: unknown };
      const id = idArg(args);
      if (a.kind !== 'mqueue' && a.kind !== 'inflight') throw new Error('clients.messages: kind must be mqueue or inflight');
      if (!isRecord(a.query) || typeof a.query.limit !== 'number') throw new Error('clients.messages: query {position, limit, payload, maxPayloadBytes} is required');
      return local.clientMessages?.(id, a.kind, a.query as unknown as MessagesQuery) ?? null;
    },
    'topics.list': () => local.listTopics(),
    stats: () => local.stats(),
    metrics: () => local.metrics(),
  };
  for (const name of ADMIN_CALLS) state.handle(name, handlers[name]);
}

/** A predicate for rows matching the filter (its `node` is for choosing nodes and is ignored here). */
export function clientMatcher(f: ClientFilter): (c: ClientView) => boolean {
  return (c) =>
    (f.clientid === undefined || c.clientid === f.clientid)
    && (f.username === undefined || c.username === f.username)
    && (f.ip_address === undefined || c.ip_address === f.ip_address)
    && (f.proto_ver === undefined || c.proto_ver === f.proto_ver)
    && (f.like_clientid === undefined || c.clientid.includes(f.like_clientid))
    && (f.like_username === undefined || (c.username !== null && c.username.includes(f.like_username)));
}

type Answer<T> = { member: MemberView; ok: true; value: T } | { member: MemberView; ok: false };

/** The cluster-wide reads over the calls; nothing here knows HTTP. */
/** `workers`: this process is a worker of a multi-process node (node.workers): statsNode/metricsNode sum its siblings. */
export function clusterAdmin(state: ClusterCalls, opts: { workers?: boolean } = {}): ClusterAdmin {
  const ask = async <T>(members: MemberView[], method: AdminCall, args: unknown, valid: (v: unknown) => v is T): Promise<Array<Answer<T>>> => {
    const settled = await Promise.allSettled(members.map((m) => state.call(m.name, method, args, CALL_TIMEOUT_MS)));
    return settled.map((s, i) => (s.status === 'fulfilled' && valid(s.value) ? { member: members[i], ok: true, value: s.value } : { member: members[i], ok: false }));
  };
  const unreachable = (answers: Array<Answer<unknown>>): string[] => answers.filter((a) => !a.ok).map((a) => a.member.name);
  const values = <T>(answers: Array<Answer<T>>): Array<{ member: MemberView; value: T }> =>
    answers.flatMap((a) => (a.ok ? [{ member: a.member, value: a.value }] : []));

  const rows = async (members: MemberView[]): Promise<NodeRow[]> =>
    (await ask(members, 'node.info', null, isRecord)).map((a) => (a.ok ? nodeRow(a.member, a.value) : unreachableRow(a.member)));

  const perNode = async (method: 'stats' | 'metrics'): Promise<Array<Record<string, unknown>>> =>
    values(await ask(state.members(), method, null, isNumbers)).map(({ member, value }) => ({ node: member.name, ...value }));

  const summed = async (method: 'stats' | 'metrics', shared: readonly string[], members = state.members()): Promise<Record<string, number>> => {
    const got = values(await ask(members, method, null, isNumbers));
    const sum: Record<string, number> = {};
    for (const { value } of got) for (const [k, v] of Object.entries(value)) if (!shared.includes(k)) sum[k] = (sum[k] ?? 0) + v;
    const own = got.find((g) => g.member.name === state.nodeName) ?? got[0];
    if (own !== undefined) for (const k of shared) if (k in own.value) sum[k] = own.value[k];
    return sum;
  };

  /** The members that are workers of this process's node (node.workers), this one first. */
  const siblings = (): MemberView[] => {
    const mine = nodeOfMember(state.nodeName);
    return state.members().filter((m) => nodeOfMember(m.name) === mine);
  };

  return {
    nodes: async () => groupWorkers(await rows(state.members())),
    workerRows: () => rows(state.members()),
    async node(name) {
      // A worker's own name gives that worker's row; the node's name, its workers as one.
      if (isWorkerName(name)) {
        const m = state.members().find((x) => x.name === name);
        return m === undefined ? null : (await rows([m]))[0];
      }
      const ms = state.members().filter((x) => nodeOfMember(x.name) === name);
      return ms.length === 0 ? null : groupWorkers(await rows(ms))[0] ?? null;
    },
    async clients(filter): Promise<Gathered<ClientView>> {
      let members = state.members();
      if (filter.node !== undefined) {
        members = members.filter((m) => m.name === filter.node);
        if (members.length === 0) throw Object.assign(new Error(`no node ${filter.node} in the cluster`), { code: 'UNKNOWN_NODE' });
      }
      const { node: _node, ...onNode } = filter;
      const answers = await ask(members, 'clients.list', onNode, isArray<ClientView>);
      return { rows: values(answers).flatMap((a) => a.value), unreachable: unreachable(answers) };
    },
    async client(id) {
      const answers = await ask(state.members(), 'clients.get', { clientid: id }, isRecordOrNull<ClientView>);
      const found = values(answers).map((a) => a.value).filter((v): v is ClientView => v !== null);
      return { row: found.find((c) => c.connected) ?? found[0] ?? null, unreachable: unreachable(answers) };
    },
    async kick(id) {
      const answers = await ask(state.members(), 'clients.kick', { clientid: id }, isBoolean);
      return { kicked: values(answers).some((a) => a.value), unreachable: unreachable(answers) };
    },
    async subscriptions(id) {
      const answers = await ask(state.members(), 'clients.subscriptions', { clientid: id }, isArrayOrNull<SubscriptionView>);
      const found = values(answers).find((a) => a.value !== null);
      return { rows: found?.value ?? null, unreachable: unreachable(answers) };
    },
    async clientMessages(id, kind, query) {
      const answers = await ask(state.members(), 'clients.messages', { clientid: id, kind, query }, isRecordOrNull<MessagesPage>);
      const found = values(answers).find((a) => a.value !== null);
      return { page: found?.value ?? null, unreachable: unreachable(answers) };
    },
    async topics(): Promise<Gathered<{ topic: string; node: string }>> {
      const answers = await ask(state.members(), 'topics.list', null, isArray<{ topic: string; node: string }>);
      return { rows: values(answers).flatMap((a) => a.value), unreachable: unreachable(answers) };
    },
    statsPerNode: () => perNode('stats'),
    statsAggregate: () => summed('stats', SHARED_STATS),
    metricsPerNode: () => perNode('metrics'),
    metricsAggregate: () => summed('metrics', []),
    ...(opts.workers ? {
      statsNode: () => summed('stats', SHARED_STATS, siblings()),
      metricsNode: () => summed('metrics', [], siblings()),
    } : {}),
  };
}

/**
 * One row per node: the rows of a multi-process node's workers (workers/config.ts names them)
 * become one, the node's name with the workers' connections and memory summed, `workers` their
 * number and `workers_running` how many answered; every other row is kept as it is.
 */
export function groupWorkers(rows: NodeRow[]): NodeRow[] {
  const out: NodeRow[] = [];
  const byNode = new Map<string, NodeRow[]>();
  for (const r of rows) {
    const node = nodeOfMember(r.node);
    let g = byNode.get(node);
    if (g === undefined) { g = []; byNode.set(node, g); }
    g.push(r);
  }
  for (const [node, g] of byNode) {
    if (g.length === 1 && !isWorkerName(g[0]!.node)) { out.push(g[0]!); continue; }
    const first = g.find((r) => r.node === node) ?? g[0]!;
    const running = g.filter((r) => r.node_status !== 'unreachable');
    const sum = (k: 'connections' | 'memory_used' | 'live_connections'): number | null =>
      running.length === 0 ? null : running.reduce((n, r) => n + (typeof r[k] === 'number' ? r[k] as number : 0), 0);
    out.push({
      ...first, node,
      node_status: running.length === 0 ? 'unreachable' : running.some((r) => r.node_status === 'running') ? 'running' : running[0]!.node_status,
      connections: sum('connections'), memory_used: sum('memory_used'), live_connections: sum('live_connections'),
      link_state: g.some((r) => r.link_state === 'self') ? 'self' : first.link_state,
      workers: g.length, workers_running: running.length,
    });
  }
  return out;
}

/** A member's row from its own answer; membership has the last word on role, region and the link. */
export function nodeRow(m: MemberView, info: Record<string, unknown>): NodeRow {
  return { ...unreachableRow(m), ...info, node: m.name, role: m.role, region: m.region, link_state: m.linkState } as NodeRow;
}

/** What membership alone knows of a member that did not answer. */
export function unreachableRow(m: MemberView, now = Date.now()): NodeRow {
  return {
    node: m.name, node_status: 'unreachable', version: m.version, role: m.role, region: m.region,
    uptime: Math.max(0, Math.floor((now - m.startedAt) / 1000)), connections: null, memory_used: null, link_state: m.linkState,
  };
}

// ---- checks of what came back from a peer, and of what a peer sent

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRecordOrNull = <T>(v: unknown): v is T | null => v === null || isRecord(v);
const isArray = <T>(v: unknown): v is T[] => Array.isArray(v);
const isArrayOrNull = <T>(v: unknown): v is T[] | null => v === null || Array.isArray(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isNumbers = (v: unknown): v is Record<string, number> => isRecord(v) && Object.values(v).every((x) => typeof x === 'number');

function idArg(args: unknown): string {
  const id = isRecord(args) ? args.clientid : undefined;
  if (typeof id !== 'string') throw new TypeError('expected {clientid: string}');
  return id;
}

const FILTER_STRINGS = ['clientid', 'username', 'ip_address', 'like_clientid', 'like_username'] as const;

/** A peer's filter; a field of the wrong type is an error (ignoring it would answer more rows than asked for). */
function filterArg(args: unknown): ClientFilter {
  if (!isRecord(args)) throw new TypeError('expected a client filter object');
  const f: ClientFilter = {};
  for (const k of FILTER_STRINGS) {
    if (args[k] === undefined) continue;
    if (typeof args[k] !== 'string') throw new TypeError(`filter.${k} must be a string`);
    f[k] = args[k] as string;
  }
  if (args.conn_state !== undefined) {
    if (args.conn_state !== 'connected' && args.conn_state !== 'disconnected') throw new TypeError('filter.conn_state must be connected or disconnected');
    f.conn_state = args.conn_state;
  }
  if (args.proto_ver !== undefined) {
    if (typeof args.proto_ver !== 'number') throw new TypeError('filter.proto_ver must be a number');
    f.proto_ver = args.proto_ver;
  }
  return f;
}
