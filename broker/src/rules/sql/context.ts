/**
 * The columns a rule sees: for a published message the fields EMQX gives (`id`, `clientid`,
 * `username`, `payload`, `peerhost`, `topic`, `qos`, `flags`, `pub_props`, `timestamp`,
 * `publish_received_at`, `node`, …) and, for each `$events/<name>` a rule can select from, a typed
 * record with EMQX's field names. Builders turn Petrel's `Message` and `ClientInfo` into them.
 *
 * Values follow EMQX's JSON shapes: MQTT 5 properties under their spec names ('User-Property' as
 * an object, with 'User-Property-Pairs' keeping order and repeats); times in ms since the epoch;
 * `username` undefined when the client gave none. `payload` is a string when the bytes are UTF-8
 * (nearly always) and the Buffer itself otherwise, so binary payloads reach functions unchanged.
 */
import { isUtf8 } from 'node:buffer';
import type { ClientInfo } from '../../hooks.js';
import type { Message, PublishProperties, QoS } from '../../types.js';
import { PAYLOAD_WHOLE } from './scope.js';

/** `$events/<name>` → EMQX's event id (the `event` column). */
export const EVENT_TOPICS = {
  client_connected: 'client.connected',
  client_disconnected: 'client.disconnected',
  client_connack: 'client.connack',
  client_check_authn_complete: 'client.check_authn_complete',
  client_check_authz_complete: 'client.check_authz_complete',
  session_subscribed: 'session.subscribed',
  session_unsubscribed: 'session.unsubscribed',
  message_delivered: 'message.delivered',
  message_acked: 'message.acked',
  message_dropped: 'message.dropped',
  delivery_dropped: 'delivery.dropped',
} as const;

export type EventName = keyof typeof EVENT_TOPICS;

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(EVENT_TOPICS, name);
}

export type Props = Record<string, unknown>;
export type Payload = string | Buffer;

/** Who a client is, in the columns every client event shares. */
export interface ClientColumns {
  clientid: string;
  username: string | undefined;
  peerhost: string;
  peername: string;
}

/** A message's own columns, shared by message.publish and the delivery events. */
export interface MessageFields {
  id: string;
  topic: string;
  payload: Payload;
  qos: QoS;
  flags: { retain: boolean; dup: boolean };
  pub_props: Props;
  publish_received_at: number;
}

export interface MessageColumns extends ClientColumns, MessageFields {
  event: 'message.publish';
  timestamp: number;
  node: string;
  [column: string]: unknown;
}

interface EventBase { timestamp: number; node: string; [column: string]: unknown }

interface ConnectionColumns {
  sockname: string;
  proto_name: string;
  proto_ver: number;
}

export interface ClientConnectedEvent extends EventBase, ClientColumns, ConnectionColumns {
  event: 'client.connected';
  mountpoint: string | undefined;
  keepalive: number;
  clean_start: boolean;
  expiry_interval: number;
  is_bridge: boolean;
  conn_props: Props;
  connected_at: number;
  client_attrs: Record<string, string>;
}

export interface ClientDisconnectedEvent extends EventBase, ClientColumns, ConnectionColumns {
  event: 'client.disconnected';
  reason: string;
  disconn_props: Props;
  connected_at: number;
  disconnected_at: number;
  client_attrs: Record<string, string>;
}

export interface ClientConnackEvent extends EventBase, ClientColumns, ConnectionColumns {
  event: 'client.connack';
  reason_code: string;
  keepalive: number;
  clean_start: boolean;
  expiry_interval: number;
  conn_props: Props;
  connected_at: number;
}

export interface ClientCheckAuthnCompleteEvent extends EventBase, ClientColumns {
  event: 'client.check_authn_complete';
  reason_code: string;
  is_superuser: boolean;
  is_anonymous: boolean;
  client_attrs: Record<string, string>;
}

export interface ClientCheckAuthzCompleteEvent extends EventBase, ClientColumns {
  event: 'client.check_authz_complete';
  topic: string;
  action: 'publish' | 'subscribe';
  /** Which source decided: 'cache', 'file', 'built_in_database', … or 'default'. */
  authz_source: string;
  result: 'allow' | 'deny';
  client_attrs: Record<string, string>;
}

