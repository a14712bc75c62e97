/**
 * PUBLISH and PUBREL from a client: topic alias resolution, topic validation,
 * authorization, `$delayed/…`, and the QoS 1 / QoS 2 acknowledgement flows.
 *
 * QoS 2 is "exactly once" on the receiving side by remembering the packet id from PUBLISH
 * until PUBREL: a PUBLISH with a packet id still awaiting PUBREL is a resend and is not
 * published again [MQTT-4.3.3-9]. The session keeps that id set (in the store for persistent
 * sessions, so it holds across a broker restart too).
 *
 * Authorization is asked of the broker's authorizer: synchronous in the common case; when a
 * source answers with a promise, the channel holds the client's later packets until it settles,
 * so messages keep their order.
 */
import { isUtf8 } from 'node:buffer';
import type { Packet, IPublishPacket, IPubrelPacket } from './codec/index.js';
import { encodeAck } from './codec/index.js';
import type { Channel } from './channel.js';
import type { Message, PublishProperties, QoS } from '../types.js';
import type { AuthzResult } from '../hooks.js';
import { MqttError, RC } from '../errors.js';
import { validTopicName } from '../router/index.js';
import { DelayedPublisher } from '../delayed.js';

export function handlePublish(ch: Channel, p: Packet): void {
  const pk = p as IPublishPacket;
  const b = ch.broker;
  const c = b.metrics.counters;
  const cfg = ch.cfg;
  const qos = pk.qos as QoS;
  c['packets.publish.received']++;
  c['messages.received']++;
  if (qos === 0) c['messages.qos0.received']++; else if (qos === 1) c['messages.qos1.received']++; else c['messages.qos2.received']++;
  if (qos > cfg.maxQosAllowed) throw new MqttError('QOS_NOT_SUPPORTED', `QoS ${qos} above maximum ${cfg.maxQosAllowed}`); // [MQTT-3.2.2-11]
  if (pk.retain && !cfg.retainAvailable) throw new MqttError('RETAIN_NOT_SUPPORTED'); // [MQTT-3.2.2-14]

  let topic = pk.topic;
  const v5 = ch.protocolVersion === 5;
  let props: PublishProperties | null = null;
  if (v5 && pk.properties !== undefined) {
    const pp = pk.properties;
    const alias = pp.topicAlias;
    if (alias !== undefined) {
      // [MQTT-3.3.2-8/9] alias 0 or above our Topic Alias Maximum is an error
      if (alias === 0 || alias > cfg.maxTopicAlias) throw new MqttError('TOPIC_ALIAS_INVALID', `topic alias ${alias}`);
      if (topic.length === 0) {
        const t = ch.aliasIn.get(alias);
        if (t === undefined) throw new MqttError('PROTOCOL_ERROR', `unknown topic alias ${alias}`);
        topic = t;
      } else ch.aliasIn.set(alias, topic);
    }
    // [MQTT-3.3.4-6] a client must not send a Subscription Identifier
    if (pp.subscriptionIdentifier !== undefined) throw new MqttError('PROTOCOL_ERROR', 'subscription identifier in PUBLISH');
    // [MQTT-3.3.2-13/14] a Response Topic is a topic name: no wildcards
    if (pp.responseTopic !== undefined && !validTopicName(pp.responseTopic, cfg.maxTopicLevels)) throw new MqttError('PROTOCOL_ERROR', 'response topic is not a valid topic name');
    props = carriedProperties(pp);
  }
  if (!validTopicName(topic, cfg.maxTopicLevels)) throw new MqttError('TOPIC_NAME_INVALID', topic.length === 0 ? 'empty topic' : `'${topic}'`); // [MQTT-3.3.2-2]

  const pid = pk.messageId ?? 0;
  const session = ch.session!;
  if (qos === 2 && session.isAwaitingRel(pid)) {
    // A resent QoS 2 PUBLISH whose first copy we already have: acknowledge, don't publish again.
    // EMQX reports the copy as dropped (message.dropped, packet_identifier_inuse).
    if (b.hooks.active('message.dropped')) b.hooks.run('message.dropped', b.newMessage(topic, pk.payload as Buffer, qos, pk.retain, props, ch.clientId), null, 'packet_identifier_inuse');
    ack(ch, 'pubrec', pid, 0);
    return;
  }
  if (qos === 2 && session.awaitingRelCount >= cfg.maxAwaitingRel) throw new MqttError('RECEIVE_MAXIMUM_EXCEEDED', `more than ${cfg.maxAwaitingRel} QoS 2 messages awaiting PUBREL`); // [MQTT-3.3.4-9]

  if (b.authorizer.open) { accept(ch, pk, topic, props, pid); return; }
  const verdict = b.authorizer.check(ch.info, 'publish', topic, qos, pk.retain);
  if (typeof verdict === 'string') { decided(ch, pk, topic, props, pid, verdict); return; }
  ch.hold(true);
  verdict.then((v) => {
    if (ch.state === 'closed') return;
    try { decided(ch, pk, topic, props, pid, v); } catch (err) {
      if (err instanceof MqttError) { ch.fail(err.code, err.message); return; }
      throw err;
    }
    ch.releaseHeld();
  }, (err) => { ch.log.error({ err, clientid: ch.clientId }, 'authorization failed'); ch.fail('UNSPECIFIED_ERROR', 'authorization error'); });
}

