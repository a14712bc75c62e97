/**
 * JSON-schema checks of OCPP 1.6 payloads: a CALL's Payload against `<Action>.req`, a
 * CALLRESULT's against `<Action>.conf` of the CALL it answers. The schemas are the Open Charge
 * Alliance's, as packaged by ocpp-rpc (schemas/README.md); they are compiled once, on first use.
 *
 * A failed check is turned into the OCPP 1.6 CALLERROR code the spec gives for that kind of
 * fault (OCPP-J 1.6 §4.2.3): a wrong type is a TypeConstraintViolation, a missing field an
 * OccurenceConstraintViolation, a value out of its range or list a PropertyConstraintViolation,
 * anything else (an unknown field) a FormationViolation.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schemas from './schemas/ocpp1_6.json' with { type: 'json' };
import type { OcppErrorCode } from './frame.js';

export type Check = { ok: true } | { ok: false; code: OcppErrorCode; reason: string };

const CODES: Readonly<Record<string, OcppErrorCode>> = {
  type: 'TypeConstraintViolation',
  required: 'OccurenceConstraintViolation', minItems: 'OccurenceConstraintViolation', maxItems: 'OccurenceConstraintViolation',
  maxLength: 'PropertyConstraintViolation', minLength: 'PropertyConstraintViolation', enum: 'PropertyConstraintViolation',
  format: 'PropertyConstraintViolation', pattern: 'PropertyConstraintViolation', minimum: 'PropertyConstraintViolation',
  maximum: 'PropertyConstraintViolation', multipleOf: 'PropertyConstraintViolation',
};

/** RFC 3339 date-time, as the schemas' "format": "date-time" means (ajv-formats is not a dependency). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$/;

let compiled: Map<string, ValidateFunction> | null = null;

function validators(): Map<string, ValidateFunction> {
  if (compiled !== null) return compiled;
  const ajv = new Ajv({ strictSchema: false, allErrors: false });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
  const m = new Map<string, ValidateFunction>();
  // Compiled without their "urn:<Action>.req" ids, which ajv's URI parser refuses (a URN without a namespace id).
  for (const s of schemas as Array<{ $id: string }>) { const { $id, ...body } = s; m.set($id, ajv.compile(body)); }
  compiled = m;
  return m;
}

/** Whether OCPP 1.6 (with the security extensions) defines this Action. */
export function knownAction(action: string): boolean {
  return validators().has(`urn:${action}.req`);
}

/** `kind` req: a CALL's Payload; conf: the CALLRESULT's Payload for that Action. */
export function checkPayload(action: string, kind: 'req' | 'conf', payload: unknown): Check {
  const v = validators().get(`urn:${action}.${kind}`);
  if (v === undefined) return { ok: false, code: 'NotImplemented', reason: `unknown OCPP 1.6 action ${JSON.stringify(action)}` };
  if (v(payload)) return { ok: true };
  const e = (v.errors ?? [])[0];
  return { ok: false, code: e === undefined ? 'FormationViolation' : (CODES[e.keyword] ?? 'FormationViolation'), reason: describe(action, kind, e) };
}

function describe(action: string, kind: string, e: ErrorObject | undefined): string {
  if (e === undefined) return `${action}.${kind}: invalid`;
  const where = e.instancePath === '' ? 'Payload' : `Payload${e.instancePath.replace(/\//g, '.')}`;
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
  return `${action}.${kind}: ${where} ${e.message ?? 'is invalid'}${extra}`;
}
