/**
 * Where access-control state lives: built-in users, SCRAM users, the authentication chain and
 * the authorization sources and settings changed through REST, the built-in authorization
 * rules and the banned list. One node keeps them in its own store; a cluster
 * (`cluster.backend: etcd`) keeps them in etcd, so a user added on one node can log in on any
 * other, as EMQX replicates its Mnesia tables (cluster/access-store.ts).
 *
 * Reads (`get`, `scan`) come from this node's copy in memory: the connect and publish paths
 * never wait on the network. A write applies to this node's copy at once and resolves when it
 * is stored — on a cluster, in etcd, so a REST handler that awaits it answers 2xx only once
 * every node can see the change. A write etcd refused is taken back here: the key returns to
 * the value etcd holds, and the watchers hear it as any other change.
 *
 * `watch` tells the module that owns a namespace about changes that did not come from its own
 * calls: other nodes' writes, a write taken back, a reload after etcd's history was compacted.
 * Handlers are told the key's value now (undefined: gone), not a delta, so hearing a change
 * twice (an own write echoed back by etcd) does no harm.
 */
import type { Store } from '../store/index.js';

export type SharedChange = (key: string, value: unknown | undefined) => void;

export interface SharedStore {
  /** true on etcd: writes cross the network and other nodes' changes arrive through watch(). */
  readonly clustered: boolean;
  get(ns: string, key: string): unknown | undefined;
  /** Entries whose key starts with prefix, in key order (UTF-8 bytes, as the node store). */
  scan(ns: string, prefix?: string): Iterable<[string, unknown]>;
  put(ns: string, key: string, value: unknown): Promise<void>;
  /**
   * Puts only if no node has the key: false when one has (the winner's value is then this
   * node's copy). Two nodes adding the same user at once: one of them is told it exists.
   */
  create(ns: string, key: string, value: unknown): Promise<boolean>;
  /** Many keys at once (an imported user file): fewer round trips than one put each. */
  putAll(ns: string, entries: ReadonlyArray<readonly [string, unknown]>): Promise<void>;
  del(ns: string, key: string): Promise<void>;
  delPrefix(ns: string, prefix: string): Promise<void>;
  /** Changes not made through this object's own calls; returns the unsubscribe. */
  watch(ns: string, fn: SharedChange): () => void;
}

/** A single node: the node's store, written as before (the writes are already durable enough here). */
export class LocalSharedStore implements SharedStore {
  readonly clustered = false;
  private readonly store: Store;
  constructor(store: Store) { this.store = store; }

  get(ns: string, key: string): unknown | undefined { return this.store.get(ns, key); }
  scan(ns: string, prefix?: string): Iterable<[string, unknown]> { return this.store.scan(ns, prefix); }
  put(ns: string, key: string, value: unknown): Promise<void> { this.store.put(ns, key, value); return DONE; }
  create(ns: string, key: string, value: unknown): Promise<boolean> {
    if (this.store.get(ns, key) !== undefined) return NO;
    this.store.put(ns, key, value);
    return YES;
  }
  putAll(ns: string, entries: ReadonlyArray<readonly [string, unknown]>): Promise<void> {
    for (const [k, v] of entries) this.store.put(ns, k, v);
    return DONE;
  }
  del(ns: string, key: string): Promise<void> { this.store.del(ns, key); return DONE; }
  delPrefix(ns: string, prefix: string): Promise<void> { this.store.delPrefix(ns, prefix); return DONE; }
  // Nothing else writes a node's own store.
  watch(): () => void { return NOOP; }
}

const DONE = Promise.resolve();
const YES = Promise.resolve(true);
const NO = Promise.resolve(false);
const NOOP = (): void => {};

const locals = new WeakMap<Store, LocalSharedStore>();

/** The shared store of an access context: ctx.shared, else (one node, unit tests) one over ctx.store. */
export function sharedOf(ctx: { store: Store; shared?: SharedStore }): SharedStore {
  return ctx.shared ?? asShared(ctx.store);
}

/** A Store or a SharedStore as a SharedStore (one LocalSharedStore per Store). */
export function asShared(s: Store | SharedStore): SharedStore {
  if ('watch' in s) return s;
  let l = locals.get(s);
  if (l === undefined) { l = new LocalSharedStore(s); locals.set(s, l); }
  return l;
}

/** Logs a write that did not reach the cluster (fire-and-forget writes: flapping bans, purges). */
export function logFailure(log: { warn(o: object, m?: string): void }, what: string): (err: Error) => void {
  return (err) => log.warn({ err: err.message }, `${what} not stored cluster-wide; kept on this node`);
}
