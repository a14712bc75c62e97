/**
 * Kubernetes Events about an MqttCluster (`kubectl describe mqc` shows them): what the operator
 * created, changed, deleted, scaled, and what failed. core/v1 Events, like client-go's recorder:
 * a repeat of the same (object, type, reason, message) within ten minutes bumps `count` and
 * `lastTimestamp` on the existing Event instead of creating another. Recording never fails a
 * reconcile: an Event that cannot be written is logged and dropped.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from './kube-client.js';

export type EventType = 'Normal' | 'Warning';

const DEDUP_WINDOW_MS = 10 * 60_000;
const MAX_TRACKED = 4096;

export class EventRecorder {
  private readonly recent = new Map<string, { name: string; namespace: string; count: number; first: string; at: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date();
    const ts = now.toISOString().replace(/\.\d+Z$/, 'Z');
    const namespace = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}|${type}|${reason}|${message}`;
    this.log.info({ object: `${obj.kind}/${namespace}/${obj.metadata.name}`, type, reason }, message);
    try {
      const seen = this.recent.get(key);
      if (seen && now.getTime() - seen.at < DEDUP_WINDOW_MS) {
        seen.count++;
        seen.at = now.getTime();
        await this.client.mergePatch('v1', 'Event', seen.namespace, seen.name, { count: seen.count, lastTimestamp: ts });
        return;
      }
      const name = `${obj.metadata.name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`;
      await this.client.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace,
          uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        },
        type, reason, message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.instance,
        firstTimestamp: ts, lastTimestamp: ts, count: 1,
      });
      if (this.recent.size >= MAX_TRACKED) this.recent.delete(this.recent.keys().next().value!);
      this.recent.set(key, { name, namespace, count: 1, first: ts, at: now.getTime() });
    } catch (e) {
      this.log.warn({ err: String(e), reason }, 'could not record event');
    }
  }
}
