/**
 * The will of an MQTT-SN client: asked for during CONNECT (6.3: WILLTOPICREQ → WILLTOPIC,
 * WILLMSGREQ → WILLMSG, then CONNACK), changed while connected (6.4: WILLTOPICUPD with an empty
 * topic deletes it, WILLMSGUPD replaces the message). The client manager publishes it like any
 * client's will when the connection ends abnormally (keep alive, sleep expiry, takeover).
 */
import type { QoS } from '../../types.js';
import type { Will } from '../../clients/wills.js';
import { RC, type SnQoS } from './codec.js';
import type { SnChannel } from './channel.js';

/** The will as the client has given it so far. */
export interface SnWill { topic: string; qos: QoS; retain: boolean; payload: Buffer }

const qosOf = (ch: SnChannel, q: SnQoS): QoS => (q < 0 ? 0 : Math.min(q, ch.ctx.limits.maxQosAllowed)) as QoS;

/** WILLTOPIC during CONNECT; an empty one means "no will after all". */
export function onWillTopic(ch: SnChannel, topic: string, qos: SnQoS, retain: boolean): void {
  if (ch.state !== 'will') return;
  if (topic === '') { ch.will = null; ch.authenticate(); return; }
  const t = ch.ctx.topicName(ch.mountpoint, topic);
  if (t === null) { ch.connack(RC.NOT_SUPPORTED, 'bad_will_topic'); return; }
  ch.will = { topic: t, qos: qosOf(ch, qos), retain, payload: Buffer.alloc(0) };
  ch.send({ type: 'willmsgreq' });
}

export function onWillMsg(ch: SnChannel, payload: Buffer): void {
  if (ch.state !== 'will' || ch.will === null) return;
  ch.will.payload = payload;
  ch.authenticate();
}

export function willOf(ch: SnChannel): Will | null {
  const w = ch.will;
  return w === null ? null : { client: ch.info, topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, properties: null, delaySec: 0 };
}

/** WILLTOPICUPD (topic given) or WILLMSGUPD (payload given) while connected. */
export function onWillUpdate(ch: SnChannel, topic: string | null, qos: SnQoS, retain: boolean, payload: Buffer | null): void {
  if (topic !== null) {
    if (topic === '') ch.will = null;
    else {
      const t = ch.ctx.topicName(ch.mountpoint, topic);
      if (t === null) { ch.send({ type: 'willtopicresp', returnCode: RC.NOT_SUPPORTED }); return; }
      ch.will = { topic: t, qos: qosOf(ch, qos), retain, payload: ch.will?.payload ?? Buffer.alloc(0) };
    }
    ch.send({ type: 'willtopicresp', returnCode: RC.ACCEPTED });
  } else {
    if (ch.will !== null) ch.will.payload = payload!;
    ch.send({ type: 'willmsgresp', returnCode: ch.will !== null ? RC.ACCEPTED : RC.NOT_SUPPORTED });
  }
  ch.ctx.clients.setWill(ch, willOf(ch));
}
