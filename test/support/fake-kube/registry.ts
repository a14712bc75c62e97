/**
 * Resource registry of the FAKE Kubernetes API server (test support only — not a real API server).
 *
 * A real API server learns which kinds exist from compiled-in types plus CustomResourceDefinitions,
 * and publishes them through discovery (/api, /apis, /api/v1, /apis/<group>/<version>). Clients —
 * kubectl and @kubernetes/client-node's KubernetesObjectApi — read discovery to map a kind to its
 * plural resource name, scope and short names. This module keeps that table for the fake: a fixed
 * list of the built-in kinds the Petrel operator touches, plus whatever CRDs are created at runtime.
 */

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

export interface ResourceType {
  group: string; // '' for the core group
  versions: string[]; // served versions, preferred first
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  statusSubresource: boolean;
  printerColumns?: PrinterColumn[]; // CRDs: additionalPrinterColumns of the served version
  crd?: boolean;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(
  group: string, version: string, kind: string, plural: string, namespaced: boolean,
  shortNames: string[] = [], statusSubresource = false,
): ResourceType {
  return {
    group, versions: [version], kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(),
    namespaced, shortNames, categories: [], statusSubresource,
  };
}

/** The built-in kinds the fake serves (what the operator, its tests and kubectl need). */
export function builtinTypes(): ResourceType[] {
  return [
    builtin('', 'v1', 'Namespace', 'namespaces', false, ['ns'], true),
    builtin('', 'v1', 'Pod', 'pods', true, ['po'], true),
    builtin('', 'v1', 'Service', 'services', true, ['svc'], true),
    builtin('', 'v1', 'ConfigMap', 'configmaps', true, ['cm']),
    builtin('', 'v1', 'Secret', 'secrets', true),
    builtin('', 'v1', 'Event', 'events', true, ['ev']),
    builtin('', 'v1', 'Endpoints', 'endpoints', true, ['ep']),
    builtin('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, ['pvc'], true),
    builtin('', 'v1', 'ServiceAccount', 'serviceaccounts', true, ['sa']),
    builtin('apps', 'v1', 'StatefulSet', 'statefulsets', true, ['sts'], true),
    builtin('apps', 'v1', 'Deployment', 'deployments', true, ['deploy'], true),
    builtin('apps', 'v1', 'ReplicaSet', 'replicasets', true, ['rs'], true),
    builtin('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, ['pdb'], true),
    builtin('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, ['hpa'], true),
    builtin('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
    builtin('events.k8s.io', 'v1', 'Event', 'events', true, ['ev']),
    builtin('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
    builtin('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
    builtin('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
    builtin('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
    builtin('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, ['crd', 'crds'], true),
  ];
}

export function groupVersion(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** Splits "apps/v1" → {group:'apps', version:'v1'}; "v1" → core group. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export class Registry {
  private readonly types: ResourceType[] = builtinTypes();

  all(): readonly ResourceType[] {
    return this.types;
  }

  byPlural(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.plural === plural && t.versions.includes(version));
  }

  byKind(group: string, version: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.kind === kind && t.versions.includes(version));
  }

  /** Registers (or re-registers) the resource a CustomResourceDefinition describes. */
  registerCrd(crd: any): ResourceType {
    const spec = crd.spec ?? {};
    const names = spec.names ?? {};
    const served = (spec.versions ?? []).filter((v: any) => v.served !== false);
    const storage = served.find((v: any) => v.storage) ?? served[0];
    const type: ResourceType = {
      group: spec.group,
      versions: [storage?.name, ...served.map((v: any) => v.name).filter((n: string) => n !== storage?.name)],
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      plural: names.plural,
      singular: names.singular ?? String(names.kind).toLowerCase(),
      namespaced: spec.scope !== 'Cluster',
      shortNames: names.shortNames ?? [],
      categories: names.categories ?? [],
      statusSubresource: Boolean(storage?.subresources?.status),
      printerColumns: storage?.additionalPrinterColumns ?? [],
      crd: true,
    };
    this.unregisterCrd(type.group, type.plural);
    this.types.push(type);
    return type;
  }

  unregisterCrd(group: string, plural: string): void {
    const i = this.types.findIndex((t) => t.crd && t.group === group && t.plural === plural);
    if (i >= 0) this.types.splice(i, 1);
  }

  // ---- discovery documents -------------------------------------------------------------------

  apiVersions(serverAddress: string): object {
    return {
      kind: 'APIVersions', versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }

  private groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const t of this.types) {
      if (t.group === '') continue;
      const vs = groups.get(t.group) ?? [];
      for (const v of t.versions) if (!vs.includes(v)) vs.push(v);
      groups.set(t.group, vs);
    }
    return groups;
  }

  private groupDoc(name: string, versions: string[]): object {
    const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: vs, preferredVersion: vs[0] };
  }

  apiGroupList(): object {
    const groups = [...this.groups()].map(([name, versions]) => this.groupDoc(name, versions));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }

  apiGroup(name: string): object | undefined {
    const versions = this.groups().get(name);
    return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...this.groupDoc(name, versions) } : undefined;
  }

  apiResourceList(group: string, version: string): object | undefined {
    const types = this.types.filter((t) => t.group === group && t.versions.includes(version));
    if (types.length === 0) return undefined;
    const resources: object[] = [];
    for (const t of types) {
      resources.push({
        name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS,
        ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
        ...(t.categories.length ? { categories: t.categories } : {}),
      });
      if (t.statusSubresource) {
        resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
      }
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
  }
}
