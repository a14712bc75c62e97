/**
 * Gateway configuration, as EMQX 5 writes it (`gateway.mqttsn: {…}`), validated here because a
 * gateway section is a structured value the schema leaves to its feature (config/schema.ts
 * `custom`). As in EMQX, a gateway whose section is absent is not loaded at all; a section that
 * is present is enabled unless it says `enable: false`.
 *
 * Each error names the key path (`gateway.mqttsn.predefined[2].id: …`); unknown keys are
 * refused with the list of known ones, never ignored.
 */
import { parseBind, parseDuration, parseSize } from '../config/index.js';

/** Keys common to every gateway (EMQX `gateway_common_options` and `mountpoint`). */
export interface GatewayCommon {
  enable: boolean;
  enableStats: boolean;
  /** A connection that sends nothing this long after it opened, before it CONNECTs, is dropped (ms). */
  idleTimeoutMs: number;
  /** Prefix of every topic a client of this gateway publishes or subscribes to; `${clientid}` and `${username}` are replaced. */
  mountpoint: string;
  /** Values that replace what the client said about itself (`${clientid}`, `${username}` templates allowed). */
  clientinfoOverride: { clientid: string | null; username: string | null; password: string | null };
}

export interface UdpListenerConfig {
  name: string;
  enable: boolean;
  bind: string;
  /** Most peers at once (EMQX: 1024). */
  maxConnections: number;
  /** New peers accepted per second (EMQX: 1000). */
  maxConnRate: number;
  /** false: clients of this listener skip authentication (EMQX `enable_authn`). */
  enableAuthn: boolean;
  /** EMQX `udp_options`: socket buffers asked of the kernel (undefined: its default), SO_REUSEADDR. */
  udp: { recbuf?: number; sndbuf?: number; reuseaddr: boolean };
}

export interface MqttsnConfig extends GatewayCommon {
  gatewayId: number;
  broadcast: boolean;
  enableQos3: boolean;
  subsResume: boolean;
  predefined: ReadonlyArray<{ id: number; topic: string }>;
  listeners: readonly UdpListenerConfig[];
}

/** EMQX: predefined topic ids are 1..1024 (SN_MAX_PREDEF_TOPIC_ID). */
export const MAX_PREDEFINED_ID = 1024;

/** Shared by each gateway's parser (gateway/<p>/config.ts). */
export type Obj = Record<string, unknown>;
export class Bad extends Error {}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function only(o: Obj, path: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Bad(`${path}.${k}: unknown key (known: ${known.join(', ')})`);
}
export function bool(o: Obj, k: string, path: string, def: boolean): boolean {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Bad(`${path}.${k}: expected true or false, got ${JSON.stringify(v)}`);
}
export function int(o: Obj, k: string, path: string, def: number, min: number, max: number, infinity = false): number {
  let v = o[k];
  if (v === undefined) return def;
  if (infinity && v === 'infinity') return Infinity;
  if (typeof v === 'string' && /^\d+$/.test(v)) v = Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Bad(`${path}.${k}: expected an integer ${min}..${max}${infinity ? ' or "infinity"' : ''}, got ${JSON.stringify(v)}`);
  return v;
}
export function str(o: Obj, k: string, path: string, def: string | null): string | null {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw new Bad(`${path}.${k}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function common(o: Obj, path: string): GatewayCommon {
  const idle = parseDuration(o.idle_timeout ?? '30s', false);
  if (!idle.ok || idle.value <= 0) throw new Bad(`${path}.idle_timeout: ${idle.ok ? 'must be above 0' : idle.error}`);
  const ov = o.clientinfo_override ?? {};
  if (!isObj(ov)) throw new Bad(`${path}.clientinfo_override: expected {clientid, username, password}`);
  only(ov, `${path}.clientinfo_override`, ['clientid', 'username', 'password']);
  const p = `${path}.clientinfo_override`;
  return {
    enable: bool(o, 'enable', path, true),
    enableStats: bool(o, 'enable_stats', path, true),
    idleTimeoutMs: idle.value,
    mountpoint: str(o, 'mountpoint', path, '')!,
    clientinfoOverride: { clientid: str(ov, 'clientid', p, null), username: str(ov, 'username', p, null), password: str(ov, 'password', p, null) },
  };
}

export function udpListeners(v: unknown, path: string, defaultPort: number): UdpListenerConfig[] {
  const ls = v ?? { udp: { default: { bind: String(defaultPort) } } };
  if (!isObj(ls)) throw new Bad(`${path}: expected {udp: {<name>: {bind, …}}}`);
  for (const k of Object.keys(ls)) {
    if (k === 'dtls') throw new Bad(`${path}.dtls: DTLS listeners are not supported yet (docs/gateways.md)`);
    if (k !== 'udp') throw new Bad(`${path}.${k}: unknown listener type (known: udp)`);
  }
  const udp = ls.udp ?? {};
  if (!isObj(udp)) throw new Bad(`${path}.udp: expected {<name>: {bind, …}}`);
  const out: UdpListenerConfig[] = [];
  for (const [name, l] of Object.entries(udp)) {
    const p = `${path}.udp.${name}`;
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) throw new Bad(`${p}: a listener name is lower-case letters, digits, _ and -`);
    if (!isObj(l)) throw new Bad(`${p}: expected {bind, max_connections, max_conn_rate, …}`);
    only(l, p, ['enable', 'bind', 'max_connections', 'max_conn_rate', 'enable_authn', 'udp_options', 'access_rules', 'mountpoint']);
    if (Array.isArray(l.access_rules) && l.access_rules.length > 0) throw new Bad(`${p}.access_rules: not supported (use authorization sources)`);
    if (l.mountpoint !== undefined) throw new Bad(`${p}.mountpoint: a per-listener mountpoint is not supported; set the gateway's mountpoint`);
    const bind = l.bind === undefined ? String(defaultPort) : String(l.bind);
    const b = parseBind(bind);
    if (!b.ok) throw new Bad(`${p}.bind: ${b.error}`);
    out.push({
      name, bind, enable: bool(l, 'enable', p, true), enableAuthn: bool(l, 'enable_authn', p, true), udp: udpOptions(l.udp_options, `${p}.udp_options`),
      maxConnections: int(l, 'max_connections', p, 1024, 1, 2 ** 31, true),
      maxConnRate: int(l, 'max_conn_rate', p, 1000, 1, 2 ** 31),
    });
  }
  return out;
}

