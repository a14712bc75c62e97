/**
 * The `local` ClusterState: one node, no external service. The route table and client
 * registry are in-process (rebuilt from the sessions at start), retained and delayed messages
 * live in the embedded store as well as in memory, so they survive a restart.
 */
import type { Message } from '../types.js';
import type { Store } from '../store/index.js';
import { T } from '../store/keys.js';
import { RouteTable, RetainedIndex, type SharedStrategy } from '../router/index.js';
import { DelayedPublisher } from '../delayed.js';
import type { ClusterCallHandler, ClusterState, MemberView } from './state.js';
import { VERSION } from '../version.js';

export class LocalClusterState implements ClusterState {
  readonly backend = 'local' as const;
  readonly nodeName: string;
  readonly routes: RouteTable;
  readonly retained = new RetainedIndex();
  private readonly store: Store;
  private readonly delayed: DelayedPublisher;
  private due: (msg: Message) => void = () => {};
  private readonly handlers = new Map<string, ClusterCallHandler>();
  private readonly self: MemberView;

  constructor(nodeName: string, store: Store, opts: { maxDelayed: number; role?: 'core' | 'replica'; region?: string; strategy?: SharedStrategy }) {
    this.nodeName = nodeName;
    this.self = { name: nodeName, role: opts.role ?? 'core', region: opts.region ?? '', version: VERSION, startedAt: Date.now(), link: '', self: true, linkState: 'self' };
    this.store = store;
    this.routes = new RouteTable(nodeName, opts.strategy);
    this.delayed = new DelayedPublisher(store, (m) => this.due(m), opts.maxDelayed);
  }

  // One node: the session registry already knows every client; nothing to share.
  registerClient(): string | null { return null; }
  claimClient(): null { return null; }
  // The embedded store holds session records on a single node.
  saveSession(): void {}
  dropSession(): void {}
  loadSession(): null { return null; }
  recoverSession(): null { return null; }
  async settle(): Promise<void> {}
  async claimFree(): Promise<boolean> { return true; }
  onOrphans = null;
  onReclaimed = null;
  unregisterClient(): void {}

  addRoute(topicFilter: string): void { this.routes.add(topicFilter, this.nodeName); }
  removeRoute(topicFilter: string): void { this.routes.remove(topicFilter, this.nodeName); }

  // The subscriber index holds the one exclusive subscription of a filter on a single node.
  claimExclusive(): boolean { return true; }
  releaseExclusive(): void {}

  joinGroup(group: string, topicFilter: string): void { this.routes.add(topicFilter, this.nodeName, group); }
  leaveGroup(group: string, topicFilter: string): void { this.routes.remove(topicFilter, this.nodeName, group); }

  putRetained(msg: Message): void {
    this.retained.set(msg);
    this.store.put(T.retained, msg.topic, msg);
  }
  deleteRetained(topic: string): boolean {
    if (!this.retained.delete(topic)) return false;
    this.store.del(T.retained, topic);
    return true;
  }

  addDelayed(msg: Message, delaySec: number): boolean { return this.delayed.add(msg, delaySec); }
  get delayedCount(): number { return this.delayed.size; }
  listDelayed(): Array<{ due: number; msg: Message }> { return this.delayed.list(); }
  deleteDelayed(msgId: number): boolean { return this.delayed.delete(msgId); }

  stats(): Record<string, number> { return {}; }
  usable(node: string): boolean { return node === this.nodeName; }
  members(): MemberView[] { return [{ ...this.self }]; }
  handle(method: string, fn: ClusterCallHandler): void { this.handlers.set(method, fn); }
  async call(node: string, method: string, args: unknown): Promise<unknown> {
    const fn = this.handlers.get(method);
    if (node !== this.nodeName) throw new Error(`node ${node} is not a member of this cluster`);
    if (fn === undefined) throw new Error(`no cluster call named ${method}`);
    return fn(args, this.nodeName);
  }

  start(due: (msg: Message) => void): number {
    this.due = due;
    const now = Date.now();
    let maxId = 0;
    for (const [, v] of this.store.scan(T.retained)) {
      const m = v as Message;
      if (m.expiresAt !== 0 && m.expiresAt <= now) { this.store.del(T.retained, m.topic); continue; }
      this.retained.set(m);
      if (m.id > maxId) maxId = m.id;
    }
    const d = this.delayed.load();
    return d > maxId ? d : maxId;
  }

  stop(): void { this.delayed.stop(); }
}
