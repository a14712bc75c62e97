/**
 * etcd membership of a managed core, through etcd's Cluster API (MemberList / MemberAdd /
 * MemberRemove) with the etcd3 client.
 *
 * Each core pod `<name>-core-<i>` runs one etcd member named like the pod, with the peer URL
 * `http://<name>-core-<i>.<name>-core-headless.<ns>.svc:2380`. A member that was added but has not
 * started yet has no name, so a member's ordinal is read from its name, else from its peer URL.
 *
 * The endpoint the operator dials is the core's client Service, or an override (tests run a
 * real etcd on loopback; an operator running outside the cluster needs a port-forward).
 */
import { Etcd3 } from 'etcd3';

export interface EtcdMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  started: boolean;
}

/** What the controller needs from an etcd cluster; tests may wrap it to record calls. */
export interface EtcdMembership {
  list(): Promise<EtcdMember[]>;
  add(peerURL: string): Promise<EtcdMember>;
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

export type EtcdConnector = (endpoints: string[]) => EtcdMembership;

export class Etcd3Membership implements EtcdMembership {
  private readonly client: Etcd3;

  constructor(endpoints: string[], timeoutMs = 5_000) {
    this.client = new Etcd3({ hosts: endpoints, dialTimeout: timeoutMs, defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }) } as any);
  }

  async list(): Promise<EtcdMember[]> {
    const res = await this.client.cluster.memberList({ linearizable: true } as any);
    return (res.members ?? []).map(toMember);
  }

  async add(peerURL: string): Promise<EtcdMember> {
    const res = await this.client.cluster.memberAdd({ peerURLs: [peerURL] });
    return toMember(res.member);
  }

  async remove(id: string): Promise<void> {
    await this.client.cluster.memberRemove({ ID: id });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

function toMember(m: any): EtcdMember {
  return {
    id: String(m.ID),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    started: Boolean(m.name),
  };
}

export const connectEtcd3: EtcdConnector = (endpoints) => new Etcd3Membership(endpoints);

/** The ordinal of `<prefix>-<i>` in a member's name or peer URL host; undefined if not ours. */
export function memberOrdinal(m: EtcdMember, podPrefix: string): number | undefined {
  const re = new RegExp(`^${podPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`);
  const byName = m.name.match(re);
  if (byName) return Number(byName[1]);
  for (const u of m.peerURLs) {
    try {
      const host = new URL(u).hostname.split('.')[0];
      const hit = host.match(re);
      if (hit) return Number(hit[1]);
    } catch { /* not a URL */ }
  }
  return undefined;
}
