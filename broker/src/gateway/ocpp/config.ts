/**
 * `gateway.ocpp`, as EMQX 5 writes it (apps/emqx_gateway_ocpp, emqx_ocpp_schema): the topics
 * charge point messages go to (`upstream`) and central system messages come from (`dnstream`),
 * heartbeat, JSON-schema checking, and WebSocket listeners (`ws`, `wss`) at `/ocpp/{cid}`.
 * Names and defaults are EMQX's; where Petrel differs it says so in docs/gateways.md.
 *
 * Every error names its key path; unknown keys are refused with the list of known ones. The
 * TLS options of a wss listener are the broker's own `ssl_options` (checked by the same schema
 * as `listeners.wss`).
 */
import { parseBind, parseDuration, parseSize } from '../../config/index.js';
import { validateNode, type Problem } from '../../config/validate.js';
import { wssListener } from '../../config/schema.js';
import type { SslOptions } from '../../transport/tls-options.js';
import type { GatewayCommon } from '../config.js';

export type FormatChecking = 'all' | 'upstream_only' | 'dnstream_only' | 'disable';

export interface OcppListenerConfig {
  name: string;
  type: 'ws' | 'wss';
  enable: boolean;
  bind: string;
  maxConnections: number;
  /** New connections accepted per second. */
  maxConnRate: number;
  enableAuthn: boolean;
  /** Charge points connect to `<path>/<chargePointId>`. */
  path: string;
  maxFrameSize: number;
  supportedSubprotocols: readonly string[];
  failIfNoSubprotocol: boolean;
  ssl: SslOptions | null;
}

export interface OcppConfig extends GatewayCommon {
  defaultHeartbeatIntervalS: number;
  heartbeatCheckingTimesBackoff: number;
  upstream: { topic: string; topicOverrideMapping: Readonly<Record<string, string>>; replyTopic: string; errorTopic: string };
  dnstream: { topic: string; maxMqueueLen: number };
  messageFormatChecking: FormatChecking;
  jsonSchemaIdPrefix: string;
  listeners: readonly OcppListenerConfig[];
}

/** The only OCPP-J version this gateway speaks. */
export const OCPP16 = 'ocpp1.6';

