/**
 * EMQX's publish-subscribe resource, `/ps/{topic}`:
 * - `POST` (and `PUT`) publishes the payload to the topic with `?qos=&retain=` → 2.04 Changed;
 *   without `qos`, `publish_qos` decides (`coap`: a CON request is QoS 1, a NON one QoS 0).
 *   A large body comes in Block1 blocks, each answered 2.31 Continue.
 * - `GET` with Observe 0 subscribes (the topic may be a filter) → 2.05 with Observe; the
 *   session's messages then come as notifications (observe.ts). Observe 1 unsubscribes.
 *   Without `qos`, `subscribe_qos` decides, as for publishing.
 * - `GET` without Observe is a request for the next Block2 block of a large notification; any
 *   other is 4.00, as in EMQX 5 (which keeps no "last message" to read).
 *
 * Refusals as EMQX answers them: an invalid topic 4.00, authorization denied 4.01, another
 * method 4.05.
 */
import { randomBytes } from 'node:crypto';
import type { QoS } from '../../types.js';
import type { CoapChannel } from './channel.js';
import type { CoapQosPolicy } from './config.js';
import { blockBuf, blockOf, option, uintBuf, uintOf, uriQuery, type CoapMessage } from './message.js';

export function handlePubsub(ch: CoapChannel, m: CoapMessage, method: string, path: string[]): void {
  if (ch.state === 'closed') return;
  if (ch.state === 'auth') {
    // Requests that came while the client was being admitted wait for it.
    if (ch.connecting !== null) ch.connecting.then(() => handlePubsub(ch, m, method, path), () => undefined);
    else ch.reply(m, { code: '5.03', payload: 'connecting' });
    return;
  }
  const topic = path.slice(1).join('/');
  if (topic === '') { ch.reply(m, { code: '4.00', payload: 'invalid topic' }); return; }
  if (ch.state !== 'connected') { admit(ch, m, method, path); return; }
  switch (method) {
    case 'POST': case 'PUT': publish(ch, m, topic); return;
    case 'GET': get(ch, m, topic); return;
    default: ch.reply(m, { code: '4.05', payload: 'method not allowed' });
  }
}

/** Connectionless mode: the first /ps request makes the peer a client, with the query's clientid (or a random one), username and password. */
function admit(ch: CoapChannel, m: CoapMessage, method: string, path: string[]): void {
  const q = uriQuery(m);
  const clientId = q.get('clientid') ?? `coap-${randomBytes(6).toString('hex')}`;
  ch.connect(clientId, q.get('username') ?? null, q.get('password') ?? null).then((err) => {
    if (err !== null) { ch.reply(m, { code: err.code, payload: err.message }); return; }
    handlePubsub(ch, m, method, path);
  }, (err) => {
    ch.ctx.log.error({ err, clientid: clientId }, 'CoAP client admission failed');
    if (ch.state === 'auth') ch.state = 'idle';
    ch.reply(m, { code: '5.00', payload: 'the session could not be opened' });
  });
}

/** The QoS of a request: `?qos=` if given (null when it is not 0, 1 or 2), else the policy. */
function qosOf(m: CoapMessage, q: Map<string, string>, policy: CoapQosPolicy): QoS | null {
  const v = q.get('qos');
  if (v !== undefined) return v === '0' || v === '1' || v === '2' ? (Number(v) as QoS) : null;
  if (policy === 'coap') return m.type === 'con' ? 1 : 0;
  return policy;
}

function publish(ch: CoapChannel, m: CoapMessage, topicPath: string): void {
  const ctx = ch.ctx;
  const c = ctx.broker.metrics.counters;
  const q = uriQuery(m);
  const qos = qosOf(m, q, ch.shared.cfg.publishQos);
  if (qos === null) { ch.reply(m, { code: '4.00', payload: 'qos must be 0, 1 or 2' }); return; }
  const retain = q.get('retain') === 'true';
  let body = m.payload;
  let final: Array<{ name: string; value: Buffer }> | undefined;
  const b1 = blockOf(m, 'Block1');
  if (b1 === 'bad') { ch.reply(m, { code: '4.02', payload: 'bad Block1 option' }); return; }
  if (b1 !== null) {
    if (!ch.shared.cfg.blockwise.enable) { ch.reply(m, { code: '4.02', payload: 'block-wise transfer is disabled' }); return; }
    const r = ch.blocks.block1(`${m.code} ${topicPath}`, b1, m.payload, Date.now());
    if (r.kind === 'error') { ch.reply(m, { code: r.code, payload: r.message }); return; }
    if (r.kind === 'continue') { ch.reply(m, { code: '2.31', options: [{ name: 'Block1', value: blockBuf(r.block) }] }); return; }
    body = r.body;
    final = [{ name: 'Block1', value: blockBuf(r.block) }];
  }
  c['packets.publish.received']++;
  const topic = ctx.topicName(ch.mountpoint, topicPath);
  if (topic === null) { c['packets.publish.error']++; ch.reply(m, { code: '4.00', payload: 'invalid topic' }); return; }
  const go = (v: string): void => {
    if (v === 'deny') {
      c['packets.publish.auth_error']++;
      ctx.metrics.denied++;
      ch.reply(m, { code: '4.01', payload: 'not authorized' });
      return;
    }
    ctx.publish(ch.info, topic, body, qos, retain);
    ch.reply(m, { code: '2.04', options: final });
  };
  const v = ctx.authorize(ch.info, 'publish', topic, qos, retain);
  if (typeof v === 'string') go(v);
  else v.then((x) => { if (ch.state !== 'closed') go(x); }, (err) => { ctx.log.error({ err, clientid: ch.info.clientId }, 'authorization failed'); go('deny'); });
}

