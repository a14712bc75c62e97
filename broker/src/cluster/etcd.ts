/**
 * The `etcd` ClusterState: a member of a cluster whose shared state lives in etcd.
 *
 * - Membership: the node grants a lease (cluster.etcd.lease_ttl) and puts its record under it;
 *   every key it owns (record, routes, client registrations) carries the lease, so a node that
 *   dies — or stays cut off from etcd longer than the TTL — leaves with all of them. A node whose
 *   lease was lost grants a new one and writes everything it owns again.
 * - Routes (docs/cluster.md has the model and its numbers): a filter whose first level is literal
 *   (`dev/42/cmd`, `dev/42/#`) is counted in this node's route summary — a Bloom filter of literal
 *   prefixes (router/route-summary.ts), published as a snapshot plus small deltas; a filter whose
 *   first level is a wildcard, and every shared-group membership, is an explicit key. Writes are
 *   batched (one transaction per turn, up to etcd's 128 operations each) when this node's first
 *   subscriber to a filter comes and its last goes; every node watches the others' and keeps a
 *   local copy (RouteTable) — resuming from the last revision after a disconnect, reloading
 *   everything after a compaction.
 * - Client registry: CONNECT claims the client id with a transaction (one winner when two nodes
 *   race); the node that held it hands the session over through a node call (clients/ does it).
 * - Retained messages: one key per topic, watched into every node's RetainedIndex.
 * - Delayed messages: held in etcd, published by one elected node (delayed.ts).
 *
 * Reads on the publish path are the local copies. When etcd is unreachable the node keeps serving
 * with its last copy, queues its writes, and catches up when etcd answers again.
 */
import { randomInt } from 'node:crypto';
import type { Etcd3, Lease, Watcher } from 'etcd3';
import { lazyModule } from '../util/lazy-module.js';
import type { Message } from '../types.js';
import { RouteTable, RetainedIndex, type SharedStrategy } from '../router/index.js';
import { ClusterDelayed } from './delayed.js';
import { VERSION } from '../version.js';
import type { ClusterCallHandler, ClusterState, Member, MemberView } from './state.js';
import { ClusterKeys } from './keys.js';
import { LocalSummary } from '../router/route-summary.js';
import { PartAssembler, isManifest, splitSnapshot } from './summary-parts.js';
import { messageFromJson, messageToJson, type MessageJson } from './wire.js';
import type { SessionRecord } from '../session/registry.js';
import type { SessionTransfer } from './wire.js';
import { BackupHolder } from './session-backup.js';

const etcd3 = lazyModule<typeof import('etcd3')>('etcd3');

/** A client id claim waiting for its turn's transaction (claimClient). */
interface Claim { key: string; resolve: (prev: string | null) => void; reject: (err: Error) => void }
/** Claims per transaction: etcd refuses more than 128 operations (--max-txn-ops), compares included. */
const MAX_CLAIMS_PER_TXN = 64;

/** A transaction's condition that the key is as it was read (`kv`): still absent, or not modified since. */
function unchangedSince(key: Buffer, kv: { mod_revision: string } | undefined) {
  return kv === undefined
    ? { key, target: 'Create' as const, result: 'Equal' as const, create_revision: 0 }
    : { key, target: 'Mod' as const, result: 'Equal' as const, mod_revision: kv.mod_revision };
}

/** What the state needs of the node-to-node link (cluster/link.ts). */
export interface NodeLink {
  setPeer(node: string, address: string): void;
  removePeer(node: string): void;
  peerState(node: string): 'up' | 'down';
  call(node: string, method: string, args: unknown, timeoutMs?: number): Promise<unknown>;
}

export interface EtcdStateOptions {
  nodeName: string;
  role: 'core' | 'replica';
  region: string;
  endpoints: string[];
  prefix: string;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | null;
  leaseTtlSec: number;
  dialTimeoutMs: number;
  strategy: SharedStrategy;
  maxDelayed: number;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void; debug(o: object, m?: string): void };
}

/** A queued write; `lease` false for keys that outlive the node (session records). */
type Op = { put: string; value: Buffer; lease: boolean } | { del: string };
const MAX_TXN_OPS = 128;
/** Bytes of keys and values per transaction: under etcd's default 1.5 MiB request limit with room for framing. */
const MAX_TXN_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

export class EtcdClusterState implements ClusterState {
  readonly backend = 'etcd' as const;
  readonly nodeName: string;
  readonly routes: RouteTable;
  readonly retained = new RetainedIndex();
  readonly keys: ClusterKeys;
  /** Set by the node once the link runs: peers are dialled as members appear. */
  link: NodeLink | null = null;
  /** Counters for metrics: writes, watch events, resyncs, lease losses, replication lag. */
  /** Other nodes' persistent sessions mirrored here. */
  readonly backups = new BackupHolder();
  /** Called when a member joins or leaves (the session backup may move). */
  onMembers: (() => void) | null = null;
  readonly counters = { staleDeltas: 0, writes: 0, writeErrors: 0, watchEvents: 0, resyncs: 0, leaseLost: 0, lagMs: 0 };

