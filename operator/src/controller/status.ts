/**
 * MqttCluster status: what the operator observed, as conditions and counts. Pure: observed objects
 * in, status out; the reconciler writes it (only when it differs from what is stored, so a settled
 * cluster costs no writes).
 *
 * Conditions (each with observedGeneration; lastTransitionTime moves only when status flips):
 *   CoreReady      the StatefulSet has spec.core.replicas pods, all ready and on the current template
 *   ReplicasReady  every region's Deployment has its replicas ready and updated (True with no regions)
 *   ClusterJoined  every expected broker (core pods, each region's replicas) is listed as a running
 *                  member by the core's and every region's GET /api/v5/nodes (asked only once the
 *                  pods are ready; see cluster-join.ts)
 *   ConfigApplied  the ConfigMap is written and every pod template carries its hash, rollouts done
 *   DNSReady       DNSEndpoints published for every name with a load-balancer address (True when
 *                  dns.provider is None)
 *   Degraded       something failed (invalid spec, an apply the API server refused, a kind it
 *                  does not serve) — the message says what
 *   Progressing    the operator is still moving things: scaling the core, rolling pods, waiting
 *   Ready          CoreReady ∧ ReplicasReady ∧ ClusterJoined ∧ ConfigApplied ∧ DNSReady ∧ ¬Degraded
 */
import type { Condition, ConditionType, MqttClusterStatus, RegionStatus, ResolvedMqttCluster } from '../api/types.js';
import { ANNOTATION_CONFIG_HASH, names } from '../desired/meta.js';
import type { JoinVerdict } from './cluster-join.js';
import type { CoreScaleStep } from './core-scaling.js';
import type { KubeObject } from './kube-client.js';

export interface StatusInput {
  cr: ResolvedMqttCluster;
  generation: number;
  previous?: MqttClusterStatus;
  sts?: KubeObject;
  deployments: Record<string, KubeObject | undefined>; // by region name
  services: Record<string, KubeObject | undefined>; // by region name
  configMap?: KubeObject;
  configHash: string;
  dnsServed: boolean;
  /** Names of the DNSEndpoints the builders want now, and whether each exists live. */
  dnsEndpoints: { name: string; exists: boolean }[];
  scaleStep?: CoreScaleStep;
  /** The brokers' answers to GET /api/v5/nodes; undefined when not asked (pods not ready yet). */
  join?: JoinVerdict;
  problems: string[];
  now: string;
}

type Cond = { status: 'True' | 'False' | 'Unknown'; reason: string; message: string };

export function setCondition(previous: Condition[] | undefined, type: ConditionType, c: Cond, generation: number, now: string): Condition {
  const old = previous?.find((p) => p.type === type);
  const lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now;
  return { type, status: c.status, reason: c.reason, message: c.message, observedGeneration: generation, lastTransitionTime };
}

