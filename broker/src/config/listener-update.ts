/**
 * A running listener's new config from a PUT body (EMQX's PUT /api/v5/listeners/{id}): the body
 * holds the fields to change (bind, max_connections, max_conn_rate, tcp_options, websocket,
 * ssl_options…), checked by the listener type's own schema — units, ranges and unknown keys as
 * in the config file — and laid over the listener's current config. `authentication` is not
 * taken: the authentication chains are built once at start.
 */
import type { SchemaNode } from './schema-types.js';
import { quicListener, sslListener, tcpListener, wsListener, wssListener } from './schema.js';
import { isPlainObject, validateNode, type Problem, type Raw } from './validate.js';

const SCHEMAS: Readonly<Record<string, SchemaNode>> = { tcp: tcpListener, ssl: sslListener, ws: wsListener, wss: wssListener, quic: quicListener };

/** Fields a PUT may not change while the node runs, and why. */
const AT_START_ONLY: Readonly<Record<string, string>> = {
  authentication: "a listener's authentication chain is built when the node starts; change it in the config file",
};

export type ListenerUpdate = { ok: true; cfg: Raw } | { ok: false; error: string };

/** `current` is the listener's parsed config; `type` the id's prefix (tcp, ssl, ws, wss, quic). */
export function listenerUpdate(type: string, current: Raw, body: unknown): ListenerUpdate {
  const node = SCHEMAS[type];
  if (node === undefined) return { ok: false, error: `listeners of type ${type} cannot be updated` };
  if (!isPlainObject(body)) return { ok: false, error: 'body: expected the listener\'s fields as an object' };
  const problems: Problem[] = [];
  for (const k of Object.keys(body)) if (AT_START_ONLY[k] !== undefined) problems.push({ path: `body.${k}`, message: AT_START_ONLY[k] });
  const parsed = validateNode(node, body, 'body', problems) as Raw;
  if (problems.length > 0) return { ok: false, error: problems.map((p) => `${p.path}: ${p.message}`).join('; ') };
  return { ok: true, cfg: overlay(current, parsed, body) };
}

/** `base` with the fields `given` names taken from `parsed` (the validated body, defaults filled in). */
function overlay(base: Raw, parsed: Raw, given: Raw): Raw {
  const out: Raw = { ...base };
  for (const k of Object.keys(given)) {
    const b = base[k];
    out[k] = isPlainObject(given[k]) && isPlainObject(parsed[k]) && isPlainObject(b) ? overlay(b, parsed[k] as Raw, given[k] as Raw) : parsed[k];
  }
  return out;
}
