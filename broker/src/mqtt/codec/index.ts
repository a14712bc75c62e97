/**
 * MQTT codec: a resumable byte-level parser and fast encoders, drop-in compatible with
 * mqtt-packet 9's packet objects. See docs/codec.md.
 */
export { MqttParser, type ParserHandler, type ParserOptions } from './parser.js';
export { CodecError, REASON_CODES, type CodecErrorCode } from './errors.js';
export {
  encode, encodePublish, encodeAck, encodeProperties, setPacketId, setDup, type PublishInput, type AckCmd,
} from './encode.js';
export type * from './types.js';
