/**
 * Leader election with a coordination.k8s.io/v1 Lease, the protocol client-go's leaderelection
 * package uses, so that two operator replicas never reconcile at once:
 *
 * - acquire: create the Lease, or take it over when its holder has not renewed it for
 *   leaseDurationSeconds (renewTime + duration < now); every write carries the resourceVersion
 *   read, so two candidates racing for an expired Lease cannot both win (409 for the loser);
 * - renew: the leader updates renewTime every retryPeriod; if it cannot renew within
 *   renewDeadline it stops leading (onStoppedLeading) — the process then exits so a fresh one
 *   starts from scratch rather than acting on a stale view;
 * - release: on a clean shutdown the leader clears holderIdentity so a successor need not wait.
 */
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from './kube-client.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

function microTime(d = new Date()): string {
  return d.toISOString().replace('Z', '000Z');
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private readonly durationMs: number;
  private readonly deadlineMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
  ) {
    this.durationMs = opts.leaseDurationMs ?? 15_000;
    this.deadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.run();
  }

  /** The tick in flight, if any: stop() waits for it, so a renewal cannot land after the release. */
  private inFlight: Promise<void> | null = null;

  private run(): void {
    this.inFlight = this.tick().finally(() => { this.inFlight = null; });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.run(), this.retryMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.log.info({ lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity }, 'became leader');
          this.callbacks.onStartedLeading();
        }
      }
    } catch (e) {
      this.log.warn({ err: String(e) }, 'lease update failed');
    }
    if (this.leading && Date.now() - this.lastRenew > this.deadlineMs) {
      this.leading = false;
      this.log.error('could not renew the lease within the renew deadline; stopped leading');
      this.callbacks.onStoppedLeading();
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const now = new Date();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
      renewTime: microTime(now),
    };
    const lease = await this.client.get('coordination.k8s.io/v1', 'Lease', namespace, name);
    if (!lease) {
      const obj: KubeObject = {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      };
      try {
        await this.client.create(obj);
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const holder: string | undefined = lease.spec?.holderIdentity;
    const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '') || 0;
    const duration = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || renewed + duration < now.getTime();
    if (holder !== identity && !expired) {
      if (this.leading) { this.leading = false; this.callbacks.onStoppedLeading(); }
      return false;
    }
    const next: KubeObject = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        ...(holder !== identity ? { acquireTime: microTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      await this.client.replace(next);
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }

  /** Stops renewing; when leading, releases the Lease so a successor can take it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.inFlight) await this.inFlight;
    if (!this.leading) return;
    this.leading = false;
    // A conflict means the Lease changed under us (a renewal that raced the stop): read it again.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const lease = await this.client.get('coordination.k8s.io/v1', 'Lease', this.opts.namespace, this.opts.name);
        if (lease && lease.spec?.holderIdentity === this.opts.identity) {
          await this.client.replace({ ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: microTime() } });
        }
        return;
      } catch (e) {
        if (isConflict(e) && attempt < 2) continue;
        this.log.warn({ err: String(e) }, 'could not release the lease');
        return;
      }
    }
  }
}
