/**
 * A tiny schema language: one TypeScript value describes a field tree once, and three things are
 * derived from it so they cannot drift apart:
 *
 *   - the TypeScript types (`Input<S>`: what a user writes, `Output<S>`: after defaulting),
 *   - the OpenAPI v3 structural schema that goes into the CRD (`toOpenAPI`),
 *   - runtime defaulting (`applyDefaults`) and structural checking (`checkStructure`) that behave
 *     like the API server's: defaults fill absent fields (recursing into what they filled), unknown
 *     fields are errors (as with `kubectl apply --validate=strict`).
 *
 * CEL rules (`x-kubernetes-validations`) are attached to nodes together with a TypeScript predicate
 * that says the same thing, so `petrel-operator render` and the controller report the same message
 * the API server would, without a cluster.
 */

/** One CEL rule and its TypeScript twin. `check(self)` returns true when the value is valid. */
export interface Rule {
  cel: string;
  message: string;
  check: (self: any) => boolean;
  /** Optional JSON path (relative to self) the API server reports the error at. */
  fieldPath?: string;
}

interface Base {
  description: string;
  rules?: Rule[];
}

export interface StringNode extends Base {
  kind: 'string';
  enum?: readonly string[];
  pattern?: string;
  maxLength?: number;
  minLength?: number;
  format?: string;
}
export interface IntNode extends Base {
  kind: 'integer';
  minimum?: number;
  maximum?: number;
  format?: 'int32' | 'int64';
}
export interface BoolNode extends Base {
  kind: 'boolean';
}
/** A Kubernetes quantity ("10Gi", "500m", 2): int-or-string. */
export interface QuantityNode extends Base {
  kind: 'quantity';
}
/** Anything: kept as-is (x-kubernetes-preserve-unknown-fields). */
export interface AnyNode extends Base {
  kind: 'any';
  /** The JSON type, when it is known to be an object or an array. */
  jsonType?: 'object' | 'array';
}
export interface FieldSpec {
  node: Node;
  mode: 'required' | 'optional' | 'default';
  default?: unknown;
}
export interface ObjectNode extends Base {
  kind: 'object';
  fields: Record<string, FieldSpec>;
}
export interface MapNode extends Base {
  kind: 'map';
  values: Node;
  maxProperties?: number;
}
export interface ArrayNode extends Base {
  kind: 'array';
  items: Node;
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: string[];
  maxItems?: number;
  minItems?: number;
}
export type Node = StringNode | IntNode | BoolNode | QuantityNode | AnyNode | ObjectNode | MapNode | ArrayNode;

/** A node with phantom input/output types. */
export interface S<I, O = I> {
  readonly node: Node;
  /** Phantom members: never present at run time. */
  readonly _i?: I;
  readonly _o?: O;
}
/** A node used as an object field: required, optional, or filled with a default. */
export interface F<I, O, M extends FieldSpec['mode']> {
  readonly field: FieldSpec;
  readonly _i?: I;
  readonly _o?: O;
  readonly _m?: M;
}

export type Input<T> = T extends S<infer I, any> ? I : never;
export type Output<T> = T extends S<any, infer O> ? O : never;

type AnyF = F<any, any, FieldSpec['mode']>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type KeysOf<Fs, M> = { [K in keyof Fs]: Fs[K] extends F<any, any, infer FM> ? (FM extends M ? K : never) : never }[keyof Fs];
type FI<X> = X extends F<infer I, any, any> ? I : never;
type FO<X> = X extends F<any, infer O, any> ? O : never;
type ObjIn<Fs> = Simplify<
  { [K in KeysOf<Fs, 'required'>]: FI<Fs[K]> } & { [K in KeysOf<Fs, 'optional' | 'default'>]?: FI<Fs[K]> }
>;
type ObjOut<Fs> = Simplify<
  { [K in KeysOf<Fs, 'required' | 'default'>]: FO<Fs[K]> } & { [K in KeysOf<Fs, 'optional'>]?: FO<Fs[K]> }
>;

type Opts<N> = Omit<N, 'kind'>;

