/**
 * PUBLISH from an MQTT-SN client (spec 6.8, 6.12): the topic id resolved by its TopicIdType,
 * mounted and checked, authorized, published through the broker like any client's message,
 * and acknowledged per QoS — PUBACK for QoS 1, PUBREC → PUBREL → PUBCOMP for QoS 2 with the
 * packet id remembered until PUBREL so a resend is not published twice.
 *
 * QoS −1 (enable_qos3): a client that never connected publishes to a predefined or short
 * topic; the message goes out as QoS 0, authorized as an anonymous client of the listener,
 * and nothing answers it.
 */
import type { ClientInfo } from '../../hooks.js';
import type { QoS } from '../../types.js';
import { RC, TOPIC, type SnMessage } from './codec.js';
import type { SnChannel } from './channel.js';

type Publish = Extract<SnMessage, { type: 'publish' }>;

export function handleIncomingPublish(ch: SnChannel, m: Publish): void {
  const ctx = ch.ctx;
  const c = ctx.broker.metrics.counters;
  c['packets.publish.received']++;
  if (m.qos === -1) { publishQos3(ch, m); return; }
  const ack = (rc: number): void => { ch.send({ type: 'puback', topicId: m.topicId, msgId: m.msgId, returnCode: rc }); };
  const name = ch.registry.resolve(m.topicIdType, m.topicId);
  // An unknown topic id is answered at every QoS, so the client can REGISTER again (6.8).
  if (name === undefined) { c['packets.publish.error']++; ack(RC.INVALID_TOPIC_ID); return; }
  const topic = ctx.topicName(ch.mountpoint, name);
  if (topic === null) { c['packets.publish.error']++; ack(RC.NOT_SUPPORTED); return; }
  const qos = Math.min(m.qos, ctx.limits.maxQosAllowed) as QoS;
  const session = ch.session!;
  if (m.qos === 2 && session.isAwaitingRel(m.msgId)) { ch.send({ type: 'pubrec', msgId: m.msgId }); return; }
  ch.authorizeThen(topic, qos, m.retain, (v) => {
    if (v === 'deny') {
      c['packets.publish.auth_error']++;
      ctx.metrics.denied++;
      if (m.qos > 0) ack(RC.NOT_AUTHORIZED);
      return;
    }
    ctx.publish(ch.info, topic, m.payload, qos, m.retain);
    if (m.qos === 1) { ack(RC.ACCEPTED); c['packets.puback.sent']++; }
    else if (m.qos === 2) { session.awaitRel(m.msgId, Date.now()); ch.send({ type: 'pubrec', msgId: m.msgId }); c['packets.pubrec.sent']++; }
  });
}

function publishQos3(ch: SnChannel, m: Publish): void {
  const ctx = ch.ctx;
  if (!ch.shared.enableQos3 || m.topicIdType === TOPIC.NORMAL) {
    ctx.broker.metrics.counters['packets.publish.error']++;
    ctx.log.debug({ peer: ch.peerName(), topicIdType: m.topicIdType }, 'QoS -1 PUBLISH refused (enable_qos3 is false, or a normal topic id)');
    if (!ch.live()) ch.close('qos3_refused', false);
    return;
  }
  const name = ch.registry.resolve(m.topicIdType, m.topicId);
  const topic = name === undefined ? null : ctx.topicName(ch.live() ? ch.mountpoint : ctx.identify(claims(ch)).mountpoint, name);
  const info: ClientInfo = ch.live() ? ch.info : ctx.identify(claims(ch)).info;
  const done = (): void => { if (!ch.live()) ch.close('qos3_published', false); };
  if (topic === null) { ctx.broker.metrics.counters['packets.publish.error']++; done(); return; }
  const v = ctx.authorize(info, 'publish', topic, 0, m.retain);
  const go = (r: string): void => {
    if (r === 'allow') ctx.publish(info, topic, m.payload, 0, m.retain);
    else { ctx.metrics.denied++; ctx.broker.metrics.counters['packets.publish.auth_error']++; }
    done();
  };
  if (typeof v === 'string') go(v);
  else v.then(go, () => go('deny'));
}

const claims = (ch: SnChannel) => ({
  clientId: '', username: null, password: null, peerHost: ch.peer.remoteAddress, peerPort: ch.peer.remotePort, listener: ch.peer.listener,
});
