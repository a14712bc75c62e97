/**
 * Listener management of a multi-process node (node.workers) through the REST API: every worker
 * runs the node's listeners, so a listener's list row, start/stop/restart and config change go to
 * every worker of the node (the one that got the request first, then its siblings, by cluster
 * call), and the list sums their connections. A worker that fails an action is named in the error;
 * the others keep what they did.
 */
import type { AdminApi } from '../api/admin.js';
import type { ClusterState } from '../cluster/state.js';
import { nodeOfMember } from './config.js';

type Row = Record<string, unknown>;
type Local = Pick<AdminApi, 'listListeners' | 'listenerAction'> & { updateListener: NonNullable<AdminApi['updateListener']> };

const CALL_TIMEOUT_MS = 10_000;

export function workerListenersAdmin(state: Pick<ClusterState, 'nodeName' | 'members' | 'call' | 'handle'>, local: Local): Required<Pick<AdminApi, 'listListenersNode' | 'listenerAction' | 'updateListener'>> {
  state.handle('workers.listeners.list', () => local.listListeners());
  state.handle('workers.listeners.action', (args) => {
    const a = args as { id?: unknown; action?: unknown };
    if (typeof a.id !== 'string' || (a.action !== 'start' && a.action !== 'stop' && a.action !== 'restart')) throw new TypeError('expected {id, action}');
    return local.listenerAction(a.id, a.action).then(() => true);
  });
  state.handle('workers.listeners.update', (args) => {
    const a = args as { id?: unknown; body?: unknown };
    if (typeof a.id !== 'string' || typeof a.body !== 'object' || a.body === null) throw new TypeError('expected {id, body}');
    return local.updateListener(a.id, a.body as Row);
  });
  const siblings = (): string[] => {
    const node = nodeOfMember(state.nodeName);
    return state.members().map((m) => m.name).filter((n) => n !== state.nodeName && nodeOfMember(n) === node);
  };
  /** Runs the call on every sibling; throws naming those that failed. */
  const onSiblings = async (method: string, args: unknown, what: string): Promise<void> => {
    const names = siblings();
    const settled = await Promise.allSettled(names.map((n) => state.call(n, method, args, CALL_TIMEOUT_MS)));
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`${names[i]}: ${(s.reason as Error).message}`] : []));
    if (failed.length > 0) throw new Error(`${what} failed on ${failed.join('; ')}`);
  };
  return {
    async listListenersNode() {
      const mine = local.listListeners();
      const names = siblings();
      const theirs = await Promise.allSettled(names.map((n) => state.call(n, 'workers.listeners.list', null, CALL_TIMEOUT_MS)));
      const rows = new Map<string, Row>();
      for (const r of mine) rows.set(String(r['id']), { ...r, workers_running: r['running'] === true ? 1 : 0 });
      for (const t of theirs) {
        if (t.status !== 'fulfilled' || !Array.isArray(t.value)) continue;
        for (const r of t.value as Row[]) {
          const row = rows.get(String(r['id']));
          if (row === undefined) continue;
          if (typeof r['currentConnections'] === 'number') row['currentConnections'] = (row['currentConnections'] as number) + r['currentConnections'];
          if (r['running'] === true) row['workers_running'] = (row['workers_running'] as number) + 1;
          else row['running'] = false;
        }
      }
      return [...rows.values()];
    },
    async listenerAction(id, action) {
      await local.listenerAction(id, action);
      await onSiblings('workers.listeners.action', { id, action }, `${action} ${id}`);
    },
    async updateListener(id, body) {
      const row = await local.updateListener(id, body);
      await onSiblings('workers.listeners.update', { id, body }, `the update of ${id}`);
      return row;
    },
  };
}