function n(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function workloadSettled(o: KubeObject | undefined, want: number): { ready: number; updated: number; settled: boolean; replicas: number } {
  const st = o?.status ?? {};
  const ready = n(st.readyReplicas);
  const updated = n(st.updatedReplicas);
  const replicas = n(st.replicas);
  const observed = n(st.observedGeneration) >= n(o?.metadata.generation);
  return { ready, updated, replicas, settled: !!o && observed && ready >= want && updated >= want && n(o?.spec?.replicas ?? want) === want };
}

/**
 * Pods a region should have: its replicas, or — when an HPA owns the count — the Deployment's
 * current spec.replicas (1 when unset, as the API server defaults it), at least minReplicas.
 */
export function autoscaledWant(r: ResolvedMqttCluster['spec']['regions'][number], d: KubeObject | undefined): number {
  if (r.replicas !== undefined) return r.replicas;
  return Math.max(n(d?.spec?.replicas ?? 1), r.autoscaling?.minReplicas ?? 1);
}

function lbAddresses(svc: KubeObject | undefined): string[] {
  const ingress: { ip?: string; hostname?: string }[] = svc?.status?.loadBalancer?.ingress ?? [];
  return [...new Set(ingress.map((i) => i.ip ?? i.hostname).filter((x): x is string => !!x))].sort();
}

const ORDER: ConditionType[] = ['Ready', 'Progressing', 'Degraded', 'CoreReady', 'ReplicasReady', 'ClusterJoined', 'DNSReady', 'ConfigApplied'];

/** The brokers ClusterJoined expects: core replicas and each region's pods. */
export function expectedBrokers(cr: ResolvedMqttCluster, deployments: Record<string, KubeObject | undefined>): { core: number; regions: Record<string, number> } {
  return { core: cr.spec.core.replicas, regions: Object.fromEntries(cr.spec.regions.map((r) => [r.name, autoscaledWant(r, deployments[r.name])])) };
}

/** ClusterJoined from the verdict (or its absence: the pods are not ready, nobody was asked). */
function joinCondition(join: JoinVerdict | undefined): Cond {
  if (!join) return { status: 'False', reason: 'WaitingForPods', message: 'the brokers are asked for their cluster members once the core and replica pods are ready' };
  if (join.joined) return { status: 'True', reason: 'Joined', message: join.message };
  return { status: 'False', reason: join.errors.length ? 'MembersUnavailable' : 'NotJoined', message: join.message };
}

function sortConditions(cs: Condition[]): Condition[] {
  return cs.sort((a, b) => ORDER.indexOf(a.type as ConditionType) - ORDER.indexOf(b.type as ConditionType));
}

export function computeStatus(i: StatusInput): MqttClusterStatus {
  const { cr, generation, now } = i;
  const prev = i.previous?.conditions;
  const set = (type: ConditionType, c: Cond): Condition => setCondition(prev, type, c, generation, now);

  // core
  const coreWant = cr.spec.core.replicas;
  const core = workloadSettled(i.sts, coreWant);
  const coreReady = set('CoreReady', core.settled
    ? { status: 'True', reason: 'CoreReady', message: `${core.ready}/${coreWant} core pods ready` }
    : { status: 'False', reason: i.sts ? 'CoreNotReady' : 'CoreMissing', message: i.sts ? `${core.ready}/${coreWant} core pods ready, ${core.updated} updated` : 'the core StatefulSet does not exist yet' });

  // regions
  const regions: RegionStatus[] = [];
  const notReady: string[] = [];
  let readySum = 0;
  let wantSum = 0;
  let readyRegions = 0;
  for (const r of cr.spec.regions) {
    const d = i.deployments[r.name];
    const want = autoscaledWant(r, d);
    const w = workloadSettled(d, want);
    readySum += w.ready;
    wantSum += want;
    if (w.settled) readyRegions++;
    else notReady.push(`${r.name} ${w.ready}/${want}`);
    const dns = [r.dns?.hostname, cr.spec.dns.provider === 'ExternalDNS' ? cr.spec.dns.globalHostname : undefined].filter((x): x is string => !!x);
    const rs: RegionStatus = { name: r.name, replicas: w.replicas, readyReplicas: w.ready, updatedReplicas: w.updated };
    const joined = i.join?.joinedNodes.regions[r.name];
    if (joined !== undefined) rs.joinedNodes = joined;
    const endpoints = lbAddresses(i.services[r.name]);
    if (endpoints.length) rs.endpoints = endpoints;
    if (cr.spec.dns.provider === 'ExternalDNS' && dns.length) rs.dns = dns;
    regions.push(rs);
  }
  const replicasReady = set('ReplicasReady', notReady.length === 0
    ? { status: 'True', reason: cr.spec.regions.length ? 'ReplicasReady' : 'NoRegions', message: cr.spec.regions.length ? `${readySum}/${wantSum} replica pods ready in ${cr.spec.regions.length} regions` : 'no regions configured' }
    : { status: 'False', reason: 'ReplicasNotReady', message: `regions not ready: ${notReady.join(', ')}` });

  // config
  const templates: [string, KubeObject | undefined, number][] = [
    [names.core(cr), i.sts, coreWant],
    ...cr.spec.regions.map((r): [string, KubeObject | undefined, number] => [names.region(cr, r.name), i.deployments[r.name], autoscaledWant(r, i.deployments[r.name])]),
  ];
  const stale = templates.filter(([, o]) => o?.spec?.template?.metadata?.annotations?.[ANNOTATION_CONFIG_HASH] !== i.configHash).map(([name]) => name);
  const rolledOut = (o: KubeObject, want: number): boolean =>
    n(o.status?.observedGeneration) >= n(o.metadata.generation) && n(o.status?.updatedReplicas) >= want;
  const rolling = templates.filter(([name, o, want]) => o && !stale.includes(name) && !rolledOut(o, want)).map(([name]) => name);
  const configApplied = set('ConfigApplied', !i.configMap
    ? { status: 'False', reason: 'ConfigMapMissing', message: `ConfigMap ${names.config(cr)} does not exist yet` }
    : stale.length ? { status: 'False', reason: 'TemplatesStale', message: `pod templates without config hash ${i.configHash}: ${stale.join(', ')}` }
      : rolling.length ? { status: 'False', reason: 'RollingOut', message: `pods rolling to config ${i.configHash}: ${rolling.join(', ')}` }
        : { status: 'True', reason: 'ConfigApplied', message: `config ${i.configHash} on every pod` });

  // dns
  let dnsCond: Cond;
  if (cr.spec.dns.provider !== 'ExternalDNS') dnsCond = { status: 'True', reason: 'DNSDisabled', message: 'dns.provider is None' };
  else if (!i.dnsServed) dnsCond = { status: 'False', reason: 'DNSEndpointUnavailable', message: 'the API server does not serve externaldns.k8s.io/v1alpha1 DNSEndpoint: install external-dns with its CRD' };
  else {
    const wantsDns = cr.spec.regions.filter((r) => r.dns?.hostname || cr.spec.dns.globalHostname);
    const noLb = wantsDns.filter((r) => lbAddresses(i.services[r.name]).length === 0).map((r) => r.name);
    const missing = i.dnsEndpoints.filter((d) => !d.exists).map((d) => d.name);
    dnsCond = noLb.length ? { status: 'False', reason: 'WaitingForLoadBalancer', message: `no load-balancer address yet for: ${noLb.join(', ')}` }
      : missing.length ? { status: 'False', reason: 'Publishing', message: `DNSEndpoints not yet created: ${missing.join(', ')}` }
        : { status: 'True', reason: 'Published', message: `${i.dnsEndpoints.length} DNSEndpoint(s) published` };
  }
  const dnsReady = set('DNSReady', dnsCond);

  const clusterJoined = set('ClusterJoined', joinCondition(i.join));

  const degraded = set('Degraded', i.problems.length
    ? { status: 'True', reason: 'ReconcileError', message: i.problems.join('; ') }
    : { status: 'False', reason: 'AsExpected', message: 'no errors' });

  const scaling = i.scaleStep && (i.scaleStep.action !== 'set' || n(i.sts?.spec?.replicas) !== coreWant) && i.sts;
  const progressingWhy = scaling ? i.scaleStep!.reason
    : configApplied.status !== 'True' && i.configMap ? configApplied.message
      : coreReady.status !== 'True' ? coreReady.message
        : replicasReady.status !== 'True' ? replicasReady.message
          : clusterJoined.status !== 'True' ? clusterJoined.message : '';
  const progressingReason = scaling ? 'ScalingCore' : configApplied.status !== 'True' ? 'RollingOut'
    : coreReady.status !== 'True' || replicasReady.status !== 'True' ? 'WaitingForPods' : 'Joining';
  const progressing = set('Progressing', progressingWhy
    ? { status: 'True', reason: progressingReason, message: progressingWhy }
    : { status: 'False', reason: 'Stable', message: 'all objects up to date' });

  const parts = [coreReady, replicasReady, clusterJoined, configApplied, dnsReady];
  const notTrue = parts.filter((c) => c.status !== 'True').map((c) => c.type);
  const ok = notTrue.length === 0 && degraded.status === 'False';
  const ready = set('Ready', ok
    ? { status: 'True', reason: 'Ready', message: 'core, replicas, cluster membership, config and DNS are ready' }
    : { status: 'False', reason: degraded.status === 'True' ? 'Degraded' : 'NotReady', message: degraded.status === 'True' ? degraded.message ?? '' : `not ready: ${notTrue.join(', ')}` });

  return {
    observedGeneration: generation,
    conditions: sortConditions([ready, progressing, degraded, coreReady, replicasReady, clusterJoined, dnsReady, configApplied]),
    core: { replicas: core.replicas, readyReplicas: core.ready, updatedReplicas: core.updated, ...(i.join?.joinedNodes.core !== undefined ? { joinedNodes: i.join.joinedNodes.core } : {}) },
    regions,
    summary: { cores: `${core.ready}/${coreWant}`, regions: `${readyRegions}/${cr.spec.regions.length}`, replicas: `${readySum}/${wantSum}` },
  };
}

/** Status for a spec the operator cannot act on: Degraded + Ready=False with the reasons. */
export function invalidStatus(previous: MqttClusterStatus | undefined, generation: number, errors: string[], now: string): MqttClusterStatus {
  const prev = previous?.conditions;
  const message = `invalid spec: ${errors.join('; ')}`;
  const kept = (prev ?? []).filter((c) => !['Ready', 'Degraded', 'Progressing'].includes(c.type));
  return {
    ...(previous ?? {}),
    observedGeneration: generation,
    conditions: sortConditions([
      setCondition(prev, 'Ready', { status: 'False', reason: 'InvalidSpec', message }, generation, now),
      setCondition(prev, 'Progressing', { status: 'False', reason: 'InvalidSpec', message: 'nothing is applied until the spec is fixed' }, generation, now),
      setCondition(prev, 'Degraded', { status: 'True', reason: 'InvalidSpec', message }, generation, now),
      ...kept,
    ]),
  };
}

/** Status while spec.paused: Progressing=False/Paused; everything else as last observed. */
export function pausedStatus(previous: MqttClusterStatus | undefined, generation: number, now: string): MqttClusterStatus {
  const prev = previous?.conditions;
  const kept = (prev ?? []).filter((c) => c.type !== 'Progressing');
  return {
    ...(previous ?? {}),
    conditions: sortConditions([
      setCondition(prev, 'Progressing', { status: 'False', reason: 'Paused', message: 'spec.paused is true: owned objects are left as they are' }, generation, now),
      ...kept,
    ]),
  };
}