export const s = {
  string<const E extends readonly string[] = readonly string[]>(
    o: Opts<StringNode> & { enum?: E },
  ): S<E extends readonly [] ? string : string extends E[number] ? string : E[number]> {
    return { node: { kind: 'string', ...o } };
  },
  int(o: Opts<IntNode>): S<number> {
    return { node: { kind: 'integer', ...o } };
  },
  bool(o: Opts<BoolNode>): S<boolean> {
    return { node: { kind: 'boolean', ...o } };
  },
  quantity(o: Opts<QuantityNode>): S<string | number> {
    return { node: { kind: 'quantity', ...o } };
  },
  /** Free-form value kept as-is; `T` is the type the operator code assumes. */
  any<T = unknown>(o: Opts<AnyNode>): S<T> {
    return { node: { kind: 'any', ...o } };
  },
  object<Fs extends Record<string, AnyF>>(
    o: Base & { fields: Fs },
  ): S<ObjIn<Fs>, ObjOut<Fs>> {
    const fields: Record<string, FieldSpec> = {};
    for (const [k, f] of Object.entries(o.fields)) fields[k] = f.field;
    return { node: { kind: 'object', description: o.description, rules: o.rules, fields } };
  },
  map<I, O>(values: S<I, O>, o: Base & { maxProperties?: number }): S<Record<string, I>, Record<string, O>> {
    return { node: { kind: 'map', values: values.node, ...o } };
  },
  array<I, O>(
    items: S<I, O>,
    o: Base & Omit<ArrayNode, 'kind' | 'items' | keyof Base>,
  ): S<I[], O[]> {
    return { node: { kind: 'array', items: items.node, ...o } };
  },
  required<I, O>(x: S<I, O>): F<I, O, 'required'> {
    return { field: { node: x.node, mode: 'required' } };
  },
  optional<I, O>(x: S<I, O>): F<I, O, 'optional'> {
    return { field: { node: x.node, mode: 'optional' } };
  },
  /** A field the API server fills with `value` when it is absent. */
  withDefault<I, O>(x: S<I, O>, value: I): F<I, O, 'default'> {
    return { field: { node: x.node, mode: 'default', default: value } };
  },
};

// ---------------------------------------------------------------------------------------------
// OpenAPI v3 (structural schema, as apiextensions.k8s.io/v1 wants it)

export type JSONSchemaProps = Record<string, unknown>;

/** The OpenAPI v3 schema for a node, with descriptions, defaults and CEL rules. */
export function toOpenAPI(node: Node): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  switch (node.kind) {
    case 'string':
      out.type = 'string';
      break;
    case 'integer':
      out.type = 'integer';
      break;
    case 'boolean':
      out.type = 'boolean';
      break;
    case 'quantity':
      out['x-kubernetes-int-or-string'] = true;
      out.anyOf = [{ type: 'integer' }, { type: 'string' }];
      out.pattern = QUANTITY_PATTERN;
      break;
    case 'any':
      if (node.jsonType) out.type = node.jsonType;
      if (node.jsonType === 'array') out.items = { type: 'object', description: 'Item (as in a Pod spec).', 'x-kubernetes-preserve-unknown-fields': true };
      else out['x-kubernetes-preserve-unknown-fields'] = true;
      break;
    case 'object':
      out.type = 'object';
      break;
    case 'map':
      out.type = 'object';
      break;
    case 'array':
      out.type = 'array';
      break;
  }
  out.description = node.description;
  if (node.kind === 'string') {
    if (node.enum) out.enum = [...node.enum];
    if (node.pattern) out.pattern = node.pattern;
    if (node.format) out.format = node.format;
    if (node.minLength !== undefined) out.minLength = node.minLength;
    if (node.maxLength !== undefined) out.maxLength = node.maxLength;
  } else if (node.kind === 'integer') {
    if (node.format) out.format = node.format;
    if (node.minimum !== undefined) out.minimum = node.minimum;
    if (node.maximum !== undefined) out.maximum = node.maximum;
  } else if (node.kind === 'object') {
    const props: Record<string, JSONSchemaProps> = {};
    const required: string[] = [];
    for (const [k, f] of Object.entries(node.fields)) {
      const p = toOpenAPI(f.node);
      if (f.mode === 'default') p.default = f.default;
      if (f.mode === 'required') required.push(k);
      props[k] = p;
    }
    out.properties = props;
    if (required.length) out.required = required;
  } else if (node.kind === 'map') {
    out.additionalProperties = toOpenAPI(node.values);
    if (node.maxProperties !== undefined) out.maxProperties = node.maxProperties;
  } else if (node.kind === 'array') {
    out.items = toOpenAPI(node.items);
    if (node.minItems !== undefined) out.minItems = node.minItems;
    if (node.maxItems !== undefined) out.maxItems = node.maxItems;
    if (node.listType) out['x-kubernetes-list-type'] = node.listType;
    if (node.listMapKeys) out['x-kubernetes-list-map-keys'] = node.listMapKeys;
  }
  if (node.rules?.length) {
    out['x-kubernetes-validations'] = node.rules.map((r) => {
      const v: Record<string, string> = { rule: r.cel, message: r.message };
      if (r.fieldPath) v.fieldPath = r.fieldPath;
      return v;
    });
  }
  return out;
}

/** Kubernetes resource.Quantity, as the API server's own OpenAPI pattern spells it. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

// ---------------------------------------------------------------------------------------------
// Defaulting and structural checks

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Returns a deep copy of `value` with absent fields filled from the schema's defaults, the way the
 * API server defaults a custom resource: a default is applied, then defaulting continues inside it.
 * Values of the wrong type are copied untouched (`checkStructure` reports them).
 */