/** Applies an authorization answer: refused with its reason code, or accepted. */
function decided(ch: Channel, pk: IPublishPacket, topic: string, props: PublishProperties | null, pid: number, verdict: AuthzResult): void {
  if (ch.traced) ch.broker.trace!.authz(ch, 'publish', topic, verdict);
  if (verdict === 'deny') {
    ch.count('packets.publish.auth_error');
    // authorization.deny_action = disconnect: DISCONNECT 0x87 instead of the acknowledgement, as EMQX does.
    if (ch.broker.authorizer.denyAction === 'disconnect') throw new MqttError('NOT_AUTHORIZED', `publish to '${topic}' not authorized`);
    if (pk.qos === 1) ack(ch, 'puback', pid, RC.NOT_AUTHORIZED);
    else if (pk.qos === 2) ack(ch, 'pubrec', pid, RC.NOT_AUTHORIZED);
    return;
  }
  accept(ch, pk, topic, props, pid);
}

/** An authorized PUBLISH: payload format check, `$delayed/…`, publish, acknowledgement. */
function accept(ch: Channel, pk: IPublishPacket, topic: string, props: PublishProperties | null, pid: number): void {
  const b = ch.broker;
  const c = b.metrics.counters;
  const cfg = ch.cfg;
  const qos = pk.qos as QoS;
  const v5 = ch.protocolVersion === 5;
  // [MQTT-3.3.2-?] Payload Format Indicator 1 promises UTF-8; the server MAY check and answer 0x99.
  if (props !== null && props.payloadFormatIndicator === true && !isUtf8(pk.payload as Buffer)) {
    c['packets.publish.error']++;
    if (qos === 1) ack(ch, 'puback', pid, RC.PAYLOAD_FORMAT_INVALID);
    else if (qos === 2) ack(ch, 'pubrec', pid, RC.PAYLOAD_FORMAT_INVALID);
    return;
  }

  let delay = -1;
  if (topic.charCodeAt(0) === 36 /* $ */ && topic.startsWith('$delayed/')) {
    const d = DelayedPublisher.parse(topic);
    if (d === null) throw new MqttError('TOPIC_NAME_INVALID', `bad delayed topic '${topic}' (want $delayed/{seconds}/{topic})`);
    topic = d.topic;
    delay = d.delay;
  }
  const msg: Message = b.newMessage(topic, pk.payload as Buffer, qos, pk.retain, props, ch.clientId);
  if (cfg.messageExpiryMaxMs !== Infinity && (msg.expiresAt === 0 || msg.expiresAt - msg.timestamp > cfg.messageExpiryMaxMs)) {
    msg.expiresAt = msg.timestamp + cfg.messageExpiryMaxMs;
  }
  let delivered = 1;
  // durability.mode sync: a QoS 1/2 message forwarded to other nodes is acknowledged once they have it.
  const acks: Array<Promise<void>> | undefined = qos > 0 && cfg.durableAcks ? [] : undefined;
  if (delay >= 0) { if (!b.publishDelayed(msg, delay)) { delivered = 0; c['packets.publish.dropped']++; } }
  else delivered = b.publish(msg, acks);
  if (b.clusterBusy !== null && b.clusterBusy()) ch.waitForCluster();

  if (qos === 0) return;
  const rc = delivered === 0 && v5 ? RC.NO_MATCHING_SUBSCRIBERS : RC.SUCCESS;
  if (qos === 1) { ack(ch, 'puback', pid, rc, acks); return; }
  ch.session!.awaitRel(pid, Date.now());
  ack(ch, 'pubrec', pid, rc, acks);
}

export function handlePubrel(ch: Channel, p: Packet): void {
  const pid = (p as IPubrelPacket).messageId!;
  ch.count('packets.pubrel.received');
  let rc: number = RC.SUCCESS;
  if (!ch.session!.releaseRel(pid)) {
    ch.count('packets.pubrel.missed');
    rc = RC.PACKET_ID_NOT_FOUND; // [MQTT-4.3.3] still answer so the client can free the id
  }
  ack(ch, 'pubcomp', pid, ch.protocolVersion === 5 ? rc : 0);
}

/**
 * Sends an acknowledgement; when durability.mode is sync, after the store commit (and in a cluster
 * the other nodes' acknowledgements of the forwarded message, `acks`).
 */
function ack(ch: Channel, cmd: 'puback' | 'pubrec' | 'pubcomp', pid: number, reasonCode: number, acks?: Array<Promise<void>>): void {
  const buf = encodeAck(cmd, pid, ch.protocolVersion, ch.protocolVersion === 5 ? reasonCode : 0);
  const counter = cmd === 'puback' ? 'packets.puback.sent' : cmd === 'pubrec' ? 'packets.pubrec.sent' : 'packets.pubcomp.sent';
  if (!ch.cfg.durableAcks) { ch.send(buf); ch.count(counter); return; }
  const durable = acks !== undefined && acks.length > 0 ? Promise.all([ch.broker.store.flush(), ...acks]) : ch.broker.store.flush();
  durable.then(() => { if (ch.state === 'connected') { ch.send(buf); ch.count(counter); } },
    (err) => ch.log.error({ err, clientid: ch.clientId }, 'store flush failed; acknowledgement withheld'));
}

/** The properties that travel with the message to subscribers (not topic alias / subscription ids). */
function carriedProperties(pp: NonNullable<IPublishPacket['properties']>): PublishProperties | null {
  let out: PublishProperties | null = null;
  if (pp.payloadFormatIndicator !== undefined) (out ??= {}).payloadFormatIndicator = pp.payloadFormatIndicator;
  if (pp.messageExpiryInterval !== undefined) (out ??= {}).messageExpiryInterval = pp.messageExpiryInterval;
  if (pp.contentType !== undefined) (out ??= {}).contentType = pp.contentType;
  if (pp.responseTopic !== undefined) (out ??= {}).responseTopic = pp.responseTopic;
  if (pp.correlationData !== undefined) (out ??= {}).correlationData = pp.correlationData;
  if (pp.userProperties !== undefined) (out ??= {}).userProperties = pp.userProperties as Record<string, string | string[]>;
  return out;
}
