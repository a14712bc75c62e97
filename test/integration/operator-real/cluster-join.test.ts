/**
 * ClusterJoined end to end: the controller (in this process, with the chart's ServiceAccount token)
 * against a REAL control plane whose controllers and kwok make the pods Ready, asking real HTTP
 * servers on 127.0.0.1 for GET /api/v5/nodes with the key from the Secret it created.
 *
 * The HTTP servers are STAND-INS for the broker processes, only for the operator's status logic:
 * each checks HTTP Basic against the `api-keys` file in the operator's Secret with the broker's own
 * checker (broker/src/api/auth.ts) and answers with a member list the test controls. They are not
 * brokers and form no cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkBasic } from '../../../broker/src/api/auth.js';
import type { Controller } from '../../../operator/src/controller/controller.js';
import type { NodeRow } from '../../../operator/src/controller/broker-api.js';
import { ANNOTATION_API_KEY_HASH } from '../../../operator/src/desired/meta.js';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import { MQC_PATH, RELEASE, condition, installChart, loadExample, must, serviceAccountKubeconfig, waitFor } from './harness.js';
import { createVolumes, realController } from './in-process.js';

const NS = 'default';
let cp: KubeControlPlane;
let controller: Controller | undefined;
/** What every stand-in answers; the test edits it. */
let members: NodeRow[] = [];
/** When set, the stand-ins check against this file instead of the Secret (a broker with a stale key). */
let staleKeys: Map<string, string> | undefined;
const servers = new Map<string, { server: http.Server; url: string }>();
const hits = new Map<string, number>();

const petrel = (): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${NS}/mqttclusters/petrel`);
const SECRET = `/api/v1/namespaces/${NS}/secrets/petrel-operator-api-key`;
const secret = async (): Promise<any> => {
  const r = await cp.request('GET', SECRET);
  return r.status === 200 ? r.body : undefined;
};
const core0 = (): Promise<any> => must(cp, 'GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/petrel-core`);

/** The keys a broker would load from its mounted bootstrap file. */
async function keysFromSecret(): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  const file = Buffer.from((await secret())?.data?.['api-keys'] ?? '', 'base64').toString('utf8');
  for (const line of file.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) keys.set(line.slice(0, i), line.slice(i + 1));
  }
  return keys;
}

