/**
 * Config loading: schema defaults ← YAML file ← PETREL_* environment ← programmatic
 * overrides, validated against the one schema (./schema.ts) and returned deep-frozen.
 * Every problem is reported with its dotted key path and where the value came from
 * (file, environment variable, overrides); nothing is clamped or guessed.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { bindsOverlap, parseBind } from './bind.js';
import { applyEnv, envSettings } from './env.js';
import { schema, type Config } from './schema.js';
import { isPlainObject, mergeRaw, validateNode, type Problem, type Raw } from './validate.js';

export type { Config } from './schema.js';
export { schema } from './schema.js';
export { parseBind, formatBind, type BindAddress } from './bind.js';
export { parseDuration, parseSize, formatDuration, formatSize } from './units.js';

export type ListenerType = 'tcp' | 'ssl' | 'ws' | 'wss';
export type ListenerConfig = Config['listeners']['tcp'][string];
export type SslListenerConfig = Config['listeners']['ssl'][string];
export type WsListenerConfig = Config['listeners']['ws'][string];
export type WssListenerConfig = Config['listeners']['wss'][string];

/** Invalid configuration. `path` is the first offending key (e.g. `mqtt.max_packet_size`). */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly path: string;
  readonly problems: readonly Problem[];
  constructor(problems: Problem[]) {
    const lines = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    super(lines.length === 1 ? `invalid config: ${lines[0]}` : `invalid config (${lines.length} problems):\n  ${lines.join('\n  ')}`);
    this.name = 'ConfigError';
    this.path = problems[0]?.path ?? '';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** YAML file path. */
  file?: string;
  /** Environment to read PETREL_* from (pass `process.env` explicitly; default: none). */
  env?: NodeJS.ProcessEnv;
  /** Raw values (as in the YAML) applied last. */
  overrides?: object;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const problems: Problem[] = [];
  const sources = new Map<string, string>();
  let raw: Raw = {};
  if (opts.file !== undefined) {
    const fromFile = readYaml(opts.file, problems);
    record(fromFile, '', `file ${opts.file}`, sources);
    raw = fromFile;
  }
  if (opts.env) {
    const settings = envSettings(schema, opts.env, problems);
    for (const s of settings) record(s.value, s.path.join('.'), `environment variable ${s.variable}`, sources);
    raw = applyEnv(raw, settings);
  }
  if (opts.overrides !== undefined) {
    if (!isPlainObject(opts.overrides)) problems.push({ path: '', message: 'overrides must be a plain object' });
    else {
      record(opts.overrides, '', 'overrides', sources);
      raw = mergeRaw(raw, opts.overrides);
    }
  }
  const value = validateNode(schema, raw, '', problems) as Config;
  if (problems.length === 0) crossChecks(value, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems.map((p) => {
      const src = sourceOf(p.path, sources);
      return src && !p.message.includes('(from ') ? { path: p.path, message: `${p.message} (from ${src})` } : p;
    }));
  }
  return deepFreeze(value);
}

let defaults: Config | undefined;

/** The configuration with every key at its default (frozen, shared). */
export function defaultConfig(): Config {
  defaults ??= loadConfig({});
  return defaults;
}

function readYaml(file: string, problems: Problem[]): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ path: '', message: `cannot read config file ${file}: ${(err as Error).message}` });
    return {};
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (err) {
    problems.push({ path: '', message: `config file ${file} is not valid YAML: ${(err as Error).message}` });
    return {};
  }
  if (doc === undefined || doc === null) return {};
  if (!isPlainObject(doc)) {
    problems.push({ path: '', message: `config file ${file} must hold a map of keys at the top level` });
    return {};
  }
  return doc;
}

function record(v: unknown, path: string, src: string, sources: Map<string, string>): void {
  if (isPlainObject(v) && Object.keys(v).length > 0) {
    for (const [k, child] of Object.entries(v)) record(child, path ? `${path}.${k}` : k, src, sources);
  } else if (path) {
    sources.set(path, src);
  }
}

function sourceOf(path: string, sources: Map<string, string>): string | undefined {
  if (!path) return undefined;
  const exact = sources.get(path);
  if (exact) return exact;
  for (const [p, s] of sources) if (p.startsWith(path + '.')) return s;
  return undefined;
}

/** Rules spanning several keys: TLS material present when needed, no two listeners on one port. */
function crossChecks(c: Config, problems: Problem[]): void {
  if (c.node.workers !== 1 && c.cluster.backend !== 'etcd') {
    problems.push({ path: 'node.workers', message: 'more than one worker needs cluster.backend: etcd (the workers share sessions, routes and retained messages there as members of the cluster)' });
  }
  const taken: { path: string; bind: string }[] = [];
  for (const type of ['tcp', 'ssl', 'ws', 'wss'] as const) {
    for (const [name, l] of Object.entries(c.listeners[type])) {
      const base = `listeners.${type}.${name}`;
      if (!l.enable) continue;
      if (type === 'ssl' || type === 'wss') {
        const ssl = (l as SslListenerConfig).ssl_options;
        if (!ssl.certfile) problems.push({ path: `${base}.ssl_options.certfile`, message: 'required when the listener is enabled' });
        if (!ssl.keyfile) problems.push({ path: `${base}.ssl_options.keyfile`, message: 'required when the listener is enabled' });
        if (ssl.fail_if_no_peer_cert && ssl.verify !== 'verify_peer') {
          problems.push({ path: `${base}.ssl_options.fail_if_no_peer_cert`, message: 'needs verify: verify_peer (no certificate is asked for otherwise)' });
        }
      }
      taken.push({ path: `${base}.bind`, bind: l.bind });
    }
  }
  if (c.dashboard.listeners.http.enable) taken.push({ path: 'dashboard.listeners.http.bind', bind: c.dashboard.listeners.http.bind });
  for (let i = 0; i < taken.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = parseBind(taken[i]!.bind);
      const b = parseBind(taken[j]!.bind);
      if (a.ok && b.ok && bindsOverlap(a.value, b.value)) {
        problems.push({ path: taken[i]!.path, message: `${taken[i]!.bind} overlaps ${taken[j]!.path} (${taken[j]!.bind})` });
      }
    }
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