export function applyDefaults(node: Node, value: unknown): unknown {
  if (node.kind === 'object' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = node.fields[k] ? applyDefaults(node.fields[k].node, v) : structuredClone(v);
    for (const [k, f] of Object.entries(node.fields)) {
      if (out[k] === undefined && f.mode === 'default') out[k] = applyDefaults(f.node, structuredClone(f.default));
    }
    return out;
  }
  if (node.kind === 'array' && Array.isArray(value)) return value.map((v) => applyDefaults(node.items, v));
  if (node.kind === 'map' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = applyDefaults(node.values, v);
    return out;
  }
  return structuredClone(value);
}

/**
 * Checks `value` against the schema: types, required fields, enums, patterns, bounds, unknown
 * fields, list-map key uniqueness, then the CEL rules' TypeScript twins (only where the structure
 * below is valid, as the API server skips CEL on malformed input). Returns messages prefixed with
 * the field path, e.g. `spec.core.replicas: must be odd`.
 */
export function checkStructure(node: Node, value: unknown, path: string): string[] {
  const errs: string[] = [];
  const at = path || '<root>';
  switch (node.kind) {
    case 'string':
      if (typeof value !== 'string') return [`${at}: must be a string`];
      if (node.enum && !node.enum.includes(value)) errs.push(`${at}: must be one of ${node.enum.join(', ')} (got "${value}")`);
      if (node.pattern && !new RegExp(node.pattern).test(value)) errs.push(`${at}: "${value}" does not match ${node.pattern}`);
      if (node.minLength !== undefined && value.length < node.minLength) errs.push(`${at}: must be at least ${node.minLength} characters`);
      if (node.maxLength !== undefined && value.length > node.maxLength) errs.push(`${at}: must be at most ${node.maxLength} characters`);
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${at}: must be an integer`];
      if (node.minimum !== undefined && value < node.minimum) errs.push(`${at}: must be >= ${node.minimum} (got ${value})`);
      if (node.maximum !== undefined && value > node.maximum) errs.push(`${at}: must be <= ${node.maximum} (got ${value})`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${at}: must be true or false`];
      break;
    case 'quantity':
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) return [`${at}: must be a quantity such as 10Gi or 500m`];
      } else if (typeof value !== 'string' || !new RegExp(QUANTITY_PATTERN).test(value)) {
        return [`${at}: must be a quantity such as 10Gi or 500m`];
      }
      break;
    case 'any':
      if (node.jsonType === 'object' && !isPlainObject(value)) return [`${at}: must be an object`];
      if (node.jsonType === 'array' && !Array.isArray(value)) return [`${at}: must be a list`];
      break;
    case 'object': {
      if (!isPlainObject(value)) return [`${at}: must be an object`];
      for (const k of Object.keys(value)) {
        if (!node.fields[k]) errs.push(`${join(path, k)}: unknown field "${k}"`);
      }
      for (const [k, f] of Object.entries(node.fields)) {
        const v = value[k];
        if (v === undefined || v === null) {
          if (f.mode === 'required') errs.push(`${join(path, k)}: required`);
          continue;
        }
        errs.push(...checkStructure(f.node, v, join(path, k)));
      }
      break;
    }
    case 'map':
      if (!isPlainObject(value)) return [`${at}: must be an object`];
      for (const [k, v] of Object.entries(value)) errs.push(...checkStructure(node.values, v, `${path}[${JSON.stringify(k)}]`));
      break;
    case 'array':
      if (!Array.isArray(value)) return [`${at}: must be a list`];
      if (node.minItems !== undefined && value.length < node.minItems) errs.push(`${at}: must have at least ${node.minItems} items`);
      if (node.maxItems !== undefined && value.length > node.maxItems) errs.push(`${at}: must have at most ${node.maxItems} items`);
      value.forEach((v, i) => errs.push(...checkStructure(node.items, v, `${path}[${i}]`)));
      if (node.listType === 'map' && node.listMapKeys && errs.length === 0) {
        const seen = new Set<string>();
        for (const v of value as Record<string, unknown>[]) {
          const key = JSON.stringify(node.listMapKeys.map((k) => v[k]));
          if (seen.has(key)) errs.push(`${at}: duplicate entry with ${node.listMapKeys.join(',')} ${key.slice(1, -1)}`);
          seen.add(key);
        }
      }
      break;
  }
  if (errs.length === 0 && node.rules) {
    for (const r of node.rules) {
      if (!r.check(value)) errs.push(`${r.fieldPath ? join(path, r.fieldPath.replace(/^\./, '')) : at}: ${r.message}`);
    }
  }
  return errs;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