export interface SessionSubscribedEvent extends EventBase, ClientColumns {
  event: 'session.subscribed';
  topic: string;
  qos: QoS;
  sub_props: Props;
  client_attrs: Record<string, string>;
}

export interface SessionUnsubscribedEvent extends EventBase, ClientColumns {
  event: 'session.unsubscribed';
  topic: string;
  qos: QoS;
  unsub_props: Props;
  client_attrs: Record<string, string>;
}

/** message.delivered / message.acked: `clientid` is the receiver, `from_*` the publisher. */
export interface MessageDeliveredEvent extends EventBase, ClientColumns, MessageFields {
  event: 'message.delivered';
  from_clientid: string;
  from_username: string | undefined;
}

export interface MessageAckedEvent extends EventBase, ClientColumns, MessageFields {
  event: 'message.acked';
  from_clientid: string;
  from_username: string | undefined;
  puback_props: Props;
}

/** A message no subscriber took (`reason`: 'no_subscribers', …); `clientid` is the publisher. */
export interface MessageDroppedEvent extends EventBase, ClientColumns, MessageFields {
  event: 'message.dropped';
  reason: string;
}

/** A message dropped on its way to one subscriber (`reason`: 'queue_full', 'expired', …). */
export interface DeliveryDroppedEvent extends EventBase, ClientColumns, MessageFields {
  event: 'delivery.dropped';
  reason: string;
  from_clientid: string;
  from_username: string | undefined;
}

export type EventColumns =
  | ClientConnectedEvent | ClientDisconnectedEvent | ClientConnackEvent
  | ClientCheckAuthnCompleteEvent | ClientCheckAuthzCompleteEvent
  | SessionSubscribedEvent | SessionUnsubscribedEvent
  | MessageDeliveredEvent | MessageAckedEvent | MessageDroppedEvent | DeliveryDroppedEvent;

export type RuleColumns = MessageColumns | EventColumns;

export function clientColumns(client: ClientInfo | null): ClientColumns {
  if (client === null) return { clientid: '', username: undefined, peerhost: '', peername: '' };
  const host = client.peerHost;
  return {
    clientid: client.clientId,
    username: client.username ?? undefined,
    peerhost: host,
    peername: peername(host, client.peerPort),
  };
}

