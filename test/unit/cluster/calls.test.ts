/**
 * The cluster-wide admin reads (cluster/calls.ts) over a fake ClusterState of three nodes:
 * n1 (this one), n2 (link up) and n3 (link down: every call to it fails). Each node answers
 * through the real registerAdminCalls handlers over its own small table of clients and gauges;
 * what is under test is how clusterAdmin asks them and merges the answers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientView, SubscriptionView } from '../../../broker/src/api/admin.js';
import { ADMIN_CALLS, CALL_TIMEOUT_MS, clusterAdmin, registerAdminCalls, type ClusterCalls, type LocalAdmin } from '../../../broker/src/cluster/calls.js';
import type { ClusterCallHandler, MemberView } from '../../../broker/src/cluster/state.js';

const NOW = Date.now();

function member(name: string, linkState: MemberView['linkState'], over: Partial<MemberView> = {}): MemberView {
  return { name, role: 'core', region: 'eu', version: '1.0.0', startedAt: NOW - 90_000, link: `${name}:4370`, self: linkState === 'self', linkState, ...over };
}

function client(id: string, node: string, connected = true, username: string | null = null): ClientView {
  return {
    clientid: id, username, ip_address: connected ? '10.0.0.1' : null, port: connected ? 5000 : null, listener: connected ? 'tcp:default' : null,
    proto_name: connected ? 'MQTT' : null, proto_ver: connected ? 5 : null, connected, connected_at: connected ? new Date(0).toISOString() : null,
    clean_start: false, keepalive: connected ? 60 : 0, expiry_interval: 60, subscriptions_cnt: 1, inflight_cnt: 0, mqueue_len: 0, awaiting_rel_cnt: 0, node,
  };
}

/** One node's own answers: connected clients, offline sessions, gauges and counters. */
class NodeAdmin implements LocalAdmin {
  kicked: string[] = [];
  constructor(readonly name: string, public online: ClientView[], public offline: ClientView[], readonly gauges: Record<string, number>, readonly counters: Record<string, number>) {}
  nodeInfo(): Record<string, unknown> {
    return { node: this.name, node_status: 'running', version: '1.0.0', role: 'core', region: 'eu', uptime: 90, memory_used: 1000, connections: this.online.length };
  }
  listClients(): ClientView[] { return this.online; }
  listOfflineSessions(): ClientView[] { return this.offline; }
  getClient(id: string): ClientView | null { return this.online.find((c) => c.clientid === id) ?? this.offline.find((c) => c.clientid === id) ?? null; }
  kickClient(id: string): boolean {
    const had = this.getClient(id) !== null;
    this.online = this.online.filter((c) => c.clientid !== id);
    this.offline = this.offline.filter((c) => c.clientid !== id);
    if (had) this.kicked.push(id);
    return had;
  }
  listTopics(): Array<{ topic: string; node: string }> { return [{ topic: `t/${this.name}`, node: this.name }]; }
  clientSubscriptions(id: string): SubscriptionView[] | null {
    return this.getClient(id) === null ? null : [{ clientid: id, topic: `t/${this.name}`, qos: 1, nl: 0, rap: 0, rh: 0, node: this.name }];
  }
  stats(): Record<string, number> { return this.gauges; }
  metrics(): Record<string, number> { return this.counters; }
}

interface Cluster {
  state: ClusterCalls;
  nodes: Record<string, NodeAdmin>;
  /** Every call made: `node method`. */
  calls: string[];
  timeouts: Array<number | undefined>;
}

