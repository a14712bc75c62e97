/**
 * Tests of the FAKE Kubernetes API server (test/support/fake-kube-apiserver.ts) through the real
 * @kubernetes/client-node 1.4 client over loopback HTTP: the fake must behave like kube-apiserver
 * where the operator relies on it, or the controller tests prove nothing.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, ListWatch, ApiException } from '@kubernetes/client-node';
import { startFakeKubeApiServer, FakeKubeApiServer } from '../../support/fake-kube-apiserver.js';

let fake: FakeKubeApiServer;
let kc: KubeConfig;
let client: KubernetesObjectApi;

const crd = {
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com', scope: 'Namespaced',
    names: { kind: 'Widget', plural: 'widgets', singular: 'widget', shortNames: ['wd'], listKind: 'WidgetList' },
    versions: [{
      name: 'v1', served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      additionalPrinterColumns: [
        { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
        { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    }],
  },
};

before(async () => {
  fake = await startFakeKubeApiServer();
  kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig());
  client = KubernetesObjectApi.makeApiClient(kc);
  fake.installCrd(crd);
});
after(async () => { await fake.close(); });

async function expectStatus(p: Promise<unknown>, code: number): Promise<any> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiException, String(e));
    assert.equal(e.code, code, JSON.stringify(e.body));
    return typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
  }
  assert.fail(`expected HTTP ${code}`);
}

test('fake: create, read, optimistic concurrency (409 on stale resourceVersion)', async () => {
  const cm = await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'default' }, data: { k: 'v' } } as any);
  assert.ok(cm.metadata?.uid);
  const rv = cm.metadata!.resourceVersion!;
  const updated = await client.replace({ ...cm, data: { k: 'v2' } } as any);
  assert.notEqual(updated.metadata!.resourceVersion, rv);
  const body = await expectStatus(client.replace({ ...cm, data: { k: 'v3' } } as any), 409);
  assert.equal(body.reason, 'Conflict');
  await expectStatus(client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'default' } } as any), 409);
  await expectStatus(client.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nope', namespace: 'default' } } as any), 404);
});

test('fake: server-side apply owns fields, conflicts between managers, no-op apply keeps resourceVersion', async () => {
  const dep = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default', labels: { a: '1', b: '2' } },
    spec: { replicas: 2, selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
  };
  const first = await client.patch(dep as any, undefined, undefined, 'mgr-a', undefined, PatchStrategy.ServerSideApply);
  const again = await client.patch(dep as any, undefined, undefined, 'mgr-a', undefined, PatchStrategy.ServerSideApply);
  assert.equal(again.metadata!.resourceVersion, first.metadata!.resourceVersion, 'no-op apply must not bump resourceVersion');
  assert.equal(first.metadata!.generation, 1);
  const mf = first.metadata!.managedFields!;
  assert.equal(mf[0].manager, 'mgr-a');
  assert.equal(mf[0].operation, 'Apply');
  assert.ok((mf[0].fieldsV1 as any)['f:spec']['f:replicas']);
  assert.ok((mf[0].fieldsV1 as any)['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"c"}']['f:image']);

  // another manager changes a field mgr-a owns → conflict; with force it takes it over
  const other = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' }, spec: { replicas: 5 } };
  const body = await expectStatus(client.patch(other as any, undefined, undefined, 'mgr-b', undefined, PatchStrategy.ServerSideApply), 409);
  assert.match(body.message, /conflict with "mgr-a": \.spec\.replicas/);
  const forced = await client.patch(other as any, undefined, undefined, 'mgr-b', true, PatchStrategy.ServerSideApply);
  assert.equal((forced as any).spec.replicas, 5);
  assert.equal(forced.metadata!.generation, 2);

  // mgr-a drops label b and the replicas field: b goes, replicas stays (mgr-b owns it)
  const shrunk = structuredClone(dep) as any;
  delete shrunk.spec.replicas;
  shrunk.metadata.labels = { a: '1' };
  const after = await client.patch(shrunk, undefined, undefined, 'mgr-a', undefined, PatchStrategy.ServerSideApply);
  assert.deepEqual(after.metadata!.labels, { a: '1' });
  assert.equal((after as any).spec.replicas, 5);
});

test('fake: status subresource is separate from the main resource', async () => {
  const w = await client.create({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1', namespace: 'default' }, spec: { size: 3 }, status: { x: 1 } } as any);
  assert.equal((w as any).status, undefined, 'status is dropped on create');
  const st = fake.setStatus('example.com/v1', 'Widget', 'default', 'w1', { conditions: [{ type: 'Ready', status: 'True' }] });
  assert.equal(st.metadata.generation, 1, 'status writes do not bump generation');
  const replaced = await client.replace({ ...(await client.read(w as any)), spec: { size: 4 }, status: { conditions: [] } } as any);
  assert.deepEqual((replaced as any).status.conditions, [{ type: 'Ready', status: 'True' }]);
  assert.equal(replaced.metadata!.generation, 2);
});

test('fake: watch streams events from a resourceVersion; ListWatch informer sees add/update/delete', async () => {
  const path = '/api/v1/namespaces/default/configmaps';
  const seen: string[] = [];
  const listFn = async () => {
    const list = await client.list('v1', 'ConfigMap', 'default', undefined, undefined, undefined, undefined, 'app=w');
    return list as any;
  };
  const informer = new ListWatch<any>(path, new Watch(kc), listFn, false, 'app=w');
  informer.on('add', (o) => seen.push(`add:${o.metadata.name}`));
  informer.on('update', (o) => seen.push(`update:${o.metadata.name}`));
  informer.on('delete', (o) => seen.push(`delete:${o.metadata.name}`));
  await informer.start();
  const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w', namespace: 'default', labels: { app: 'w' } }, data: { a: '1' } };
  await client.create(obj as any);
  await client.patch({ ...obj, data: { a: '2' } } as any, undefined, undefined, 't', undefined, PatchStrategy.MergePatch);
  await client.delete(obj as any);
  const deadline = Date.now() + 3000;
  while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await informer.stop();
  assert.deepEqual(seen, ['add:w', 'update:w', 'delete:w']);
});

test('fake: watch from a too-old resourceVersion gets 410 Gone as an ERROR event', async () => {
  const res = await fetch(`${fake.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=-5`);
  const text = await res.text();
  const ev = JSON.parse(text.trim().split('\n')[0]);
  assert.equal(ev.type, 'ERROR');
  assert.equal(ev.object.code, 410);
});

test('fake: deleting an owner garbage-collects its dependents (background)', async () => {
  const owner = await client.create({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'owner', namespace: 'default' }, spec: { size: 1 } } as any);
  const ref = { apiVersion: 'example.com/v1', kind: 'Widget', name: 'owner', uid: owner.metadata!.uid!, controller: true };
  await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'child', namespace: 'default', ownerReferences: [ref] } } as any);
  await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: 'default' } } as any);
  await client.delete(owner as any);
  const deadline = Date.now() + 2000;
  while (fake.find('v1', 'ConfigMap', 'default', 'child') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(fake.find('v1', 'ConfigMap', 'default', 'child'), undefined);
  assert.ok(fake.find('v1', 'ConfigMap', 'default', 'unrelated'));
});

test('fake: label selectors, discovery and printer-column tables', async () => {
  const list = await client.list('v1', 'ConfigMap', 'default', undefined, undefined, undefined, undefined, 'app in (w, z),!missing');
  assert.ok(Array.isArray(list.items));
  const disc = await (await fetch(`${fake.url}/apis/example.com/v1`)).json() as any;
  assert.ok(disc.resources.some((r: any) => r.name === 'widgets' && r.shortNames.includes('wd')));
  assert.ok(disc.resources.some((r: any) => r.name === 'widgets/status'));
  await client.create({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'tbl', namespace: 'default' }, spec: { size: 7 } } as any);
  fake.setStatus('example.com/v1', 'Widget', 'default', 'tbl', { conditions: [{ type: 'Ready', status: 'True' }] });
  const res = await fetch(`${fake.url}/apis/example.com/v1/namespaces/default/widgets?fieldSelector=metadata.name%3Dtbl`, {
    headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
  });
  const table = await res.json() as any;
  assert.equal(table.kind, 'Table');
  assert.deepEqual(table.columnDefinitions.map((c: any) => c.name), ['Name', 'Size', 'Ready', 'Age']);
  assert.deepEqual(table.rows[0].cells.slice(0, 3), ['tbl', 7, 'True']);
  assert.match(table.rows[0].cells[3], /^\d+s$/);
});
