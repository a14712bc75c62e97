/**
 * Listener addresses. A bind is written "1883" (all IPv4 interfaces), "127.0.0.1:1883",
 * "[::]:1883" or "[::1]:1883"; the loader stores it canonical ("0.0.0.0:1883", "[::]:1883").
 */
import { isIP } from 'node:net';

export interface BindAddress { host: string; port: number }

export function parseBind(input: unknown): { ok: true; value: BindAddress } | { ok: false; error: string } {
  const s = typeof input === 'number' ? String(input) : input;
  if (typeof s !== 'string') return { ok: false, error: `expected "port", "host:port" or "[ipv6]:port", got ${typeof input}` };
  let host = '0.0.0.0';
  let portStr = s.trim();
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(portStr);
  if (v6) {
    if (isIP(v6[1]!) !== 6) return { ok: false, error: `"${v6[1]}" is not an IPv6 address` };
    host = v6[1]!;
    portStr = v6[2]!;
  } else if (portStr.includes(':')) {
    const i = portStr.lastIndexOf(':');
    host = portStr.slice(0, i);
    portStr = portStr.slice(i + 1);
    if (host.includes(':')) return { ok: false, error: `write IPv6 addresses in brackets, e.g. "[::]:1883", got ${JSON.stringify(s)}` };
    if (host === '' || !(isIP(host) === 4 || /^[A-Za-z0-9.-]+$/.test(host))) {
      return { ok: false, error: `bad host in ${JSON.stringify(s)}` };
    }
  }
  if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535) {
    return { ok: false, error: `expected "port", "host:port" or "[ipv6]:port" with port 0-65535, got ${JSON.stringify(s)}` };
  }
  return { ok: true, value: { host, port: Number(portStr) } };
}

export function formatBind(b: BindAddress): string {
  return isIP(b.host) === 6 ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

/** Whether two binds would fight over the same port (same port, and a host in common). */
export function bindsOverlap(a: BindAddress, b: BindAddress): boolean {
  if (a.port === 0 || b.port !== a.port) return false;
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  return a.host === b.host || wild(a.host) || wild(b.host);
}
