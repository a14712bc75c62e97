/**
 * SUBSCRIBE and UNSUBSCRIBE from an MQTT-SN client (spec 6.9): the topic given by name (a
 * filter, wildcards allowed), by predefined id, or as a two-character short name. The SUBACK
 * carries the topic id the client will see in PUBLISHes: the registered id of a name without
 * wildcards, 0 for a filter (each matching topic is REGISTERed when a message first needs it),
 * the id itself for predefined and short names.
 */
import type { QoS } from '../../types.js';
import { RC, TOPIC, shortNameToId, type SnMessage } from './codec.js';
import type { SnChannel } from './channel.js';

type Sub = Extract<SnMessage, { type: 'subscribe' | 'unsubscribe' }>;

export function handleSubscribe(ch: SnChannel, m: Sub): void {
  const ctx = ch.ctx;
  ctx.broker.metrics.counters['packets.subscribe.received']++;
  const qos = (m.qos < 0 ? 0 : m.qos) as QoS;
  let name: string | undefined;
  let topicId = 0;
  if (m.topicIdType === TOPIC.PREDEFINED) { name = ch.registry.predefined.name(m.topicId); topicId = m.topicId; }
  else if (m.topicIdType === TOPIC.SHORT) { name = m.topicName; topicId = shortNameToId(m.topicName); }
  else name = m.topicName;
  const suback = (rc: number, q: QoS): void => { ch.send({ type: 'suback', qos: q, topicId, msgId: m.msgId, returnCode: rc }); };
  if (name === undefined || topicId < 0) { suback(RC.INVALID_TOPIC_ID, 0); return; }
  const topic = name;
  const done = (r: QoS | 'invalid' | 'denied'): void => {
    if (ch.state === 'closed') return;
    if (r === 'invalid') { suback(RC.NOT_SUPPORTED, 0); return; }
    if (r === 'denied') { ctx.metrics.denied++; suback(RC.NOT_AUTHORIZED, 0); return; }
    if (m.topicIdType === TOPIC.NORMAL && !/[+#]/.test(topic)) topicId = Math.max(0, ch.registry.register(topic));
    suback(RC.ACCEPTED, r);
    ctx.broker.metrics.counters['packets.suback.sent']++;
  };
  const r = ctx.subscribe(ch.session!, ch.info, ch.mountpoint, topic, qos);
  if (typeof r === 'object') r.then(done, (err) => { ctx.log.error({ err, clientid: ch.info.clientId }, 'authorization failed'); suback(RC.CONGESTION, 0); });
  else done(r);
}

export function handleUnsubscribe(ch: SnChannel, m: Sub): void {
  ch.ctx.broker.metrics.counters['packets.unsubscribe.received']++;
  const name = m.topicIdType === TOPIC.PREDEFINED ? ch.registry.predefined.name(m.topicId) : m.topicName;
  if (name !== undefined) ch.ctx.unsubscribe(ch.session!, ch.mountpoint, name);
  ch.send({ type: 'unsuback', msgId: m.msgId });
  ch.ctx.broker.metrics.counters['packets.unsuback.sent']++;
}