async function standIn(service: string): Promise<void> {
  const server = http.createServer(async (req, res) => {
    hits.set(service, (hits.get(service) ?? 0) + 1);
    if (req.url !== '/api/v5/nodes') return void res.writeHead(404).end();
    if (checkBasic(staleKeys ?? await keysFromSecret(), req.headers.authorization) !== 'ok') {
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"BAD_API_KEY_OR_SECRET"}');
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(members));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.set(service, { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const core = (i: number): NodeRow => ({ node: `petrel-core-${i}@petrel-core-${i}.petrel-core-headless.default.svc`, node_status: 'running', role: 'core', region: '', version: '0.1.0', uptime: 1, connections: 0, link_state: 'up' });
const replica = (ip: string): NodeRow => ({ node: `petrel-eu-west-1-7d9f-${ip.split('.').pop()}@${ip}`, node_status: 'running', role: 'replica', region: 'eu-west-1', version: '0.1.0', uptime: 1, connections: 0, link_state: 'up' });
const ALL = [core(0), core(1), core(2), replica('10.1.0.1'), replica('10.1.0.2')];

before(async () => {
  await standIn('petrel-core-headless');
  await standIn('petrel-eu-west-1-api');
  cp = await startKubeControlPlane({ regions: { 'eu-west-1': ['eu-west-1a', 'eu-west-1b'] } });
  console.log(`# control plane ready in ${cp.startupMs} ms`);
  await installChart(cp);
  await createVolumes(cp, 'pv', 3, '10Gi');
  controller = realController(cp, await serviceAccountKubeconfig(cp, RELEASE), {
    namespaces: [NS],
    nodesFetcher: undefined, // the real HTTP client
    nodesTimeoutMs: 1000,
    joinRecheckMs: 500,
    brokerApiURL: (ns, svc) => (ns === NS ? servers.get(svc)?.url ?? 'http://127.0.0.1:1' : undefined),
  });
  await controller.start();
});

after(async () => {
  await controller?.stop();
  await cp?.stop();
  for (const { server } of servers.values()) await new Promise((r) => server.close(r));
});

test('the operator creates its API key Secret once and mounts it; pods carry its hash', async () => {
  await must(cp, 'POST', `${MQC_PATH}/namespaces/${NS}/mqttclusters`, loadExample('single-region.yaml'));
  const s = await waitFor(() => secret(), 'the operator API key Secret', 20_000);
  const file = Buffer.from(s.data['api-keys'], 'base64').toString();
  assert.match(file, /^petrel-operator:[A-Za-z0-9_-]{43}\n$/);
  assert.equal(s.metadata.ownerReferences[0].uid, (await petrel()).metadata.uid);
  const sts = await waitFor(async () => (await cp.request('GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/petrel-core`)).body?.spec && core0(), 'core StatefulSet', 20_000);
  assert.ok(sts.spec.template.metadata.annotations[ANNOTATION_API_KEY_HASH]);
  await waitFor(async () => (await cp.request('GET', `/api/v1/namespaces/${NS}/services/petrel-eu-west-1-api`)).status === 200, 'the region API Service', 20_000);
});

test('pods ready, one core broker not a member → ClusterJoined=False naming it, Ready=False, joinedNodes counted', async () => {
  members = ALL.filter((m) => !m.node.startsWith('petrel-core-2@'));
  // the pods become Ready through the real scheduler, PV binding and kwok
  await waitFor(async () => condition(await petrel(), 'ClusterJoined')?.reason === 'NotJoined', 'ClusterJoined NotJoined', 90_000);
  const cr = await petrel();
  assert.equal(condition(cr, 'ClusterJoined').status, 'False');
  assert.equal(condition(cr, 'ClusterJoined').message, 'not running cluster members: petrel-core-2');
  assert.equal(condition(cr, 'CoreReady').status, 'True', 'the pods are ready: readiness alone is not Ready');
  assert.equal(condition(cr, 'Ready').status, 'False');
  assert.match(condition(cr, 'Ready').message, /ClusterJoined/);
  assert.equal(condition(cr, 'Progressing').reason, 'Joining');
  assert.equal(cr.status.core.joinedNodes, 2);
  assert.equal(cr.status.regions[0].joinedNodes, 2);
  assert.ok((hits.get('petrel-core-headless') ?? 0) > 0 && (hits.get('petrel-eu-west-1-api') ?? 0) > 0, 'both targets asked');
});

test('the missing broker joins → (requeued, no Kubernetes event needed) ClusterJoined=True and Ready=True', async () => {
  members = ALL;
  await waitFor(async () => condition(await petrel(), 'Ready')?.status === 'True', 'Ready=True once every broker is listed', 20_000);
  const cr = await petrel();
  assert.equal(condition(cr, 'ClusterJoined').reason, 'Joined');
  assert.match(condition(cr, 'ClusterJoined').message, /all 5 brokers \(3 core, 2 replicas\)/);
  assert.equal(cr.status.core.joinedNodes, 3);
  assert.equal(condition(cr, 'Progressing').status, 'False');
});

test('a broker with another key answers 401 → ClusterJoined=False with the URL and the refusal; the key is not regenerated', async () => {
  const before = (await secret()).data['api-keys'];
  staleKeys = new Map([['petrel-operator', 'not-the-one']]);
  try {
    await waitFor(async () => condition(await petrel(), 'ClusterJoined')?.reason === 'MembersUnavailable', 'ClusterJoined MembersUnavailable', 20_000);
    const msg: string = condition(await petrel(), 'ClusterJoined').message;
    assert.match(msg, /^core: GET http:\/\/127\.0\.0\.1:\d+\/api\/v5\/nodes: HTTP 401: the broker refused the operator's API key "petrel-operator"; eu-west-1: GET http:\/\/127\.0\.0\.1:\d+\/api\/v5\/nodes: HTTP 401/);
    assert.equal(condition(await petrel(), 'Ready').status, 'False');
    await waitFor(async () => (await must(cp, 'GET', `/api/v1/namespaces/${NS}/events`)).items.some((e: any) => e.reason === 'NotReady' && /ClusterJoined/.test(e.message)), 'a NotReady Event', 20_000);
  } finally {
    staleKeys = undefined;
  }
  assert.equal((await secret()).data['api-keys'], before, 'the operator keeps its key across reconciles');
  await waitFor(async () => condition(await petrel(), 'Ready')?.status === 'True', 'Ready again with the right key', 20_000);
});

test('a region API that refuses connections → a clear ECONNREFUSED message, no crash', async () => {
  const eu = servers.get('petrel-eu-west-1-api')!;
  // close() alone leaves the operator's keep-alive connection open (its requests would keep working)
  const closed = new Promise((r) => eu.server.close(r));
  eu.server.closeAllConnections();
  await closed;
  try {
    await waitFor(async () => /ECONNREFUSED/.test(condition(await petrel(), 'ClusterJoined')?.message ?? ''), 'ECONNREFUSED in ClusterJoined', 20_000);
    const cr = await petrel();
    assert.match(condition(cr, 'ClusterJoined').message, /^eu-west-1: GET http:\/\/127\.0\.0\.1:\d+\/api\/v5\/nodes: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    assert.equal(condition(cr, 'Degraded').status, 'False', 'an unreachable broker is not an operator error');
    assert.equal(cr.status.regions[0].joinedNodes, undefined);
  } finally {
    const port = Number(new URL(eu.url).port);
    await new Promise<void>((r) => eu.server.listen(port, '127.0.0.1', r));
  }
  await waitFor(async () => condition(await petrel(), 'Ready')?.status === 'True', 'Ready again', 20_000);
});

test('the Secret deleted → a new key, and the pods roll to it (api-key hash changes)', async () => {
  const oldFile = (await secret()).data['api-keys'];
  const oldHash = (await core0()).spec.template.metadata.annotations[ANNOTATION_API_KEY_HASH];
  // A reconcile in flight when the Secret goes (here one every 500 ms) has already read the old key
  // and puts the Secret back with it (its apply creates what is missing); the key only changes when
  // a reconcile starts without the Secret. So: delete again until a new key appears.
  let deletions = 0;
  await waitFor(async () => {
    const s = await secret();
    if (s && s.data['api-keys'] !== oldFile) return true;
    if (s && deletions < 10) { deletions++; await cp.request('DELETE', SECRET); }
    return undefined;
  }, 'a new Secret', 30_000);
  console.log(`# a new key after ${deletions} deletion(s) of the Secret`);
  const sts = await waitFor(async () => {
    const s = await core0();
    return s.spec.template.metadata.annotations[ANNOTATION_API_KEY_HASH] !== oldHash && s;
  }, 'the core pod template with the new key hash', 20_000);
  const newHash = sts.spec.template.metadata.annotations[ANNOTATION_API_KEY_HASH];
  // the real StatefulSet controller rolls the core one pod at a time and kwok makes the new pods Ready
  await waitFor(async () => {
    const pods = (await must(cp, 'GET', `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/instance=petrel')}`)).items;
    const ready = pods.filter((p: any) => p.metadata.annotations?.[ANNOTATION_API_KEY_HASH] === newHash && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 5;
  }, 'all 5 pods rolled to the new key and Ready', 120_000);
  await waitFor(async () => condition(await petrel(), 'Ready')?.status === 'True', 'Ready with the new key', 30_000);
});
