/**
 * A FAKE Kubernetes API server for tests: in-memory, real HTTP on 127.0.0.1, an OS-chosen port.
 * It is not Kubernetes and never claims to be; it imitates the parts of kube-apiserver's REST
 * surface that the Petrel operator, @kubernetes/client-node 1.4 and the real `kubectl` binary use:
 *
 *   discovery   /version /api /apis /api/v1 /apis/<group> /apis/<group>/<version>
 *   CRUD        list/get/create/update/patch/delete/deletecollection, namespaced and cluster-scoped,
 *               built-in kinds (fake-kube/registry.ts) and every CRD created through it
 *   semantics   resourceVersion + 409 conflicts, generation, status subresource, server-side apply
 *               with managedFields and manager conflicts, merge / strategic / JSON patch, label and
 *               field selectors, finalizers, ownerReference garbage collection (background)
 *   watch       ?watch=1 with resourceVersion (history replay, 410 Gone), timeoutSeconds
 *   printing    Accept: application/json;as=Table → columns from the CRD's additionalPrinterColumns
 *
 *   openapi     /openapi/v3 index + per group-version documents with paths only (no schemas): enough
 *               for kubectl to rely on server-side field validation
 *
 * Not covered: authentication/authorization (anything is allowed), admission, schema defaulting,
 * pruning and CEL validation, protobuf, aggregated discovery, OpenAPI schemas, and every built-in
 * controller (a Deployment never gets pods; tests write status themselves).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { FakeStore, KubeError, Selector } from './fake-kube/store.js';
import { ResourceType, splitApiVersion } from './fake-kube/registry.js';
import { toTable } from './fake-kube/table.js';
import { openapiGroupVersion, openapiRoot } from './fake-kube/openapi.js';

export { FakeStore, KubeError } from './fake-kube/store.js';
export type { WriteRecord } from './fake-kube/store.js';

export interface FakeKubeApiServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly store: FakeStore;
  /** Every HTTP request served (method + path + query), for debugging tests. */
  readonly requests: string[];
  /** A kubeconfig (YAML) whose current context points at this fake. */
  kubeconfig(namespace?: string): string;
  /** Writes kubeconfig() to dir/kubeconfig and returns the path. */
  writeKubeconfig(dir: string, namespace?: string): string;
  /** Creates a CRD (object or YAML file with one or more documents). */
  installCrd(crd: object | string): void;
  /** Creates or replaces an object in-process (tests: mark status, seed objects), as `manager`. */
  put(obj: any, manager?: string): any;
  /** Reads an object in-process; undefined when absent. */
  find(apiVersion: string, kind: string, namespace: string, name: string): any | undefined;
  /** Lists objects of a kind in-process. */
  listKind(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): any[];
  /** Sets the status of an object in-process through the status subresource semantics. */
  setStatus(apiVersion: string, kind: string, namespace: string, name: string, status: any, manager?: string): any;
  close(): Promise<void>;
}

export interface FakeKubeOptions {
  /** Namespaces created at start (default: ['default']). */
  namespaces?: string[];
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string, contentType: string): any {
  if (!text.trim()) return undefined;
  try {
    if (contentType.includes('yaml')) return yaml.load(text);
    return JSON.parse(text);
  } catch (e) {
    throw new KubeError(400, 'BadRequest', `cannot parse request body: ${(e as Error).message}`);
  }
}

/** The field manager a write is attributed to: ?fieldManager, else the User-Agent's program name. */
function managerOf(req: http.IncomingMessage, q: URLSearchParams): string {
  const fm = q.get('fieldManager');
  if (fm) return fm;
  const ua = req.headers['user-agent'] ?? 'unknown';
  return ua.split('/')[0] || 'unknown';
}

interface Route {
  type: ResourceType;
  version: string;
  namespace?: string; // for namespaced kinds: the namespace in the path (undefined: all namespaces)
  name?: string;
  sub?: string;
}