type Obj = Record<string, unknown>;
class Bad extends Error {}
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(o: Obj, path: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Bad(`${path}.${k}: unknown key (known: ${known.join(', ')})`);
}
function obj(o: Obj, k: string, path: string): Obj {
  const v = o[k] ?? {};
  if (!isObj(v)) throw new Bad(`${path}.${k}: expected an object`);
  return v;
}
function bool(o: Obj, k: string, path: string, def: boolean): boolean {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Bad(`${path}.${k}: expected true or false, got ${JSON.stringify(v)}`);
}
function int(o: Obj, k: string, path: string, def: number, min: number, max: number, infinity = false): number {
  let v = o[k];
  if (v === undefined) return def;
  if (infinity && v === 'infinity') return Infinity;
  if (typeof v === 'string' && /^\d+$/.test(v)) v = Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Bad(`${path}.${k}: expected an integer ${min}..${max}${infinity ? ' or "infinity"' : ''}, got ${JSON.stringify(v)}`);
  return v;
}
function str(o: Obj, k: string, path: string, def: string): string {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v !== 'string') throw new Bad(`${path}.${k}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
function seconds(o: Obj, k: string, path: string, def: string): number {
  const d = parseDuration(o[k] ?? def, false);
  if (!d.ok || d.value < 1000) throw new Bad(`${path}.${k}: ${d.ok ? 'must be at least 1s' : d.error}`);
  return Math.round(d.value / 1000);
}

/** Placeholders a topic template may use (EMQX: cid, clientid, action). */
function topicTemplate(o: Obj, k: string, path: string, def: string, withAction: boolean): string {
  const t = str(o, k, path, def);
  if (t === '' || /[+#]/.test(t)) throw new Bad(`${path}.${k}: a topic name without wildcards is needed, got ${JSON.stringify(t)}`);
  for (const m of t.matchAll(/\$\{([^}]*)\}/g)) {
    const ok = m[1] === 'cid' || m[1] === 'clientid' || (withAction && m[1] === 'action');
    if (!ok) throw new Bad(`${path}.${k}: unknown placeholder \${${m[1]}} (known: \${cid}, \${clientid}${withAction ? ', ${action}' : ''})`);
  }
  return t;
}

function common(o: Obj, path: string): GatewayCommon {
  const idle = parseDuration(o.idle_timeout ?? '30s', false);
  if (!idle.ok || idle.value <= 0) throw new Bad(`${path}.idle_timeout: ${idle.ok ? 'must be above 0' : idle.error}`);
  const ov = obj(o, 'clientinfo_override', path);
  const p = `${path}.clientinfo_override`;
  only(ov, p, ['clientid', 'username', 'password']);
  const opt = (k: string): string | null => (ov[k] === undefined ? null : str(ov, k, p, ''));
  return {
    enable: bool(o, 'enable', path, true),
    enableStats: bool(o, 'enable_stats', path, true),
    idleTimeoutMs: idle.value,
    mountpoint: str(o, 'mountpoint', path, 'ocpp/'),
    clientinfoOverride: { clientid: opt('clientid'), username: opt('username'), password: opt('password') },
  };
}

const LISTENER_KEYS = ['enable', 'bind', 'max_connections', 'max_conn_rate', 'enable_authn', 'websocket', 'access_rules', 'mountpoint'];
const WS_KEYS = ['path', 'max_frame_size', 'supported_subprotocols', 'fail_if_no_subprotocol', 'piggyback', 'compress', 'idle_timeout'];

function websocketOptions(l: Obj, p: string): Pick<OcppListenerConfig, 'path' | 'maxFrameSize' | 'supportedSubprotocols' | 'failIfNoSubprotocol'> {
  const ws = obj(l, 'websocket', p);
  const wp = `${p}.websocket`;
  only(ws, wp, WS_KEYS);
  const path = str(ws, 'path', wp, '/ocpp').replace(/\/+$/, '');
  if (!/^\/[^\s?#]*$/.test(path)) throw new Bad(`${wp}.path: a path starting with "/", got ${JSON.stringify(ws.path)}`);
  const mf = ws.max_frame_size === undefined ? { ok: true as const, value: 16 * 1024 * 1024 } : parseSize(ws.max_frame_size);
  if (!mf.ok || mf.value < 64) throw new Bad(`${wp}.max_frame_size: ${mf.ok ? 'must be at least 64B' : mf.error}`);
  let subs = ws.supported_subprotocols ?? [OCPP16];
  if (typeof subs === 'string') subs = subs.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!Array.isArray(subs) || subs.length === 0 || subs.some((s) => typeof s !== 'string')) throw new Bad(`${wp}.supported_subprotocols: expected a list of subprotocol names`);
  const other = (subs as string[]).filter((s) => s !== OCPP16);
  if (other.length > 0) throw new Bad(`${wp}.supported_subprotocols: only ${OCPP16} is supported, not ${other.join(', ')}`);
  if (ws.compress !== undefined && ws.compress !== false) throw new Bad(`${wp}.compress: permessage-deflate is not supported; leave it false`);
  return { path, maxFrameSize: mf.value, supportedSubprotocols: [OCPP16], failIfNoSubprotocol: bool(ws, 'fail_if_no_subprotocol', wp, true) };
}

function sslOptions(l: Obj, p: string): SslOptions {
  const problems: Problem[] = [];
  const ssl = validateNode(wssListener.fields.ssl_options, l.ssl_options, `${p}.ssl_options`, problems) as SslOptions;
  if (problems.length > 0) throw new Bad(problems.map((x) => `${x.path}: ${x.message}`).join('; '));
  if (!ssl.certfile || !ssl.keyfile) throw new Bad(`${p}.ssl_options: certfile and keyfile are required`);
  if (ssl.fail_if_no_peer_cert && ssl.verify !== 'verify_peer') throw new Bad(`${p}.ssl_options.fail_if_no_peer_cert: needs verify: verify_peer`);
  return ssl;
}

function listeners(v: unknown, path: string): OcppListenerConfig[] {
  const ls = v ?? { ws: { default: { bind: '33033' } } };
  if (!isObj(ls)) throw new Bad(`${path}: expected {ws: {<name>: {bind, websocket, …}}, wss: {…}}`);
  only(ls, path, ['ws', 'wss']);
  const out: OcppListenerConfig[] = [];
  for (const type of ['ws', 'wss'] as const) {
    const group = ls[type] ?? {};
    if (!isObj(group)) throw new Bad(`${path}.${type}: expected {<name>: {bind, …}}`);
    for (const [name, l] of Object.entries(group)) {
      const p = `${path}.${type}.${name}`;
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) throw new Bad(`${p}: a listener name is lower-case letters, digits, _ and -`);
      if (!isObj(l)) throw new Bad(`${p}: expected {bind, websocket, …}`);
      only(l, p, type === 'wss' ? [...LISTENER_KEYS, 'ssl_options'] : LISTENER_KEYS);
      if (Array.isArray(l.access_rules) && l.access_rules.length > 0) throw new Bad(`${p}.access_rules: not supported (use authorization sources)`);
      if (l.mountpoint !== undefined) throw new Bad(`${p}.mountpoint: a per-listener mountpoint is not supported; set the gateway's mountpoint`);
      const bind = l.bind === undefined ? (type === 'ws' ? '33033' : '33034') : String(l.bind);
      const b = parseBind(bind);
      if (!b.ok) throw new Bad(`${p}.bind: ${b.error}`);
      out.push({
        name, type, bind, enable: bool(l, 'enable', p, true), enableAuthn: bool(l, 'enable_authn', p, true),
        maxConnections: int(l, 'max_connections', p, 1024, 1, 2 ** 31, true),
        maxConnRate: int(l, 'max_conn_rate', p, 1000, 1, 2 ** 31),
        ...websocketOptions(l, p),
        ssl: type === 'wss' ? sslOptions(l, p) : null,
      });
    }
  }
  return out;
}

