/**
 * The smallest OpenAPI v3 discovery the FAKE API server needs for the real kubectl: /openapi/v3
 * lists one document per group-version, and each document has, per resource, the item path with a
 * PATCH operation that declares the `fieldValidation` query parameter and the
 * x-kubernetes-group-version-kind extension. From that kubectl (1.27+) concludes that the server
 * validates fields itself, and skips client-side schema validation (which would need the full
 * /openapi/v2 document this fake does not have). No schemas are served.
 */
import { groupVersion, type Registry } from './registry.js';

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

export function openapiRoot(reg: Registry): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of reg.all()) {
    for (const v of t.versions) {
      const p = gvPath(t.group, v);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=fake${reg.all().length}` };
    }
  }
  return { paths };
}

export function openapiGroupVersion(reg: Registry, group: string, version: string): object | undefined {
  const types = reg.all().filter((t) => t.group === group && t.versions.includes(version));
  if (!types.length) return undefined;
  const paths: Record<string, object> = {};
  const root = `/${gvPath(group, version)}`;
  for (const t of types) {
    const gvk = [{ group, version, kind: t.kind }];
    const params = [
      { name: 'dryRun', in: 'query', schema: { type: 'string' } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
    ];
    const op = (id: string): object => ({ operationId: `${id}${t.kind}`, parameters: params, 'x-kubernetes-group-version-kind': gvk[0], responses: { 200: { description: 'OK' } } });
    const item = t.namespaced ? `${root}/namespaces/{namespace}/${t.plural}/{name}` : `${root}/${t.plural}/{name}`;
    const coll = t.namespaced ? `${root}/namespaces/{namespace}/${t.plural}` : `${root}/${t.plural}`;
    paths[item] = { get: op('read'), put: op('replace'), patch: op('patch'), delete: op('delete') };
    paths[coll] = { get: op('list'), post: op('create') };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (petrel fake)', version: groupVersion(group, version) },
    paths,
    components: { schemas: {} },
  };
}
