/**
 * The cluster route model, simulated and measured (not a test): 10 million distinct filters over
 * 50 nodes, summarised per node (broker/src/cluster/route-summary.ts) against the naive model
 * (one etcd key per (filter, node) and the full route table in every node).
 *
 *   make cluster-model                     (or: node --expose-gc --max-old-space-size=8192 --import tsx bench/cluster-model.ts)
 *   ARGS="--nodes 10 --per-node 50000"     a smaller run
 *
 * MEASURED here: the 50 summaries built for real (time, bytes, false positives from published
 * topics, CPU per lookup), a RouteTable of 1M routes (heap per route, build and lookup time), and a
 * real etcd (Debian's /usr/bin/etcd, one member, data dir in the temp dir): bytes per key, batched
 * write rate, range-read rate, reading the 50 real snapshots. EXTRAPOLATED: everything at 10M
 * routes / 1M clients in etcd, from those rates and sizes. Results go to
 * bench/results/cluster-model-<date>.json; docs/cluster.md reads them.
 */
import { performance } from 'node:perf_hooks';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Etcd3 } from 'etcd3';
import { LocalSummary, RemoteSummary, TopicProbe } from '../broker/src/cluster/route-summary.js';
import { SummarySet } from '../broker/src/cluster/summary-set.js';
import { RouteTable } from '../broker/src/router/index.js';
import { startEtcdCluster } from '../test/support/etcd-cluster.js';
import { repoRoot } from './lib/repo.js';
import { gitCommit } from './lib/machine.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const NODES = arg('nodes', 50);
const PER_NODE = arg('per-node', 200_000);
const BITS_PER_ENTRY = arg('bits-per-entry', 20);
const NAIVE_ROUTES = arg('naive-routes', 1_000_000);
const ETCD_KEYS = arg('etcd-keys', 100_000);
const STORM_CLIENTS = 1_000_000;
/** Nodes that die (a tenth): their clients reconnect to the others. */
const DEAD_NODES = Math.max(1, Math.round(NODES / 10));
/** Per-node connect rate of the README benchmark (Petrel, 2 cores): the storm's pace. */
const CONNECT_RATE_PER_NODE = 3782;
/** How often a node publishes its pending delta. */
const DELTA_INTERVAL_MS = 100;
/** etcd's default --max-txn-ops. */
const TXN_OPS = 128;
/** KeyValue protobuf overhead per watch event: create/mod revision, version, lease (varints) + tags and lengths; an estimate. */
const EVENT_OVERHEAD = 30;

const nodeName = (j: number): string => `petrel@10.0.${Math.floor(j / 250)}.${j % 250 + 1}`;

/** The filter mix of node j: 80 % `dev/{id}/cmd`, 15 % `dev/{id}/#`, 5 % `app/{id}/+/status`; ids unique cluster-wide. */
function filterOf(j: number, i: number, perNode = PER_NODE): string {
  const id = j * perNode + i;
  const r = i % 20;
  if (r < 16) return `dev/${id}/cmd`;
  if (r < 19) return `dev/${id}/#`;
  return `app/${id}/+/status`;
}

/** Filters every node also holds, that stay explicit routes (first-level wildcard, shared). */
function explicitOf(j: number): string[] {
  return [`+/${j}/health`, `$share/g${j % 5}/dev/+/up`];
}

/** Two nodes run an alarm service with a broad filter: its literal prefix `dev` covers all device traffic. */
const BROAD_NODES = new Set([0, 1]);
const BROAD_FILTER = 'dev/+/alarm';

