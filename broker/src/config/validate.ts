/**
 * Turns a raw tree (YAML file + env + overrides, merged) into a typed config by walking the
 * schema: missing keys take their defaults, unknown keys are errors (with the closest known
 * key suggested), values are parsed by their kind and checked against bounds. Nothing is
 * clamped or coerced silently; every problem is collected with its dotted path.
 */
import { formatBind, parseBind } from './bind.js';
import type { Leaf, MapNode, ObjNode, SchemaNode } from './schema-types.js';
import { closest } from './suggest.js';
import { describe, parseDuration, parseSize, type Parsed } from './units.js';

export interface Problem { path: string; message: string }

export type Raw = Record<string, unknown>;

export function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Deep merge of raw trees: maps merge key by key, anything else replaces. */
export function mergeRaw(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeRaw(b, v) : v;
  }
  return out;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function validateNode(node: SchemaNode, raw: unknown, path: string, problems: Problem[]): unknown {
  if (node.node === 'leaf') return validateLeaf(node, raw, path, problems);
  if (node.node === 'object') return validateObject(node, raw, path, problems);
  return validateMap(node, raw, path, problems);
}

function validateObject(node: ObjNode<any>, raw: unknown, path: string, problems: Problem[]): Raw {
  const fields = node.fields as Record<string, SchemaNode>;
  const src: Raw = raw === undefined || raw === null ? {} : isPlainObject(raw) ? raw : (problems.push({
    path, message: `expected a map of ${Object.keys(fields).join(', ')}, got ${describe(raw)}`,
  }), {});
  for (const key of Object.keys(src)) {
    if (!Object.hasOwn(fields, key)) {
      const hint = closest(key, Object.keys(fields));
      problems.push({
        path: join(path, key),
        message: hint ? `unknown key (did you mean ${join(path, hint)}?)` : `unknown key; known keys here: ${Object.keys(fields).join(', ')}`,
      });
    }
  }
  const out: Raw = {};
  for (const [key, child] of Object.entries(fields)) out[key] = validateNode(child, src[key], join(path, key), problems);
  return out;
}

function validateMap(node: MapNode<any>, raw: unknown, path: string, problems: Problem[]): Raw {
  let src: Raw = {};
  if (isPlainObject(raw)) src = raw;
  else if (raw !== undefined && raw !== null) problems.push({ path, message: `expected a map of named entries, got ${describe(raw)}` });
  const out: Raw = {};
  const names = new Set([...Object.keys(node.defaults), ...Object.keys(src)]);
  for (const name of names) {
    const p = join(path, name);
    if (Object.hasOwn(src, name) && src[name] === null) continue; // `name: null` removes a default entry
    if (!node.namePattern.test(name)) {
      problems.push({ path: p, message: 'names are lowercase letters, digits, "_" and "-" (at most 64)' });
      continue;
    }
    const userVal = src[name];
    if (userVal !== undefined && !isPlainObject(userVal)) {
      problems.push({ path: p, message: `expected a map, got ${describe(userVal)}` });
      continue;
    }
    const merged = mergeRaw(node.defaults[name] ?? {}, userVal ?? {});
    out[name] = validateObject(node.item, merged, p, problems);
  }
  return out;
}

export function validateLeaf(leaf: Leaf<unknown>, raw: unknown, path: string, problems: Problem[]): unknown {
  const input = raw === undefined ? leaf.default : raw;
  const r = parseLeaf(leaf, input);
  if (!r.ok) {
    problems.push({ path, message: r.error });
    return undefined;
  }
  return r.value;
}

function bounds(leaf: Leaf<unknown>, v: number, shown: unknown): Parsed<number> {
  if (leaf.min !== undefined && v < leaf.min) return { ok: false, error: `${fmt(shown)} is below the minimum ${leaf.min}${leaf.unit ? ' ' + leaf.unit : ''}` };
  if (leaf.max !== undefined && v > leaf.max) return { ok: false, error: `${fmt(shown)} is above the maximum ${leaf.max}${leaf.unit ? ' ' + leaf.unit : ''}` };
  return { ok: true, value: v };
}

const fmt = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export function parseLeaf(leaf: Leaf<unknown>, v: unknown): Parsed<unknown> {
  switch (leaf.kind) {
    case 'string':
      if (typeof v !== 'string') return { ok: false, error: `expected a string, got ${describe(v)}` };
      if (leaf.pattern && !leaf.pattern.test(v)) return { ok: false, error: `expected ${leaf.patternHint ?? `a match for ${leaf.pattern}`}, got ${JSON.stringify(v)}` };
      return { ok: true, value: v };
    case 'bool':
      return typeof v === 'boolean' ? { ok: true, value: v } : { ok: false, error: `expected true or false, got ${describe(v)}` };
    case 'int':
    case 'number': {
      if (v === 'infinity' && leaf.infinity) return { ok: true, value: Infinity };
      if (v === 'disabled' && leaf.disabled) return { ok: true, value: 'disabled' };
      const extra = [leaf.infinity ? '"infinity"' : '', leaf.disabled ? '"disabled"' : ''].filter(Boolean).join(' or ');
      const what = `${leaf.kind === 'int' ? 'a whole number' : 'a number'}${extra ? ` or ${extra}` : ''}`;
      if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, error: `expected ${what}, got ${describe(v)}` };
      if (leaf.kind === 'int' && !Number.isInteger(v)) return { ok: false, error: `expected ${what}, got ${v}` };
      return bounds(leaf, v, v);
    }
    case 'duration': {
      const r = parseDuration(v, leaf.infinity ?? false);
      return r.ok ? bounds(leaf, r.value, v) : r;
    }
    case 'size': {
      const r = parseSize(v);
      return r.ok ? bounds(leaf, r.value, v) : r;
    }
    case 'enum': {
      const values = leaf.values ?? [];
      if (typeof v === 'string' && values.includes(v)) return { ok: true, value: v };
      const hint = typeof v === 'string' ? closest(v, values) : undefined;
      return { ok: false, error: `expected one of ${values.join(', ')}, got ${describe(v)}${hint ? ` (did you mean ${hint}?)` : ''}` };
    }
    case 'list': {
      if (!Array.isArray(v)) return { ok: false, error: `expected a list, got ${describe(v)}` };
      for (const item of v) {
        if (typeof item !== 'string') return { ok: false, error: `expected a list of strings, got an item ${describe(item)}` };
        if (leaf.values && !leaf.values.includes(item)) return { ok: false, error: `list item ${JSON.stringify(item)} is not one of ${leaf.values.join(', ')}` };
        if (leaf.pattern && !leaf.pattern.test(item)) return { ok: false, error: `list item ${JSON.stringify(item)}: expected ${leaf.patternHint ?? `a match for ${leaf.pattern}`}` };
      }
      if ((leaf.values || leaf.min) && v.length < (leaf.min ?? 1)) return { ok: false, error: v.length === 0 ? 'the list must not be empty' : `the list needs at least ${leaf.min} items` };
      return { ok: true, value: [...v] };
    }
    case 'custom':
      return leaf.parse!(v);
    case 'bind': {
      const r = parseBind(v);
      return r.ok ? { ok: true, value: formatBind(r.value) } : r;
    }
  }
}