  private readonly opts: EtcdStateOptions;
  private readonly client: Etcd3;
  private readonly self: Member;
  private readonly memberMap = new Map<string, Member>();
  private readonly handlers = new Map<string, ClusterCallHandler>();
  private readonly delayed: ClusterDelayed;
  private due: (msg: Message) => void = () => {};
  private started = false;
  private lease: Lease | null = null;
  private leaseId = '';
  /** Every key this node owns under its lease → its value: written again when a lease is lost. */
  private readonly owned = new Map<string, Buffer>();
  /** Writes not yet in etcd, in order, last one per key wins. */
  private readonly pending = new Map<string, Op>();
  private flushing = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private retryMs = 0;
  private readonly watchers: Watcher[] = [];
  private stopped = false;
  private regranting = false;
  /** This node's route summary and the delta keys published since its last snapshot. */
  private readonly summary = new LocalSummary();
  private summaryDirty = false;
  private readonly deltaKeys: string[] = [];
  private deltaSeq = 0;
  /** Part keys of this node's current split snapshot; the tag of the next one (random start: a restarted node never reuses one a peer remembers). */
  private partKeys: string[] = [];
  private partTag = randomInt(0, 2 ** 30);
  /** The other nodes' split snapshots being assembled. */
  private readonly summaryParts = new PartAssembler();

  constructor(opts: EtcdStateOptions) {
    this.opts = opts;
    this.nodeName = opts.nodeName;
    this.keys = new ClusterKeys(opts.prefix);
    this.routes = new RouteTable(opts.nodeName, opts.strategy);
    this.self = { name: opts.nodeName, role: opts.role, region: opts.region, version: VERSION, startedAt: Date.now(), link: '' };
    this.delayed = new ClusterDelayed(this.keys.delayed, opts.nodeName, opts.maxDelayed, {
      put: (key, value) => { this.pending.set(key, { put: key, value, lease: false }); this.schedule(); },
      del: (key) => { this.pending.set(key, { del: key }); this.schedule(); },
      log: opts.log,
    });
    const credentials = opts.tls !== null && opts.tls.ca !== undefined
      ? { rootCertificate: opts.tls.ca, privateKey: opts.tls.key, certChain: opts.tls.cert } : undefined;
    this.client = new (etcd3().Etcd3)({ hosts: opts.endpoints, dialTimeout: opts.dialTimeoutMs, credentials });
    this.handle('backup.apply', (args, from) => { this.backups.apply(from, (args as { ops: Parameters<BackupHolder['apply']>[1] }).ops); return null; });
    this.handle('backup.reset', (args, from) => { this.backups.reset(from, (args as { tables: Parameters<BackupHolder['reset']>[1] }).tables); return null; });
    this.handle('session.recover', (args) => {
      const a = args as { clientId: string; node: string };
      return this.backups.take(a.node, a.clientId);
    });
  }

  /** The etcd client, for the access-control store (cluster/access-store.ts) to share. */
  get etcd(): Etcd3 { return this.client; }
  get dialTimeoutMs(): number { return this.opts.dialTimeoutMs; }

  /** host:port of this node's link, announced in its membership record. */
  set linkAddress(address: string) { this.self.link = address; }

  /**
   * Joins: grants the lease, loads members, routes and retained messages, starts the watches and
   * writes this node's record. Rejects (clearly) when etcd cannot be reached within the dial timeout.
   */
  async connect(): Promise<void> {
    const timeout = Math.max(this.opts.dialTimeoutMs * 2, 5000);
    await withTimeout(this.grantLease(), timeout, `etcd ${this.opts.endpoints.join(',')} did not answer within ${timeout} ms (cluster.etcd.endpoints)`);
    for (const prefix of [this.keys.nodes, this.keys.routes, this.keys.summaries, this.keys.retained, this.keys.delayed]) await this.sync(prefix);
    this.own(this.keys.node(this.nodeName), Buffer.from(JSON.stringify(this.self)));
    await this.flush();
    this.opts.log.info({ node: this.nodeName, members: this.memberMap.size + 1, routes: this.routes.size, retained: this.retained.size }, 'joined the cluster');
  }

  // ---- lease ---------------------------------------------------------------------------------

