/**
 * DNS records for external-dns (DNSEndpoint, externaldns.k8s.io/v1alpha1). Each region gets one
 * DNSEndpoint holding its own hostname and its share of the global hostname; the global record
 * carries `setIdentifier: <region>` and the routing policy as provider-specific properties
 * (aws/region for latency routing; aws/geolocation-continent-code or -country-code for
 * geolocation), so the DNS provider answers each client with the region that suits it.
 *
 * Targets come from the region Service's observed load-balancer status, so these builders take it
 * as an input and return null while there is nothing to point at yet. With routing None the global
 * name is one plain record over every region's addresses, in its own `<name>-global` object.
 */
import { isIP } from 'node:net';
import type { ResolvedMqttCluster, ResolvedRegion } from '../api/types.js';
import { meta, names } from './meta.js';

export const DNS_API_VERSION = 'externaldns.k8s.io/v1alpha1';
export const DNS_KIND = 'DNSEndpoint';

export interface ProviderSpecific {
  name: string;
  value: string;
}
export interface DnsRecord {
  dnsName: string;
  recordType: 'A' | 'AAAA' | 'CNAME';
  targets: string[];
  recordTTL: number;
  setIdentifier?: string;
  providerSpecific?: ProviderSpecific[];
}
export interface DNSEndpoint {
  apiVersion: typeof DNS_API_VERSION;
  kind: typeof DNS_KIND;
  metadata: ReturnType<typeof meta>;
  spec: { endpoints: DnsRecord[] };
}

/** The parts of a Service's observed state the DNS builders read. */
export interface ObservedService {
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] | null } | null } | null;
}

/** Addresses of a Service's load balancer: IPs and hostnames. */
export function loadBalancerTargets(svc: ObservedService | undefined): { ips: string[]; hostnames: string[] } {
  const ingress = svc?.status?.loadBalancer?.ingress ?? [];
  const ips = [...new Set(ingress.map((i) => i.ip).filter((x): x is string => !!x))].sort();
  const hostnames = [...new Set(ingress.map((i) => i.hostname).filter((x): x is string => !!x))].sort();
  return { ips, hostnames };
}

/** Records for a name over targets: A and/or AAAA for IPs, else one CNAME to the first hostname. */
function records(dnsName: string, t: { ips: string[]; hostnames: string[] }, ttl: number, extra: Partial<DnsRecord> = {}): DnsRecord[] {
  const v4 = t.ips.filter((ip) => isIP(ip) === 4);
  const v6 = t.ips.filter((ip) => isIP(ip) === 6);
  const out: DnsRecord[] = [];
  if (v4.length) out.push({ dnsName, recordType: 'A', targets: v4, recordTTL: ttl, ...extra });
  if (v6.length) out.push({ dnsName, recordType: 'AAAA', targets: v6, recordTTL: ttl, ...extra });
  if (!out.length && t.hostnames.length) out.push({ dnsName, recordType: 'CNAME', targets: [t.hostnames[0]!], recordTTL: ttl, ...extra });
  return out;
}

function routingProperties(cr: ResolvedMqttCluster, region: ResolvedRegion): ProviderSpecific[] {
  if (cr.spec.dns.routing === 'Latency') return [{ name: 'aws/region', value: region.name }];
  const geo = region.dns?.geo;
  if (cr.spec.dns.routing === 'Geolocation' && geo) {
    return geo.continent
      ? [{ name: 'aws/geolocation-continent-code', value: geo.continent }]
      : [{ name: 'aws/geolocation-country-code', value: geo.country! }];
  }
  return [];
}

/** The region's DNSEndpoint, or null (provider None, no names, or no load-balancer address yet). */
export function buildRegionDnsEndpoint(cr: ResolvedMqttCluster, region: ResolvedRegion, svc: ObservedService | undefined): DNSEndpoint | null {
  const dns = cr.spec.dns;
  if (dns.provider !== 'ExternalDNS') return null;
  const targets = loadBalancerTargets(svc);
  const endpoints: DnsRecord[] = [];
  if (region.dns?.hostname) endpoints.push(...records(region.dns.hostname, targets, dns.ttl));
  if (dns.globalHostname && dns.routing !== 'None') {
    endpoints.push(...records(dns.globalHostname, targets, dns.ttl, { setIdentifier: region.name, providerSpecific: routingProperties(cr, region) }));
  }
  if (!endpoints.length) return null;
  return { apiVersion: DNS_API_VERSION, kind: DNS_KIND, metadata: meta(cr, names.region(cr, region.name), 'dns', region.name), spec: { endpoints } };
}

/** With routing None: one plain record for the global name over all regions' addresses. */
export function buildGlobalDnsEndpoint(cr: ResolvedMqttCluster, services: Record<string, ObservedService | undefined>): DNSEndpoint | null {
  const dns = cr.spec.dns;
  if (dns.provider !== 'ExternalDNS' || dns.routing !== 'None' || !dns.globalHostname) return null;
  const all = { ips: [] as string[], hostnames: [] as string[] };
  for (const r of cr.spec.regions) {
    const t = loadBalancerTargets(services[names.region(cr, r.name)]);
    all.ips.push(...t.ips);
    all.hostnames.push(...t.hostnames);
  }
  all.ips = [...new Set(all.ips)].sort();
  const endpoints = records(dns.globalHostname, all, dns.ttl);
  if (!endpoints.length) return null;
  return { apiVersion: DNS_API_VERSION, kind: DNS_KIND, metadata: meta(cr, names.globalDns(cr), 'dns'), spec: { endpoints } };
}