function peername(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** EMQX's id is a 128-bit GUID in hex; Petrel's broker-unique message id, zero-padded, keeps that shape. */
export function messageIdHex(id: number): string {
  const hex = id.toString(16).toUpperCase();
  return ZEROS.slice(hex.length) + hex;
}
const ZEROS = '0'.repeat(32);

export function payloadColumn(payload: Buffer): Payload {
  // toString() without arguments goes straight to the UTF-8 decoder (no range checks, no slice).
  return isUtf8(payload) ? payload.toString() : payload;
}

/** PUBLISH properties under their MQTT 5 names, as EMQX's pub_props. */
export function pubProps(p: PublishProperties | null): Props {
  const out: Props = {};
  if (p === null) return out;
  if (p.payloadFormatIndicator !== undefined) out['Payload-Format-Indicator'] = p.payloadFormatIndicator ? 1 : 0;
  if (p.messageExpiryInterval !== undefined) out['Message-Expiry-Interval'] = p.messageExpiryInterval;
  if (p.contentType !== undefined) out['Content-Type'] = p.contentType;
  if (p.responseTopic !== undefined) out['Response-Topic'] = p.responseTopic;
  if (p.correlationData !== undefined) out['Correlation-Data'] = payloadColumn(p.correlationData);
  if (p.userProperties !== undefined) {
    const map: Record<string, string> = {};
    const pairs: { key: string; value: string }[] = [];
    for (const [key, v] of Object.entries(p.userProperties)) {
      for (const value of Array.isArray(v) ? v : [v]) {
        map[key] = value; // a repeated key keeps its last value, as EMQX's map does
        pairs.push({ key, value });
      }
    }
    out['User-Property'] = map;
    out['User-Property-Pairs'] = pairs;
  }
  return out;
}

export function messageFields(msg: Message): MessageFields {
  return {
    id: messageIdHex(msg.id),
    topic: msg.topic,
    payload: payloadColumn(msg.payload),
    qos: msg.qos,
    flags: { retain: msg.retain, dup: false },
    pub_props: pubProps(msg.properties),
    publish_received_at: msg.timestamp,
  };
}

/**
 * The message columns that cost something to build, as bits of `messageColumns`' `need`.
 * NEED_PAYLOAD_FIELDS: the rules read only `payload.<key>…`, so `payload` may stay the bytes
 * (the SQL reads fields from them, sql/json-scan.ts); NEED_PAYLOAD: the text is needed.
 */
export const NEED_ID = 1, NEED_PAYLOAD = 2, NEED_FLAGS = 4, NEED_PUB_PROPS = 8, NEED_PEERNAME = 16, NEED_PAYLOAD_FIELDS = 32, NEED_ALL = 31;

/** The `need` bits for the columns a rule reads (null: it may read any, `SELECT *`). */
export function columnNeeds(reads: ReadonlySet<string> | null): number {
  if (reads === null) return NEED_ALL;
  const payload = !reads.has('payload') ? 0 : reads.has(PAYLOAD_WHOLE) ? NEED_PAYLOAD : NEED_PAYLOAD_FIELDS;
  return (reads.has('id') ? NEED_ID : 0) | payload | (reads.has('flags') ? NEED_FLAGS : 0)
    | (reads.has('pub_props') ? NEED_PUB_PROPS : 0) | (reads.has('peername') ? NEED_PEERNAME : 0);
}

/**
 * The columns of a published message (`FROM "t/#"`); `publisher` null for broker-made messages.
 * `need`: which of the costly columns to build (the union of what the rules on this message read,
 * see columnNeeds); the others are undefined, so a rule reading only `payload.x` formats no id.
 */
export function messageColumns(msg: Message, publisher: ClientInfo | null, node: string, now = Date.now(), need = NEED_ALL): MessageColumns {
  // One literal, no spreads, every key always present (one object shape): this runs inside
  // publish for every message some rule listens to.
  const host = publisher === null ? '' : publisher.peerHost;
  return {
    event: 'message.publish',
    id: (need & NEED_ID) === 0 ? undefined as unknown as string : messageIdHex(msg.id),
    topic: msg.topic,
    payload: (need & NEED_PAYLOAD) !== 0 ? payloadColumn(msg.payload) : (need & NEED_PAYLOAD_FIELDS) !== 0 ? msg.payload : undefined as unknown as Payload,
    qos: msg.qos,
    flags: (need & NEED_FLAGS) === 0 ? undefined as unknown as MessageFields['flags'] : { retain: msg.retain, dup: false },
    pub_props: (need & NEED_PUB_PROPS) === 0 ? undefined as unknown as Props : msg.properties === null ? {} : pubProps(msg.properties),
    publish_received_at: msg.timestamp,
    clientid: publisher === null ? '' : publisher.clientId,
    username: publisher?.username ?? undefined,
    peerhost: host,
    peername: (need & NEED_PEERNAME) === 0 || publisher === null ? '' : peername(host, publisher.peerPort),
    timestamp: now,
    node,
  };
}

/** message.delivered / message.acked / delivery.dropped for one receiver of `msg`. */
export function deliveryColumns<E extends 'message.delivered' | 'message.acked' | 'delivery.dropped'>(
  event: E,
  msg: Message,
  receiver: ClientInfo,
  node: string,
  extra: { fromUsername?: string; reason?: string; pubackProps?: Props } = {},
  now = Date.now(),
): Extract<EventColumns, { event: E }> {
  const base = {
    event, ...messageFields(msg), ...clientColumns(receiver),
    from_clientid: msg.from, from_username: extra.fromUsername, timestamp: now, node,
  } as Record<string, unknown>;
  if (event === 'message.acked') base['puback_props'] = extra.pubackProps ?? {};
  if (event === 'delivery.dropped') base['reason'] = extra.reason ?? 'unknown';
  return base as Extract<EventColumns, { event: E }>;
}