  private async grantLease(): Promise<void> {
    const lease = this.client.lease(Math.ceil(this.opts.leaseTtlSec), { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.stopped || this.lease !== lease) return;
      this.counters.leaseLost++;
      this.opts.log.warn({ err: err.message }, 'etcd lease lost: this node left the cluster until a new lease is granted');
      void this.regrant();
    });
    this.leaseId = await lease.grant();
    this.lease = lease;
  }

  /** After a lost lease: a new one, then every owned key written again (routes, registrations, record). */
  private async regrant(): Promise<void> {
    if (this.regranting) return;
    this.regranting = true;
    try {
      while (!this.stopped) {
        try {
          await this.grantLease();
          const clients: string[] = [];
          for (const [key, value] of this.owned) {
            if (key.startsWith(this.keys.clients)) clients.push(key.slice(this.keys.clients.length));
            else if (!this.pending.has(key)) this.pending.set(key, { put: key, value, lease: true });
          }
          await this.flush();
          // A client another node claimed meanwhile (it adopted this node's sessions) is claimed back.
          for (const clientId of clients) {
            const prev = await this.claimClient(clientId);
            if (prev !== null && this.onReclaimed !== null) this.onReclaimed(clientId, prev);
          }
          this.opts.log.info({ keys: this.owned.size }, 'etcd lease granted again; this node rejoined');
          return;
        } catch (err) {
          this.opts.log.warn({ err: (err as Error).message }, 'etcd unreachable; retrying the lease');
          await sleep(1000);
        }
      }
    } finally { this.regranting = false; }
  }

  // ---- batched writes ------------------------------------------------------------------------

  private own(key: string, value: Buffer): void {
    this.owned.set(key, value);
    this.pending.set(key, { put: key, value, lease: true });
    this.schedule();
  }

  private disown(key: string): void {
    if (!this.owned.delete(key)) return;
    this.pending.set(key, { del: key });
    this.schedule();
  }

  private schedule(): void {
    if (this.flushTimer !== null || this.closed || this.leaseId === '') return;
    if (this.flushing) return; // flush() reschedules itself when more is pending
    this.flushTimer = setTimeout(() => { this.flushTimer = null; void this.flush(); }, this.retryMs);
  }

  /** Writes what is pending, MAX_TXN_OPS per transaction; on failure keeps it and retries with backoff. */
  private async flush(): Promise<void> {
    if (this.flushing || this.leaseId === '') return;
    this.flushing = true;
    this.publishSummary();
    try {
      while (this.pending.size > 0 && !this.closed) {
        const batch: Op[] = [];
        let bytes = 0;
        for (const op of this.pending.values()) {
          const size = 'put' in op ? op.put.length + op.value.length : op.del.length;
          if (batch.length > 0 && bytes + size > MAX_TXN_BYTES) break;
          batch.push(op);
          bytes += size;
          if (batch.length === MAX_TXN_OPS) break;
        }
        const lease = this.leaseId;
        // A route's value is the time it was written: the nodes that watch it measure replication lag.
        const now = Buffer.from(String(Date.now()));
        await this.client.kv.txn({
          success: batch.map((op) => 'put' in op
            ? { request_put: { key: Buffer.from(op.put), value: op.value.length === 0 ? now : op.value, lease: op.lease ? lease : 0 } }
            : { request_delete_range: { key: Buffer.from(op.del) } }),
        });
        this.counters.writes += batch.length;
        // A key written again while the transaction ran keeps its newer pending operation.
        for (const op of batch) { const k = 'put' in op ? op.put : op.del; if (this.pending.get(k) === op) this.pending.delete(k); }
        this.retryMs = 0;
      }
    } catch (err) {
      this.counters.writeErrors++;
      this.retryMs = Math.min(Math.max(this.retryMs * 2, 200), 5000);
      if (this.retryMs >= 5000 || this.counters.writeErrors % 10 === 1) this.opts.log.warn({ err: (err as Error).message, pending: this.pending.size }, 'etcd write failed; retrying');
    } finally {
      this.flushing = false;
      if (this.pending.size > 0 || this.summaryDirty) this.schedule();
    }
  }

  // ---- watches -------------------------------------------------------------------------------

  /** Loads one prefix, applies it as a whole (removing what is gone), then watches it from there. */
  private async sync(prefix: string): Promise<void> {
    const res = await this.client.getAll().prefix(prefix).exec();
    const rev = BigInt(res.header.revision);
    const kvs = res.kvs.map((kv) => [kv.key.toString(), kv.value] as [string, Buffer]);
    // A summary's deltas apply on top of its snapshot: parts and snapshots first.
    if (prefix === this.keys.summaries) {
      const rank = (key: string): number => { const kind = this.keys.parseSummary(key)?.kind; return kind === 'part' ? 0 : kind === 'snapshot' ? 1 : 2; };
      kvs.sort((a, b) => rank(a[0]) - rank(b[0]));
    }
    this.reload(prefix, kvs);
    const w = await this.client.watch().prefix(prefix).startRevision(String(rev + 1n)).create();
    w.on('put', (kv) => { this.counters.watchEvents++; this.apply(kv.key.toString(), kv.value); });
    w.on('delete', (kv) => { this.counters.watchEvents++; this.apply(kv.key.toString(), null); });
    w.on('error', (err) => {
      // A compacted revision (or a cancelled watch): reload everything under the prefix.
      if (this.stopped) return;
      this.counters.resyncs++;
      this.opts.log.warn({ prefix, err: err.message }, 'etcd watch cancelled; full resync');
      const i = this.watchers.indexOf(w);
      if (i >= 0) this.watchers.splice(i, 1);
      void this.resync(prefix);
    });
    this.watchers.push(w);
  }

  private async resync(prefix: string): Promise<void> {
    while (!this.stopped) {
      try { await this.sync(prefix); return; } catch (err) {
        this.opts.log.warn({ prefix, err: (err as Error).message }, 'etcd resync failed; retrying');
        await sleep(1000);
      }
    }
  }

  /** Replaces the local copy of a prefix with `kvs`. */
  private reload(prefix: string, kvs: Array<[string, Buffer]>): void {
    const seen = new Set<string>();
    for (const [k, v] of kvs) { seen.add(k); this.apply(k, v); }
    if (prefix === this.keys.nodes) {
      for (const name of [...this.memberMap.keys()]) if (!seen.has(this.keys.node(name))) this.apply(this.keys.node(name), null);
    } else if (prefix === this.keys.routes) {
      for (const node of new Set(this.routes.list().map((r) => r.node).concat([...this.memberMap.keys()]))) {
        if (node === this.nodeName) continue;
        for (const r of this.routes.routesOf(node)) {
          const key = this.keys.route(node, r.topicFilter, r.group);
          if (!seen.has(key)) this.routes.remove(r.topicFilter, node, r.group);
        }
      }
    } else if (prefix === this.keys.summaries) {
      const have = new Set<string>();
      for (const k of seen) { const p = this.keys.parseSummary(k); if (p?.kind === 'snapshot') have.add(p.node); }
      for (const m of this.memberMap.keys()) if (!have.has(m)) { this.routes.summaries.remove(m); this.summaryParts.forget(m); }
    } else if (prefix === this.keys.delayed) {
      for (const key of this.delayed.keys()) if (!seen.has(key)) this.delayed.onKey(key, null);
    } else if (prefix === this.keys.retained) {
      for (const m of [...this.retained.values()]) if (!seen.has(this.keys.retainedTopic(m.topic))) this.retained.delete(m.topic);
    }
  }

  /** One key changed (value null: deleted). */
  private apply(key: string, value: Buffer | null): void {
    const k = this.keys;
    if (key.startsWith(k.routes)) {
      const r = k.parseRoute(key);
      if (r === null || r.node === this.nodeName) return;
      if (value === null) { this.routes.remove(r.topicFilter, r.node, r.group); return; }
      this.routes.add(r.topicFilter, r.node, r.group);
      const at = Number(value.toString());
      if (at > 0) this.counters.lagMs = Math.max(0, Date.now() - at);
    } else if (key.startsWith(k.nodes)) {
      const name = key.slice(k.nodes.length);
      if (name === this.nodeName) return;
      if (value === null) { this.memberLeft(name); return; }
      let m: Member;
      try { m = JSON.parse(value.toString()) as Member; } catch { this.opts.log.warn({ key }, 'unreadable membership record; ignored'); return; }
      const before = this.memberMap.get(name);
      this.memberMap.set(name, m);
      if (before === undefined) { this.opts.log.info({ node: name, role: m.role, region: m.region, link: m.link }, 'node joined'); this.elect(); this.onMembers?.(); }
      if (m.link !== '' && (before === undefined || before.link !== m.link)) this.link?.setPeer(name, m.link);
    } else if (key.startsWith(k.summaries)) {
      const p = k.parseSummary(key);
      if (p === null || p.node === this.nodeName) return;
      try {
        if (p.kind === 'part') {
          const whole = this.summaryParts.part(p.node, p.tag, p.index, value);
          if (whole !== null) this.routes.summaries.setSnapshot(p.node, whole);
        } else if (p.kind === 'snapshot') {
          if (value === null) { this.routes.summaries.remove(p.node); this.summaryParts.forget(p.node); return; }
          if (!isManifest(value)) { this.summaryParts.forget(p.node); this.routes.summaries.setSnapshot(p.node, value); return; }
          const whole = this.summaryParts.manifest(p.node, value);
          if (whole !== null) this.routes.summaries.setSnapshot(p.node, whole);
        } else if (value !== null && !this.routes.summaries.applyDelta(p.node, value)) {
          this.counters.staleDeltas++;
        }
      } catch (err) {
        this.opts.log.warn({ node: p.node, err: (err as Error).message }, 'unreadable route summary; ignored');
      }
    } else if (key.startsWith(k.delayed)) {
      this.delayed.onKey(key, value);
    } else if (key.startsWith(k.retained)) {
      const topic = key.slice(k.retained.length);
      if (value === null) { this.retained.delete(topic); return; }
      try {
        const m = messageFromJson(JSON.parse(value.toString()) as MessageJson);
        this.counters.lagMs = Math.max(0, Date.now() - m.timestamp);
        this.retained.set(m);
      } catch { this.opts.log.warn({ topic }, 'unreadable retained message in etcd; ignored'); }
    }
  }

  private memberLeft(name: string): void {
    if (!this.memberMap.delete(name)) return;
    const n = this.routes.removeNode(name);
    this.summaryParts.forget(name);
    this.link?.removePeer(name);
    this.opts.log.warn({ node: name, routes: n }, 'node left the cluster');
    this.elect();
    this.onMembers?.();
    if (this.onOrphans !== null && this.adopter() === this.nodeName) void this.adoptFrom(name);
  }

  /** Whether this node publishes the cluster's delayed messages (after start()). */
  private elect(): void {
    if (this.started) this.delayed.setLeader(this.adopter() === this.nodeName, this.due);
  }

  /** The node that holds `node`'s session backups and adopts its sessions: the first live core by name other than it. */
  backupOf(node: string): string | null {
    const others = this.members().filter((m) => m.name !== node);
    const cores = others.filter((m) => m.role === 'core').map((m) => m.name).sort();
    return cores[0] ?? others.map((m) => m.name).sort()[0] ?? null;
  }

  /** Where this node mirrors its persistent sessions (session-backup.ts). */
  backupNode(): string | null { return this.backupOf(this.nodeName); }

  /**
   * A client of `fromNode` (dead, or not answering) came back: its session as the backup node
   * holds it (subscriptions, queued and in-flight messages), handed over and forgotten there.
   */
  async recoverSession(clientId: string, fromNode: string): Promise<SessionTransfer | null> {
    const backup = this.backupOf(fromNode);
    if (backup === null) return null;
    if (backup === this.nodeName) return this.backups.take(fromNode, clientId);
    return await this.call(backup, 'session.recover', { clientId, node: fromNode }) as SessionTransfer | null;
  }

  /** The node that adopts a departed node's persistent sessions: the first live core by name (else the first member). */
  private adopter(): string {
    const all = this.members();
    const cores = all.filter((m) => m.role === 'core').map((m) => m.name).sort();
    return cores[0] ?? all.map((m) => m.name).sort()[0]!;
  }

  private async adoptFrom(node: string): Promise<void> {
    try {
      const all = await this.client.getAll().prefix(this.keys.sessions).strings();
      const recs: SessionRecord[] = [];
      for (const v of Object.values(all)) {
        try {
          const r = JSON.parse(v) as SessionRecord & { node: string };
          if (r.node === node) recs.push(r);
        } catch { /* an unreadable record is skipped */ }
      }
      this.opts.log.info({ node, sessions: recs.length }, 'adopting the persistent sessions of a departed node');
      if (recs.length > 0) this.onOrphans!(node, recs);
    } catch (err) {
      this.opts.log.error({ node, err: (err as Error).message }, 'could not read the sessions of a departed node; their clients resume from their records when they reconnect');
    }
  }

  // ---- ClusterState --------------------------------------------------------------------------

  /** Sessions restored from this node's store at start: registered without a takeover check. */
  registerClient(clientId: string): string | null {
    this.own(this.keys.client(clientId), Buffer.from(this.nodeName));
    return null;
  }

  /**
   * Claims the client id for this node before its connection opens: one transaction that puts
   * this node's name if the key is absent or still names the node read just before (so of two
   * nodes racing, one commits first and the other then takes over from it). Returns the node
   * that held the client, or null. When etcd does not answer in time the claim is local only
   * (written when etcd is back) and the node serves the client anyway.
   */
  async claimClient(clientId: string): Promise<string | null> {
    const key = this.keys.client(clientId);
    const value = Buffer.from(this.nodeName);
    const attempt = (): Promise<string | null> => new Promise((resolve, reject) => {
      this.claims.push({ key, resolve, reject });
      if (!this.claimsScheduled) { this.claimsScheduled = true; setImmediate(() => this.flushClaims()); }
    });
    try {
      return await withTimeout(attempt(), this.opts.dialTimeoutMs, 'etcd did not answer the client claim');
    } catch (err) {
      this.opts.log.warn({ clientid: clientId, err: (err as Error).message }, 'client registered on this node only; written to etcd when it answers');
      this.own(key, value);
      return null;
    }
  }

  private claims: Claim[] = [];
  private claimsScheduled = false;

  /**
   * The claims of one event-loop turn (a reconnect storm brings hundreds) go to etcd together: one
   * transaction reads every key, one compare-and-swap transaction writes them all if none changed
   * in between; if one did (another node claimed it meanwhile), each is claimed on its own. Two
   * round trips per turn instead of two per client.
   */
  private async flushClaims(): Promise<void> {
    this.claimsScheduled = false;
    const batch: Claim[] = [];
    const seen = new Set<string>();
    const later: Claim[] = [];
    for (const c of this.claims) {
      if (batch.length < MAX_CLAIMS_PER_TXN && !seen.has(c.key)) { batch.push(c); seen.add(c.key); } else later.push(c);
    }
    this.claims = later;
    if (later.length > 0) { this.claimsScheduled = true; setImmediate(() => this.flushClaims()); }
    if (batch.length === 0) return;
    const value = Buffer.from(this.nodeName);
    try {
      const read = await this.client.kv.txn({ compare: [], success: batch.map((c) => ({ request_range: { key: Buffer.from(c.key) } })) });
      const kvs = read.responses.map((r) => r.response_range.kvs[0]);
      const w = await this.client.kv.txn({
        compare: batch.map((c, i) => unchangedSince(Buffer.from(c.key), kvs[i])),
        success: batch.map((c) => ({ request_put: { key: Buffer.from(c.key), value, lease: this.leaseId } })),
      });
      if (w.succeeded) {
        batch.forEach((c, i) => {
          this.owned.set(c.key, value);
          const prev = kvs[i] === undefined ? null : kvs[i]!.value.toString();
          c.resolve(prev === this.nodeName ? null : prev);
        });
        return;
      }
    } catch (err) {
      for (const c of batch) c.reject(err as Error);
      return;
    }
    for (const c of batch) this.claimOne(c.key, value).then(c.resolve, c.reject);
  }

  /** One client id alone: read, then compare-and-swap, until it holds (8 tries). */
  private async claimOne(key: string, value: Buffer): Promise<string | null> {
    const kb = Buffer.from(key);
    for (let i = 0; i < 8; i++) {
      const cur = await this.client.kv.range({ key: kb });
      const kv = cur.kvs[0];
      const r = await this.client.kv.txn({ compare: [unchangedSince(kb, kv)], success: [{ request_put: { key: kb, value, lease: this.leaseId } }] });
      if (r.succeeded) {
        this.owned.set(key, value);
        const prev = kv === undefined ? null : kv.value.toString();
        return prev === this.nodeName ? null : prev;
      }
    }
    throw new Error(`client id ${key.slice(key.lastIndexOf('/') + 1)} is being claimed by other nodes at this moment`);
  }

  /** The client's session ended here: the registration goes unless another node holds it now. */
  unregisterClient(clientId: string): void {
    const key = this.keys.client(clientId);
    if (!this.owned.delete(key)) return;
    this.pending.delete(key);
    const kb = Buffer.from(key);
    this.client.kv.txn({
      compare: [{ key: kb, target: 'Value', result: 'Equal', value: Buffer.from(this.nodeName) }],
      success: [{ request_delete_range: { key: kb } }],
    }).catch(() => { /* the lease removes it when this node goes; another node overwrites it on claim */ });
  }

  /** The node holding a client according to etcd (null: none). */
  async clientNode(clientId: string): Promise<string | null> {
    const v = await this.client.get(this.keys.client(clientId)).string();
    return v ?? null;
  }

  // ---- persistent sessions

  onOrphans: ((node: string, sessions: SessionRecord[]) => void) | null = null;
  onReclaimed: ((clientId: string, from: string) => void) | null = null;

  saveSession(rec: SessionRecord): void {
    const key = this.keys.session(rec.clientId);
    this.pending.set(key, { put: key, value: Buffer.from(JSON.stringify({ ...rec, node: this.nodeName })), lease: false });
    this.schedule();
  }

  dropSession(clientId: string): void {
    const key = this.keys.session(clientId);
    this.pending.set(key, { del: key });
    this.schedule();
  }

  async loadSession(clientId: string): Promise<(SessionRecord & { node: string }) | null> {
    try {
      const v = await withTimeout(this.client.get(this.keys.session(clientId)).string(), this.opts.dialTimeoutMs, 'etcd did not answer');
      return v === null ? null : JSON.parse(v) as SessionRecord & { node: string };
    } catch (err) {
      this.opts.log.warn({ clientid: clientId, err: (err as Error).message }, 'session record not readable');
      return null;
    }
  }

  /** Claims a client id only if no node holds it (adopting an orphaned session); true when claimed. */
  async claimFree(clientId: string): Promise<boolean> {
    const key = this.keys.client(clientId);
    const kb = Buffer.from(key);
    const value = Buffer.from(this.nodeName);
    const r = await this.client.kv.txn({
      compare: [{ key: kb, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: kb, value, lease: this.leaseId } }],
    });
    if (r.succeeded) this.owned.set(key, value);
    return r.succeeded;
  }

  addRoute(topicFilter: string): void {
    this.routes.add(topicFilter, this.nodeName);
    if (this.summary.add(topicFilter).kind === 'explicit') this.own(this.keys.route(this.nodeName, topicFilter, null), EMPTY);
    else { this.summaryDirty = true; this.schedule(); }
  }
  removeRoute(topicFilter: string): void {
    this.routes.remove(topicFilter, this.nodeName);
    if (this.summary.remove(topicFilter)) { this.summaryDirty = true; this.schedule(); } else this.disown(this.keys.route(this.nodeName, topicFilter, null));
  }

  /**
   * Turns summary changes into writes: a delta key per batch of newly set positions, or — after a
   * resize, when cleared positions pile up, or every 64 deltas — a new snapshot replacing them all.
   * No filter counted: no summary at all (so the other nodes skip this node without hashing).
   */
  private publishSummary(): void {
    if (!this.summaryDirty) return;
    this.summaryDirty = false;
    const snapKey = this.keys.summarySnapshot(this.nodeName);
    const dropDeltas = (): void => { for (const k of this.deltaKeys.splice(0)) this.disown(k); };
    const dropParts = (): void => { for (const k of this.partKeys.splice(0)) this.disown(k); };
    if (this.summary.stats().filters === 0) {
      if (this.owned.has(snapKey)) { this.disown(snapKey); dropDeltas(); dropParts(); this.summary.snapshot(); }
      return;
    }
    if (!this.owned.has(snapKey) || this.summary.needsSnapshot() || this.deltaKeys.length >= 64) {
      dropDeltas();
      const old = this.partKeys.splice(0);
      const snapshot = this.summary.snapshot();
      const split = splitSnapshot(snapshot, ++this.partTag);
      if (split === null) {
        this.own(snapKey, snapshot);
      } else {
        split.parts.forEach((part, i) => { const key = this.keys.summaryPart(this.nodeName, this.partTag, i); this.partKeys.push(key); this.own(key, part); });
        // Written after its parts (pending keeps insertion order), so peers rarely wait.
        this.pending.delete(snapKey);
        this.own(snapKey, split.manifest);
      }
      for (const k of old) this.disown(k);
      return;
    }
    const d = this.summary.takeDelta();
    if (d === null) return;
    const key = this.keys.summaryDelta(this.nodeName, ++this.deltaSeq);
    this.deltaKeys.push(key);
    this.own(key, d);
  }
  async claimExclusive(topicFilter: string, clientId: string): Promise<boolean> {
    const key = this.keys.exclusive(topicFilter);
    const kb = Buffer.from(key);
    const value = Buffer.from(clientId);
    try {
      const r = await withTimeout(this.client.kv.txn({
        compare: [{ key: kb, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: kb, value, lease: this.leaseId } }],
        failure: [{ request_range: { key: kb } }],
      }), this.opts.dialTimeoutMs, 'etcd did not answer');
      if (r.succeeded) { this.owned.set(key, value); return true; }
      const holder = r.responses[0]?.response_range?.kvs[0]?.value.toString();
      if (holder !== clientId) return false;
      // Held by this client through another node (it moved): this node's lease carries it now.
      await this.client.kv.put({ key: kb, value, lease: this.leaseId });
      this.owned.set(key, value);
      return true;
    } catch (err) {
      this.opts.log.warn({ topic: topicFilter, err: (err as Error).message }, 'exclusive subscription refused: etcd unreachable');
      return false;
    }
  }

  releaseExclusive(topicFilter: string): void {
    const key = this.keys.exclusive(topicFilter);
    if (!this.owned.delete(key)) return;
    this.pending.delete(key);
    const kb = Buffer.from(key);
    // Only while this node's lease carries it: a node the client moved to may hold it now.
    this.client.kv.txn({
      compare: [{ key: kb, target: 'Lease', result: 'Equal', lease: this.leaseId }],
      success: [{ request_delete_range: { key: kb } }],
    }).catch(() => { /* the lease removes it when this node goes */ });
  }

  joinGroup(group: string, topicFilter: string): void {
    this.routes.add(topicFilter, this.nodeName, group);
    this.own(this.keys.route(this.nodeName, topicFilter, group), EMPTY);
  }
  leaveGroup(group: string, topicFilter: string): void {
    this.routes.remove(topicFilter, this.nodeName, group);
    this.disown(this.keys.route(this.nodeName, topicFilter, group));
  }

  putRetained(msg: Message): void {
    this.retained.set(msg);
    const key = this.keys.retainedTopic(msg.topic);
    // Retained messages carry no lease: they outlive the node that stored them.
    this.client.put(key).value(JSON.stringify(messageToJson(msg))).exec().catch((err: Error) => {
      this.counters.writeErrors++;
      this.opts.log.warn({ topic: msg.topic, err: err.message }, 'retained message not stored in etcd (kept on this node)');
    });
  }
  deleteRetained(topic: string): boolean {
    const had = this.retained.delete(topic);
    this.client.delete().key(this.keys.retainedTopic(topic)).exec().catch((err: Error) => {
      this.opts.log.warn({ topic, err: err.message }, 'retained message not deleted in etcd');
    });
    return had;
  }

  addDelayed(msg: Message, delaySec: number): boolean { return this.delayed.add(msg, delaySec); }
  get delayedCount(): number { return this.delayed.size; }
  listDelayed(): Array<{ due: number; msg: Message }> { return this.delayed.list(); }
  deleteDelayed(msgId: number): boolean { return this.delayed.delete(msgId); }

  usable(node: string): boolean {
    return node === this.nodeName || (this.memberMap.has(node) && this.link !== null && this.link.peerState(node) === 'up');
  }

  members(): MemberView[] {
    const out: MemberView[] = [{ ...this.self, self: true, linkState: 'self' }];
    for (const m of this.memberMap.values()) out.push({ ...m, self: false, linkState: this.link?.peerState(m.name) ?? 'down' });
    return out;
  }

  handle(method: string, fn: ClusterCallHandler): void { this.handlers.set(method, fn); }

  /** The link's figures per peer (set by joinCluster), added to stats(). */
  linkStats: (() => Record<string, { state: string; forwarded: number; pending: number; dropped: number; duplicates: number; received: number; rttMs: number }>) | null = null;

  /** The session mirror's counters (set by the node), added to stats(). */
  backupStats: (() => { fullCopies: number; ops: number; failures: number; ackTimeouts: number }) | null = null;

  stats(): Record<string, number> {
    const c = this.counters;
    const out: Record<string, number> = {
      'cluster.nodes.count': this.memberMap.size + 1,
      'cluster.routes.count': this.routes.size,
      'cluster.routes.remote': this.routes.remoteRoutes,
      'cluster.routes.summarized': this.summary.stats().filters,
      'cluster.routes.summary_bytes': this.summary.stats().snapshotBytes,
      'cluster.routes.summaries_held_bytes': this.routes.summaries.bytes,
      'cluster.replication.lag_ms': c.lagMs,
      'cluster.etcd.writes': c.writes,
      'cluster.etcd.write_errors': c.writeErrors,
      'cluster.etcd.pending_writes': this.pending.size,
      'cluster.etcd.watch_events': c.watchEvents,
      'cluster.etcd.resyncs': c.resyncs,
      'cluster.etcd.lease_lost': c.leaseLost,
    };
    const held = this.backups.stats();
    out['cluster.backup.held_sessions'] = held.sessions;
    out['cluster.backup.held_messages'] = held.messages;
    if (this.backupStats !== null) {
      const b = this.backupStats();
      out['cluster.backup.full_copies'] = b.fullCopies;
      out['cluster.backup.ops'] = b.ops;
      out['cluster.backup.failures'] = b.failures;
      out['cluster.backup.ack_timeouts'] = b.ackTimeouts;
    }
    if (this.linkStats !== null) {
      // Totals, then per region (the peers' regions): round-trip time and forwarded messages.
      let fwd = 0, pending = 0, dropped = 0, dup = 0, rx = 0, up = 0;
      const regions = new Map<string, { rtt: number; fwd: number }>();
      for (const [node, p] of Object.entries(this.linkStats())) {
        fwd += p.forwarded; pending += p.pending; dropped += p.dropped; dup += p.duplicates; rx += p.received;
        if (p.state === 'up') up++;
        const region = this.memberMap.get(node)?.region || 'none';
        const r = regions.get(region) ?? { rtt: 0, fwd: 0 };
        r.rtt = Math.max(r.rtt, p.rttMs); r.fwd += p.forwarded;
        regions.set(region, r);
      }
      Object.assign(out, {
        'cluster.link.peers_up': up, 'cluster.link.forwarded': fwd, 'cluster.link.received': rx, 'cluster.link.pending': pending,
        'cluster.link.dropped': dropped, 'cluster.link.duplicates': dup,
      });
      for (const [region, r] of regions) {
        out[`cluster.region.${region}.link_rtt_ms`] = r.rtt;
        out[`cluster.region.${region}.forwarded`] = r.fwd;
      }
    }
    return out;
  }

  /** Runs a call another node made (the link hands it here). */
  async answer(method: string, args: unknown, from: string): Promise<unknown> {
    const fn = this.handlers.get(method);
    if (fn === undefined) throw new Error(`no cluster call named ${method}`);
    return fn(args, from);
  }

  async call(node: string, method: string, args: unknown, timeoutMs = 5000): Promise<unknown> {
    if (node === this.nodeName) return this.answer(method, args, node);
    if (!this.memberMap.has(node)) throw new Error(`node ${node} is not a member of this cluster`);
    if (this.link === null) throw new Error('the node link is not running');
    return this.link.call(node, method, args, timeoutMs);
  }

  start(due: (msg: Message) => void): number {
    this.due = due;
    this.started = true;
    let maxId = 0;
    for (const m of this.retained.values()) if (m.id > maxId) maxId = m.id;
    this.elect();
    return maxId;
  }

  /**
   * Leaves: watches cancelled, what is still queued written (e.g. the deletion of a delayed message
   * just published, so the next node does not publish it again), the lease revoked (routes and
   * registrations go at once), client closed. Resolves when done (bounded: ≈ 4 s without etcd).
   */
  stop(): Promise<void> {
    if (this.stopped) return this.stopping;
    this.stopped = true;
    this.delayed.stop();
    for (const w of this.watchers) void w.cancel().catch(() => {});
    const lease = this.lease;
    this.stopping = (async () => {
      if (this.pending.size > 0) { void this.flush(); await this.settle(2000); }
      this.closed = true;
      if (this.flushTimer !== null) clearTimeout(this.flushTimer);
      try { if (lease !== null) await withTimeout(lease.revoke(), 2000, 'lease revoke timed out'); } catch { /* it expires by itself */ }
      closeEtcdClient(this.client);
    })();
    return this.stopping;
  }
  private stopping: Promise<void> = Promise.resolve();
  /** No more writes (after stop() wrote what was queued). */
  private closed = false;

  /**
   * Waits until every write queued so far is in etcd (or replaced by a newer one for its key).
   * Writes queued after the call are not waited for: during a reconnect storm a node always has
   * more queued, and each session handover waited for a moment with none (measured: ≈ 850
   * reconnects/s between two workers). What a handover must order are the writes of keys both
   * nodes write (the session record); route keys are each node's own.
   */
  async settle(timeoutMs = 5000): Promise<void> {
    const queued = [...this.pending];
    if (queued.length === 0) return;
    this.schedule();
    const deadline = Date.now() + timeoutMs;
    while (queued.some(([k, op]) => this.pending.get(k) === op) && Date.now() < deadline) await sleep(5);
  }
}

/**
 * Closes an etcd3 client for good. etcd3 1.1.x keeps a watch it could not cancel (etcd out of
 * reach) and, once the client is closed, redials it on a backoff timer forever — keeping the
 * process alive. Its watch manager's error handler (which schedules that redial) is switched off
 * first: a private method of that version, checked, so a newer etcd3 without it is just closed.
 */
export function closeEtcdClient(client: Etcd3): void {
  const wm = (client as unknown as { watchManager?: { handleError?: unknown } }).watchManager;
  if (wm !== undefined && typeof wm.handleError === 'function') wm.handleError = () => {};
  client.close();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}