/** Three members; n3's link is down, so a call to it rejects as the etcd backend's would. */
function cluster(): Cluster {
  const gauges = (conns: number) => ({ 'connections.count': conns, 'sessions.count': conns + 1, 'retained.count': 7, 'topics.count': 3, 'delayed.count': 2 });
  const nodes: Record<string, NodeAdmin> = {
    n1: new NodeAdmin('n1', [client('a1', 'n1', true, 'alice'), client('a2', 'n1')], [client('moved', 'n1', false)], gauges(2), { 'messages.received': 10, 'client.connected': 4 }),
    n2: new NodeAdmin('n2', [client('b1', 'n2', true, 'bob'), client('moved', 'n2')], [], gauges(2), { 'messages.received': 5, 'client.connected': 1 }),
    n3: new NodeAdmin('n3', [client('c1', 'n3')], [], gauges(1), { 'messages.received': 100 }),
  };
  const handlers = new Map<string, Map<string, ClusterCallHandler>>();
  for (const [name, admin] of Object.entries(nodes)) {
    const own = new Map<string, ClusterCallHandler>();
    registerAdminCalls({ handle: (m, fn) => { own.set(m, fn); } }, admin);
    handlers.set(name, own);
  }
  const members = [member('n1', 'self'), member('n2', 'up', { region: 'us' }), member('n3', 'down', { role: 'replica', region: 'ap', version: '0.9.0', startedAt: NOW - 3_600_000 })];
  const c: Cluster = {
    nodes, calls: [], timeouts: [],
    state: {
      nodeName: 'n1',
      members: () => members.map((m) => ({ ...m })),
      async call(node, method, args, timeoutMs) {
        c.calls.push(`${node} ${method}`);
        c.timeouts.push(timeoutMs);
        if (node === 'n3') throw new Error('link to n3 is down');
        const fn = handlers.get(node)?.get(method);
        if (fn === undefined) throw new Error(`no ${method} on ${node}`);
        // The answer crosses a link: only what survives JSON does.
        return JSON.parse(JSON.stringify(await fn(structuredClone(args), 'n1')));
      },
    },
  };
  return c;
}

describe('registerAdminCalls', () => {
  it('registers the admin calls, and rejects a malformed request from a peer', async () => {
    const names: string[] = [];
    const handlers = new Map<string, ClusterCallHandler>();
    registerAdminCalls({ handle: (m, fn) => { names.push(m); handlers.set(m, fn); } }, cluster().nodes.n1);
    assert.deepEqual(names, [...ADMIN_CALLS]);
    assert.deepEqual(names, ['node.info', 'clients.list', 'clients.get', 'clients.kick', 'clients.subscriptions', 'clients.messages', 'topics.list', 'stats', 'metrics']);
    assert.throws(() => handlers.get('clients.messages')!({ clientid: 'a1', kind: 'mqueue' }, 'n2'), /query/);
    assert.throws(() => handlers.get('clients.messages')!({ clientid: 'a1', kind: 'x', query: { limit: 1 } }, 'n2'), /kind/);
    assert.throws(() => handlers.get('clients.get')!({}, 'n2'), /clientid/);
    assert.throws(() => handlers.get('clients.list')!({ username: 5 }, 'n2'), /filter\.username/);
    assert.throws(() => handlers.get('clients.list')!({ conn_state: 'idle' }, 'n2'), /filter\.conn_state/);
    assert.deepEqual((handlers.get('clients.list')!({ like_username: 'ali' }, 'n2') as ClientView[]).map((r) => r.clientid), ['a1']);
  });
});

