/**
 * Test corpus for the codec tests: valid packets of every type for MQTT 3.1, 3.1.1 and 5, plus
 * helpers that run both our parser and mqtt-packet's parser over the same bytes.
 */
import mp from 'mqtt-packet';
import { CodecError, MqttParser, type Packet } from '../../../../broker/src/mqtt/codec/index.js';

export type Version = 3 | 4 | 5;

const up = (): Record<string, string | string[]> => ({ region: 'eu', tag: ['a', 'b'], 'ünï': 'çödé' });

/** Client → server and server → client packets valid for `v` (all with spec-valid property sets). */
export function corpus(v: Version): object[] {
  const v5 = v === 5;
  const protocolId = v === 3 ? 'MQIsdp' : 'MQTT';
  const ackProps = v5 ? { reasonString: 'why not', userProperties: up() } : undefined;
  const list: object[] = [
    { cmd: 'connect', protocolId, protocolVersion: v, clientId: 'client-1', clean: true, keepalive: 60 },
    { cmd: 'connect', protocolId, protocolVersion: v, clientId: v === 3 ? 'c3' : '', clean: true, keepalive: 0, username: 'ü-user', password: Buffer.from([0, 1, 255]) },
    {
      cmd: 'connect', protocolId, protocolVersion: v, clientId: 'w', clean: true, keepalive: 65535,
      will: {
        topic: 'last/will', payload: Buffer.from('bye'), qos: 2, retain: true,
        ...(v5 ? {
          properties: {
            willDelayInterval: 30, payloadFormatIndicator: true, messageExpiryInterval: 4000, contentType: 'text/plain',
            responseTopic: 'resp/t', correlationData: Buffer.from([9, 8, 7]), userProperties: up(),
          },
        } : {}),
      },
      username: 'u', password: Buffer.from('p'),
      ...(v5 ? {
        properties: {
          sessionExpiryInterval: 3600, receiveMaximum: 100, maximumPacketSize: 1_000_000, topicAliasMaximum: 10,
          requestResponseInformation: true, requestProblemInformation: false, userProperties: up(),
          authenticationMethod: 'SCRAM', authenticationData: Buffer.from('data'),
        },
      } : {}),
    },
    { cmd: 'connect', protocolId, protocolVersion: v, clientId: 'w0', clean: true, keepalive: 5, will: { topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false } },
    v5
      ? {
        cmd: 'connack', sessionPresent: true, reasonCode: 0,
        properties: {
          sessionExpiryInterval: 10, receiveMaximum: 20, maximumQoS: 1, retainAvailable: false, maximumPacketSize: 2000,
          assignedClientIdentifier: 'auto-1', topicAliasMaximum: 5, reasonString: 'ok', userProperties: up(),
          wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: true,
          serverKeepAlive: 30, responseInformation: 'resp', serverReference: 'other:1883', authenticationMethod: 'm',
          authenticationData: Buffer.from([1]),
        },
      }
      : { cmd: 'connack', sessionPresent: false, returnCode: 5 },
    { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false },
    { cmd: 'publish', topic: 'ünïcödé/✓', payload: Buffer.alloc(0), qos: 1, messageId: 1, retain: true, dup: true },
    { cmd: 'publish', topic: 'big', payload: Buffer.alloc(70_000, 7), qos: 2, messageId: 65535, retain: false, dup: false },
    {
      cmd: 'publish', topic: v5 ? '' : 'x', payload: Buffer.from('{}'), qos: 1, messageId: 42, retain: false, dup: false,
      ...(v5 ? {
        properties: {
          payloadFormatIndicator: true, messageExpiryInterval: 60, topicAlias: 4, responseTopic: 'r/t',
          correlationData: Buffer.from('cd'), userProperties: up(), subscriptionIdentifier: [1, 268_435_455], contentType: 'json',
        },
      } : {}),
    },
    ...(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const).flatMap((cmd) => [
      { cmd, messageId: 1234, ...(v5 ? { reasonCode: 0 } : {}) },
      ...(v5 ? [{ cmd, messageId: 9, reasonCode: cmd === 'puback' || cmd === 'pubrec' ? 0x10 : 0x92, properties: ackProps }] : []),
    ]),
    {
      cmd: 'subscribe', messageId: 77,
      subscriptions: v5
        ? [{ topic: 'a/+', qos: 0, nl: false, rap: false, rh: 0 }, { topic: '$share/g/#', qos: 2, nl: true, rap: true, rh: 2 }, { topic: 'ü', qos: 1, nl: false, rap: true, rh: 1 }]
        : [{ topic: 'a/+', qos: 0 }, { topic: '#', qos: 2 }, { topic: 'ü', qos: 1 }],
      ...(v5 ? { properties: { subscriptionIdentifier: 12345, userProperties: up() } } : {}),
    },
    { cmd: 'suback', messageId: 77, granted: v5 ? [0, 1, 2, 0x80, 0x87, 0xa2] : [0, 1, 2, 0x80], ...(v5 ? { properties: ackProps } : {}) },
    { cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a/+', 'b', 'ü/#'], ...(v5 ? { properties: { userProperties: up() } } : {}) },
    { cmd: 'unsuback', messageId: 5, ...(v5 ? { granted: [0, 0x11, 0x87], properties: ackProps } : {}) },
    { cmd: 'pingreq' },
    { cmd: 'pingresp' },
    { cmd: 'disconnect' },
  ];
  if (v5) {
    list.push(
      { cmd: 'disconnect', reasonCode: 0x8e, properties: { sessionExpiryInterval: 0, reasonString: 'bye', userProperties: up(), serverReference: 'x' } },
      { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM', authenticationData: Buffer.from('c'), reasonString: 'more', userProperties: up() } },
    );
  }
  return list;
}

/** mqtt-packet's generate() for `v`. */
export function generate(p: object, v: Version): Buffer {
  return mp.generate(p as mp.Packet, { protocolVersion: v });
}

export interface Collected {
  packets: Packet[];
  errors: CodecError[];
  parser: MqttParser;
}

export function newParser(v: Version, maxPacketSize = 1 << 28): Collected {
  const c: Collected = { packets: [], errors: [], parser: undefined as unknown as MqttParser };
  c.parser = new MqttParser({ packet: (p) => c.packets.push(p), error: (e) => c.errors.push(e) }, { maxPacketSize });
  c.parser.protocolVersion = v;
  return c;
}

/** Our parser over `chunks`, starting in protocol version `v`. */
export function ours(chunks: Buffer[], v: Version, maxPacketSize?: number): Collected {
  const c = newParser(v, maxPacketSize);
  for (const ch of chunks) c.parser.execute(ch);
  return c;
}

/** mqtt-packet's parser over `buf`, packets converted to plain objects (our output's prototype). */
export function theirs(buf: Buffer, v: Version): { packets: object[]; errors: Error[] } {
  const parser = mp.parser({ protocolVersion: v });
  const packets: object[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p) => packets.push({ ...p }));
  parser.on('error', (e: Error) => errors.push(e));
  parser.parse(buf);
  return { packets, errors };
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
