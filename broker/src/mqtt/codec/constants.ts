/**
 * MQTT wire constants shared by the parser and the encoders.
 *
 * Packet type numbers, the reserved fixed-header flag bits of each type, and the MQTT 5 property
 * table. Property names are mqtt-packet's (`sessionExpiryInterval`, `userProperties`, ...) so the
 * objects we build are interchangeable with mqtt-packet's. Each property also carries the set of
 * packet types it may appear in (MQTT 5 §2.2.2.2): an identifier that is not valid for its packet
 * type makes the packet malformed.
 */

export const CMD_NAMES = [
  'reserved', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
] as const;

export const T_CONNECT = 1;
export const T_CONNACK = 2;
export const T_PUBLISH = 3;
export const T_PUBACK = 4;
export const T_PUBREC = 5;
export const T_PUBREL = 6;
export const T_PUBCOMP = 7;
export const T_SUBSCRIBE = 8;
export const T_SUBACK = 9;
export const T_UNSUBSCRIBE = 10;
export const T_UNSUBACK = 11;
export const T_PINGREQ = 12;
export const T_PINGRESP = 13;
export const T_DISCONNECT = 14;
export const T_AUTH = 15;

/** Required value of the low 4 bits of byte 1 per type; -1 = PUBLISH (flags carry dup/qos/retain). [MQTT-2.2.2-1] */
export const REQUIRED_FLAGS: readonly number[] = [-2, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/** Largest value a 4-byte Variable Byte Integer can hold. [MQTT-1.5.5] */
export const VARINT_MAX = 268_435_455;

export type PropType = 'byte' | 'int8' | 'int16' | 'int32' | 'var' | 'string' | 'pair' | 'binary';

export interface PropDef {
  readonly id: number;
  readonly name: string;
  readonly type: PropType;
  /** Bit mask over packet type numbers (1 << type); bit 0 marks the Will properties of CONNECT. */
  readonly allowed: number;
}

/** Pseudo packet type used for the Will Properties of a CONNECT packet. */
export const WILL_PROPS = 0;

const b = (...types: number[]): number => types.reduce((m, t) => m | (1 << t), 0);
const ACKS = b(T_PUBACK, T_PUBREC, T_PUBREL, T_PUBCOMP, T_SUBACK, T_UNSUBACK);

/** MQTT 5 §2.2.2.2 property table. */
export const PROPERTIES: readonly PropDef[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', allowed: b(T_PUBLISH, WILL_PROPS) },
  { id: 0x02, name: 'messageExpiryInterval', type: 'int32', allowed: b(T_PUBLISH, WILL_PROPS) },
  { id: 0x03, name: 'contentType', type: 'string', allowed: b(T_PUBLISH, WILL_PROPS) },
  { id: 0x08, name: 'responseTopic', type: 'string', allowed: b(T_PUBLISH, WILL_PROPS) },
  { id: 0x09, name: 'correlationData', type: 'binary', allowed: b(T_PUBLISH, WILL_PROPS) },
  { id: 0x0b, name: 'subscriptionIdentifier', type: 'var', allowed: b(T_PUBLISH, T_SUBSCRIBE) },
  { id: 0x11, name: 'sessionExpiryInterval', type: 'int32', allowed: b(T_CONNECT, T_CONNACK, T_DISCONNECT) },
  { id: 0x12, name: 'assignedClientIdentifier', type: 'string', allowed: b(T_CONNACK) },
  { id: 0x13, name: 'serverKeepAlive', type: 'int16', allowed: b(T_CONNACK) },
  { id: 0x15, name: 'authenticationMethod', type: 'string', allowed: b(T_CONNECT, T_CONNACK, T_AUTH) },
  { id: 0x16, name: 'authenticationData', type: 'binary', allowed: b(T_CONNECT, T_CONNACK, T_AUTH) },
  { id: 0x17, name: 'requestProblemInformation', type: 'byte', allowed: b(T_CONNECT) },
  { id: 0x18, name: 'willDelayInterval', type: 'int32', allowed: b(WILL_PROPS) },
  { id: 0x19, name: 'requestResponseInformation', type: 'byte', allowed: b(T_CONNECT) },
  { id: 0x1a, name: 'responseInformation', type: 'string', allowed: b(T_CONNACK) },
  { id: 0x1c, name: 'serverReference', type: 'string', allowed: b(T_CONNACK, T_DISCONNECT) },
  { id: 0x1f, name: 'reasonString', type: 'string', allowed: ACKS | b(T_CONNACK, T_DISCONNECT, T_AUTH) },
  { id: 0x21, name: 'receiveMaximum', type: 'int16', allowed: b(T_CONNECT, T_CONNACK) },
  { id: 0x22, name: 'topicAliasMaximum', type: 'int16', allowed: b(T_CONNECT, T_CONNACK) },
  { id: 0x23, name: 'topicAlias', type: 'int16', allowed: b(T_PUBLISH) },
  { id: 0x24, name: 'maximumQoS', type: 'int8', allowed: b(T_CONNACK) },
  { id: 0x25, name: 'retainAvailable', type: 'byte', allowed: b(T_CONNACK) },
  {
    id: 0x26, name: 'userProperties', type: 'pair',
    allowed: ACKS | b(WILL_PROPS, T_CONNECT, T_CONNACK, T_PUBLISH, T_SUBSCRIBE, T_UNSUBSCRIBE, T_DISCONNECT, T_AUTH),
  },
  { id: 0x27, name: 'maximumPacketSize', type: 'int32', allowed: b(T_CONNECT, T_CONNACK) },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', type: 'byte', allowed: b(T_CONNACK) },
  { id: 0x29, name: 'subscriptionIdentifiersAvailable', type: 'byte', allowed: b(T_CONNACK) },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', type: 'byte', allowed: b(T_CONNACK) },
];

/** Property definitions indexed by identifier (undefined = unknown identifier). */
export const PROP_BY_ID: ReadonlyArray<PropDef | undefined> = (() => {
  const a: Array<PropDef | undefined> = new Array(256).fill(undefined);
  for (const p of PROPERTIES) a[p.id] = p;
  return a;
})();

/** Property definitions indexed by mqtt-packet name. */
export const PROP_BY_NAME: ReadonlyMap<string, PropDef> = new Map(PROPERTIES.map((p) => [p.name, p]));

const set = (...codes: number[]): Uint8Array => {
  const s = new Uint8Array(256);
  for (const c of codes) s[c] = 1;
  return s;
};

/** Valid MQTT 5 reason codes per packet type (same tables as mqtt-packet). */
export const PUBACK_PUBREC_CODES = set(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99);
export const PUBREL_PUBCOMP_CODES = set(0x00, 0x92);
export const SUBACK_CODES = set(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2);
export const UNSUBACK_CODES = set(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91);
export const DISCONNECT_CODES = set(
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96,
  0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
);
export const AUTH_CODES = set(0x00, 0x18, 0x19);
