/**
 * The OpenAPI document is the route table: every route is an operation, every $ref resolves,
 * every schema in it compiles with ajv (strict), and the server serves it (and its page) to
 * anyone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { ROUTES } from '../../../broker/src/api/routes/index.js';
import { openApiDocument, operationId } from '../../../broker/src/api/openapi.js';
import { call, startApi } from './helpers.js';

type Obj = Record<string, any>;
const doc = openApiDocument(ROUTES) as Obj;

/** Every value under `o` with its JSON pointer. */
function* walk(o: unknown, at = '#'): Generator<[string, Obj]> {
  if (o === null || typeof o !== 'object') return;
  yield [at, o as Obj];
  for (const [k, v] of Object.entries(o)) yield* walk(v, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}

function resolve(ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `${ref} is local`);
  let cur: unknown = doc;
  for (const seg of ref.slice(2).split('/')) cur = (cur as Obj | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  return cur;
}

/** The schemas of an operation: parameters, request bodies, responses. */
function schemasOf(op: Obj): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const p of op.parameters) out.push([`parameter ${p.name}`, p.schema]);
  for (const [type, c] of Object.entries(op.requestBody?.content ?? {})) out.push([`body ${type}`, (c as Obj).schema]);
  for (const [status, r] of Object.entries(op.responses)) for (const [type, c] of Object.entries((r as Obj).content ?? {})) out.push([`${status} ${type}`, (c as Obj).schema]);
  return out;
}

test('the document is OpenAPI 3.1 with info, paths, the error schema and HTTP Basic', () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(typeof doc.info.title, 'string');
  assert.equal(typeof doc.info.version, 'string');
  assert.deepEqual(doc.components.schemas.Error.required, ['code', 'message']);
  assert.deepEqual(doc.components.securitySchemes.basicAuth, { ...doc.components.securitySchemes.basicAuth, type: 'http', scheme: 'basic' });
});

test('every route is an operation, once, with its own replies declared', () => {
  const ids = new Set<string>();
  let ops = 0;
  for (const r of ROUTES) {
    const op = doc.paths[r.path]?.[r.method.toLowerCase()];
    assert.ok(op, `${r.method} ${r.path} is in the document`);
    assert.ok(r.responses !== undefined && Object.keys(r.responses).length > 0, `${r.method} ${r.path} declares its responses`);
    for (const s of Object.keys(r.responses!)) assert.ok(op.responses[s], `${r.method} ${r.path} documents ${s}`);
    assert.ok(Object.keys(r.responses!).some((s) => s.startsWith('2')), `${r.method} ${r.path} has a success reply`);
    assert.ok(op.responses.default, `${r.method} ${r.path} has the default error`);
    assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
    ids.add(op.operationId);
    assert.equal(op.operationId, operationId(r));
    // Path parameters are exactly the path's {names}.
    const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    assert.deepEqual(op.parameters.filter((p: Obj) => p.in === 'path').map((p: Obj) => p.name), names, `${r.method} ${r.path} path parameters`);
    assert.equal(op.security.length === 0, r.access === 'open', `${r.method} ${r.path}: open routes only need no credentials`);
    ops++;
  }
  const documented = Object.values(doc.paths).reduce((n: number, p) => n + Object.keys(p as Obj).length, 0);
  assert.equal(documented, ops, 'no operation without a route');
});

test('every $ref resolves and every schema compiles with ajv (strict)', () => {
  let refs = 0;
  for (const [at, o] of walk(doc)) {
    if (typeof o.$ref !== 'string') continue;
    assert.ok(resolve(o.$ref) !== undefined, `${at}: $ref ${o.$ref} resolves`);
    refs++;
  }
  assert.ok(refs > 0, 'the error schema is shared by $ref');
  const ajv = new Ajv({ strict: true, allowUnionTypes: true });
  ajv.addFormat('binary', true);
  ajv.addSchema({ $id: 'doc', $defs: { schemas: doc.components.schemas } }, undefined, false);
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops as Obj)) {
      for (const [what, schema] of schemasOf(op as Obj)) {
        // A local $ref points into the document: compile it against the document's components.
        const s = JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"doc#/$defs/')) as Obj;
        assert.doesNotThrow(() => ajv.compile(s), `${method.toUpperCase()} ${path} ${what}`);
      }
    }
  }
});

test('GET /api-docs and /api-docs/swagger.json serve the document and /api-docs/index.html the page, to anyone', async () => {
  const t = await startApi({ keys: 'k:s\n' });
  try {
    for (const path of ['/api-docs', '/api-docs/', '/api-docs/swagger.json']) {
      const r = await call(t, 'GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.json.openapi, '3.1.0');
      assert.ok(r.json.paths['/api/v5/clients/{clientid}/mqueue_messages'], 'the new routes are in');
      assert.ok(r.json.paths['/api-docs'], 'the document describes itself');
    }
    const page = await call(t, 'GET', '/api-docs/index.html');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /fetch\('\/api-docs\/swagger\.json'\)/);
    assert.doesNotMatch(page.text, /<script[^>]+src=|<link[^>]+href="http/, 'no external script or stylesheet');
    // Everything else still needs the key.
    assert.equal((await call(t, 'GET', '/api/v5/clients')).status, 401);
  } finally { await t.close(); }
});
