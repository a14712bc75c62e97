/**
 * Core value types shared by the channel, session, router, store and broker.
 * Property names follow mqtt-packet's, so a packet's properties can be carried
 * into a Message and back out without renaming.
 */

export type QoS = 0 | 1 | 2;

/** MQTT 5 PUBLISH properties that travel with a message from publisher to subscriber. */
export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

/** An application message as the broker holds it, independent of any protocol version. */
export interface Message {
  /** Broker-unique, increasing: orders messages and keys them in the store. */
  id: number;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** null when the publisher sent none (always null for v3 publishers). */
  properties: PublishProperties | null;
  /** Publishing client id ('' for messages the broker makes itself). */
  from: string;
  /** Receive time, ms since the epoch. */
  timestamp: number;
  /** Expiry time, ms since the epoch; 0 = never expires. */
  expiresAt: number;
}

/** Per-subscription options (MQTT 5 names; v3 subscriptions use the defaults). */
export interface SubOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** MQTT 5 subscription identifier, 0 = none. */
  subscriptionId: number;
}

/** One subscription of one client, as the router stores it. */
export interface Subscription {
  clientId: string;
  /** The filter exactly as the client subscribed it, e.g. `$share/g/a/+` (the key for unsubscribe). */
  filter: string;
  /** The topic filter that is matched against topics, e.g. `a/+`. */
  topicFilter: string;
  /** Shared-subscription group (`$share/{group}/…`; `$queue/…` uses group `$queue`), else null. */
  group: string | null;
  /** True for `$exclusive/…` subscriptions. */
  exclusive: boolean;
  options: SubOptions;
}
