/**
 * Informers: a local cache of the objects the operator watches, kept current by list + watch
 * (never by polling). Built on @kubernetes/client-node's ListWatch (list, then watch from the
 * list's resourceVersion, relist on 410 Gone), one per kind and namespace — one cluster-wide
 * informer per kind when WATCH_NAMESPACE is empty.
 *
 * Owned kinds are watched through the managed-by label so the cache holds only Petrel's objects.
 * A kind the server does not serve (the DNSEndpoint CRD of external-dns is often missing) is
 * skipped, reported by `served()`, and picked up when its CRD appears (discovery re-checked every
 * 30 s); a watch that fails is restarted with backoff.
 */
import { ListWatch, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from './kube-client.js';

export interface WatchedKind {
  apiVersion: string;
  kind: string;
  labelSelector?: string;
}

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerListener = (event: InformerEvent, obj: KubeObject, kind: WatchedKind) => void;

interface Entry { kind: WatchedKind; namespace?: string; lw: ListWatch<any>; failures: number; timer?: NodeJS.Timeout }

export function kindKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

export class Informers {
  private readonly entries: Entry[] = [];
  private readonly servedKinds = new Set<string>();
  private stopped = false;
  private missingTimer?: NodeJS.Timeout;

  constructor(
    private readonly kc: KubeConfig,
    private readonly client: KubeClient,
    private readonly namespaces: string[] | 'all',
    private readonly kinds: WatchedKind[],
    private readonly listener: InformerListener,
    private readonly log: Logger,
    private readonly retryMissingMs = 30_000,
    private readonly onServed?: (kind: WatchedKind) => void,
  ) {}

  /** Lists every kind (the cache is synced when this resolves) and starts the watches. */
  async start(): Promise<void> {
    const missing: WatchedKind[] = [];
    for (const kind of this.kinds) {
      if (!(await this.startKind(kind))) missing.push(kind);
    }
    if (missing.length) this.retryMissing(missing);
  }

  /**
   * Kinds whose CRD is installed after the operator started (external-dns, cert-manager) are
   * picked up by re-checking discovery every `retryMissingMs`.
   */
  private retryMissing(kinds: WatchedKind[]): void {
    if (this.stopped || !kinds.length) return;
    this.missingTimer = setTimeout(() => {
      void (async () => {
        const still: WatchedKind[] = [];
        for (const k of kinds) {
          try {
            if (!(await this.startKind(k))) still.push(k);
            else {
              this.log.info({ apiVersion: k.apiVersion, kind: k.kind }, 'kind is served now; watching it');
              this.onServed?.(k);
            }
          } catch {
            still.push(k);
          }
        }
        this.retryMissing(still);
      })();
    }, this.retryMissingMs);
    this.missingTimer.unref?.();
  }

  /** Lists and watches one kind (per namespace); false when the server does not serve it. */
  private async startKind(kind: WatchedKind): Promise<boolean> {
    if (this.stopped) return true;
    const info = await this.client.resource(kind.apiVersion, kind.kind);
    if (!info) {
      this.log.warn({ apiVersion: kind.apiVersion, kind: kind.kind }, 'kind not served by the API server; not watching it (yet)');
      return false;
    }
    this.servedKinds.add(kindKey(kind.apiVersion, kind.kind));
    const watch = new Watch(this.kc);
    const nss: (string | undefined)[] = this.namespaces === 'all' || !info.namespaced ? [undefined] : this.namespaces;
    for (const ns of nss) {
      const path = await this.client.collectionPath(kind.apiVersion, kind.kind, ns);
      const listFn = async (): Promise<any> => (await this.client.list(kind.apiVersion, kind.kind, ns, kind.labelSelector)).raw;
      const lw = new ListWatch<any>(path, watch, listFn, false, kind.labelSelector);
      const entry: Entry = { kind, namespace: ns, lw, failures: 0 };
      lw.on('add', (o) => { entry.failures = 0; this.listener('add', withKind(o, kind), kind); });
      lw.on('update', (o) => { entry.failures = 0; this.listener('update', withKind(o, kind), kind); });
      lw.on('delete', (o) => this.listener('delete', withKind(o, kind), kind));
      lw.on('error', (err) => this.restart(entry, err));
      this.entries.push(entry);
      await lw.start();
    }
    return true;
  }

  private restart(entry: Entry, err: unknown): void {
    if (this.stopped) return;
    entry.failures++;
    const delay = Math.min(30_000, 200 * 2 ** Math.min(entry.failures, 8));
    this.log.warn({ kind: entry.kind.kind, namespace: entry.namespace, err: String(err), retryInMs: delay }, 'watch failed; restarting');
    entry.timer = setTimeout(() => {
      if (!this.stopped) entry.lw.start().catch((e) => this.restart(entry, e));
    }, delay);
    entry.timer.unref?.();
  }

  served(apiVersion: string, kind: string): boolean {
    return this.servedKinds.has(kindKey(apiVersion, kind));
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    for (const e of this.entries) {
      if (e.kind.apiVersion !== apiVersion || e.kind.kind !== kind) continue;
      const o = e.lw.get(name, namespace);
      if (o) return o;
    }
    return undefined;
  }

  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const e of this.entries) {
      if (e.kind.apiVersion !== apiVersion || e.kind.kind !== kind) continue;
      out.push(...e.lw.list(namespace));
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.missingTimer) clearTimeout(this.missingTimer);
    for (const e of this.entries) {
      if (e.timer) clearTimeout(e.timer);
      await e.lw.stop();
    }
  }
}

/** Watch events carry apiVersion/kind; list items may not — make them uniform. */
function withKind(o: KubeObject, kind: WatchedKind): KubeObject {
  if (o.apiVersion && o.kind) return o;
  o.apiVersion = kind.apiVersion;
  o.kind = kind.kind;
  return o;
}