function heap(): number {
  gc(); gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

const fmt = (n: number, d = 0): string => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
const MiB = (b: number): string => `${fmt(b / 2 ** 20, 1)} MiB`;
const GiB = (b: number): string => `${fmt(b / 2 ** 30, 2)} GiB`;

function rnd32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- the summary model, in memory

interface SummaryResults {
  nodes: number; perNode: number; filters: number; bitsPerEntry: number;
  m: number; k: number; n: number; fill: number; fpRateTheory: number; resizesPerNode: number;
  snapshotBytes: number; replicaBytesAllNodes: number; replicaHeapBytes: number; localHeapBytesPerNode: number;
  buildMsPerNode: number; buildNsPerFilter: number;
  publishes: number; falseNegatives: number;
  bloomFalseForwardsPerPublish: number; bloomFpPerNodeTopic: number; coarseForwardsPerPublish: number;
  lookupNsPerPublishOneByOne: number; lookupNsPerPublish: number; lookupNsPerPublishNoBroad: number; summarySetBytes: number; summarySetBuildMs: number;
  storm: { routesAddedPerNode: number; deltas: number; deltaBytes: number; deltaBytesPerRoute: number; resized: boolean; snapshotBytesAfter: number };
  explicitRoutes: number;
}

function summaryModel(): { res: SummaryResults; snapshots: Buffer[] } {
  console.log(`summary model: ${NODES} nodes × ${fmt(PER_NODE)} filters, ${BITS_PER_ENTRY} bits per entry`);
  const snapshots: Buffer[] = [];
  let buildMs = 0;
  let resizes = 0;
  let localHeap = 0;
  let explicitRoutes = 0;
  let keep: LocalSummary | null = null;
  let last = new LocalSummary({ bitsPerEntry: BITS_PER_ENTRY }).stats();
  for (let j = 0; j < NODES; j++) {
    const h0 = j === 0 ? heap() : 0;
    const filters: string[] = new Array(PER_NODE);
    for (let i = 0; i < PER_NODE; i++) filters[i] = filterOf(j, i);
    const l = new LocalSummary({ bitsPerEntry: BITS_PER_ENTRY });
    const t0 = cpuMs();
    for (let i = 0; i < PER_NODE; i++) if (l.add(filters[i]!).kind === 'resized') resizes++;
    if (BROAD_NODES.has(j)) l.add(BROAD_FILTER);
    for (const f of explicitOf(j)) if (l.add(f).kind === 'explicit') explicitRoutes++;
    snapshots.push(l.snapshot());
    buildMs += cpuMs() - t0;
    last = l.stats();
    if (j === 0) {
      filters.length = 0;
      localHeap = heap() - h0;
      keep = l; // node 0 lives on for the storm
    }
    if (j % 10 === 9) console.log(`  built ${j + 1} nodes, ${fmt(buildMs / (j + 1))} ms per node`);
  }
  const h0 = heap();
  const remotes = snapshots.map((s) => RemoteSummary.fromSnapshot(s));
  const replicaHeap = heap() - h0;

  // publish: commands to random existing devices; the owner must be hit (no false negatives)
  const PUBLISHES = 200_000;
  const rnd = rnd32(7);
  const topics: string[] = [];
  const owners: number[] = [];
  for (let p = 0; p < PUBLISHES; p++) {
    const id = Math.floor(rnd() * NODES * PER_NODE);
    const i = id % PER_NODE;
    const r = i % 20;
    owners.push(Math.floor(id / PER_NODE));
    topics.push(r < 16 ? `dev/${id}/cmd` : r < 19 ? `dev/${id}/up/temp` : `app/${id}/x/status`);
  }
  const probe = new TopicProbe();
  let falseNeg = 0;
  let bloom = 0;
  let coarse = 0;
  let bloomPairs = 0;
  for (let p = 0; p < PUBLISHES; p++) {
    probe.set(topics[p]!);
    const owner = owners[p]!;
    const dev = topics[p]!.startsWith('dev/');
    for (let j = 0; j < NODES; j++) {
      const hit = remotes[j]!.matches(probe);
      if (j === owner) { if (!hit) falseNeg++; continue; }
      if (dev && BROAD_NODES.has(j)) { coarse += hit ? 1 : 0; continue; }
      bloomPairs++;
      if (hit) bloom++;
    }
  }
  // CPU per publish: hash once, test every node (self included: 50 nodes), one by one and in a SummarySet
  const ROUNDS = 3;
  const oneByOne = (set: RemoteSummary[]): number => {
    let hits = 0;
    const c0 = cpuMs();
    for (let r = 0; r < ROUNDS; r++) {
      for (let p = 0; p < PUBLISHES; p++) {
        probe.set(topics[p]!);
        for (let j = 0; j < set.length; j++) if (set[j]!.matches(probe)) hits++;
      }
    }
    if (hits < 0) console.log(hits);
    return ((cpuMs() - c0) * 1e6) / (ROUNDS * PUBLISHES);
  };
  const sliced = (set: SummarySet): { ns: number; hits: number } => {
    const out: string[] = [];
    let hits = 0;
    const c0 = cpuMs();
    for (let r = 0; r < ROUNDS; r++) {
      for (let p = 0; p < PUBLISHES; p++) {
        out.length = 0;
        hits += set.match(probe.set(topics[p]!), out);
      }
    }
    return { ns: ((cpuMs() - c0) * 1e6) / (ROUNDS * PUBLISHES), hits: hits / ROUNDS };
  };
  const lookupOneByOne = oneByOne(remotes);
  const b0 = cpuMs();
  const all = new SummarySet();
  snapshots.forEach((s, j) => all.setSnapshot(nodeName(j), s));
  const setBuildMs = cpuMs() - b0;
  const allRes = sliced(all);
  // the same hits as one by one: owners (no false negatives) + coarse + Bloom positives
  if (allRes.hits !== PUBLISHES - falseNeg + coarse + bloom) throw new Error(`SummarySet found ${allRes.hits} nodes, one by one ${PUBLISHES - falseNeg + coarse + bloom}`);
  const noBroad = new SummarySet();
  snapshots.forEach((s, j) => noBroad.setSnapshot(nodeName(j), BROAD_NODES.has(j) ? snapshots[NODES - 1 - j]! : s));
  const lookupNs = allRes.ns;
  const lookupNsNoBroad = sliced(noBroad).ns;

  // the reconnect storm, seen from one surviving node: it takes its share of the dead nodes' clients
  const l0 = keep!;
  const added = Math.ceil(STORM_CLIENTS / (NODES - DEAD_NODES));
  const perDelta = Math.max(1, Math.round((CONNECT_RATE_PER_NODE * DELTA_INTERVAL_MS) / 1000));
  let deltas = 0;
  let deltaBytes = 0;
  let resized = false;
  let snapshotAfter = 0;
  for (let i = 0; i < added; i++) {
    const r = l0.add(filterOf(NODES + 1, i, added)); // ids beyond every node's
    if (r.kind === 'resized') { resized = true; snapshotAfter = l0.snapshot().length; }
    if (i % perDelta === perDelta - 1 || i === added - 1) {
      const d = l0.takeDelta();
      if (d !== null) { deltas++; deltaBytes += d.length; }
    }
  }
  const s0 = snapshots[0]!;
  const res: SummaryResults = {
    nodes: NODES, perNode: PER_NODE, filters: NODES * PER_NODE, bitsPerEntry: BITS_PER_ENTRY,
    m: last.m, k: last.k, n: last.n, fill: last.fill, fpRateTheory: last.fpRate, resizesPerNode: resizes / NODES,
    snapshotBytes: s0.length, replicaBytesAllNodes: remotes.reduce((a, r) => a + r.bytes, 0), replicaHeapBytes: replicaHeap,
    localHeapBytesPerNode: localHeap, buildMsPerNode: buildMs / NODES, buildNsPerFilter: (buildMs * 1e6) / (NODES * PER_NODE),
    publishes: PUBLISHES, falseNegatives: falseNeg,
    bloomFalseForwardsPerPublish: bloom / PUBLISHES, bloomFpPerNodeTopic: bloom / bloomPairs, coarseForwardsPerPublish: coarse / PUBLISHES,
    lookupNsPerPublishOneByOne: lookupOneByOne, lookupNsPerPublish: lookupNs, lookupNsPerPublishNoBroad: lookupNsNoBroad,
    summarySetBytes: all.bytes, summarySetBuildMs: setBuildMs,
    storm: { routesAddedPerNode: added, deltas, deltaBytes, deltaBytesPerRoute: deltaBytes / added, resized, snapshotBytesAfter: snapshotAfter || s0.length },
    explicitRoutes,
  };
  console.log(res);
  return { res, snapshots };
}

// ---------------------------------------------------------------- bits per entry against false positives

interface SweepRow { bitsPerEntry: number; k: number; m: number; fill: number; fpPerKeyTheory: number; fpPerTopicMeasured: number; falseForwardsPer50Nodes: number; snapshotBytes: number }

/** One node's summary at several sizes: the measured rate of a 3-level topic (6 keys) testing positive. */
function fpSweep(): SweepRow[] {
  const rows: SweepRow[] = [];
  const probe = new TopicProbe();
  for (const bpe of [8, 10, 16, 20, 24]) {
    const l = new LocalSummary({ bitsPerEntry: bpe });
    for (let i = 0; i < PER_NODE; i++) l.add(filterOf(0, i));
    const r = RemoteSummary.fromSnapshot(l.snapshot());
    const s = l.stats();
    let fp = 0;
    const T = 400_000;
    for (let p = 0; p < T; p++) if (r.matches(probe.set(`dev/${PER_NODE + p}/cmd`))) fp++;
    rows.push({ bitsPerEntry: bpe, k: s.k, m: s.m, fill: s.fill, fpPerKeyTheory: s.fpRate, fpPerTopicMeasured: fp / T, falseForwardsPer50Nodes: (49 * fp) / T, snapshotBytes: s.snapshotBytes });
  }
  console.table(rows);
  return rows;
}

// ---------------------------------------------------------------- the naive model's replica: a RouteTable

interface NaiveMemResults { routes: number; heapBytesPerRoute: number; buildNsPerRoute: number; lookupNsPerPublish: number }

function naiveMemory(): NaiveMemResults {
  const perNode = Math.ceil(NAIVE_ROUTES / NODES);
  console.log(`naive replica: RouteTable of ${fmt(NAIVE_ROUTES)} routes (${NODES} nodes × ${fmt(perNode)})`);
  const filters: string[] = [];
  const nodes: string[] = [];
  for (let j = 0; j < NODES; j++) for (let i = 0; i < perNode; i++) { filters.push(filterOf(j, i, perNode)); nodes.push(nodeName(j)); }
  const h0 = heap();
  const t = new RouteTable('self');
  const c0 = cpuMs();
  for (let i = 0; i < filters.length; i++) t.add(filters[i]!, nodes[i]!);
  const buildMs = cpuMs() - c0;
  const bytes = heap() - h0;
  const rnd = rnd32(9);
  const topics: string[] = [];
  for (let p = 0; p < 200_000; p++) topics.push(`dev/${Math.floor(rnd() * filters.length)}/cmd`);
  let hits = 0;
  const visit = (): void => { hits++; };
  const k0 = cpuMs();
  for (let r = 0; r < 3; r++) for (const topic of topics) t.matchRemote(topic, visit);
  const lookupNs = ((cpuMs() - k0) * 1e6) / (3 * topics.length);
  const res = { routes: t.size, heapBytesPerRoute: bytes / t.size, buildNsPerRoute: (buildMs * 1e6) / t.size, lookupNsPerPublish: lookupNs };
  console.log(res);
  return res;
}

// ---------------------------------------------------------------- a real etcd

interface EtcdResults {
  version: string;
  dataDir: string;
  routeKeyBytes: number; routeValueBytes: number; dbBytesPerRouteKey: number;
  clientKeyBytes: number; clientValueBytes: number; dbBytesPerClientKey: number;
  putKeysPerSec: number; txnsPerSec: number; txnOps: number; concurrency: number;
  rangeKeysPerSec: number;
  snapshots: number; snapshotBytes: number; snapshotReadMs: number; snapshotDecodeMs: number; snapshotWriteMs: number;
}

async function statusOf(c: Etcd3): Promise<{ dbSize: number; inUse: number }> {
  const s = await c.maintenance.status({});
  return { dbSize: Number(s.dbSize), inUse: Number(s.dbSizeInUse ?? s.dbSize) };
}

async function putBatched(c: Etcd3, kvs: Array<[string, string | Buffer]>, lease: string, concurrency: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < kvs.length) {
      const from = next;
      next = Math.min(kvs.length, next + TXN_OPS);
      const success = [];
      for (let i = from; i < next; i++) success.push({ request_put: { key: Buffer.from(kvs[i]![0]), value: Buffer.from(kvs[i]![1]), lease } });
      await c.kv.txn({ success });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - t0;
}

async function rangeAll(c: Etcd3, prefix: string, page: number): Promise<{ keys: number; ms: number }> {
  const end = Buffer.from(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1));
  let key = Buffer.from(prefix);
  let keys = 0;
  const t0 = performance.now();
  for (;;) {
    const r = await c.kv.range({ key, range_end: end, limit: page });
    keys += r.kvs.length;
    if (!r.more || r.kvs.length === 0) break;
    key = Buffer.concat([r.kvs[r.kvs.length - 1]!.key, Buffer.from([0])]);
  }
  return { keys, ms: performance.now() - t0 };
}

