/**
 * The route table: a regular expression per path, made at start, and an ajv validator per schema,
 * compiled when its route is first called (compiling all ≈ 200 schemas at start cost ≈ 0.3 s of
 * CPU and ≈ 10 MB of resident memory on every node, most of whose routes are never called;
 * `compileAll` checks them all, for tests). `find` tells apart "no such path" (404) from "path exists, not with this method"
 * (405, with the methods for the Allow header); `validate` turns the first schema violation
 * into a 400 BAD_REQUEST that names the field (`body.qos`, `query.limit`, `path.action`).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError } from './errors.js';
import type { ApiRequest, JsonSchema, Method, Route } from './route.js';
import type { Caller } from './accounts/roles.js';

/** A schema, and its validator once compiled. */
interface Check {
  schema: JsonSchema;
  fn: ValidateFunction | null;
}

interface Compiled {
  route: Route;
  re: RegExp;
  names: string[];
  params: Check | null;
  query: Check | null;
  body: Check | null;
}

export type Match =
  | { kind: 'route'; route: Route; compiled: Compiled; rawParams: string[] }
  | { kind: 'method'; allow: Method[] }
  | { kind: 'none' };

export class Router {
  private readonly table: Compiled[];
  private bodies: Ajv | null;
  private strings: Ajv | null;

  constructor(routes: readonly Route[]) {
    this.bodies = null;
    this.strings = null;
    const seen = new Set<string>();
    this.table = routes.map((route) => {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) throw new Error(`duplicate API route ${key}`);
      seen.add(key);
      const names: string[] = [];
      const re = new RegExp('^' + route.path.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_, n: string) => { names.push(n); return '([^/]+)'; }) + '$');
      return {
        route, re, names,
        params: route.params ? { schema: route.params, fn: null } : null,
        query: route.query ? { schema: route.query, fn: null } : null,
        body: route.body ? { schema: route.body, fn: null } : null,
      };
    });
  }

  /** Compiles every route's schemas now; throws on the first invalid one. */
  compileAll(): this {
    for (const c of this.table) {
      if (c.params !== null) this.text(c.params);
      if (c.query !== null) this.text(c.query);
      if (c.body !== null) this.json(c.body);
    }
    return this;
  }

  // Bodies are JSON already: no type coercion, defaults filled in. Query strings and path
  // segments are text: "2" becomes 2 where the schema wants an integer.
  private json(k: Check): ValidateFunction {
    return (k.fn ??= (this.bodies ??= new Ajv({ useDefaults: true, strict: true })).compile(k.schema));
  }

  private text(k: Check): ValidateFunction {
    return (k.fn ??= (this.strings ??= new Ajv({ useDefaults: true, coerceTypes: true, strict: true })).compile(k.schema));
  }

  /** The routes, in table order (for docs and tests). */
  routes(): Route[] { return this.table.map((c) => c.route); }

  find(method: string, path: string): Match {
    let allow: Method[] | null = null;
    for (const c of this.table) {
      const m = c.re.exec(path);
      if (m === null) continue;
      if (c.route.method === method) return { kind: 'route', route: c.route, compiled: c, rawParams: m.slice(1) };
      (allow ??= []).push(c.route.method);
    }
    return allow === null ? { kind: 'none' } : { kind: 'method', allow };
  }

  /**
   * Roles, for every route in this one place: a viewer reads (GET) and changes nothing but its
   * own login (routes marked `anyRole`, or `ownUser` with its own name in the path); everyone
   * else may call everything. Runs before the parameters and body are checked, so a viewer
   * learns nothing from a 400. Throws ApiError(UNAUTHORIZED_ROLE), EMQX's 403.
   */
  authorize(c: Compiled, rawParams: string[], caller: Caller | null): void {
    const route = c.route;
    if (caller === null || caller.role !== 'viewer' || route.method === 'GET' || route.anyRole === true) return;
    if (route.ownUser !== undefined && caller.kind === 'user') {
      const raw = rawParams[c.names.indexOf(route.ownUser)];
      let name: string | null = null;
      try { name = raw === undefined ? null : decodeURIComponent(raw); } catch { /* not its name, then */ }
      if (name === caller.name) return;
    }
    throw new ApiError('UNAUTHORIZED_ROLE', `the viewer role may not ${route.method} ${route.path}: it may read (GET), log out and change its own password`);
  }

  /** Decodes and checks path parameters and the query; throws ApiError(BAD_REQUEST). */
  request(c: Compiled, rawParams: string[], search: URLSearchParams): Omit<ApiRequest, 'body'> {
    const params: Record<string, string> = {};
    for (let i = 0; i < c.names.length; i++) {
      try { params[c.names[i]] = decodeURIComponent(rawParams[i]); } catch {
        throw new ApiError('BAD_REQUEST', `path.${c.names[i]} is not valid percent-encoding`);
      }
    }
    if (c.params !== null) check(this.text(c.params), params, 'path');
    const query: Record<string, unknown> = {};
    for (const [k, v] of search) if (!(k in query)) query[k] = v;
    if (c.query !== null) check(this.text(c.query), query, 'query');
    return { params, query };
  }

  /** Checks a parsed body against the route's schema (filling defaults in); throws ApiError(BAD_REQUEST). */
  body(c: Compiled, body: unknown): void {
    if (c.body !== null) check(this.json(c.body), body, 'body');
  }
}

function check(v: ValidateFunction, data: unknown, where: string): void {
  if (v(data)) return;
  throw new ApiError('BAD_REQUEST', describe(v.errors![0], where));
}

/** `/a/0/b` → `where.a[0].b` */
function fieldName(where: string, instancePath: string): string {
  let s = where;
  for (const seg of instancePath.split('/').slice(1)) {
    const k = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    s += /^\d+$/.test(k) ? `[${k}]` : `.${k}`;
  }
  return s;
}

function describe(e: ErrorObject, where: string): string {
  const at = fieldName(where, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return `${at}.${String(p.missingProperty)} is required`;
    case 'additionalProperties': return `${at}.${String(p.additionalProperty)} is not a known field`;
    case 'enum': return `${at} must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    default: return `${at} ${e.message ?? 'is invalid'}`;
  }
}
