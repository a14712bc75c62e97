/**
 * A small REST client for the Kubernetes API, built on @kubernetes/client-node's KubeConfig (which
 * loads kubeconfig files, in-cluster service-account credentials and exec/auth plugins and gives
 * us TLS options and the Authorization header per request).
 *
 * Why not the generated typed clients: they deserialize into class instances (Dates, dropped
 * unknown fields), and the controller compares desired objects with live ones as plain JSON.
 * Here every object stays the JSON the server sent. Kind → resource mapping comes from discovery
 * (/api/v1, /apis/<group>/<version>) and is cached.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: any;
}

export interface KubeList { items: KubeObject[]; resourceVersion: string }

export class KubeApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly body?: unknown) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface ResourceInfo { plural: string; namespaced: boolean }

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.code === 404;
}

export function isConflict(e: unknown): boolean {
  return e instanceof KubeApiError && e.code === 409;
}

export class KubeClient {
  private readonly resources = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(readonly kc: KubeConfig, readonly fieldManager: string, private readonly timeoutMs = 30_000) {}

  get server(): string {
    const c = this.kc.getCurrentCluster();
    if (!c) throw new Error('kubeconfig has no current cluster');
    return c.server.replace(/\/$/, '');
  }

  /** Raw request; resolves with the parsed JSON body, rejects with KubeApiError for non-2xx. */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<any> {
    const opts: https.RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const url = new URL(this.server + path);
    const headers: Record<string, string | number> = { ...(opts.headers as Record<string, string>), Accept: 'application/json' };
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = payload.length;
    }
    if ((opts as any).auth) headers.Authorization = 'Basic ' + Buffer.from(String((opts as any).auth)).toString('base64');
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { ...opts, auth: undefined, method, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(parsed);
          else reject(new KubeApiError(code, parsed?.reason ?? 'Unknown', parsed?.message ?? `HTTP ${code} ${method} ${path}`, parsed));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`timeout after ${this.timeoutMs}ms: ${method} ${path}`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  private async discover(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    let p = this.resources.get(apiVersion);
    if (!p) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.request('GET', path).then((doc: any) => {
        const m = new Map<string, ResourceInfo>();
        for (const r of doc?.resources ?? []) if (!String(r.name).includes('/')) m.set(r.kind, { plural: r.name, namespaced: r.namespaced });
        return m;
      });
      this.resources.set(apiVersion, p);
      p.catch(() => this.resources.delete(apiVersion));
    }
    return p;
  }

  /** Plural and scope of a kind; undefined when the server does not serve it (e.g. CRD not installed). */
  async resource(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    try {
      let info = (await this.discover(apiVersion)).get(kind);
      if (!info) {
        this.resources.delete(apiVersion); // a CRD may have been installed since
        info = (await this.discover(apiVersion)).get(kind);
      }
      return info;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Collection path (namespace undefined: all namespaces / cluster-scoped). */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const info = await this.resource(apiVersion, kind);
    if (!info) throw new KubeApiError(404, 'NotFound', `the server does not serve ${apiVersion} ${kind}`);
    const root = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return info.namespaced && namespace ? `${root}/namespaces/${encodeURIComponent(namespace)}/${info.plural}` : `${root}/${info.plural}`;
  }

  async objectPath(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<string> {
    return `${await this.collectionPath(apiVersion, kind, namespace)}/${encodeURIComponent(name)}`;
  }

  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.request('GET', await this.objectPath(apiVersion, kind, namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeList & { raw: any }> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const raw = await this.request('GET', (await this.collectionPath(apiVersion, kind, namespace)) + q);
    const items = (raw.items ?? []).map((o: KubeObject) => ({ ...o, apiVersion, kind }));
    return { items, resourceVersion: raw.metadata?.resourceVersion ?? '', raw: { ...raw, items } };
  }

  async create(obj: KubeObject): Promise<KubeObject> {
    const p = await this.collectionPath(obj.apiVersion, obj.kind, obj.metadata.namespace);
    return this.request('POST', `${p}?fieldManager=${encodeURIComponent(this.fieldManager)}`, obj);
  }

  async replace(obj: KubeObject): Promise<KubeObject> {
    const p = await this.objectPath(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.request('PUT', `${p}?fieldManager=${encodeURIComponent(this.fieldManager)}`, obj);
  }

  /** Server-side apply with this client's field manager; `subresource` 'status' applies status. */
  async apply(obj: KubeObject, opts: { force?: boolean; subresource?: 'status' } = {}): Promise<KubeObject> {
    const p = await this.objectPath(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const sub = opts.subresource ? `/${opts.subresource}` : '';
    const q = `?fieldManager=${encodeURIComponent(this.fieldManager)}${opts.force === false ? '' : '&force=true'}`;
    return this.request('PATCH', `${p}${sub}${q}`, obj, 'application/apply-patch+yaml');
  }

  async mergePatch(apiVersion: string, kind: string, namespace: string | undefined, name: string, patch: unknown, subresource?: 'status'): Promise<KubeObject> {
    const p = await this.objectPath(apiVersion, kind, namespace, name);
    return this.request('PATCH', `${p}${subresource ? '/' + subresource : ''}?fieldManager=${encodeURIComponent(this.fieldManager)}`, patch, 'application/merge-patch+json');
  }

  /** Deletes with background propagation; true when something was deleted. */
  async delete(apiVersion: string, kind: string, namespace: string | undefined, name: string, uid?: string): Promise<boolean> {
    try {
      const body = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) };
      await this.request('DELETE', await this.objectPath(apiVersion, kind, namespace, name), body);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}
