/**
 * PETREL_* environment overrides. `__` separates levels and keys are lowercased:
 * `PETREL_LISTENERS__TCP__DEFAULT__BIND=0.0.0.0:1884` sets listeners.tcp.default.bind,
 * `PETREL_MQTT__MAX_PACKET_SIZE=2MB` sets mqtt.max_packet_size. The value is read as the
 * schema's type: numbers and booleans are parsed, lists are "a,b" or a YAML/JSON list, and
 * a map key (e.g. a whole listener) takes a YAML flow map. Variables without `__` (such as
 * PETREL_CONFIG) are not config keys and are left alone, unless they look like a mistyped
 * key (PETREL_LOG_LEVEL), which is an error.
 */
import yaml from 'js-yaml';
import type { SchemaNode } from './schema-types.js';
import { closest } from './suggest.js';
import { isPlainObject, type Problem, type Raw } from './validate.js';

const PREFIX = 'PETREL_';

export interface EnvSetting { path: string[]; value: unknown; variable: string }

export function envSettings(root: SchemaNode, env: NodeJS.ProcessEnv, problems: Problem[]): EnvSetting[] {
  const out: EnvSetting[] = [];
  const sections = root.node === 'object' ? Object.keys(root.fields) : [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX)) continue;
    const text = env[variable];
    if (text === undefined) continue;
    const rest = variable.slice(PREFIX.length).toLowerCase();
    if (!rest.includes('__')) {
      const section = sections.find((s) => rest.startsWith(s + '_'));
      if (section) {
        problems.push({
          path: rest,
          message: `environment variable ${variable} is not a config key: levels are separated by "__", e.g. PETREL_${section.toUpperCase()}__${rest.slice(section.length + 1).toUpperCase()}`,
        });
      }
      continue;
    }
    const path = rest.split('__');
    const r = resolve(root, path);
    if ('error' in r) {
      problems.push({ path: r.at, message: `${r.error} (from environment variable ${variable})` });
      continue;
    }
    out.push({ path, value: coerce(r.node, text), variable });
  }
  return out;
}

function resolve(root: SchemaNode, path: string[]): { node: SchemaNode } | { error: string; at: string } {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const at = path.slice(0, i + 1).join('.');
    if (seg === '') return { error: 'empty key (check for "___" or a trailing "__")', at };
    if (node.node === 'leaf') return { error: `${path.slice(0, i).join('.')} is a single value, it has no key "${seg}"`, at };
    if (node.node === 'map') {
      if (!node.namePattern.test(seg)) return { error: 'names are lowercase letters, digits, "_" and "-"', at };
      node = node.item; // this segment was the entry's name
      continue;
    }
    const fields = node.fields as Record<string, SchemaNode>;
    if (!Object.hasOwn(fields, seg)) return unknown(path, i, Object.keys(fields));
    node = fields[seg]!;
  }
  return { node };
}

function unknown(path: string[], i: number, keys: string[]): { error: string; at: string } {
  const hint = closest(path[i]!, keys);
  const parent = path.slice(0, i).join('.');
  return { at: path.slice(0, i + 1).join('.'), error: `unknown key${hint ? ` (did you mean ${parent ? parent + '.' : ''}${hint}?)` : ''}` };
}

function coerce(node: SchemaNode, text: string): unknown {
  if (node.node !== 'leaf') {
    try { return yaml.load(text); } catch { return text; }
  }
  const t = text.trim();
  switch (node.kind) {
    case 'int':
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
    case 'bool':
      return t === 'true' ? true : t === 'false' ? false : t;
    case 'custom':
      try { return yaml.load(text); } catch { return text; }
    case 'list':
      if (t.startsWith('[')) { try { return yaml.load(t); } catch { return t; } }
      return t === '' ? [] : t.split(',').map((s) => s.trim());
    default:
      return text;
  }
}

/** Apply settings onto a raw tree (returns a new tree). */
export function applyEnv(raw: Raw, settings: EnvSetting[]): Raw {
  const out = structuredClone(raw);
  for (const s of settings) {
    let cur: Raw = out;
    for (const seg of s.path.slice(0, -1)) {
      if (!isPlainObject(cur[seg])) cur[seg] = {};
      cur = cur[seg] as Raw;
    }
    cur[s.path[s.path.length - 1]!] = s.value;
  }
  return out;
}