function get(ch: CoapChannel, m: CoapMessage, filter: string): void {
  const obsOpt = option(m, 'Observe');
  const b2 = blockOf(m, 'Block2');
  if (b2 === 'bad') { ch.reply(m, { code: '4.02', payload: 'bad Block2 option' }); return; }
  if (obsOpt === undefined) {
    if (b2 !== null) {
      const s = ch.blocks.slice(filter, b2.num, b2.size);
      if (s === null) { ch.reply(m, { code: '4.00', payload: 'no such block' }); return; }
      ch.reply(m, { code: '2.05', payload: s.payload, options: [{ name: 'Block2', value: blockBuf(s.block) }] });
      return;
    }
    ch.reply(m, { code: '4.00', payload: 'invalid observe value' });
    return;
  }
  const obs = obsOpt.length > 3 ? -1 : uintOf(obsOpt);
  if (obs === 1) {
    ch.ctx.broker.metrics.counters['packets.unsubscribe.received']++;
    ch.ctx.unsubscribe(ch.session!, ch.mountpoint, filter);
    ch.notifier.cancel(filter);
    ch.reply(m, { code: '2.05' });
    return;
  }
  if (obs !== 0) { ch.reply(m, { code: '4.00', payload: 'invalid observe value' }); return; }
  if (m.token.length === 0) { ch.reply(m, { code: '4.00', payload: 'observe without token' }); return; }
  // A block follow-up that still carries Observe 0 (node-coap sends it): the block, not a new
  // registration, with the Observe number of the notification it belongs to.
  if (b2 !== null && b2.num > 0) {
    const s = ch.blocks.slice(filter, b2.num, b2.size);
    const o = ch.notifier.observations.get(filter);
    if (s !== null && o !== undefined) {
      ch.reply(m, { code: '2.05', payload: s.payload, options: [{ name: 'Observe', value: uintBuf(o.seq) }, { name: 'Block2', value: blockBuf(s.block) }] });
      return;
    }
  }
  const qos = qosOf(m, uriQuery(m), ch.shared.cfg.subscribeQos);
  if (qos === null) { ch.reply(m, { code: '4.00', payload: 'qos must be 0, 1 or 2' }); return; }
  const ctx = ch.ctx;
  ctx.broker.metrics.counters['packets.subscribe.received']++;
  const maxBlock = ch.shared.cfg.blockwise.maxBlockSize;
  const blockSize = b2 === null ? maxBlock : Math.min(b2.size, maxBlock);
  const done = (r: QoS | 'invalid' | 'denied'): void => {
    if (ch.state !== 'connected') return;
    if (r === 'invalid') { ch.reply(m, { code: '4.00', payload: 'invalid topic' }); return; }
    if (r === 'denied') { ctx.metrics.denied++; ch.reply(m, { code: '4.01', payload: 'not authorized' }); return; }
    const o = ch.notifier.observe(filter, filter, m.token, blockSize);
    ch.reply(m, { code: '2.05', options: [{ name: 'Observe', value: uintBuf(o.seq) }] });
    ctx.broker.metrics.counters['packets.suback.sent']++;
  };
  const r = ctx.subscribe(ch.session!, ch.info, ch.mountpoint, filter, qos);
  if (typeof r === 'object') r.then(done, (err) => { ctx.log.error({ err, clientid: ch.info.clientId }, 'subscribe failed'); ch.reply(m, { code: '5.00', payload: 'subscribe failed' }); });
  else done(r);
}
