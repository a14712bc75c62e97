/**
 * EMQX 5's data-integration config, read and checked: `connectors.<type>.<name>`,
 * `actions.<type>.<name>` and `sources.<type>.<name>`, from the config file and from REST alike.
 * Each entry is checked by its type's own parser (registry.ts), so an error names the key:
 * `actions.http.hook.parameters.method: expected one of …`.
 *
 * Cross-references (an action's `connector` exists and has the action's type) are checked where
 * all entries are known: integration.ts.
 */
import { SinkConfigError, type ConnectorType } from './types.js';
import { isObj } from './fields.js';
import { parseActionResourceOpts, parseConnectorResourceOpts, type ActionResourceOpts, type ConnectorResourceOpts } from './resource-opts.js';
import { connectorType, sourceType, connectorTypeNames, sourceTypeNames } from './registry.js';

export interface ConnectorEntry { kind: 'connector'; type: string; name: string; id: string; enable: boolean; description: string; conf: unknown; resourceOpts: ConnectorResourceOpts; raw: Record<string, unknown> }
export interface ActionEntry { kind: 'action'; type: string; name: string; id: string; enable: boolean; description: string; connector: string; params: unknown; resourceOpts: ActionResourceOpts; raw: Record<string, unknown> }
export interface SourceEntry { kind: 'source'; type: string; name: string; id: string; enable: boolean; description: string; connector: string; params: unknown; raw: Record<string, unknown> }

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** Keys every entry has besides its own; `tags` and `local_topic` are EMQX's, accepted. */
const COMMON = ['enable', 'description', 'resource_opts', 'tags'];

export function checkName(name: string, where: string): void {
  if (!NAME.test(name)) throw new SinkConfigError(`${where}: name '${name}': use letters, digits, '_' and '-' (1–128, starting with a letter or digit)`);
}

function common(raw: Record<string, unknown>, where: string): { enable: boolean; description: string } {
  const enable = raw.enable ?? true;
  if (typeof enable !== 'boolean') throw new SinkConfigError(`${where}.enable: expected true or false`);
  const description = raw.description ?? '';
  if (typeof description !== 'string') throw new SinkConfigError(`${where}.description: expected a string`);
  return { enable, description };
}

function strip(raw: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!keys.includes(k)) out[k] = v;
  return out;
}

function typeOf(type: string, where: string): ConnectorType {
  const t = connectorType(type);
  if (t === undefined) throw new SinkConfigError(`${where}: unknown type '${type}' (known: ${connectorTypeNames().join(', ')})`);
  return t;
}

export function parseConnectorEntry(type: string, name: string, raw: unknown, where = `connectors.${type}.${name}`): ConnectorEntry {
  const t = typeOf(type, `connectors.${type}`);
  checkName(name, where);
  if (!isObj(raw)) throw new SinkConfigError(`${where}: expected a map of the connector's settings`);
  const c = common(raw, where);
  const conf = t.parseConnector(strip(raw, COMMON), where);
  const resourceOpts = parseConnectorResourceOpts(raw.resource_opts, `${where}.resource_opts`);
  return { kind: 'connector', type, name, id: `${type}:${name}`, ...c, conf, resourceOpts, raw };
}

export function parseActionEntry(type: string, name: string, raw: unknown, where = `actions.${type}.${name}`): ActionEntry {
  const t = typeOf(type, `actions.${type}`);
  checkName(name, where);
  if (!isObj(raw)) throw new SinkConfigError(`${where}: expected a map {connector, parameters, resource_opts, enable}`);
  for (const k of Object.keys(raw)) {
    if (![...COMMON, 'connector', 'parameters', 'local_topic'].includes(k)) throw new SinkConfigError(`${where}: unknown key '${k}' (known: connector, parameters, resource_opts, enable, description)`);
  }
  if (raw.local_topic !== undefined) throw new SinkConfigError(`${where}.local_topic: not supported; write a rule that selects from the topic and names this action`);
  const c = common(raw, where);
  if (typeof raw.connector !== 'string' || raw.connector === '') throw new SinkConfigError(`${where}.connector: the name of a ${type} connector is required`);
  const params = t.parseParameters(raw.parameters ?? {}, `${where}.parameters`);
  const resourceOpts = parseActionResourceOpts(raw.resource_opts, `${where}.resource_opts`);
  return { kind: 'action', type, name, id: `${type}:${name}`, ...c, connector: raw.connector, params, resourceOpts, raw };
}

export function parseSourceEntry(type: string, name: string, raw: unknown, where = `sources.${type}.${name}`): SourceEntry {
  const t = sourceType(type);
  if (t === undefined) throw new SinkConfigError(`sources.${type}: unknown source type '${type}' (known: ${sourceTypeNames().join(', ')})`);
  checkName(name, where);
  if (!isObj(raw)) throw new SinkConfigError(`${where}: expected a map {connector, parameters, enable}`);
  for (const k of Object.keys(raw)) {
    if (![...COMMON, 'connector', 'parameters'].includes(k)) throw new SinkConfigError(`${where}: unknown key '${k}' (known: connector, parameters, enable, description)`);
  }
  const c = common(raw, where);
  if (typeof raw.connector !== 'string' || raw.connector === '') throw new SinkConfigError(`${where}.connector: the name of a ${type} connector is required`);
  const params = t.parseSourceParameters(raw.parameters ?? {}, `${where}.parameters`);
  return { kind: 'source', type, name, id: `${type}:${name}`, ...c, connector: raw.connector, params, raw };
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** `<root>.<type>.<name>` maps from the config file (the schema's custom leaves). */
function parseMap<E>(root: string, parse: (type: string, name: string, raw: unknown) => E): (v: unknown) => Parsed<readonly E[]> {
  return (v) => {
    if (v === undefined || v === null) return { ok: true, value: [] };
    if (!isObj(v)) return { ok: false, error: `expected a map of type → name → settings (${root}.http.my_name: {…})` };
    const out: E[] = [];
    try {
      for (const [type, byName] of Object.entries(v)) {
        if (!isObj(byName)) throw new SinkConfigError(`${root}.${type}: expected a map of name → settings`);
        for (const [name, raw] of Object.entries(byName)) out.push(parse(type, name, raw));
      }
    } catch (err) {
      if (err instanceof SinkConfigError) return { ok: false, error: err.message };
      throw err;
    }
    return { ok: true, value: out };
  };
}

export const parseConnectorsSetting = parseMap('connectors', (t, n, r) => parseConnectorEntry(t, n, r));
export const parseActionsSetting = parseMap('actions', (t, n, r) => parseActionEntry(t, n, r));
export const parseSourcesSetting = parseMap('sources', (t, n, r) => parseSourceEntry(t, n, r));
