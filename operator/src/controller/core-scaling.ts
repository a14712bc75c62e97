/**
 * Core scaling: how the StatefulSet's replica count moves towards spec.core.replicas while etcd
 * keeps quorum. A pure decision (`planCoreScale`) the reconciler executes, one step per reconcile:
 *
 *   scale up   (current < desired): wait until every current pod is ready; then add the etcd
 *              member of ordinal `current` (MemberAdd, before its pod exists, so the new pod
 *              joins with --initial-cluster-state=existing), then set replicas = current + 1.
 *   scale down (current > desired): remove the member of the highest ordinal (MemberRemove)
 *              FIRST, then set replicas = current - 1 so its pod goes. Refused while the
 *              members that would remain started are fewer than the new quorum.
 *   one member per step; a step whose etcd call succeeded but whose StatefulSet write failed is
 *   finished by the next reconcile (the member is found already added / already gone).
 *
 * Creation (no StatefulSet yet) and external etcd skip all this: replicas = desired.
 */
import { memberOrdinal, type EtcdMember } from './etcd-members.js';

export interface CoreScaleInput {
  desired: number;
  /** spec.replicas of the live StatefulSet; undefined when it does not exist yet. */
  current: number | undefined;
  /** status.readyReplicas of the live StatefulSet. */
  ready: number;
  /** etcd members (undefined: etcd is external — no membership to manage). */
  members: EtcdMember[] | undefined;
  podPrefix: string; // "<name>-core"
  peerURL: (ordinal: number) => string;
}

export type CoreScaleStep =
  | { action: 'set'; replicas: number; reason: string }
  | { action: 'add-member'; ordinal: number; peerURL: string; replicas: number; reason: string }
  | { action: 'remove-member'; ordinal: number; memberId: string; replicas: number; reason: string }
  | { action: 'wait'; replicas: number; reason: string };

export function quorum(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** True when the step needs the etcd member list (only while scaling). */
export function needsMembers(desired: number, current: number | undefined): boolean {
  return current !== undefined && current !== desired;
}

export function planCoreScale(i: CoreScaleInput): CoreScaleStep {
  const { desired, current, ready, members } = i;
  if (current === undefined) return { action: 'set', replicas: desired, reason: 'creating the core' };
  if (current === desired) return { action: 'set', replicas: desired, reason: 'core at the desired size' };
  if (members === undefined) return { action: 'set', replicas: desired, reason: 'etcd is external' };
  const byOrdinal = new Map<number, EtcdMember>();
  const span = Math.max(current, desired) + 1;
  for (const m of members) {
    // by name (started members) or peer URL host; else by matching the URL we would give ordinal o
    let o = memberOrdinal(m, i.podPrefix);
    for (let k = 0; o === undefined && k < span; k++) if (m.peerURLs.includes(i.peerURL(k))) o = k;
    if (o !== undefined) byOrdinal.set(o, m);
  }
  if (current < desired) {
    if (ready < current) {
      return { action: 'wait', replicas: current, reason: `scaling up: waiting for ${current - ready} of ${current} core pods to be ready before adding a member` };
    }
    if (byOrdinal.has(current)) {
      return { action: 'set', replicas: current + 1, reason: `scaling up: etcd member ${i.podPrefix}-${current} already added; starting its pod` };
    }
    return {
      action: 'add-member', ordinal: current, peerURL: i.peerURL(current), replicas: current + 1,
      reason: `scaling up ${current} → ${desired}: adding etcd member ${i.podPrefix}-${current}`,
    };
  }
  const top = current - 1;
  const member = byOrdinal.get(top);
  if (!member) {
    return { action: 'set', replicas: top, reason: `scaling down: etcd member ${i.podPrefix}-${top} already removed; removing its pod` };
  }
  const remaining = members.filter((m) => m !== member);
  const startedAfter = remaining.filter((m) => m.started).length;
  if (remaining.length < 1 || startedAfter < quorum(remaining.length)) {
    return {
      action: 'wait', replicas: current,
      reason: `scaling down: removing ${i.podPrefix}-${top} would leave ${startedAfter} started of ${remaining.length} members, below quorum ${quorum(remaining.length)}`,
    };
  }
  return {
    action: 'remove-member', ordinal: top, memberId: member.id, replicas: top,
    reason: `scaling down ${current} → ${desired}: removing etcd member ${i.podPrefix}-${top} before its pod`,
  };
}
