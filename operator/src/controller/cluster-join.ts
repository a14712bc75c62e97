/**
 * Did the brokers actually form one cluster? Pure: the answers of GET /api/v5/nodes (one per
 * target: the core, each region) and the expected brokers in, the ClusterJoined verdict out.
 *
 * Expected brokers: core pods `<name>-core-0 … <name>-core-<n-1>` (node names are "pod@host", so
 * a core pod is recognised by the part before "@"), and in each region as many running members
 * with role replica and that region as the region should have pods (replica pods have random
 * names, so they are counted, not named).
 *
 * A broker counts only with node_status "running". Every target must list every expected broker:
 * a region that sees only itself is split from the cluster even when its own count is right.
 * `joinedNodes` of a group is what that group's own API reports about it.
 */
import type { ResolvedMqttCluster } from '../api/types.js';
import { names } from '../desired/meta.js';
import type { JoinTarget, NodeRow, NodesAnswer } from './broker-api.js';

export interface JoinView {
  target: JoinTarget;
  answer: NodesAnswer;
}

export interface JoinVerdict {
  joined: boolean;
  /** Brokers of each group listed running by that group's own answer (absent when it failed). */
  joinedNodes: { core?: number; regions: Record<string, number | undefined> };
  /** Targets that could not be asked, `<group>: GET <url>: <why>`. */
  errors: string[];
  /** What is missing, e.g. `mc-core-2` or `eu-west-1 replicas 3/4`, per target that saw it. */
  missing: { seenBy: string; missing: string[] }[];
  message: string;
}

const RUNNING = 'running';

function podOf(row: NodeRow): string {
  const at = row.node.indexOf('@');
  return at < 0 ? row.node : row.node.slice(0, at);
}

function running(rows: NodeRow[]): NodeRow[] {
  return rows.filter((r) => r.node_status === RUNNING);
}

function coreSeen(cr: ResolvedMqttCluster, rows: NodeRow[], want: number): { have: number; missing: string[] } {
  const pods = new Set(running(rows).filter((r) => r.role !== 'replica').map(podOf));
  const missing: string[] = [];
  for (let i = 0; i < want; i++) if (!pods.has(names.corePod(cr, i))) missing.push(names.corePod(cr, i));
  return { have: want - missing.length, missing };
}

function regionSeen(rows: NodeRow[], region: string): number {
  return new Set(running(rows).filter((r) => r.role === 'replica' && r.region === region).map((r) => r.node)).size;
}

/**
 * `want`: core replicas and each region's expected pods (its replicas, or the autoscaler's count).
 * `views`: one per target, in the order asked.
 */
export function evaluateJoin(cr: ResolvedMqttCluster, want: { core: number; regions: Record<string, number> }, views: JoinView[]): JoinVerdict {
  const errors: string[] = [];
  const missing: JoinVerdict['missing'] = [];
  const joinedNodes: JoinVerdict['joinedNodes'] = { regions: {} };
  for (const r of cr.spec.regions) joinedNodes.regions[r.name] = undefined;
  for (const v of views) {
    if ('error' in v.answer) {
      errors.push(`${v.target.group}: ${v.answer.error}`);
      continue;
    }
    const rows = v.answer.rows;
    const core = coreSeen(cr, rows, want.core);
    const miss = [...core.missing];
    for (const r of cr.spec.regions) {
      const have = regionSeen(rows, r.name);
      const w = want.regions[r.name] ?? 0;
      if (have < w) miss.push(`${r.name} replicas ${have}/${w}`);
      if (v.target.group === r.name) joinedNodes.regions[r.name] = have;
    }
    if (v.target.group === 'core') joinedNodes.core = core.have;
    if (miss.length) missing.push({ seenBy: v.target.group, missing: miss });
  }
  const joined = errors.length === 0 && missing.length === 0 && views.length > 0;
  return { joined, joinedNodes, errors, missing, message: joinMessage(cr, want, views.length, errors, missing) };
}

function joinMessage(cr: ResolvedMqttCluster, want: { core: number; regions: Record<string, number> }, asked: number, errors: string[], missing: JoinVerdict['missing']): string {
  const parts: string[] = [];
  if (errors.length) parts.push(errors.join('; '));
  if (missing.length) {
    // The same gap seen from every answering target is said once.
    const same = missing.length === asked - errors.length && missing.every((m) => m.missing.join() === missing[0]!.missing.join());
    parts.push(same
      ? `not running cluster members: ${missing[0]!.missing.join(', ')}`
      : `not running cluster members: ${missing.map((m) => `as seen by ${m.seenBy}: ${m.missing.join(', ')}`).join('; ')}`);
  }
  if (parts.length) return parts.join('; ');
  const replicas = cr.spec.regions.reduce((s, r) => s + (want.regions[r.name] ?? 0), 0);
  return `all ${want.core + replicas} brokers (${want.core} core, ${replicas} replicas) are running members as seen by ${asked === 1 ? 'the core' : `the core and ${asked - 1} region(s)`}`;
}
