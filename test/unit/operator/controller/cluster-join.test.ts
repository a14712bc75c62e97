/**
 * ClusterJoined from the brokers' GET /api/v5/nodes answers: a table of node lists → verdicts, the
 * single URL builder (in-cluster and overridden), and the operator's API key Secret round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults, type MqttCluster } from '../../../../operator/src/api/types.js';
import { brokerApiBaseURL, joinTargets, type NodeRow, type NodesAnswer } from '../../../../operator/src/controller/broker-api.js';
import { evaluateJoin } from '../../../../operator/src/controller/cluster-join.js';

const cr = withDefaults({
  apiVersion: 'mqtt.petrel.dev/v1alpha1', kind: 'MqttCluster', metadata: { name: 'mc', namespace: 'ns' },
  spec: { core: { replicas: 3 }, regions: [{ name: 'eu', replicas: 2 }, { name: 'us', replicas: 1 }] },
} as MqttCluster);
const WANT = { core: 3, regions: { eu: 2, us: 1 } };

const core = (i: number, status = 'running'): NodeRow => ({ node: `mc-core-${i}@mc-core-${i}.mc-core-headless.ns.svc`, node_status: status, role: 'core', region: '' });
const rep = (region: string, ip: string, status = 'running'): NodeRow => ({ node: `mc-${region}-abc@${ip}`, node_status: status, role: 'replica', region });
const ALL = [core(0), core(1), core(2), rep('eu', '10.0.0.1'), rep('eu', '10.0.0.2'), rep('us', '10.0.1.1')];

/** Answers per target group; a group not named answers with ALL. */
function verdict(answers: Record<string, NodesAnswer> = {}) {
  return evaluateJoin(cr, WANT, joinTargets(cr).map((target) => ({ target, answer: answers[target.group] ?? { rows: ALL } })));
}

const TABLE: { name: string; answers: Record<string, NodesAnswer>; joined: boolean; message: RegExp | string; core?: number; eu?: number; us?: number }[] = [
  { name: 'everyone everywhere', answers: {}, joined: true, message: 'all 6 brokers (3 core, 3 replicas) are running members as seen by the core and 2 region(s)', core: 3, eu: 2, us: 1 },
  {
    name: 'one core member missing everywhere → named once',
    answers: Object.fromEntries(['core', 'eu', 'us'].map((g) => [g, { rows: ALL.filter((r) => !r.node.startsWith('mc-core-1@')) }])),
    joined: false, message: 'not running cluster members: mc-core-1', core: 2, eu: 2, us: 1,
  },
  {
    name: 'a core member listed but stopped does not count',
    answers: Object.fromEntries(['core', 'eu', 'us'].map((g) => [g, { rows: [core(0), core(1), core(2, 'stopped'), ...ALL.slice(3)] }])),
    joined: false, message: 'not running cluster members: mc-core-2', core: 2,
  },
  {
    name: 'a region split off: it sees only itself, the others miss it',
    answers: {
      core: { rows: ALL.filter((r) => r.region !== 'us') },
      eu: { rows: ALL.filter((r) => r.region !== 'us') },
      us: { rows: [rep('us', '10.0.1.1')] },
    },
    joined: false,
    message: 'not running cluster members: as seen by core: us replicas 0/1; as seen by eu: us replicas 0/1; as seen by us: mc-core-0, mc-core-1, mc-core-2, eu replicas 0/2',
    core: 3, eu: 2, us: 1,
  },
  {
    name: 'one replica short in eu',
    answers: Object.fromEntries(['core', 'eu', 'us'].map((g) => [g, { rows: ALL.filter((r) => r.node !== 'mc-eu-abc@10.0.0.2') }])),
    joined: false, message: 'not running cluster members: eu replicas 1/2', eu: 1,
  },
  {
    name: 'more replicas than wanted (a surge pod during a rollout) still joined',
    answers: Object.fromEntries(['core', 'eu', 'us'].map((g) => [g, { rows: [...ALL, rep('eu', '10.0.0.3')] }])),
    joined: true, message: /^all 6 brokers/, eu: 3,
  },
  {
    name: 'a 401 names the target, the URL and the refusal',
    answers: { eu: { error: 'GET http://mc-eu-api.ns.svc:18083/api/v5/nodes: HTTP 401: the broker refused the operator\'s API key "petrel-operator"' } },
    joined: false, message: 'eu: GET http://mc-eu-api.ns.svc:18083/api/v5/nodes: HTTP 401: the broker refused the operator\'s API key "petrel-operator"', core: 3, us: 1,
  },
  {
    name: 'a standalone broker (lists only itself) is not joined',
    answers: { core: { rows: [core(0)] } },
    joined: false, message: /as seen by core: mc-core-1, mc-core-2, eu replicas 0\/2, us replicas 0\/1$/, core: 1,
  },
];

for (const row of TABLE) {
  test(`evaluateJoin: ${row.name}`, () => {
    const v = verdict(row.answers);
    assert.equal(v.joined, row.joined);
    if (typeof row.message === 'string') assert.equal(v.message, row.message);
    else assert.match(v.message, row.message);
    if (row.core !== undefined) assert.equal(v.joinedNodes.core, row.core);
    if (row.eu !== undefined) assert.equal(v.joinedNodes.regions.eu, row.eu);
    if (row.us !== undefined) assert.equal(v.joinedNodes.regions.us, row.us);
  });
}

test('evaluateJoin: errors and gaps are both reported; an errored group has no joinedNodes', () => {
  const v = verdict({ us: { error: 'GET http://mc-us-api.ns.svc:18083/api/v5/nodes: timed out after 3000 ms' }, eu: { rows: ALL.slice(1) } });
  assert.equal(v.joined, false);
  assert.equal(v.joinedNodes.regions.us, undefined);
  assert.equal(v.message, 'us: GET http://mc-us-api.ns.svc:18083/api/v5/nodes: timed out after 3000 ms; not running cluster members: as seen by eu: mc-core-0');
});

test('brokerApiBaseURL: in-cluster Service DNS name, or the override (trailing / dropped)', () => {
  assert.equal(brokerApiBaseURL(cr, 'mc-eu-api'), 'http://mc-eu-api.ns.svc:18083');
  const o = (ns: string, svc: string) => (svc === 'mc-eu-api' ? `http://127.0.0.1:4000/` : undefined);
  assert.equal(brokerApiBaseURL(cr, 'mc-eu-api', o), 'http://127.0.0.1:4000');
  assert.equal(brokerApiBaseURL(cr, 'mc-core-headless', o), 'http://mc-core-headless.ns.svc:18083');
  assert.deepEqual(joinTargets(cr).map((t) => [t.group, t.url]), [
    ['core', 'http://mc-core-headless.ns.svc:18083/api/v5/nodes'],
    ['eu', 'http://mc-eu-api.ns.svc:18083/api/v5/nodes'],
    ['us', 'http://mc-us-api.ns.svc:18083/api/v5/nodes'],
  ]);
});
