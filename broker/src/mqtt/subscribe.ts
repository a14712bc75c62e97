/**
 * SUBSCRIBE and UNSUBSCRIBE: filter parsing (`$share/{group}/…`, `$queue/…`,
 * `$exclusive/…`), validation, feature switches, authorization, quotas, and retained
 * message delivery per Retain Handling. Each filter gets its own reason code in SUBACK
 * [MQTT-3.8.4-6]; one bad filter never fails the others.
 */
import type { Packet, ISubscribePacket, IUnsubscribePacket } from './codec/index.js';
import type { Channel } from './channel.js';
import type { QoS, Subscription } from '../types.js';
import type { AuthzResult } from '../hooks.js';
import { ERRORS, MqttError, RC } from '../errors.js';
import { parseFilter, validTopicFilter } from '../router/index.js';

const V3_FAILURE = 0x80;

/** One filter of a SUBSCRIBE: a reason code already decided, or a subscription to authorize and add. */
type Entry = { code: number; sub: null } | { code: -1; sub: Subscription };

export function handleSubscribe(ch: Channel, p: Packet): void {
  const sp = p as ISubscribePacket;
  const v5 = ch.protocolVersion === 5;
  ch.count('packets.subscribe.received');
  const subId = (sp.properties?.subscriptionIdentifier as number | undefined) ?? 0;
  if (subId === 0 && sp.properties?.subscriptionIdentifier !== undefined) throw new MqttError('PROTOCOL_ERROR', 'subscription identifier 0');
  const entries: Entry[] = [];
  for (const s of sp.subscriptions) {
    entries.push(validate(ch, s.topic, {
      qos: s.qos as QoS, noLocal: v5 ? !!s.nl : false, retainAsPublished: v5 ? !!s.rap : false,
      retainHandling: v5 ? ((s.rh ?? 0) as 0 | 1 | 2) : 0, subscriptionId: subId,
    }));
  }
  const auth = ch.broker.authorizer;
  const state = ch.broker.state;
  if (auth.open && !entries.some((e) => e.sub?.exclusive === true)) { finish(ch, sp.messageId!, entries, null); return; }
  let pending: Array<Promise<Verdict>> | null = null;
  const verdicts: Array<Verdict | Promise<Verdict>> = entries.map((e) => {
    if (e.sub === null) return 'allow';
    let v: Verdict | Promise<Verdict> = auth.open ? 'allow' : auth.check(ch.info, 'subscribe', e.sub.topicFilter, e.sub.options.qos, false);
    if (e.sub.exclusive) {
      // `$exclusive/…`: one holder cluster-wide (a single node's index checks it by itself).
      const claim = state.claimExclusive(e.sub.topicFilter, ch.clientId);
      if (claim === false) v = 'taken';
      else if (claim !== true) v = Promise.all([v, claim]).then(([a, ok]) => (ok ? a : 'taken'));
    }
    if (typeof v !== 'string') (pending ??= []).push(v);
    return v;
  });
  if (pending === null) { finish(ch, sp.messageId!, entries, verdicts as Verdict[]); return; }
  ch.hold(true);
  Promise.all(verdicts).then((vs) => {
    if (ch.state === 'closed') return;
    finish(ch, sp.messageId!, entries, vs);
    ch.releaseHeld();
  }, (err) => { ch.log.error({ err, clientid: ch.clientId }, 'authorization failed'); ch.fail('UNSPECIFIED_ERROR', 'authorization error'); });
}

