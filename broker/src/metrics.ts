/**
 * Node-wide counters and gauges, named as EMQX names them (`messages.received`,
 * `delivery.dropped.too_large`, …) so dashboards and alerts carry over. Plain numeric
 * fields on one object: incrementing one on the hot path is a property add, nothing more.
 * The REST API, $SYS topics and the Prometheus endpoint all read this one object.
 */

export const COUNTER_NAMES = [
  'bytes.received', 'bytes.sent',
  'packets.received', 'packets.sent',
  'packets.connect.received', 'packets.connack.sent', 'packets.connack.error', 'packets.connack.auth_error',
  'packets.publish.received', 'packets.publish.sent', 'packets.publish.error', 'packets.publish.auth_error', 'packets.publish.dropped',
  'packets.puback.received', 'packets.puback.sent', 'packets.puback.missed',
  'packets.pubrec.received', 'packets.pubrec.sent', 'packets.pubrec.missed',
  'packets.pubrel.received', 'packets.pubrel.sent', 'packets.pubrel.missed',
  'packets.pubcomp.received', 'packets.pubcomp.sent', 'packets.pubcomp.missed',
  'packets.subscribe.received', 'packets.subscribe.error', 'packets.subscribe.auth_error', 'packets.suback.sent',
  'packets.unsubscribe.received', 'packets.unsubscribe.error', 'packets.unsuback.sent',
  'packets.pingreq.received', 'packets.pingresp.sent',
  'packets.disconnect.received', 'packets.disconnect.sent',
  'packets.auth.received', 'packets.auth.sent',
  'messages.received', 'messages.sent', 'messages.acked',
  'messages.qos0.received', 'messages.qos0.sent', 'messages.qos1.received', 'messages.qos1.sent',
  'messages.qos2.received', 'messages.qos2.sent',
  'messages.publish', 'messages.dropped.no_subscribers', 'messages.dropped.await_pubrel_timeout', 'messages.dropped.hook',
  'messages.delayed', 'messages.delivered', 'messages.retained', 'messages.forward', 'messages.forward.received', 'messages.forward.unmatched', 'messages.forward.paused',
  'delivery.dropped', 'delivery.dropped.too_large',
  'delivery.dropped.queue_full', 'delivery.dropped.expired', 'delivery.dropped.busy', 'delivery.dropped.offline',
  'client.connect', 'client.connack', 'client.connected', 'client.authenticate', 'client.auth.anonymous',
  'client.authorize', 'client.subscribe', 'client.unsubscribe', 'client.disconnected',
  'session.created', 'session.resumed', 'session.takenover', 'session.discarded', 'session.terminated',
  'authorization.allow', 'authorization.deny', 'authorization.cache_hit', 'client.connect.denied',
  'listener.rejected.max_connections', 'frame.error',
  // Banned list, flapping detection and rate limits (docs/banned-and-limits.md).
  'client.connect.banned', 'client.flapping', 'listener.rejected.max_conn_rate', 'client.rate_limited',
] as const;

export type CounterName = typeof COUNTER_NAMES[number];

/**
 * The counters object comes from a generated constructor that assigns every counter by name, so V8
 * gives it fast properties. Built in a loop, 77 keys put it in dictionary mode, where a counter past
 * 2³¹ (`bytes.sent` after 2 GiB, minutes at full speed) stores a new heap number on every increment:
 * garbage per packet for the rest of the broker's life. A test checks the object stays fast.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- names are our own constants
const Counters = new Function(
  `return class Counters { constructor() { ${COUNTER_NAMES.map((n) => `this[${JSON.stringify(n)}] = 0;`).join(' ')} } };`,
)() as new () => Record<CounterName, number>;

export class Metrics {
  readonly counters: Record<CounterName, number>;
  /** Highest value each stat reached (`connections.max` etc. in /api/v5/stats). */
  readonly startedAt = Date.now();

  constructor() {
    this.counters = new Counters();
  }

  inc(name: CounterName, by = 1): void { this.counters[name] += by; }

  /** Counts a dropped delivery under its reason's counter (`delivery.dropped.<reason>`). */
  droppedDelivery(reason: string): void {
    this.counters['delivery.dropped']++;
    const key = ('delivery.dropped.' + reason) as CounterName;
    if (key in this.counters) this.counters[key]++;
  }

  snapshot(): Record<string, number> { return { ...this.counters }; }
}
