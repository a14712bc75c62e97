/**
 * Minimal CustomResourceDefinitions of third-party kinds the operator writes — external-dns's
 * DNSEndpoint and cert-manager's Certificate — so the FAKE API server serves them as a cluster
 * with those projects installed would. Schemas are open (preserve unknown fields): the fake does
 * not validate against schemas anyway.
 */
function crd(group: string, version: string, kind: string, plural: string, shortNames: string[] = []): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group, scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames },
      versions: [{
        name: version, served: true, storage: true, subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      }],
    },
  };
}

export const DNSENDPOINT_CRD = crd('externaldns.k8s.io', 'v1alpha1', 'DNSEndpoint', 'dnsendpoints');
export const CERTIFICATE_CRD = crd('cert-manager.io', 'v1', 'Certificate', 'certificates', ['cert', 'certs']);
