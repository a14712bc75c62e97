/**
 * One reconcile of one MqttCluster: read it from the cache, decide, write only what differs.
 *
 *   1. gone or being deleted → nothing (owner references let the garbage collector remove the
 *      owned objects; nothing external needs a finalizer with managed etcd);
 *   2. invalid (validate(): the API server's CEL rules, re-checked here because a server without
 *      them — or an old CRD — may have stored it) → Degraded=True with every problem, one Event;
 *   3. paused → Progressing=False/Paused, nothing else touched;
 *   4. desiredObjects(cr, observed) from the pure builders, with the core StatefulSet's replica
 *      count replaced by this step of the core scaling plan (etcd member added / removed first);
 *   5. server-side apply (field manager petrel-operator, force) of each object whose live copy
 *      differs, with an Event saying why; objects of kinds the server does not serve are reported;
 *   6. prune: owned objects (by label + owner uid) that the builders no longer want — a removed
 *      region, an autoscaler turned off, DNS records without a target — are deleted;
 *   7. once the pods are ready, the brokers are asked who is in the cluster (GET /api/v5/nodes on
 *      the core and on every region, with the operator's own API key): ClusterJoined;
 *   8. status, written only when it changed; requeue soon while progressing (which includes
 *      "not joined yet"), else a slow resync.
 */
import type { Logger } from 'pino';
import { API_VERSION, KIND, validate, withDefaults, type MqttCluster, type MqttClusterStatus, type ResolvedMqttCluster } from '../api/types.js';
import { etcdMembers, replicaEtcdEndpoints } from '../desired/core.js';
import { desiredObjects, generateApiKey, InvalidSpecError, OWNED_KINDS, parseApiKeySecret, podTemplateHashes, type ApiKey, type DesiredObject, type Observed } from '../desired/index.js';
import { ANNOTATION_CONFIG_HASH, LABEL_INSTANCE, names } from '../desired/meta.js';
import { needsMembers, planCoreScale, type CoreScaleStep } from './core-scaling.js';
import { fetchNodes, joinTargets, NODES_TIMEOUT_MS, type BrokerApiURLOverride, type NodesFetcher } from './broker-api.js';
import { evaluateJoin, type JoinVerdict } from './cluster-join.js';
import type { EtcdConnector, EtcdMembership } from './etcd-members.js';
import type { EventRecorder } from './events.js';
import type { Informers } from './informers.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import type { OperatorMetrics } from './metrics.js';
import { applyReason, canonicalJson, withAppliedHash } from './object-diff.js';
import { computeStatus, expectedBrokers, invalidStatus, pausedStatus, type StatusInput } from './status.js';

export interface ReconcilerOptions {
  client: KubeClient;
  cache: Informers;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  etcdConnector: EtcdConnector;
  /** Overrides the etcd endpoints the operator dials for a cluster (tests; out-of-cluster runs). */
  etcdEndpoints?: (cr: ResolvedMqttCluster) => string[];
  /** Overrides the peer URL a new member of ordinal i is added with (tests run members on loopback). */
  etcdPeerURL?: (cr: ResolvedMqttCluster, ordinal: number) => string;
  /** Overrides the base URL of a broker Service's API (tests; out-of-cluster runs). */
  brokerApiURL?: BrokerApiURLOverride;
  /** Asks one broker Service GET /api/v5/nodes (default: real HTTP). */
  nodesFetcher?: NodesFetcher;
  nodesTimeoutMs?: number;
  progressRequeueMs?: number;
  resyncMs?: number;
  /** A Ready cluster's brokers are asked again this often (a broker that leaves turns ClusterJoined False). Default 30 s. */
  joinRecheckMs?: number;
}

export interface ReconcileResult { requeueAfterMs?: number }

const ETCD_NOT_READY = /unhealthy cluster|not enough started members|re-configuration failed due to not enough started members/i;
const PENDING_TTL_MS = 10_000;
const DNS_API_VERSION = 'externaldns.k8s.io/v1alpha1';
const DNS_KIND = 'DNSEndpoint';

function objKey(apiVersion: string, kind: string, ns: string | undefined, name: string): string {
  return `${apiVersion}|${kind}|${ns ?? ''}|${name}`;
}

