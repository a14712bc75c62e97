/**
 * With `tls.certManager`, a cert-manager Certificate (cert-manager.io/v1) for every name clients
 * may use — the global and region hostnames, the region and core Service names, and any extra
 * dnsNames — written by cert-manager into the Secret `<name>-tls` that the pods mount.
 */
import type { ResolvedMqttCluster } from '../api/types.js';
import { meta, names } from './meta.js';

export interface Certificate {
  apiVersion: 'cert-manager.io/v1';
  kind: 'Certificate';
  metadata: ReturnType<typeof meta>;
  spec: {
    secretName: string;
    dnsNames: string[];
    issuerRef: { name: string; kind: string; group: string };
    usages: string[];
  };
}

/** The DNS names the server certificate must cover. */
export function certificateDnsNames(cr: ResolvedMqttCluster): string[] {
  const ns = cr.metadata.namespace;
  const out = new Set<string>();
  if (cr.spec.dns.globalHostname) out.add(cr.spec.dns.globalHostname);
  for (const r of cr.spec.regions) if (r.dns?.hostname) out.add(r.dns.hostname);
  for (const n of cr.spec.tls?.certManager?.dnsNames ?? []) out.add(n);
  for (const r of cr.spec.regions) {
    const svc = names.region(cr, r.name);
    out.add(`${svc}.${ns}.svc`);
    out.add(`${svc}.${ns}.svc.cluster.local`);
  }
  out.add(`${names.core(cr)}.${ns}.svc`);
  out.add(`${names.core(cr)}.${ns}.svc.cluster.local`);
  return [...out].map((n) => n.replace(/\.$/, ''));
}

/** null unless tls.certManager is set. */
export function buildCertificate(cr: ResolvedMqttCluster): Certificate | null {
  const cm = cr.spec.tls?.certManager;
  if (!cm) return null;
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: meta(cr, names.certificate(cr), 'tls'),
    spec: {
      secretName: names.tlsSecret(cr)!,
      dnsNames: certificateDnsNames(cr),
      issuerRef: { name: cm.issuerRef.name, kind: cm.issuerRef.kind, group: cm.issuerRef.group },
      usages: ['server auth', 'digital signature', 'key encipherment'],
    },
  };
}