export async function startFakeKubeApiServer(opts: FakeKubeOptions = {}): Promise<FakeKubeApiServer> {
  const store = new FakeStore();
  const reg = store.registry;
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const watchers = new Set<() => void>();
  const nsType = reg.byKind('', 'v1', 'Namespace')!;
  for (const ns of opts.namespaces ?? ['default']) store.create(nsType, '', { metadata: { name: ns } }, { manager: 'fake-bootstrap' });

  function route(segs: string[]): Route | 'discovery' | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api') { group = ''; version = segs[1]; rest = segs.slice(2); }
    else { group = segs[1]; version = segs[2]; rest = segs.slice(3); }
    if (!version || rest.length === 0) return 'discovery';
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && group === '' && (rest.length === 2 || (rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize')))) {
      // the Namespace object itself
    } else if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = reg.byPlural(group, version, rest[0]);
    if (!type) return undefined;
    if (namespace !== undefined && !type.namespaced) return undefined;
    return { type, version, namespace, name: rest[1], sub: rest[2] };
  }

  function discovery(segs: string[], host: string): object | undefined {
    if (segs.length === 1 && segs[0] === 'api') return reg.apiVersions(host);
    if (segs.length === 1 && segs[0] === 'apis') return reg.apiGroupList();
    if (segs[0] === 'api' && segs.length === 2) return reg.apiResourceList('', segs[1]);
    if (segs[0] === 'apis' && segs.length === 2) return reg.apiGroup(segs[1]);
    if (segs[0] === 'apis' && segs.length === 3) return reg.apiResourceList(segs[1], segs[2]);
    return undefined;
  }

  function startWatch(req: http.IncomingMessage, res: http.ServerResponse, r: Route, sel: Selector, q: URLSearchParams): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    let cancel: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      cancel?.();
      cancel = undefined;
      if (timer) clearTimeout(timer);
      watchers.delete(stop);
      if (!res.writableEnded) res.end();
    };
    watchers.add(stop);
    req.on('close', stop);
    res.on('close', stop);
    const line = (type: string, object: unknown): void => {
      if (!res.writableEnded) res.write(JSON.stringify({ type, object }) + '\n');
    };
    try {
      cancel = store.watch(r.type, r.namespace, sel, q.get('resourceVersion') ?? undefined, r.version, line);
    } catch (e) {
      if (e instanceof KubeError) { line('ERROR', e.status()); stop(); return; }
      throw e;
    }
    const timeout = Number(q.get('timeoutSeconds') ?? '0');
    if (timeout > 0) timer = setTimeout(stop, timeout * 1000);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    requests.push(`${method} ${url.pathname}${url.search}`);
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segs.length === 0) return send(res, 200, { paths: ['/api', '/apis', '/version', '/healthz'] });
    if (segs[0] === 'version') {
      return send(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-petrel-fake', platform: 'linux/amd64', goVersion: 'fake' });
    }
    if (['healthz', 'readyz', 'livez'].includes(segs[0])) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (segs[0] === 'openapi' && segs[1] === 'v3' && method === 'GET') {
      if (segs.length === 2) return send(res, 200, openapiRoot(reg));
      const doc = segs[2] === 'api' ? openapiGroupVersion(reg, '', segs[3]) : openapiGroupVersion(reg, segs[3], segs[4]);
      if (doc) return send(res, 200, doc);
    }
    if (segs[0] !== 'api' && segs[0] !== 'apis') throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
    const r = route(segs);
    if (r === 'discovery') {
      const doc = method === 'GET' ? discovery(segs, req.headers.host ?? '127.0.0.1') : undefined;
      if (!doc) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
      return send(res, 200, doc);
    }
    if (!r) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
    const sel: Selector = { label: q.get('labelSelector') ?? undefined, field: q.get('fieldSelector') ?? undefined };
    const ns = r.namespace ?? '';
    if (r.type.namespaced && r.name !== undefined && r.namespace === undefined) {
      throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const dryRun = q.get('dryRun') === 'All';
    const manager = managerOf(req, q);
    const wantsTable = (req.headers.accept ?? '').includes('as=Table');
    const includeObject = q.get('includeObject') ?? 'Metadata';
    if (r.sub !== undefined && !(r.sub === 'status' && r.type.statusSubresource)) {
      throw new KubeError(404, 'NotFound', `the server could not find the requested resource (${r.sub})`);
    }
    const contentType = String(req.headers['content-type'] ?? 'application/json');
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) ? parseBody(await readBody(req), contentType) : undefined;

    if (r.name === undefined) {
      if (method === 'GET') {
        if (q.get('watch') === '1' || q.get('watch') === 'true') return startWatch(req, res, r, sel, q);
        const { items, resourceVersion } = store.list(r.type, r.namespace, sel, r.version);
        if (wantsTable) return send(res, 200, toTable(r.type, items, resourceVersion, includeObject));
        const gv = r.type.group ? `${r.type.group}/${r.version}` : r.version;
        return send(res, 200, { kind: r.type.listKind, apiVersion: gv, metadata: { resourceVersion }, items });
      }
      if (method === 'POST') {
        if (r.type.namespaced && r.namespace === undefined) throw new KubeError(405, 'MethodNotAllowed', 'create needs a namespace in the path');
        return send(res, 201, store.create(r.type, ns, body, { manager, dryRun }));
      }
      if (method === 'DELETE') return send(res, 200, store.deleteCollection(r.type, r.namespace, sel, { manager, dryRun }));
      throw new KubeError(405, 'MethodNotAllowed', `${method} is not supported on a collection`);
    }

    const name = r.name;
    switch (method) {
      case 'GET': {
        const obj = store.get(r.type, ns, name, r.version);
        if (wantsTable) return send(res, 200, toTable(r.type, [obj], obj.metadata.resourceVersion, includeObject));
        return send(res, 200, obj);
      }
      case 'PUT':
        return send(res, 200, store.update(r.type, ns, name, body, { manager, dryRun, subresource: r.sub }));
      case 'PATCH': {
        const force = q.get('force') === 'true';
        const existed = store.tryGet(r.type, ns, name) !== undefined;
        const out = store.patch(r.type, ns, name, contentType, body, { manager, dryRun, subresource: r.sub, force });
        return send(res, existed ? 200 : 201, out);
      }
      case 'DELETE': {
        const propagationPolicy = q.get('propagationPolicy') ?? body?.propagationPolicy;
        const out = store.delete(r.type, ns, name, { manager, dryRun, propagationPolicy, preconditionUid: body?.preconditions?.uid });
        if (out.metadata?.deletionTimestamp) return send(res, 200, out);
        return send(res, 200, {
          kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success',
          details: { name, group: r.type.group, kind: r.type.plural, uid: out.metadata?.uid },
        });
      }
      default:
        throw new KubeError(405, 'MethodNotAllowed', `${method} is not supported`);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      const err = e instanceof KubeError ? e : new KubeError(500, 'InternalError', String((e as Error)?.stack ?? e));
      if (!res.headersSent) send(res, err.code, err.status());
      else res.end();
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function typeFor(apiVersion: string, kind: string): ResourceType {
    const { group, version } = splitApiVersion(apiVersion);
    const t = reg.byKind(group, version, kind);
    if (!t) throw new Error(`fake kube: unknown kind ${apiVersion} ${kind}`);
    return t;
  }

  const api: FakeKubeApiServer = {
    url,
    store,
    requests,
    kubeconfig(namespace = 'default') {
      return yaml.dump({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
        clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: { token: 'fake-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace } }],
      });
    },
    writeKubeconfig(dir, namespace) {
      const p = path.join(dir, 'kubeconfig');
      fs.writeFileSync(p, api.kubeconfig(namespace));
      return p;
    },
    installCrd(crd) {
      const docs = typeof crd === 'string' ? yaml.loadAll(fs.readFileSync(crd, 'utf8')) : [crd];
      const t = typeFor('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
      for (const d of docs as any[]) {
        if (!d || d.kind !== 'CustomResourceDefinition') continue;
        if (store.tryGet(t, '', d.metadata.name)) store.update(t, '', d.metadata.name, d, { manager: 'fake-bootstrap' });
        else store.create(t, '', d, { manager: 'fake-bootstrap' });
      }
    },
    put(obj, m = 'test') {
      const t = typeFor(obj.apiVersion, obj.kind);
      const ns = t.namespaced ? obj.metadata?.namespace ?? 'default' : '';
      const existing = store.tryGet(t, ns, obj.metadata.name);
      if (!existing) return store.create(t, ns, obj, { manager: m });
      const next = { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } };
      return store.update(t, ns, obj.metadata.name, next, { manager: m });
    },
    find(apiVersion, kind, namespace, name) {
      return store.tryGet(typeFor(apiVersion, kind), namespace, name);
    },
    listKind(apiVersion, kind, namespace, labelSelector) {
      return store.list(typeFor(apiVersion, kind), namespace, { label: labelSelector }).items;
    },
    setStatus(apiVersion, kind, namespace, name, status, m = 'test') {
      const t = typeFor(apiVersion, kind);
      const obj = store.get(t, namespace, name);
      return store.update(t, namespace, name, { ...obj, status }, { manager: m, subresource: 'status' });
    },
    async close() {
      for (const stop of [...watchers]) stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
  return api;
}
