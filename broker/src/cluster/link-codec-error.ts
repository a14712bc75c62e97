/** The one error the cluster link's decoder and encoder throw (link-codec.ts, link-strings.ts). */
/**
 * Codes of LinkProtocolError:
 * - FRAME_TOO_LARGE: the announced length exceeds maxFrame (checked before any body is buffered)
 * - EMPTY_FRAME: a length of 0 (no type byte)
 * - UNKNOWN_TYPE: a type byte outside 1..7
 * - TRUNCATED: a field runs past the end of its frame
 * - OVERLONG: bytes left over after the last field
 * - BAD_FIELD: a field holds a value it must not (qos 3, a flag bit, JSON of the wrong shape…)
 * - BAD_PROTO: HELLO names a protocol version other than LINK_PROTO
 * - ENCODE: a value cannot be encoded (a string longer than its u16 length field)
 */
export type LinkErrorCode = 'FRAME_TOO_LARGE' | 'EMPTY_FRAME' | 'UNKNOWN_TYPE' | 'TRUNCATED' | 'OVERLONG' | 'BAD_FIELD' | 'BAD_PROTO' | 'ENCODE';

export class LinkProtocolError extends Error {
  readonly code: LinkErrorCode;
  constructor(code: LinkErrorCode, message: string) {
    super(`cluster link: ${message}`);
    this.name = 'LinkProtocolError';
    this.code = code;
  }
}
