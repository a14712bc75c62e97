/**
 * The error catalog. Every error the broker reports to a client or an operator has a code,
 * a message and (where MQTT decides) the MQTT 5 reason code plus the MQTT 3 CONNACK return
 * code it maps to. The channel maps these to CONNACK / DISCONNECT in one place (channel.ts
 * `fail()`); handlers never send DISCONNECT themselves.
 */

export interface ErrorSpec {
  readonly reason: number;     // MQTT 5 reason code
  readonly v3connack: number;  // MQTT 3.1/3.1.1 CONNACK return code when it happens during CONNECT
  readonly message: string;
}

export const ERRORS = {
  MALFORMED_PACKET: { reason: 0x81, v3connack: 0, message: 'malformed packet' },
  PROTOCOL_ERROR: { reason: 0x82, v3connack: 0, message: 'protocol error' },
  UNSUPPORTED_PROTOCOL_VERSION: { reason: 0x84, v3connack: 1, message: 'unsupported protocol version' },
  CLIENT_ID_NOT_VALID: { reason: 0x85, v3connack: 2, message: 'client identifier not valid' },
  BAD_USERNAME_OR_PASSWORD: { reason: 0x86, v3connack: 4, message: 'bad user name or password' },
  NOT_AUTHORIZED: { reason: 0x87, v3connack: 5, message: 'not authorized' },
  SERVER_UNAVAILABLE: { reason: 0x88, v3connack: 3, message: 'server unavailable' },
  SERVER_BUSY: { reason: 0x89, v3connack: 3, message: 'server busy' },
  BANNED: { reason: 0x8a, v3connack: 5, message: 'banned' },
  SERVER_SHUTTING_DOWN: { reason: 0x8b, v3connack: 3, message: 'server shutting down' },
  BAD_AUTHENTICATION_METHOD: { reason: 0x8c, v3connack: 4, message: 'bad authentication method' },
  KEEP_ALIVE_TIMEOUT: { reason: 0x8d, v3connack: 0, message: 'keep alive timeout' },
  SESSION_TAKEN_OVER: { reason: 0x8e, v3connack: 0, message: 'session taken over' },
  TOPIC_FILTER_INVALID: { reason: 0x8f, v3connack: 0, message: 'topic filter invalid' },
  TOPIC_NAME_INVALID: { reason: 0x90, v3connack: 0, message: 'topic name invalid' },
  PACKET_ID_IN_USE: { reason: 0x91, v3connack: 0, message: 'packet identifier in use' },
  PACKET_ID_NOT_FOUND: { reason: 0x92, v3connack: 0, message: 'packet identifier not found' },
  RECEIVE_MAXIMUM_EXCEEDED: { reason: 0x93, v3connack: 0, message: 'receive maximum exceeded' },
  TOPIC_ALIAS_INVALID: { reason: 0x94, v3connack: 0, message: 'topic alias invalid' },
  PACKET_TOO_LARGE: { reason: 0x95, v3connack: 0, message: 'packet too large' },
  QUOTA_EXCEEDED: { reason: 0x97, v3connack: 0, message: 'quota exceeded' },
  ADMINISTRATIVE_ACTION: { reason: 0x98, v3connack: 0, message: 'administrative action' },
  PAYLOAD_FORMAT_INVALID: { reason: 0x99, v3connack: 0, message: 'payload format invalid' },
  RETAIN_NOT_SUPPORTED: { reason: 0x9a, v3connack: 0, message: 'retain not supported' },
  QOS_NOT_SUPPORTED: { reason: 0x9b, v3connack: 0, message: 'QoS not supported' },
  USE_ANOTHER_SERVER: { reason: 0x9c, v3connack: 3, message: 'use another server' },
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: { reason: 0x9e, v3connack: 0, message: 'shared subscriptions not supported' },
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: { reason: 0xa2, v3connack: 0, message: 'wildcard subscriptions not supported' },
  SUBSCRIPTION_IDS_NOT_SUPPORTED: { reason: 0xa1, v3connack: 0, message: 'subscription identifiers not supported' },
  UNSPECIFIED_ERROR: { reason: 0x80, v3connack: 3, message: 'unspecified error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A protocol error raised while handling a client's packet; the channel turns it into CONNACK/DISCONNECT. */
export class MqttError extends Error {
  readonly code: ErrorCode;
  readonly reason: number;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message);
    this.code = code;
    this.reason = ERRORS[code].reason;
  }
}

/** MQTT 5 reason codes used on the success paths. */
export const RC = {
  SUCCESS: 0x00,
  NORMAL_DISCONNECTION: 0x00,
  GRANTED_QOS_0: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  CONTINUE_AUTHENTICATION: 0x18,
  REAUTHENTICATE: 0x19,
  UNSPECIFIED_ERROR: 0x80,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  NOT_AUTHORIZED: 0x87,
  PACKET_ID_IN_USE: 0x91,
  PACKET_ID_NOT_FOUND: 0x92,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  TOPIC_FILTER_INVALID: 0x8f,
} as const;