/** Checks one filter against the protocol rules and feature switches. */
function validate(ch: Channel, raw: string, options: Subscription['options']): Entry {
  const cfg = ch.cfg;
  const pf = parseFilter(raw);
  if (pf.kind === 'invalid' || !validTopicFilter(pf.topicFilter, cfg.maxTopicLevels)) { ch.count('packets.subscribe.error'); return { code: ERRORS.TOPIC_FILTER_INVALID.reason, sub: null }; }
  if (pf.group !== null && !cfg.sharedSubscription) return { code: ERRORS.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED.reason, sub: null };
  if (pf.exclusive && !cfg.exclusiveSubscription) return { code: ERRORS.TOPIC_FILTER_INVALID.reason, sub: null };
  // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
  if (pf.group !== null && options.noLocal) throw new MqttError('PROTOCOL_ERROR', 'no local on a shared subscription');
  if (!cfg.wildcardSubscription && /[+#]/.test(pf.topicFilter)) return { code: ERRORS.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED.reason, sub: null };
  if (options.qos > cfg.maxQosAllowed) options.qos = cfg.maxQosAllowed;
  return { code: -1, sub: { clientId: ch.clientId, filter: raw, topicFilter: pf.topicFilter, group: pf.group, exclusive: pf.exclusive, options } };
}

/** Adds the authorized subscriptions through the broker, answers SUBACK, then sends retained messages. */
/** The authorization answer, or 'taken': another client holds the `$exclusive` filter. */
type Verdict = AuthzResult | 'taken';

function finish(ch: Channel, messageId: number, entries: Entry[], verdicts: Verdict[] | null): void {
  const b = ch.broker;
  if (ch.traced && verdicts !== null && !b.authorizer.open) {
    for (let i = 0; i < entries.length; i++) { const s = entries[i].sub; if (s !== null && verdicts[i] !== 'taken') b.trace!.authz(ch, 'subscribe', s.filter, verdicts[i]); }
  }
  const session = ch.session!;
  const v5 = ch.protocolVersion === 5;
  if (verdicts !== null && verdicts.includes('deny') && b.authorizer.denyAction === 'disconnect') {
    // authorization.deny_action = disconnect: one denied filter disconnects (0x87), no SUBACK, as EMQX does.
    for (let i = 0; i < entries.length; i++) {
      const s = entries[i].sub;
      if (s !== null && s.exclusive && verdicts[i] !== 'taken' && !session.subscriptions.has(s.filter)) b.state.releaseExclusive(s.topicFilter, ch.clientId);
    }
    ch.count('packets.subscribe.auth_error');
    ch.fail('NOT_AUTHORIZED', 'subscription not authorized');
    return;
  }
  const granted: number[] = [];
  const retainedAfter: Array<[Subscription, boolean]> = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    let code = e.code;
    if (e.sub !== null) {
      if (verdicts !== null && verdicts[i] === 'deny') { ch.count('packets.subscribe.auth_error'); code = RC.NOT_AUTHORIZED; }
      else if (verdicts !== null && verdicts[i] === 'taken') code = RC.QUOTA_EXCEEDED; // EMQX: 0x97 when the exclusive topic is taken
      else if (!session.subscriptions.has(e.sub.filter) && session.subscriptions.size >= ch.cfg.maxSubscriptions) code = RC.QUOTA_EXCEEDED;
      else {
        const sub = b.rewriteFilter === null || e.sub.exclusive ? e.sub : rewritten(ch, e.sub);
        if (sub === null) code = RC.TOPIC_FILTER_INVALID;
        else {
          const r = b.subscribe(session, sub);
          code = r.code;
          if (code < 0x80) retainedAfter.push([sub, r.isNew]);
        }
      }
      // A claimed `$exclusive` filter whose subscription did not happen is let go.
      if (e.sub.exclusive && code >= 0x80 && verdicts !== null && verdicts[i] !== 'taken' && !session.subscriptions.has(e.sub.filter)) b.state.releaseExclusive(e.sub.topicFilter, ch.clientId);
    }
    granted.push(code >= 0x80 && !v5 ? V3_FAILURE : code);
  }
  ch.sendPacket({ cmd: 'suback', messageId, granted } as unknown as Packet);
  ch.count('packets.suback.sent');
  if (session.persistent) b.sessions.save(session);
  // [MQTT-3.8.4-?] retained messages go out after the SUBACK
  for (const [sub, isNew] of retainedAfter) b.deliverRetained(session, sub, isNew);
}

export function handleUnsubscribe(ch: Channel, p: Packet): void {
  const up = p as IUnsubscribePacket;
  const b = ch.broker;
  const session = ch.session!;
  ch.count('packets.unsubscribe.received');
  const codes: number[] = [];
  for (const raw of up.unsubscriptions) {
    if (b.unsubscribe(session, b.rewriteFilter === null ? raw : rewrittenRaw(ch, raw))) codes.push(RC.SUCCESS);
    else {
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

/**
 * The subscription under its rewritten filter (topic rewrite, after authorization as EMQX does:
 * `$share/g/` stays, the topic part is rewritten); null when the result is not a valid filter.
 */
function rewritten(ch: Channel, sub: Subscription): Subscription | null {
  const t = ch.broker.rewriteFilter!(sub.topicFilter, ch.info);
  if (t === sub.topicFilter || !sub.filter.endsWith(sub.topicFilter)) return sub;
  if (!validTopicFilter(t, ch.cfg.maxTopicLevels)) {
    ch.log.warn?.({ clientid: ch.clientId, filter: sub.filter, rewritten: t }, 'topic rewrite made an invalid topic filter; subscription refused');
    return null;
  }
  return { ...sub, filter: sub.filter.slice(0, sub.filter.length - sub.topicFilter.length) + t, topicFilter: t };
}

/** An UNSUBSCRIBE filter rewritten as its SUBSCRIBE was, so it names the same subscription. */
function rewrittenRaw(ch: Channel, raw: string): string {
  const pf = parseFilter(raw);
  if (pf.kind === 'invalid' || pf.exclusive || !raw.endsWith(pf.topicFilter)) return raw;
  const t = ch.broker.rewriteFilter!(pf.topicFilter, ch.info);
  return t === pf.topicFilter ? raw : raw.slice(0, raw.length - pf.topicFilter.length) + t;
}