async function etcdModel(snapshots: Buffer[]): Promise<EtcdResults> {
  console.log(`etcd: ${fmt(ETCD_KEYS)} route keys, ${fmt(ETCD_KEYS)} client keys, ${snapshots.length} snapshots`);
  const cluster = await startEtcdCluster(['model']);
  const c = new Etcd3({ hosts: cluster.clientURLs, grpcOptions: { 'grpc.max_receive_message_length': 64 * 2 ** 20 } });
  try {
    const version = (await c.maintenance.status({})).version;
    const lease = c.lease(600, { autoKeepAlive: true });
    const leaseId = await lease.grant();
    const CONC = 8;
    // route keys: /petrel/routes/{node}/{filter} → '' (the node in the key: its keys sit under its lease)
    const routes: Array<[string, string]> = [];
    for (let i = 0; i < ETCD_KEYS; i++) routes.push([`/petrel/routes/${nodeName(i % NODES)}/${filterOf(i % NODES, Math.floor(i / NODES))}`, '']);
    const s0 = await statusOf(c);
    const putMs = await putBatched(c, routes, leaseId, CONC);
    const s1 = await statusOf(c);
    // client registry: /petrel/clients/{clientId} → node
    const clients: Array<[string, string]> = [];
    for (let i = 0; i < ETCD_KEYS; i++) clients.push([`/petrel/clients/device-${String(i * 97).padStart(10, '0')}`, nodeName(i % NODES)]);
    await putBatched(c, clients, leaseId, CONC);
    const s2 = await statusOf(c);
    const read = await rangeAll(c, '/petrel/routes/', 10_000);
    if (read.keys !== ETCD_KEYS) throw new Error(`read ${read.keys} route keys, wrote ${ETCD_KEYS}`);
    // the summaries: one snapshot key per node
    const w0 = performance.now();
    for (let j = 0; j < snapshots.length; j++) await c.put(`/petrel/summary/${nodeName(j)}/snapshot`).value(snapshots[j]!).lease(leaseId);
    const snapshotWriteMs = performance.now() - w0;
    const r0 = performance.now();
    const got = await rangeAll(c, '/petrel/summary/', 4);
    const snapshotReadMs = performance.now() - r0;
    if (got.keys !== snapshots.length) throw new Error(`read ${got.keys} snapshots`);
    const d0 = performance.now();
    for (const s of snapshots) RemoteSummary.fromSnapshot(s);
    const snapshotDecodeMs = performance.now() - d0;
    await lease.revoke();
    const routeKey = routes[ETCD_KEYS >> 1]![0];
    const clientKey = clients[ETCD_KEYS >> 1]!;
    return {
      version, dataDir: os.tmpdir(),
      routeKeyBytes: Buffer.byteLength(routeKey), routeValueBytes: 0, dbBytesPerRouteKey: (s1.inUse - s0.inUse) / ETCD_KEYS,
      clientKeyBytes: Buffer.byteLength(clientKey[0]), clientValueBytes: Buffer.byteLength(clientKey[1]), dbBytesPerClientKey: (s2.inUse - s1.inUse) / ETCD_KEYS,
      putKeysPerSec: ETCD_KEYS / (putMs / 1000), txnsPerSec: ETCD_KEYS / TXN_OPS / (putMs / 1000), txnOps: TXN_OPS, concurrency: CONC,
      rangeKeysPerSec: read.keys / (read.ms / 1000),
      snapshots: snapshots.length, snapshotBytes: snapshots[0]!.length, snapshotReadMs, snapshotDecodeMs, snapshotWriteMs,
    };
  } finally {
    c.close();
    await cluster.stop();
  }
}

