/**
 * The vocabulary the config schema is written in: leaves (a typed, documented value with its
 * default and limits), objects (fixed keys) and maps (user-named entries of one shape, like
 * `listeners.tcp.<name>`). The TypeScript type of the loaded config is inferred from the
 * schema (`Infer<typeof schema>`), so the two cannot drift apart.
 */

export type LeafKind = 'string' | 'int' | 'number' | 'bool' | 'duration' | 'size' | 'enum' | 'list' | 'bind' | 'custom';

export interface Leaf<T> {
  readonly node: 'leaf';
  readonly kind: LeafKind;
  readonly description: string;
  /** The default as a user would write it ("15s", "1MB", "infinity"); parsed like user input. */
  readonly default: unknown;
  /** Unit of the loaded value, for the docs: 'ms', 'bytes', 'seconds'. */
  readonly unit?: string;
  /** Inclusive bounds on the loaded value (after unit conversion). */
  readonly min?: number;
  readonly max?: number;
  /** "infinity" accepted (loaded as Infinity). */
  readonly infinity?: boolean;
  /** "disabled" accepted (loaded as the string 'disabled'). */
  readonly disabled?: boolean;
  /** Allowed values for enums, or for the items of a list. */
  readonly values?: readonly string[];
  /** Strings must match this. */
  readonly pattern?: RegExp;
  readonly patternHint?: string;
  /**
   * kind 'custom': a structured value (a list of authenticators, of ACL sources…) whose shape
   * its own feature validates; `typeName` is what the docs show for it.
   */
  readonly parse?: (v: unknown) => { ok: true; value: unknown } | { ok: false; error: string };
  readonly typeName?: string;
  /** Phantom: the loaded TypeScript type. */
  readonly __type?: T;
}

export interface ObjNode<F extends Record<string, SchemaNode>> {
  readonly node: 'object';
  readonly description?: string;
  readonly fields: F;
}

export interface MapNode<I extends ObjNode<any>> {
  readonly node: 'map';
  readonly description: string;
  readonly item: I;
  /** Entries present when the user says nothing, each with values overriding the item defaults. */
  readonly defaults: Readonly<Record<string, Record<string, unknown>>>;
  readonly namePattern: RegExp;
}

export type SchemaNode = Leaf<any> | ObjNode<any> | MapNode<any>;

export type Infer<N> =
  N extends Leaf<infer T> ? T :
  N extends ObjNode<infer F> ? { readonly [K in keyof F]: Infer<F[K]> } :
  N extends MapNode<infer I> ? { readonly [name: string]: Infer<I> } :
  never;

type Opts = Omit<Leaf<unknown>, 'node' | 'kind' | 'description' | 'default' | '__type'>;

const leaf = <T>(kind: LeafKind, def: unknown, description: string, o: Opts = {}): Leaf<T> =>
  ({ node: 'leaf', kind, default: def, description, ...o });

export const str = (def: string, description: string, o: Opts = {}) => leaf<string>('string', def, description, o);
export const bool = (def: boolean, description: string) => leaf<boolean>('bool', def, description);
export const int = (def: number | 'infinity', description: string, o: Opts = {}) =>
  leaf<number>('int', def, description, { infinity: def === 'infinity', ...o });
export const num = (def: number, description: string, o: Opts = {}) => leaf<number>('number', def, description, o);
export const duration = (def: string, description: string, o: Opts = {}) =>
  leaf<number>('duration', def, description, { unit: 'ms', ...o });
export const size = (def: string, description: string, o: Opts = {}) =>
  leaf<number>('size', def, description, { unit: 'bytes', ...o });
export const bind = (def: string, description: string) => leaf<string>('bind', def, description);
export const oneOf = <const V extends readonly string[]>(values: V, def: V[number], description: string) =>
  leaf<V[number]>('enum', def, description, { values });
export const listOf = <const V extends readonly string[]>(values: V, def: V[number][], description: string) =>
  leaf<readonly V[number][]>('list', def, description, { values });
/** A list of free strings; `min` is the fewest items, `pattern` applies to each item. */
export const strList = (def: string[], description: string, o: Opts = {}) => leaf<readonly string[]>('list', def, description, o);
export const intOrDisabled = (def: number | 'disabled', description: string, o: Opts = {}) =>
  leaf<number | 'disabled'>('int', def, description, { disabled: true, ...o });

/**
 * A value a feature validates itself (YAML lists of objects of several shapes, such as EMQX's
 * `authentication:` chain). `parse` returns the loaded value or an error naming the bad item.
 */
export const custom = <T>(def: unknown, description: string, typeName: string,
  parse: (v: unknown) => { ok: true; value: T } | { ok: false; error: string }) =>
  leaf<T>('custom', def, description, { parse, typeName });

export const obj = <F extends Record<string, SchemaNode>>(fields: F, description?: string): ObjNode<F> =>
  ({ node: 'object', fields, description });

export const mapOf = <I extends ObjNode<any>>(item: I, defaults: Record<string, Record<string, unknown>>, description: string): MapNode<I> =>
  ({ node: 'map', item, defaults, description, namePattern: /^[a-z0-9][a-z0-9_-]{0,63}$/ });
