/**
 * ClusterState: everything the broker keeps that a cluster shares — which node holds a client,
 * which nodes want which topics (routes), retained messages, shared-group membership and
 * delayed messages — behind one small interface with one implementation per backend:
 *
 * - `local` (local.ts): a single node; in-process tables plus the embedded store. The default.
 * - `etcd`: the clustered backend (cluster issue); it drops in here without touching channels,
 *   sessions or the subscriber index.
 *
 * Reads on the publish path (`routes`, `retained`) are local copies, never a network call.
 * Writes return at once; a backend that replicates does so behind the caller's back.
 */
import type { Message } from '../types.js';
import type { RouteTable, RetainedIndex } from '../router/index.js';
import type { SessionRecord } from '../session/registry.js';
import type { SessionTransfer } from './wire.js';

/** A live node of the cluster, as its membership record says (etcd: under the node's lease). */
export interface Member {
  name: string;
  role: 'core' | 'replica';
  region: string;
  version: string;
  /** ms since the epoch. */
  startedAt: number;
  /** host:port other nodes dial for the node-to-node link ('' for a single node). */
  link: string;
}

/** A member as seen from this node: itself, or a peer whose link is up or down. */
export interface MemberView extends Member {
  self: boolean;
  linkState: 'self' | 'up' | 'down';
}

/** A handler of a cluster call (cluster-wide REST reads, kick, session takeover). */
export type ClusterCallHandler = (args: unknown, from: string) => unknown | Promise<unknown>;

export interface ClusterState {
  readonly backend: 'local' | 'etcd';
  /** This node's name (the route table's `self`). */
  readonly nodeName: string;
  /** Local copy of the route table: topic filter → nodes. */
  readonly routes: RouteTable;
  /** Local copy of the retained messages (topic → message), matched on SUBSCRIBE. */
  readonly retained: RetainedIndex;

  // ---- client registry: client id → node, for takeover and clean start across nodes
  /** Records that this node now holds the client; returns the node that held it before (null = none or this one). */
  registerClient(clientId: string): string | null;
  /**
   * Before a connection of the client opens: claims the client id cluster-wide (a transaction;
   * of two nodes racing, one commits first and the other takes over from it). Resolves to the
   * node that held it before (null: none, or this one). null instead of a promise on a single node.
   */
  claimClient(clientId: string): Promise<string | null> | null;
  /** The client's session ended here (not on a takeover: the new node re-registers it). */
  unregisterClient(clientId: string): void;

  // ---- persistent sessions: a copy of each record (subscriptions, expiry) outlives the node
  /** Stores the record of a persistent session held here. */
  saveSession(rec: SessionRecord): void;
  /** The session ended for good (expired, discarded, kicked). */
  dropSession(clientId: string): void;
  /** The cluster's record of a session held (or last held) by another node; null when none (or a single node). */
  loadSession(clientId: string): Promise<(SessionRecord & { node: string }) | null> | null;
  /** Claims a client id only if no node holds it (adopting an orphaned session); true when claimed. */
  claimFree(clientId: string): Promise<boolean>;
  /**
   * The session of a client whose node (`fromNode`) died, from the node that mirrored it
   * (session-backup.ts): handed over and forgotten there. null when there is no copy (or a single node).
   */
  recoverSession(clientId: string, fromNode: string): Promise<SessionTransfer | null> | null;
  /** Waits until this node's queued writes are in the backend (before a session is handed over). */
  settle(): Promise<void>;
  /**
   * Called with a node that left the cluster when THIS node is the one to adopt its persistent
   * sessions (the first live core by name), with their records.
   */
  onOrphans: ((node: string, sessions: SessionRecord[]) => void) | null;
  /**
   * Called when this node, back in the cluster after losing its lease, claimed back a client that
   * `from` had taken meanwhile (it adopted the session while this node was cut off).
   */
  onReclaimed: ((clientId: string, from: string) => void) | null;

  // ---- routes: this node's; other nodes' arrive through the backend
  /** This node has its first subscriber to the filter. */
  addRoute(topicFilter: string): void;
  /** This node's last subscriber to the filter went. */
  removeRoute(topicFilter: string): void;

  // ---- $exclusive/{filter}: one holder cluster-wide
  /** Claims the filter for the client (true also when it holds it already); false when another client does. */
  claimExclusive(topicFilter: string, clientId: string): boolean | Promise<boolean>;
  /** The client's exclusive subscription went on this node. */
  releaseExclusive(topicFilter: string, clientId: string): void;

  // ---- shared groups: which nodes have members of which group (kept in `routes`)
  /** This node has its first member of the group. */
  joinGroup(group: string, topicFilter: string): void;
  /** This node's last member of the group went. */
  leaveGroup(group: string, topicFilter: string): void;

  // ---- retained messages
  /** Stores (or replaces) the topic's retained message. */
  putRetained(msg: Message): void;
  /** Deletes the topic's retained message; false when there was none. */
  deleteRetained(topic: string): boolean;

  // ---- delayed messages ($delayed/{seconds}/…)
  /** Holds the message for delaySec; false when the delayed store is full. */
  addDelayed(msg: Message, delaySec: number): boolean;
  readonly delayedCount: number;
  listDelayed(): Array<{ due: number; msg: Message }>;
  /** Drops a held message before it is due (REST); false = none with this message id. */
  deleteDelayed(msgId: number): boolean;

  // ---- membership and node-to-node calls
  /** This node, or another member whose link is up (a shared group prefers usable nodes). */
  usable(node: string): boolean;
  /** Gauges of the backend for /api/v5/stats and Prometheus (none on a single node). */
  stats(): Record<string, number>;
    /** Live nodes, this one first. */
  members(): MemberView[];
  /** Registers the handler of a call other nodes (and this one) can make by name. */
  handle(method: string, fn: ClusterCallHandler): void;
  /**
   * Calls `method` on `node` (this node's own handler when node is nodeName). Rejects when the
   * node is not a member, its link is down, or it does not answer within timeoutMs (default 5 s).
   */
  call(node: string, method: string, args: unknown, timeoutMs?: number): Promise<unknown>;

  /**
   * Loads what the backend holds and starts its timers; `due` receives delayed messages when
   * their time comes. Returns the highest message id seen (message ids continue after it).
   */
  start(due: (msg: Message) => void): number;
  stop(): void;
}