/**
 * EMQX's `udp_options`: `recbuf` and `sndbuf` go to the socket (SO_RCVBUF/SO_SNDBUF; the kernel caps
 * them at net.core.rmem_max/wmem_max); `reuseaddr` is SO_REUSEADDR, off unless set (EMQX defaults it
 * on; here a second broker on the same port would then take datagrams silently instead of failing
 * to start). `active_n` and `buffer` size Erlang's socket driver and have nothing to set in Node:
 * checked and accepted so EMQX configs load.
 */
function udpOptions(v: unknown, path: string): UdpListenerConfig['udp'] {
  if (v === undefined) return { reuseaddr: false };
  if (!isObj(v)) throw new Bad(`${path}: expected {recbuf, sndbuf, reuseaddr, active_n, buffer}`);
  only(v, path, ['recbuf', 'sndbuf', 'buffer', 'reuseaddr', 'active_n']);
  const size = (k: string): number | undefined => {
    if (v[k] === undefined) return undefined;
    const r = parseSize(v[k]);
    if (!r.ok) throw new Bad(`${path}.${k}: ${r.error}`);
    if (r.value < 1 || r.value > 2 ** 31 - 1) throw new Bad(`${path}.${k}: must be 1 byte .. 2 GiB`);
    return r.value;
  };
  int(v, 'active_n', path, 100, 1, 2 ** 31);
  size('buffer');
  return { recbuf: size('recbuf'), sndbuf: size('sndbuf'), reuseaddr: bool(v, 'reuseaddr', path, false) };
}

/** `gateway.mqttsn`: null (absent) = not loaded. */
export function parseMqttsn(v: unknown): { ok: true; value: MqttsnConfig | null } | { ok: false; error: string } {
  if (v === null || v === undefined) return { ok: true, value: null };
  const path = 'gateway.mqttsn';
  try {
    if (!isObj(v)) throw new Bad(`${path}: expected an object ({gateway_id, predefined, listeners, …})`);
    only(v, path, ['enable', 'enable_stats', 'idle_timeout', 'mountpoint', 'clientinfo_override', 'gateway_id', 'broadcast', 'enable_qos3', 'subs_resume', 'predefined', 'listeners', 'authentication']);
    if (v.authentication !== undefined) throw new Bad(`${path}.authentication: a gateway's own chain is not supported yet; its clients use the global authentication chain`);
    const pre = v.predefined ?? [];
    if (!Array.isArray(pre)) throw new Bad(`${path}.predefined: expected a list of {id, topic}`);
    const predefined: Array<{ id: number; topic: string }> = [];
    const seen = new Set<number>();
    pre.forEach((e, i) => {
      const p = `${path}.predefined[${i}]`;
      if (!isObj(e)) throw new Bad(`${p}: expected {id, topic}`);
      only(e, p, ['id', 'topic']);
      const id = int(e, 'id', p, -1, 1, MAX_PREDEFINED_ID);
      const topic = str(e, 'topic', p, null);
      if (id === -1 || topic === null || topic === '') throw new Bad(`${p}: needs both id and topic`);
      if (/[+#]/.test(topic)) throw new Bad(`${p}.topic: a predefined topic is a topic name, without wildcards: '${topic}'`);
      if (seen.has(id)) throw new Bad(`${p}.id: ${id} is defined twice`);
      seen.add(id);
      predefined.push({ id, topic });
    });
    return {
      ok: true,
      value: {
        ...common(v, path),
        gatewayId: int(v, 'gateway_id', path, 1, 0, 255),
        broadcast: bool(v, 'broadcast', path, false),
        enableQos3: bool(v, 'enable_qos3', path, true),
        subsResume: bool(v, 'subs_resume', path, false),
        predefined,
        listeners: udpListeners(v.listeners, `${path}.listeners`, 1884),
      },
    };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, error: e.message };
    throw e;
  }
}
