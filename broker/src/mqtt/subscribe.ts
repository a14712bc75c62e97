/**
 * SUBSCRIBE and UNSUBSCRIBE: filter parsing (`$share/{group}/…`, `$queue/…`,
 * `$exclusive/…`), validation, feature switches, authorization, quotas, and retained
 * message delivery per Retain Handling. Each filter gets its own reason code in SUBACK
 * [MQTT-3.8.4-6]; one bad filter never fails the others.
 */
import type { Packet, ISubscribePacket, IUnsubscribePacket } from './codec/index.js';
import type { Channel } from './channel.js';
import type { QoS, Subscription } from '../types.js';
import { ERRORS, MqttError, RC } from '../errors.js';
import { parseFilter, validTopicFilter } from '../router/index.js';

const V3_FAILURE = 0x80;

export function handleSubscribe(ch: Channel, p: Packet): void {
  const sp = p as ISubscribePacket;
  const b = ch.broker;
  const cfg = ch.cfg;
  const session = ch.session!;
  const v5 = ch.protocolVersion === 5;
  ch.count('packets.subscribe.received');
  const subId = (sp.properties?.subscriptionIdentifier as number | undefined) ?? 0;
  if (subId === 0 && sp.properties?.subscriptionIdentifier !== undefined) throw new MqttError('PROTOCOL_ERROR', 'subscription identifier 0');
  const granted: number[] = [];
  const retainedAfter: Array<[Subscription, boolean]> = [];
  for (const s of sp.subscriptions) {
    const code = subscribeOne(ch, s.topic, {
      qos: s.qos as QoS, noLocal: v5 ? !!s.nl : false, retainAsPublished: v5 ? !!s.rap : false,
      retainHandling: v5 ? ((s.rh ?? 0) as 0 | 1 | 2) : 0, subscriptionId: subId,
    }, retainedAfter);
    granted.push(code >= 0x80 && !v5 ? V3_FAILURE : code);
  }
  ch.sendPacket({ cmd: 'suback', messageId: sp.messageId, granted } as unknown as Packet);
  ch.count('packets.suback.sent');
  if (session.persistent) b.sessions.save(session);
  // [MQTT-3.8.4-?] retained messages go out after the SUBACK
  for (const [sub, isNew] of retainedAfter) b.deliverRetained(session, sub, isNew);
}

function subscribeOne(ch: Channel, raw: string, options: Subscription['options'], retainedAfter: Array<[Subscription, boolean]>): number {
  const b = ch.broker;
  const cfg = ch.cfg;
  const session = ch.session!;
  const pf = parseFilter(raw);
  if (pf.kind === 'invalid' || !validTopicFilter(pf.topicFilter, cfg.maxTopicLevels)) { ch.count('packets.subscribe.error'); return ERRORS.TOPIC_FILTER_INVALID.reason; }
  if (pf.group !== null && !cfg.sharedSubscription) return ERRORS.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED.reason;
  if (pf.exclusive && !cfg.exclusiveSubscription) return ERRORS.TOPIC_FILTER_INVALID.reason;
  // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
  if (pf.group !== null && options.noLocal) throw new MqttError('PROTOCOL_ERROR', 'no local on a shared subscription');
  if (!cfg.wildcardSubscription && /[+#]/.test(pf.topicFilter)) return ERRORS.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED.reason;
  if (!ch.isSuperuser && b.hooks.active('client.authorize')) {
    b.metrics.counters['client.authorize']++;
    const verdict = b.hooks.decide('client.authorize', { client: ch.info(), action: 'subscribe', topic: pf.topicFilter, qos: options.qos, retain: false });
    if (verdict === 'deny') {
      b.metrics.counters['authorization.deny']++;
      ch.count('packets.subscribe.auth_error');
      return RC.NOT_AUTHORIZED;
    }
    b.metrics.counters['authorization.allow']++;
  }
  const existing = session.subscriptions.get(raw);
  if (existing === undefined && session.subscriptions.size >= cfg.maxSubscriptions) return RC.QUOTA_EXCEEDED;
  if (options.qos > cfg.maxQosAllowed) options.qos = cfg.maxQosAllowed;
  const sub: Subscription = { clientId: ch.clientId, filter: raw, topicFilter: pf.topicFilter, group: pf.group, exclusive: pf.exclusive, options };
  if (pf.exclusive) {
    const owner = b.router.exclusiveOwner(pf.topicFilter);
    if (owner !== null && owner !== ch.clientId) return RC.QUOTA_EXCEEDED; // EMQX: 0x97 when the exclusive topic is taken
  }
  try { b.router.add(sub); } catch (err) { return err instanceof MqttError ? err.reason : RC.QUOTA_EXCEEDED; }
  session.subscriptions.set(raw, sub);
  b.metrics.counters['client.subscribe']++;
  b.hooks.run('session.subscribed', ch.clientId, sub);
  retainedAfter.push([sub, existing === undefined]);
  return options.qos;
}

export function handleUnsubscribe(ch: Channel, p: Packet): void {
  const up = p as IUnsubscribePacket;
  const b = ch.broker;
  const session = ch.session!;
  ch.count('packets.unsubscribe.received');
  const codes: number[] = [];
  for (const raw of up.unsubscriptions) {
    if (session.subscriptions.delete(raw)) {
      b.router.remove(ch.clientId, raw);
      b.metrics.counters['client.unsubscribe']++;
      b.hooks.run('session.unsubscribed', ch.clientId, raw);
      codes.push(RC.SUCCESS);
    } else {
      // [MQTT-3.11.3] an invalid filter says so; a valid one that was not subscribed gets 0x11
      const pf = parseFilter(raw);
      const invalid = pf.kind === 'invalid' || !validTopicFilter(pf.topicFilter, ch.cfg.maxTopicLevels);
      if (invalid) ch.count('packets.unsubscribe.error');
      codes.push(invalid ? RC.TOPIC_FILTER_INVALID : RC.NO_SUBSCRIPTION_EXISTED);
    }
  }
  const pkt: Record<string, unknown> = { cmd: 'unsuback', messageId: up.messageId };
  if (ch.protocolVersion === 5) pkt.granted = codes;
  ch.sendPacket(pkt as unknown as Packet);
  ch.count('packets.unsuback.sent');
  if (session.persistent) b.sessions.save(session);
}