function ts(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class Reconciler {
  /**
   * Objects we applied whose watch event has not reached the cache yet: key → returned object.
   * Bounded in time: a watch that relisted may never show that exact resourceVersion.
   */
  private readonly pending = new Map<string, { obj: KubeObject; at: number }>();
  private readonly etcd = new Map<string, { endpoints: string; membership: EtcdMembership }>();
  private readonly progressMs: number;
  private readonly resyncMs: number;
  private readonly joinRecheckMs: number;

  constructor(private readonly o: ReconcilerOptions) {
    this.progressMs = o.progressRequeueMs ?? 5_000;
    this.resyncMs = o.resyncMs ?? 5 * 60_000;
    this.joinRecheckMs = o.joinRecheckMs ?? 30_000;
  }

  /** Informer hook: once the cache holds what we wrote, stop overlaying it. */
  observed(obj: KubeObject): void {
    const k = objKey(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const p = this.pending.get(k);
    if (p && p.obj.metadata.resourceVersion === obj.metadata.resourceVersion) this.pending.delete(k);
  }

  private live(apiVersion: string, kind: string, ns: string, name: string): KubeObject | undefined {
    const k = objKey(apiVersion, kind, ns, name);
    const cached = this.o.cache.get(apiVersion, kind, ns, name);
    const p = this.pending.get(k);
    if (p && Date.now() - p.at < PENDING_TTL_MS && (!cached || cached.metadata.resourceVersion !== p.obj.metadata.resourceVersion)) return p.obj;
    if (p) this.pending.delete(k);
    return cached;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/');
    const cr = this.o.cache.get(API_VERSION, KIND, ns, name) as unknown as (MqttCluster & KubeObject) | undefined;
    if (!cr) {
      await this.forget(key);
      return {};
    }
    if (cr.metadata.deletionTimestamp) return {};
    const generation = cr.metadata.generation ?? 1;
    const now = ts();

    const errors = validate(cr);
    if (errors.length) {
      const wrote = await this.writeStatus(cr, invalidStatus(cr.status, generation, errors, now));
      if (wrote) await this.o.events.record(cr, 'Warning', 'InvalidSpec', `invalid spec: ${errors.join('; ')}`);
      this.o.metrics.reconcileTotal.inc({ result: 'invalid' });
      return {};
    }
    if (cr.spec.paused) {
      const wasPaused = cr.status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'Paused');
      await this.writeStatus(cr, pausedStatus(cr.status, generation, now));
      if (!wasPaused) await this.o.events.record(cr, 'Normal', 'Paused', 'spec.paused is true: reconciliation stopped');
      this.o.metrics.reconcileTotal.inc({ result: 'paused' });
      return {};
    }

    const rcr = withDefaults(cr);
    const observed = await this.observe(rcr);
    let desired: DesiredObject[];
    try {
      desired = desiredObjects(rcr, observed);
    } catch (e) {
      if (e instanceof InvalidSpecError) {
        const wrote = await this.writeStatus(cr, invalidStatus(cr.status, generation, e.errors, now));
        if (wrote) await this.o.events.record(cr, 'Warning', 'InvalidSpec', e.message);
        return {};
      }
      throw e;
    }

    const problems: string[] = [];
    const step = await this.scaleCore(cr, rcr, desired, problems);

    // apply
    const dnsServed = (await this.o.client.resource(DNS_API_VERSION, DNS_KIND)) !== undefined;
    const wanted = new Set<string>();
    for (const obj of desired) {
      const k = objKey(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
      wanted.add(k);
      if (!(await this.o.client.resource(obj.apiVersion, obj.kind))) {
        if (obj.kind !== DNS_KIND) problems.push(`${obj.apiVersion} ${obj.kind} is not served by the API server (is its CRD installed?)`);
        continue;
      }
      await this.applyOne(cr, obj, problems);
    }

    // prune what the builders no longer want
    for (const kind of OWNED_KINDS) {
      if (!this.o.cache.served(kind.apiVersion, kind.kind)) continue;
      for (const live of this.o.cache.list(kind.apiVersion, kind.kind, ns)) {
        if (live.metadata.labels?.[LABEL_INSTANCE] !== name) continue;
        if (!live.metadata.ownerReferences?.some((r) => r.uid === cr.metadata.uid)) continue;
        const k = objKey(kind.apiVersion, kind.kind, ns, live.metadata.name);
        if (wanted.has(k) || live.metadata.deletionTimestamp) continue;
        try {
          if (await this.o.client.delete(kind.apiVersion, kind.kind, ns, live.metadata.name, live.metadata.uid)) {
            this.pending.delete(k);
            this.o.metrics.deletes.inc({ kind: kind.kind });
            await this.o.events.record(cr, 'Normal', 'Deleted', `deleted ${kind.kind} ${live.metadata.name}: no longer in the spec`);
          }
        } catch (e) {
          problems.push(`delete ${kind.kind} ${live.metadata.name}: ${(e as Error).message}`);
        }
      }
    }

    // status
    const deployments: Record<string, KubeObject | undefined> = {};
    const services: Record<string, KubeObject | undefined> = {};
    for (const r of rcr.spec.regions) {
      deployments[r.name] = this.live('apps/v1', 'Deployment', ns, names.region(rcr, r.name));
      // the Services as observed before building: a load-balancer address that arrived since then
      // has no DNSEndpoint yet, and must not make DNSReady True over records never built
      services[r.name] = observed.services?.[names.region(rcr, r.name)] as KubeObject | undefined;
    }
    const dnsWanted = desired.filter((d) => d.kind === DNS_KIND).map((d) => d.metadata.name);
    const input: StatusInput = {
      cr: rcr, generation, previous: cr.status, now,
      sts: this.live('apps/v1', 'StatefulSet', ns, names.core(rcr)),
      deployments, services,
      configMap: this.live('v1', 'ConfigMap', ns, names.config(rcr)),
      configHash: podTemplateHashes(rcr, observed)[ANNOTATION_CONFIG_HASH],
      dnsServed,
      dnsEndpoints: dnsWanted.map((n) => ({ name: n, exists: !!this.live(DNS_API_VERSION, DNS_KIND, ns, n) })),
      scaleStep: step,
      problems,
    };
    let status = computeStatus(input);
    const podsReady = ['CoreReady', 'ReplicasReady'].every((t) => status.conditions!.find((c) => c.type === t)?.status === 'True');
    if (podsReady && observed.apiKey) {
      input.join = await this.askBrokers(rcr, observed.apiKey, expectedBrokers(rcr, deployments));
      status = computeStatus(input);
    }
    const wasReady = cr.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    await this.writeStatus(cr, status);
    const ready = status.conditions!.find((c) => c.type === 'Ready')!;
    if (ready.status !== wasReady && (ready.status === 'True' || wasReady === 'True')) {
      await this.o.events.record(cr, ready.status === 'True' ? 'Normal' : 'Warning', ready.status === 'True' ? 'Ready' : 'NotReady', ready.message ?? '');
    }
    if (problems.length) {
      this.o.metrics.reconcileTotal.inc({ result: 'error' });
      throw new Error(problems.join('; '));
    }
    const progressing = status.conditions!.find((c) => c.type === 'Progressing')!.status === 'True';
    this.o.metrics.reconcileTotal.inc({ result: progressing ? 'requeue' : 'success' });
    // Membership changes without any Kubernetes event (a broker leaves the cluster): ask again.
    const asked = status.conditions!.some((c) => c.type === 'ClusterJoined' && c.reason !== 'WaitingForPods');
    return { requeueAfterMs: progressing ? this.progressMs : asked ? Math.min(this.joinRecheckMs, this.resyncMs) : this.resyncMs };
  }

  /** GET /api/v5/nodes on the core and every region, in parallel; failures become messages. */
  private async askBrokers(cr: ResolvedMqttCluster, key: ApiKey, want: { core: number; regions: Record<string, number> }): Promise<JoinVerdict> {
    const fetch = this.o.nodesFetcher ?? fetchNodes;
    const timeout = this.o.nodesTimeoutMs ?? NODES_TIMEOUT_MS;
    const targets = joinTargets(cr, this.o.brokerApiURL);
    const answers = await Promise.all(targets.map((t) => fetch(t, key, timeout).catch((e) => ({ error: `GET ${t.url}: ${(e as Error).message}` }))));
    return evaluateJoin(cr, want, targets.map((target, i) => ({ target, answer: answers[i]! })));
  }

  /**
   * The operator's API key: read back from its Secret (cache, else one GET), generated only when
   * there is none or it is unreadable. Never regenerated while the Secret holds a valid key.
   */
  private async apiKey(cr: ResolvedMqttCluster): Promise<ApiKey> {
    const name = names.apiKeySecret(cr);
    const cached = this.live('v1', 'Secret', cr.metadata.namespace, name);
    const fromCache = parseApiKeySecret(cached as { data?: Record<string, string> } | undefined);
    if (fromCache) return fromCache;
    const got = await this.o.client.get('v1', 'Secret', cr.metadata.namespace, name);
    return parseApiKeySecret(got as { data?: Record<string, string> } | undefined) ?? generateApiKey();
  }

  private async observe(cr: ResolvedMqttCluster): Promise<Observed> {
    const services: NonNullable<Observed['services']> = {};
    for (const r of cr.spec.regions) {
      const n = names.region(cr, r.name);
      services[n] = this.live('v1', 'Service', cr.metadata.namespace, n) as any;
    }
    const secrets: NonNullable<Observed['secrets']> = {};
    const tls = names.tlsSecret(cr);
    if (tls) {
      const s = await this.o.client.get('v1', 'Secret', cr.metadata.namespace, tls);
      if (s) secrets[tls] = { data: s.data ?? null };
    }
    return { services, secrets, apiKey: await this.apiKey(cr) };
  }

  private async applyOne(cr: KubeObject, obj: DesiredObject, problems: string[]): Promise<void> {
    const ns = obj.metadata.namespace;
    const want = withAppliedHash(obj as unknown as KubeObject);
    const live = this.live(obj.apiVersion, obj.kind, ns, obj.metadata.name);
    const why = applyReason(want, live);
    if (!why) return;
    try {
      const res = await this.o.client.apply(want, { force: true });
      this.pending.set(objKey(obj.apiVersion, obj.kind, ns, obj.metadata.name), { obj: { ...res, apiVersion: obj.apiVersion, kind: obj.kind }, at: Date.now() });
      const created = live === undefined;
      this.o.metrics.applies.inc({ kind: obj.kind, reason: created ? 'created' : 'changed' });
      await this.o.events.record(cr, 'Normal', created ? 'Created' : 'Updated',
        created ? `created ${obj.kind} ${obj.metadata.name}` : `updated ${obj.kind} ${obj.metadata.name}: ${why}`);
    } catch (e) {
      const msg = `apply ${obj.kind} ${obj.metadata.name}: ${(e as Error).message}`;
      problems.push(msg);
      await this.o.events.record(cr, 'Warning', 'ApplyFailed', msg);
    }
  }

  /** One step of core scaling; rewrites the desired StatefulSet's replicas. */
  private async scaleCore(cr: KubeObject, rcr: ResolvedMqttCluster, desired: DesiredObject[], problems: string[]): Promise<CoreScaleStep | undefined> {
    const sts = desired.find((d) => d.kind === 'StatefulSet');
    if (!sts) return undefined;
    const live = this.live('apps/v1', 'StatefulSet', rcr.metadata.namespace, sts.metadata.name);
    const want = rcr.spec.core.replicas;
    const current: number | undefined = live ? (live.spec?.replicas ?? 1) : undefined;
    const managed = !rcr.spec.etcd.external;
    let step: CoreScaleStep;
    try {
      const scaling = managed && needsMembers(want, current);
      // the etcd connection is only held while the core is being scaled
      if (!scaling) await this.forget(`${rcr.metadata.namespace}/${rcr.metadata.name}`);
      const members = scaling ? await this.membership(rcr).list() : undefined;
      step = planCoreScale({
        desired: want, current, ready: live?.status?.readyReplicas ?? 0, members,
        podPrefix: names.core(rcr),
        peerURL: (i) => this.o.etcdPeerURL?.(rcr, i) ?? etcdMembers(rcr, i + 1)[i].peer,
      });
      if (step.action === 'add-member') {
        await this.membership(rcr).add(step.peerURL);
        this.o.metrics.etcdMemberChanges.inc({ op: 'add' });
        await this.o.events.record(cr, 'Normal', 'EtcdMemberAdded', step.reason);
      } else if (step.action === 'remove-member') {
        await this.membership(rcr).remove(step.memberId);
        this.o.metrics.etcdMemberChanges.inc({ op: 'remove' });
        await this.o.events.record(cr, 'Normal', 'EtcdMemberRemoved', step.reason);
      }
    } catch (e) {
      const err = (e as Error).message;
      if (ETCD_NOT_READY.test(err)) {
        // etcd refuses membership changes until every member has been connected for 5s
        // (--strict-reconfig-check): a normal pause while a new member settles, not a failure.
        step = { action: 'wait', replicas: current ?? want, reason: `scaling the core ${current} → ${want}: etcd not ready for a membership change yet (${err})` };
        (sts as any).spec.replicas = step.replicas;
        return step;
      }
      const msg = `core scaling ${current} → ${want}: etcd: ${err}`;
      problems.push(msg);
      await this.o.events.record(cr, 'Warning', 'EtcdMemberChangeFailed', msg);
      step = { action: 'wait', replicas: current ?? want, reason: msg };
    }
    (sts as any).spec.replicas = step.replicas;
    return step;
  }

  private membership(cr: ResolvedMqttCluster): EtcdMembership {
    const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
    const endpoints = (this.o.etcdEndpoints?.(cr) ?? replicaEtcdEndpoints(cr));
    const e = this.etcd.get(key);
    if (e && e.endpoints === endpoints.join(',')) return e.membership;
    if (e) void e.membership.close();
    const membership = this.o.etcdConnector(endpoints);
    this.etcd.set(key, { endpoints: endpoints.join(','), membership });
    return membership;
  }

  private async writeStatus(cr: KubeObject, status: MqttClusterStatus): Promise<boolean> {
    if (canonicalJson(cr.status ?? {}) === canonicalJson(status)) return false;
    await this.o.client.apply(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: cr.metadata.name, namespace: cr.metadata.namespace }, status },
      { force: true, subresource: 'status' },
    );
    return true;
  }

  async forget(key: string): Promise<void> {
    const e = this.etcd.get(key);
    if (e) { this.etcd.delete(key); await e.membership.close(); }
  }

  async close(): Promise<void> {
    for (const k of [...this.etcd.keys()]) await this.forget(k);
  }
}
