/**
 * `gateway.coap`, as EMQX 5 writes it (emqx_coap_schema): the common gateway keys, the CoAP
 * ones (connection_required, heartbeat, notify_type, subscribe_qos, publish_qos, blockwise) and
 * UDP listeners on 5683. Absent = not loaded; present = enabled unless `enable: false`.
 *
 * DTLS listeners are refused with their own message: Node has no DTLS server in its standard
 * library and no maintained DTLS server package is installed (docs/gateways.md).
 */
import { parseDuration, parseSize } from '../../config/index.js';
import { Bad, bool, common, int, isObj, only, udpListeners, type GatewayCommon, type Obj, type UdpListenerConfig } from '../config.js';

/** `coap`: QoS 1 for a CON request, 0 for a NON one (EMQX type_to_qos). */
export type CoapQosPolicy = 0 | 1 | 2 | 'coap';
export type NotifyType = 'qos' | 'con' | 'non';

export interface CoapConfig extends GatewayCommon {
  connectionRequired: boolean;
  /** A client silent this long (ms) is closed: its session and observations end. */
  heartbeatMs: number;
  notifyType: NotifyType;
  subscribeQos: CoapQosPolicy;
  publishQos: CoapQosPolicy;
  blockwise: { enable: boolean; maxBlockSize: number; maxBodySize: number; exchangeLifetimeMs: number };
  listeners: readonly UdpListenerConfig[];
}

const BLOCK_SIZES = [16, 32, 64, 128, 256, 512, 1024];
const KEYS = ['enable', 'enable_stats', 'idle_timeout', 'mountpoint', 'clientinfo_override', 'connection_required', 'heartbeat',
  'notify_type', 'subscribe_qos', 'publish_qos', 'blockwise', 'listeners', 'authentication'];

function oneOf<T extends string>(o: Obj, k: string, path: string, def: T, allowed: readonly T[]): T {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Bad(`${path}.${k}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function qosPolicy(o: Obj, k: string, path: string): CoapQosPolicy {
  const v = oneOf(o, k, path, 'coap', ['qos0', 'qos1', 'qos2', 'coap'] as const);
  return v === 'coap' ? 'coap' : (Number(v[3]) as 0 | 1 | 2);
}

function duration(o: Obj, k: string, path: string, def: string): number {
  const d = parseDuration(o[k] ?? def, false);
  if (!d.ok || d.value <= 0) throw new Bad(`${path}.${k}: ${d.ok ? 'must be above 0' : d.error}`);
  return d.value;
}

function blockwise(v: unknown, path: string): CoapConfig['blockwise'] {
  const o = v ?? {};
  if (!isObj(o)) throw new Bad(`${path}: expected {enable, max_block_size, max_body_size, exchange_lifetime}`);
  only(o, path, ['enable', 'max_block_size', 'max_body_size', 'exchange_lifetime']);
  const maxBlockSize = int(o, 'max_block_size', path, 1024, 16, 1024);
  if (!BLOCK_SIZES.includes(maxBlockSize)) throw new Bad(`${path}.max_block_size: expected one of ${BLOCK_SIZES.join(', ')}, got ${maxBlockSize}`);
  const body = parseSize(o.max_body_size ?? '4MB');
  if (!body.ok || body.value < maxBlockSize) throw new Bad(`${path}.max_body_size: ${body.ok ? `must be at least max_block_size (${maxBlockSize})` : body.error}`);
  return { enable: bool(o, 'enable', path, true), maxBlockSize, maxBodySize: body.value, exchangeLifetimeMs: duration(o, 'exchange_lifetime', path, '247s') };
}

/** `gateway.coap`: null (absent) = not loaded. */
export function parseCoap(v: unknown): { ok: true; value: CoapConfig | null } | { ok: false; error: string } {
  if (v === null || v === undefined) return { ok: true, value: null };
  const path = 'gateway.coap';
  try {
    if (!isObj(v)) throw new Bad(`${path}: expected an object ({connection_required, heartbeat, listeners, …})`);
    only(v, path, KEYS);
    if (v.authentication !== undefined) throw new Bad(`${path}.authentication: a gateway's own authenticator is not supported yet; CoAP clients use the global authentication chain`);
    if (isObj(v.listeners) && v.listeners.dtls !== undefined) {
      throw new Bad(`${path}.listeners.dtls: DTLS is not supported: Node has no DTLS server and no maintained DTLS server package is installed; use udp listeners (docs/gateways.md)`);
    }
    return {
      ok: true,
      value: {
        ...common(v, path),
        connectionRequired: bool(v, 'connection_required', path, false),
        heartbeatMs: duration(v, 'heartbeat', path, '30s'),
        notifyType: oneOf(v, 'notify_type', path, 'qos', ['qos', 'con', 'non'] as const),
        subscribeQos: qosPolicy(v, 'subscribe_qos', path),
        publishQos: qosPolicy(v, 'publish_qos', path),
        blockwise: blockwise(v.blockwise, `${path}.blockwise`),
        listeners: udpListeners(v.listeners, `${path}.listeners`, 5683),
      },
    };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, error: e.message };
    throw e;
  }
}
