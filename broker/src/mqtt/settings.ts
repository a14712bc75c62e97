/**
 * The MQTT limits and switches a channel works with, resolved once from the config
 * (`mqtt.*`) when the node starts. Times are in ms, sizes in bytes.
 */
import type { QoS } from '../types.js';
import type { PeerCertAs } from '../transport/tls-options.js';

export interface ChannelSettings {
  maxPacketSize: number;
  maxClientIdLen: number;
  maxTopicLevels: number;
  maxQosAllowed: QoS;
  /** Topic Alias Maximum the server accepts from clients (0 = none). */
  maxTopicAlias: number;
  retainAvailable: boolean;
  wildcardSubscription: boolean;
  sharedSubscription: boolean;
  exclusiveSubscription: boolean;
  /** How long a new connection may take to send CONNECT. */
  idleTimeoutMs: number;
  keepaliveMultiplier: number;
  /** Server Keep Alive imposed on clients (seconds), or null to accept the client's. */
  serverKeepalive: number | null;
  maxSubscriptions: number;
  maxAwaitingRel: number;
  /** Session expiry for MQTT 3 clean_session=0 and the cap for MQTT 5 (seconds). */
  sessionExpirySec: number;
  /** Hold PUBACK/PUBREC until the store has committed (durability.mode = sync). */
  durableAcks: boolean;
  /** Cap on a v5 Will Delay Interval (seconds). */
  maxWillDelaySec: number;
  /** v5 Response Information for clients that request it ('' = none). */
  responseInformation: string;
  /** Reject message expiry above this (ms) by capping it; Infinity = no cap. */
  messageExpiryMaxMs: number;
  /** ssl/wss: take the username / client id from the verified client certificate (mqtt.peer_cert_as_*). */
  peerCertAsUsername: PeerCertAs;
  peerCertAsClientid: PeerCertAs;
}
