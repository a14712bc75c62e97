/**
 * The controller: informers feed a work queue of MqttCluster keys; workers run the reconciler.
 *
 *   MqttCluster event             → its own key
 *   owned object event            → the key of its controlling owner (ownerReference kind
 *                                   MqttCluster), else of its app.kubernetes.io/instance label
 *
 * start() resolves once every informer has listed (the cache is synced) and every existing
 * MqttCluster is queued. Leader election sits outside (see main.ts): only the leader starts one.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type ResolvedMqttCluster } from '../api/types.js';
import { OWNED_KINDS } from '../desired/index.js';
import { FIELD_MANAGER, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGER } from '../desired/meta.js';
import type { BrokerApiURLOverride, NodesFetcher } from './broker-api.js';
import { connectEtcd3, type EtcdConnector } from './etcd-members.js';
import { EventRecorder } from './events.js';
import { Informers, type WatchedKind } from './informers.js';
import { KubeClient, type KubeObject } from './kube-client.js';
import { OperatorMetrics } from './metrics.js';
import { Reconciler } from './reconciler.js';
import { WorkQueue } from './work-queue.js';

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to watch, or 'all'. */
  namespaces: string[] | 'all';
  logger: Logger;
  metrics?: OperatorMetrics;
  /** Identity recorded on Events (the pod name in a cluster). */
  identity?: string;
  workers?: number;
  etcdConnector?: EtcdConnector;
  etcdEndpoints?: (cr: ResolvedMqttCluster) => string[];
  etcdPeerURL?: (cr: ResolvedMqttCluster, ordinal: number) => string;
  /** Base URL of a broker Service's HTTP API instead of http://<svc>.<ns>.svc:18083 (tests; out-of-cluster runs). */
  brokerApiURL?: BrokerApiURLOverride;
  /** Replaces the HTTP client that asks GET /api/v5/nodes (tests without broker processes). */
  nodesFetcher?: NodesFetcher;
  nodesTimeoutMs?: number;
  progressRequeueMs?: number;
  resyncMs?: number;
  joinRecheckMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often kinds the server did not serve at start (CRD not installed) are looked for again. */
  retryMissingKindsMs?: number;
}

/** WATCH_NAMESPACE: "" → all namespaces; "a" → one; "a,b" → several. */
export function parseWatchNamespace(value: string | undefined): string[] | 'all' {
  const list = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return list.length ? [...new Set(list)] : 'all';
}

export class Controller {
  readonly client: KubeClient;
  readonly metrics: OperatorMetrics;
  readonly queue: WorkQueue;
  private readonly informers: Informers;
  private readonly reconciler: Reconciler;
  private readonly log: Logger;
  private synced = false;
  private started = false;

  constructor(private readonly opts: ControllerOptions) {
    this.log = opts.logger;
    this.metrics = opts.metrics ?? new OperatorMetrics();
    this.client = new KubeClient(opts.kubeConfig, FIELD_MANAGER);
    const kinds: WatchedKind[] = [
      { apiVersion: API_VERSION, kind: KIND },
      ...OWNED_KINDS.map((k) => ({ apiVersion: k.apiVersion, kind: k.kind, labelSelector: `${LABEL_MANAGED_BY}=${MANAGER}` })),
    ];
    this.informers = new Informers(opts.kubeConfig, this.client, opts.namespaces, kinds, (ev, obj) => this.onEvent(ev, obj), this.log,
      opts.retryMissingKindsMs ?? 30_000, () => this.requeueAll());
    const events = new EventRecorder(this.client, MANAGER, opts.identity ?? MANAGER, this.log);
    this.reconciler = new Reconciler({
      client: this.client, cache: this.informers, events, metrics: this.metrics, log: this.log,
      etcdConnector: opts.etcdConnector ?? connectEtcd3, etcdEndpoints: opts.etcdEndpoints, etcdPeerURL: opts.etcdPeerURL,
      brokerApiURL: opts.brokerApiURL, nodesFetcher: opts.nodesFetcher, nodesTimeoutMs: opts.nodesTimeoutMs,
      progressRequeueMs: opts.progressRequeueMs, resyncMs: opts.resyncMs, joinRecheckMs: opts.joinRecheckMs,
    });
    this.queue = new WorkQueue((key) => this.reconcileKey(key), {
      workers: opts.workers ?? 2,
      baseBackoffMs: opts.baseBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      onDepth: (d) => this.metrics.queueDepth.set(d),
      onError: (key, err, failures, retryInMs) => this.log.warn({ key, failures, retryInMs, err: (err as Error)?.message ?? String(err) }, 'reconcile failed; retrying with backoff'),
    });
  }

  private async reconcileKey(key: string): Promise<{ requeueAfterMs?: number }> {
    const end = this.metrics.reconcileSeconds.startTimer();
    try {
      return await this.reconciler.reconcile(key);
    } finally {
      end();
    }
  }

  private onEvent(ev: 'add' | 'update' | 'delete', obj: KubeObject): void {
    if (ev !== 'delete') this.reconciler.observed(obj);
    if (!this.started) return;
    const ns = obj.metadata.namespace ?? '';
    if (obj.kind === KIND && obj.apiVersion === API_VERSION) {
      this.queue.add(`${ns}/${obj.metadata.name}`);
      return;
    }
    const owner = obj.metadata.ownerReferences?.find((r) => r.kind === KIND && r.apiVersion.startsWith('mqtt.petrel.dev/') && r.controller);
    const name = owner?.name ?? obj.metadata.labels?.[LABEL_INSTANCE];
    if (name) this.queue.add(`${ns}/${name}`);
  }

  /** Queues every known MqttCluster (a kind they may own became available). */
  private requeueAll(): void {
    if (!this.started) return;
    for (const cr of this.informers.list(API_VERSION, KIND)) this.queue.add(`${cr.metadata.namespace}/${cr.metadata.name}`);
  }

  async start(): Promise<void> {
    this.log.info({ namespaces: this.opts.namespaces }, 'starting informers');
    await this.informers.start();
    this.synced = true;
    this.started = true;
    const crs = this.informers.list(API_VERSION, KIND);
    this.log.info({ clusters: crs.length }, 'caches synced');
    for (const cr of crs) this.queue.add(`${cr.metadata.namespace}/${cr.metadata.name}`);
  }

  /** Waits until the queue is idle (nothing queued/running, no requeue due within `withinMs`). */
  async drain(timeoutMs = 10_000, withinMs = 0): Promise<void> {
    await this.queue.drain(timeoutMs, withinMs);
  }

  healthy(): boolean {
    return true;
  }

  ready(): boolean {
    return this.synced;
  }

  async stop(): Promise<void> {
    this.started = false;
    this.queue.stop();
    await this.queue.waitStopped();
    await this.informers.stop();
    await this.reconciler.close();
  }
}