// ---------------------------------------------------------------- the two models side by side

async function main(): Promise<void> {
  const started = new Date();
  const load0 = os.loadavg()[0];
  const sweep = fpSweep();
  const { res: sum, snapshots } = summaryModel();
  const naive = naiveMemory();
  const etcd = await etcdModel(snapshots);
  console.log(etcd);

  const ROUTES = NODES * PER_NODE;
  const stormSec = STORM_CLIENTS / (CONNECT_RATE_PER_NODE * (NODES - DEAD_NODES));
  const survivors = NODES - DEAD_NODES;
  const routesPerClient = 1; // the mix: one filter per device
  const routeEvent = etcd.routeKeyBytes + EVENT_OVERHEAD;
  const snapKey = `/petrel/summary/${nodeName(0)}/snapshot`.length;
  const deltaKey = `/petrel/summary/${nodeName(0)}/d/0000000000`.length;
  const registry = (clients: number): number => clients * etcd.dbBytesPerClientKey;
  const m = {
    naive: {
      etcdBytes: ROUTES * etcd.dbBytesPerRouteKey,
      // storm: the dead nodes' routes expire with their leases (deletes etcd makes itself), every
      // reconnecting client's route is put again
      stormRouteWrites: STORM_CLIENTS * routesPerClient,
      stormRouteDeletes: STORM_CLIENTS * routesPerClient,
      stormRouteKeysPerSec: (STORM_CLIENTS * routesPerClient) / stormSec,
      stormTxnsPerSec: (STORM_CLIENTS * routesPerClient) / TXN_OPS / stormSec,
      stormWatchBytesPerSec: (2 * STORM_CLIENTS * routesPerClient * routeEvent * survivors) / stormSec,
      replicaBytes: ROUTES * naive.heapBytesPerRoute,
      resyncSec: ROUTES / etcd.rangeKeysPerSec + (ROUTES * naive.buildNsPerRoute) / 1e9,
      lookupNs: naive.lookupNsPerPublish,
    },
    summary: {
      etcdBytes: NODES * (sum.snapshotBytes + snapKey + 100),
      stormRouteWrites: survivors * sum.storm.deltas + (sum.storm.resized ? survivors : 0),
      stormRouteDeletes: DEAD_NODES,
      stormRouteKeysPerSec: (survivors * sum.storm.deltas) / stormSec,
      stormTxnsPerSec: (survivors * sum.storm.deltas) / stormSec,
      stormWatchBytesPerSec: (survivors * (sum.storm.deltaBytes + sum.storm.deltas * (deltaKey + EVENT_OVERHEAD)) * survivors) / stormSec,
      // a node whose keys cross m / bitsPerEntry in the storm resizes: one new snapshot to every watcher, once
      stormResizeWatchBytes: sum.storm.resized ? survivors * sum.storm.snapshotBytesAfter * survivors : 0,
      replicaBytes: sum.replicaBytesAllNodes,
      resyncSec: (etcd.snapshotReadMs + etcd.snapshotDecodeMs) / 1000,
      lookupNs: sum.lookupNsPerPublish,
    },
    registry: {
      bytes10M: registry(10e6), bytes100M: registry(100e6),
      stormPutsPerSec: STORM_CLIENTS / stormSec, stormTxnsPerSec: STORM_CLIENTS / TXN_OPS / stormSec,
      stormSecAtEtcdRate: STORM_CLIENTS / etcd.putKeysPerSec,
    },
    stormSec,
  };

  const rows: Array<[string, string, string, string]> = [
    [`etcd bytes for the routes (${fmt(ROUTES)})`, GiB(m.naive.etcdBytes), MiB(m.summary.etcdBytes), 'naive: extrapolated from measured bytes/key'],
    ['etcd route writes in the storm', fmt(m.naive.stormRouteWrites) + ' puts + ' + fmt(m.naive.stormRouteDeletes) + ' deletes', fmt(m.summary.stormRouteWrites) + ' puts + ' + fmt(m.summary.stormRouteDeletes) + ' deletes', `${fmt(stormSec, 1)} s storm (${fmt(survivors)} nodes × ${CONNECT_RATE_PER_NODE}/s)`],
    ['etcd route keys/s in the storm', fmt(m.naive.stormRouteKeysPerSec), fmt(m.summary.stormRouteKeysPerSec), `etcd here: ${fmt(etcd.putKeysPerSec)} keys/s measured`],
    ['etcd route txns/s in the storm', fmt(m.naive.stormTxnsPerSec), fmt(m.summary.stormTxnsPerSec), `${TXN_OPS} ops/txn`],
    ['watch bytes/s, all watchers', MiB(m.naive.stormWatchBytesPerSec) + '/s', MiB(m.summary.stormWatchBytesPerSec) + '/s' + (m.summary.stormResizeWatchBytes ? ` + ${MiB(m.summary.stormResizeWatchBytes)} once (resize snapshots)` : ''), `${survivors} watchers; event = key + value + ${EVENT_OVERHEAD} B`],
    [`replica memory, routes of ${NODES} nodes`, GiB(m.naive.replicaBytes), MiB(m.summary.replicaBytes), `naive: measured at ${fmt(naive.routes)}, scaled`],
    ['resync of a new replica', `${fmt(m.naive.resyncSec, 1)} s`, `${fmt(m.summary.resyncSec, 2)} s`, 'naive: extrapolated; summary: measured'],
    ['CPU per publish lookup', `${fmt(m.naive.lookupNs)} ns`, `${fmt(m.summary.lookupNs)} ns (one by one: ${fmt(sum.lookupNsPerPublishOneByOne)} ns)`, 'measured; summary: SummarySet'],
  ];
  console.log('\n| | naive (key per route) | summary (Bloom per node) | note |\n| --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\nclient registry: ${fmt(etcd.dbBytesPerClientKey)} B/key → 10M ${GiB(m.registry.bytes10M)}, 100M ${GiB(m.registry.bytes100M)}; storm ${fmt(m.registry.stormPutsPerSec)} puts/s = ${fmt(m.registry.stormTxnsPerSec)} txns/s; at the etcd rate measured here 1M puts take ${fmt(m.registry.stormSecAtEtcdRate, 1)} s`);

  const out = {
    date: started.toISOString(), commit: gitCommit(),
    machine: { cores: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    params: { NODES, PER_NODE, BITS_PER_ENTRY, NAIVE_ROUTES, ETCD_KEYS, STORM_CLIENTS, DEAD_NODES, CONNECT_RATE_PER_NODE, DELTA_INTERVAL_MS, TXN_OPS, EVENT_OVERHEAD },
    loadAverage: { start: load0, end: os.loadavg()[0] },
    measured: { sweep, summary: sum, naive, etcd },
    extrapolated: m,
    table: rows,
  };
  const dir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `cluster-model-${started.toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(repoRoot(), file)}`);
}

await main();
