/**
 * Codec errors.
 *
 * Every problem the parser finds in the byte stream becomes one CodecError carrying a stable
 * `code` (for logs and tests) and the MQTT 5 `reasonCode` the channel should put in its CONNACK or
 * DISCONNECT. For MQTT 3.1/3.1.1 the channel maps UNSUPPORTED_PROTOCOL_VERSION and
 * BAD_PROTOCOL_NAME to CONNACK return code 0x01 and closes the connection for everything else.
 */

export type CodecErrorCode =
  | 'MALFORMED' // 0x81: bytes do not form a valid packet
  | 'BAD_UTF8' // 0x81: a string is not well-formed UTF-8 or contains U+0000 [MQTT-1.5.4-1/2]
  | 'PROTOCOL_ERROR' // 0x82: well-formed bytes that break a protocol rule
  | 'PACKET_TOO_LARGE' // 0x95: remaining length exceeds maxPacketSize
  | 'UNSUPPORTED_PROTOCOL_VERSION' // 0x84: CONNECT protocol level not 3/4/5
  | 'BAD_PROTOCOL_NAME'; // 0x84: CONNECT protocol name not "MQTT"/"MQIsdp"

export const REASON_CODES: Readonly<Record<CodecErrorCode, number>> = {
  MALFORMED: 0x81,
  BAD_UTF8: 0x81,
  PROTOCOL_ERROR: 0x82,
  PACKET_TOO_LARGE: 0x95,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  BAD_PROTOCOL_NAME: 0x84,
};

export class CodecError extends Error {
  readonly code: CodecErrorCode;
  /** MQTT 5 reason code for the CONNACK/DISCONNECT that reports this error. */
  readonly reasonCode: number;
  /** Packet type name being decoded when the error was found, or null if the fixed header was bad. */
  readonly cmd: string | null;

  constructor(code: CodecErrorCode, message: string, cmd: string | null = null) {
    super(message);
    this.name = 'CodecError';
    this.code = code;
    this.reasonCode = REASON_CODES[code];
    this.cmd = cmd;
  }
}
