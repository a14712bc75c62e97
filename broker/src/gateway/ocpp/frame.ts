/**
 * OCPP-J 1.6 frames (OCPP-J 1.6 §4): every WebSocket text message is one JSON array —
 *   CALL        [2, UniqueId, Action, Payload]
 *   CALLRESULT  [3, UniqueId, Payload]
 *   CALLERROR   [4, UniqueId, ErrorCode, ErrorDescription, ErrorDetails]
 * and the MQTT side of the gateway carries the same messages as JSON objects, in EMQX's shape:
 *   {MessageTypeId, UniqueId, Action, Payload} | {MessageTypeId, UniqueId, Payload}
 *   | {MessageTypeId, UniqueId, ErrorCode, ErrorDescription}
 *
 * Pure: text in, a frame or a refusal out. A refusal says whether a UniqueId could be read,
 * because only then can the sender be answered with a CALLERROR (§4.2.3).
 */

export const CALL = 2;
export const CALLRESULT = 3;
export const CALLERROR = 4;

export type OcppFrame =
  | { type: typeof CALL; id: string; action: string; payload: Record<string, unknown> }
  | { type: typeof CALLRESULT; id: string; payload: Record<string, unknown> }
  | { type: typeof CALLERROR; id: string; code: string; description: string; details: Record<string, unknown> };

/** OCPP 1.6 CALLERROR codes (OCPP-J 1.6 §4.2.3). */
export type OcppErrorCode =
  | 'NotImplemented' | 'NotSupported' | 'InternalError' | 'ProtocolError' | 'SecurityError' | 'FormationViolation'
  | 'PropertyConstraintViolation' | 'OccurenceConstraintViolation' | 'TypeConstraintViolation' | 'GenericError';

export type Decoded =
  | { ok: true; frame: OcppFrame }
  /** `id` is the UniqueId when the message had a readable one (then a CALL can be answered). */
  | { ok: false; id: string | null; messageType: number | null; code: OcppErrorCode; reason: string };

/** The spec caps UniqueId at 36 characters (a UUID). */
const MAX_ID = 36;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function refuse(id: string | null, messageType: number | null, code: OcppErrorCode, reason: string): Decoded {
  return { ok: false, id, messageType, code, reason };
}

/** One WebSocket message from a charge point. */
export function decodeWire(text: string): Decoded {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { return refuse(null, null, 'FormationViolation', `not JSON: ${(e as Error).message}`); }
  if (!Array.isArray(v) || v.length < 3) return refuse(null, null, 'FormationViolation', 'not an OCPP-J message array [MessageTypeId, UniqueId, …]');
  const [t, id] = v;
  if (typeof id !== 'string' || id === '' || id.length > MAX_ID) return refuse(null, typeof t === 'number' ? t : null, 'FormationViolation', `UniqueId must be a string of 1..${MAX_ID} characters`);
  switch (t) {
    case CALL:
      if (v.length !== 4) return refuse(id, t, 'FormationViolation', 'a CALL is [2, UniqueId, Action, Payload]');
      if (typeof v[2] !== 'string' || v[2] === '') return refuse(id, t, 'FormationViolation', 'Action must be a non-empty string');
      if (!isObj(v[3])) return refuse(id, t, 'FormationViolation', 'Payload must be a JSON object');
      return { ok: true, frame: { type: CALL, id, action: v[2], payload: v[3] } };
    case CALLRESULT:
      if (v.length !== 3 || !isObj(v[2])) return refuse(id, t, 'FormationViolation', 'a CALLRESULT is [3, UniqueId, Payload] with an object Payload');
      return { ok: true, frame: { type: CALLRESULT, id, payload: v[2] } };
    case CALLERROR: {
      if (v.length !== 5 || typeof v[2] !== 'string' || typeof v[3] !== 'string' || !isObj(v[4])) {
        return refuse(id, t, 'FormationViolation', 'a CALLERROR is [4, UniqueId, ErrorCode, ErrorDescription, ErrorDetails]');
      }
      return { ok: true, frame: { type: CALLERROR, id, code: v[2], description: v[3], details: v[4] } };
    }
    default:
      return refuse(id, null, 'ProtocolError', `unknown MessageTypeId ${JSON.stringify(t)}`);
  }
}

export function encodeWire(f: OcppFrame): string {
  switch (f.type) {
    case CALL: return JSON.stringify([CALL, f.id, f.action, f.payload]);
    case CALLRESULT: return JSON.stringify([CALLRESULT, f.id, f.payload]);
    case CALLERROR: return JSON.stringify([CALLERROR, f.id, f.code, f.description, f.details]);
  }
}

/** The MQTT payload of a frame from a charge point (EMQX's field names; ErrorDetails is not carried, as in EMQX). */
export function toMqtt(f: OcppFrame): string {
  switch (f.type) {
    case CALL: return JSON.stringify({ MessageTypeId: CALL, UniqueId: f.id, Action: f.action, Payload: f.payload });
    case CALLRESULT: return JSON.stringify({ MessageTypeId: CALLRESULT, UniqueId: f.id, Payload: f.payload });
    case CALLERROR: return JSON.stringify({ MessageTypeId: CALLERROR, UniqueId: f.id, ErrorCode: f.code, ErrorDescription: f.description });
  }
}

/** A central system's message published on the downstream topic; an error string names what is wrong. */
export function fromMqtt(payload: Buffer): { ok: true; frame: OcppFrame } | { ok: false; error: string } {
  let v: unknown;
  try { v = JSON.parse(payload.toString('utf8')); } catch (e) { return { ok: false, error: `not JSON: ${(e as Error).message}` }; }
  if (!isObj(v)) return { ok: false, error: 'expected a JSON object {MessageTypeId, UniqueId, …}' };
  const id = v.UniqueId;
  if (typeof id !== 'string' || id === '' || id.length > MAX_ID) return { ok: false, error: `UniqueId must be a string of 1..${MAX_ID} characters` };
  switch (v.MessageTypeId) {
    case CALL:
      if (typeof v.Action !== 'string' || v.Action === '') return { ok: false, error: 'a CALL needs Action (a string)' };
      if (!isObj(v.Payload)) return { ok: false, error: 'a CALL needs Payload (an object)' };
      return { ok: true, frame: { type: CALL, id, action: v.Action, payload: v.Payload } };
    case CALLRESULT:
      if (!isObj(v.Payload)) return { ok: false, error: 'a CALLRESULT needs Payload (an object)' };
      return { ok: true, frame: { type: CALLRESULT, id, payload: v.Payload } };
    case CALLERROR:
      if (typeof v.ErrorCode !== 'string') return { ok: false, error: 'a CALLERROR needs ErrorCode (a string)' };
      return {
        ok: true,
        frame: {
          type: CALLERROR, id, code: v.ErrorCode, description: typeof v.ErrorDescription === 'string' ? v.ErrorDescription : '',
          details: isObj(v.ErrorDetails) ? v.ErrorDetails : {},
        },
      };
    default:
      return { ok: false, error: `MessageTypeId must be 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR), got ${JSON.stringify(v.MessageTypeId)}` };
  }
}