describe('clusterAdmin over three nodes, one unreachable', () => {
  it('nodes(): a row per member in membership order; the failing one from membership, "unreachable"', async () => {
    const c = cluster();
    const rows = await clusterAdmin(c.state).nodes();
    assert.deepEqual(rows.map((r) => [r.node, r.node_status, r.link_state]), [['n1', 'running', 'self'], ['n2', 'running', 'up'], ['n3', 'unreachable', 'down']]);
    assert.equal(rows[0].connections, 2);
    assert.equal(rows[0].memory_used, 1000);
    assert.equal(rows[1].region, 'us', "membership's region wins over the node's own");
    assert.deepEqual({ ...rows[2], uptime: Math.round(rows[2].uptime / 60) }, {
      node: 'n3', node_status: 'unreachable', version: '0.9.0', role: 'replica', region: 'ap', uptime: 60, connections: null, memory_used: null, link_state: 'down',
    });
    assert.deepEqual(c.calls.sort(), ['n1 node.info', 'n2 node.info', 'n3 node.info']);
    assert.ok(c.timeouts.every((t) => t === CALL_TIMEOUT_MS), 'every call is bounded');
  });

  it('node(name): only that member is asked; null for a name that is not a member', async () => {
    const c = cluster();
    const admin = clusterAdmin(c.state);
    assert.equal((await admin.node('n2'))?.node_status, 'running');
    assert.equal((await admin.node('n3'))?.node_status, 'unreachable');
    assert.equal(await admin.node('n9'), null);
    assert.deepEqual(c.calls, ['n2 node.info', 'n3 node.info']);
  });

  it('clients(): every reachable node\'s rows in membership order, the others named', async () => {
    const got = await clusterAdmin(cluster().state).clients({});
    assert.deepEqual(got.rows.map((r) => `${r.node}/${r.clientid}`), ['n1/a1', 'n1/a2', 'n2/b1', 'n2/moved']);
    assert.deepEqual(got.unreachable, ['n3']);
  });

  it("topics(): every reachable node's own routes, the others named", async () => {
    const got = await clusterAdmin(cluster().state).topics();
    assert.deepEqual(got.rows, [{ topic: 't/n1', node: 'n1' }, { topic: 't/n2', node: 'n2' }]);
    assert.deepEqual(got.unreachable, ['n3']);
  });

  it('clients(): the node filter asks that node only; other filters are applied on the nodes', async () => {
    const c = cluster();
    const admin = clusterAdmin(c.state);
    const n2 = await admin.clients({ node: 'n2' });
    assert.deepEqual(n2.rows.map((r) => r.clientid), ['b1', 'moved']);
    assert.deepEqual(n2.unreachable, []);
    assert.deepEqual(c.calls, ['n2 clients.list']);
    assert.deepEqual((await admin.clients({ like_clientid: 'a' })).rows.map((r) => r.clientid), ['a1', 'a2']);
    assert.deepEqual((await admin.clients({ username: 'bob' })).rows.map((r) => r.clientid), ['b1']);
    assert.deepEqual((await admin.clients({ node: 'n3' })).unreachable, ['n3']);
    await assert.rejects(admin.clients({ node: 'n9' }), (e: Error & { code?: string }) => e.code === 'UNKNOWN_NODE');
    assert.deepEqual((await admin.clients({ conn_state: 'disconnected' })).rows.map((r) => [r.clientid, r.node, r.connected]), [['moved', 'n1', false]], 'offline sessions instead');
    assert.deepEqual((await admin.clients({ conn_state: 'connected', like_clientid: 'mov' })).rows.map((r) => r.node), ['n2']);
  });

  it('client(id): found on the node that holds it; a connected row wins over an offline session elsewhere', async () => {
    const admin = clusterAdmin(cluster().state);
    assert.equal((await admin.client('b1')).row?.node, 'n2');
    const moved = await admin.client('moved');
    assert.deepEqual([moved.row?.node, moved.row?.connected], ['n2', true]);
    const none = await admin.client('c1'); // only on n3, which does not answer
    assert.deepEqual(none, { row: null, unreachable: ['n3'] });
  });

  it('kick(id): every node that has the client kicks it', async () => {
    const c = cluster();
    const admin = clusterAdmin(c.state);
    assert.deepEqual(await admin.kick('moved'), { kicked: true, unreachable: ['n3'] });
    assert.deepEqual([c.nodes.n1.kicked, c.nodes.n2.kicked], [['moved'], ['moved']]);
    assert.equal((await admin.kick('nobody')).kicked, false);
  });

  it("subscriptions(id): the holding node's rows; null when no reachable node has a session", async () => {
    const admin = clusterAdmin(cluster().state);
    assert.deepEqual((await admin.subscriptions('b1')).rows?.map((s) => s.topic), ['t/n2']);
    assert.equal((await admin.subscriptions('c1')).rows, null);
  });

  it('stats: per node with `node`, or summed except the shared gauges, which come from this node', async () => {
    const admin = clusterAdmin(cluster().state);
    const per = await admin.statsPerNode();
    assert.deepEqual(per.map((r) => [r.node, r['connections.count']]), [['n1', 2], ['n2', 2]]);
    assert.deepEqual(await admin.statsAggregate(), { 'connections.count': 4, 'sessions.count': 6, 'retained.count': 7, 'topics.count': 3, 'delayed.count': 2 });
  });

  it('metrics: per node, or every counter summed over the nodes that answered', async () => {
    const admin = clusterAdmin(cluster().state);
    assert.deepEqual((await admin.metricsPerNode()).map((r) => r.node), ['n1', 'n2']);
    assert.deepEqual(await admin.metricsAggregate(), { 'messages.received': 15, 'client.connected': 5 });
  });

  it('a malformed answer from a peer counts as no answer', async () => {
    const c = cluster();
    const call = c.state.call;
    c.state.call = async (node, method, args, t) => (node === 'n2' ? { not: 'a row list' } : call(node, method, args, t));
    const got = await clusterAdmin(c.state).clients({});
    assert.deepEqual(got.rows.map((r) => r.clientid), ['a1', 'a2']);
    assert.deepEqual(got.unreachable, ['n2', 'n3']);
    c.state.call = async (node, method, args, t) => (node === 'n2' ? { 'connections.count': 'many' } : call(node, method, args, t));
    assert.deepEqual((await clusterAdmin(c.state).statsPerNode()).map((r) => r.node), ['n1']);
  });
});