/** `gateway.ocpp`: null (absent) = not loaded. */
export function parseOcpp(v: unknown): { ok: true; value: OcppConfig | null } | { ok: false; error: string } {
  if (v === null || v === undefined) return { ok: true, value: null };
  const path = 'gateway.ocpp';
  try {
    if (!isObj(v)) throw new Bad(`${path}: expected an object ({upstream, dnstream, listeners, …})`);
    only(v, path, [
      'enable', 'enable_stats', 'idle_timeout', 'mountpoint', 'clientinfo_override', 'default_heartbeat_interval', 'heartbeat_checking_times_backoff',
      'upstream', 'dnstream', 'message_format_checking', 'json_schema_dir', 'json_schema_id_prefix', 'listeners', 'authentication',
    ]);
    if (v.authentication !== undefined) throw new Bad(`${path}.authentication: a gateway's own chain is not supported yet; its clients use the global authentication chain`);
    if (v.json_schema_dir !== undefined && v.json_schema_dir !== '${application_priv}/schemas') {
      throw new Bad(`${path}.json_schema_dir: the OCPP 1.6 schemas are built in; another directory is not supported`);
    }
    const up = obj(v, 'upstream', path);
    const upP = `${path}.upstream`;
    only(up, upP, ['topic', 'topic_override_mapping', 'reply_topic', 'error_topic']);
    const mapping = obj(up, 'topic_override_mapping', upP);
    const topicOverrideMapping: Record<string, string> = {};
    for (const action of Object.keys(mapping)) topicOverrideMapping[action] = topicTemplate(mapping, action, `${upP}.topic_override_mapping`, '', true);
    const dn = obj(v, 'dnstream', path);
    const dnP = `${path}.dnstream`;
    only(dn, dnP, ['topic', 'max_mqueue_len']);
    const checking = str(v, 'message_format_checking', path, 'disable');
    if (!['all', 'upstream_only', 'dnstream_only', 'disable'].includes(checking)) {
      throw new Bad(`${path}.message_format_checking: one of all, upstream_only, dnstream_only, disable; got ${JSON.stringify(checking)}`);
    }
    const ls = listeners(v.listeners, `${path}.listeners`);
    const seen = new Map<string, string>();
    for (const l of ls) {
      const key = parseBind(l.bind);
      const k = key.ok && key.value.port !== 0 ? `${key.value.host}:${key.value.port}` : '';
      if (k !== '' && seen.has(k)) throw new Bad(`${path}.listeners.${l.type}.${l.name}.bind: ${l.bind} is also bound by ${seen.get(k)}`);
      if (k !== '') seen.set(k, `${l.type}.${l.name}`);
    }
    return {
      ok: true,
      value: {
        ...common(v, path),
        defaultHeartbeatIntervalS: seconds(v, 'default_heartbeat_interval', path, '60s'),
        heartbeatCheckingTimesBackoff: int(v, 'heartbeat_checking_times_backoff', path, 1, 1, 1000),
        upstream: {
          topic: topicTemplate(up, 'topic', upP, 'cp/${cid}', true), topicOverrideMapping,
          replyTopic: topicTemplate(up, 'reply_topic', upP, 'cp/${cid}/Reply', false),
          errorTopic: topicTemplate(up, 'error_topic', upP, 'cp/${cid}/Reply', false),
        },
        dnstream: { topic: topicTemplate(dn, 'topic', dnP, 'cs/${cid}', false), maxMqueueLen: int(dn, 'max_mqueue_len', dnP, 100, 1, 1_000_000) },
        messageFormatChecking: checking as FormatChecking,
        jsonSchemaIdPrefix: str(v, 'json_schema_id_prefix', path, 'urn:OCPP:1.6:2019:12:'),
        listeners: ls,
      },
    };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, error: e.message };
    throw e;
  }
}
