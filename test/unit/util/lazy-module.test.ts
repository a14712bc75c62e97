/**
 * Optional client libraries stay unloaded until a configured feature asks for them
 * (docs/performance.md, "Memory"): importing the node module, which is everything
 * `petrel` loads at start, must not pull them in, and the lazy loader must still find them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lazyModule } from '../../../broker/src/util/lazy-module.js';

// CommonJS packages: loaded through `import` or `require`, they show in require.cache.
const OPTIONAL = ['pg', 'mysql2', 'ioredis', 'etcd3', 'undici', 'amqplib', 'mqtt', 'pino-pretty'];

describe('lazy optional modules', () => {
  it('starting code (node.js, main.js imports) loads none of the optional client libraries', () => {
    const nodeJs = fileURLToPath(new URL('../../../broker/src/node.js', import.meta.url));
    const script = `import { createRequire } from 'node:module';
await import(${JSON.stringify(nodeJs)});
await import(${JSON.stringify(nodeJs.replace(/node\.js$/, 'log.js'))});
console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    assert.ok(loaded.some((f) => f.includes('/node_modules/better-sqlite3/')), 'the probe sees CommonJS modules the node does load');
    for (const pkg of OPTIONAL) {
      assert.equal(loaded.filter((f) => f.includes(`/node_modules/${pkg}/`)).length, 0, `${pkg} loaded at start`);
    }
  });

  it('loads a module on first call and returns the same one after', () => {
    const pg = lazyModule<typeof import('pg')>('pg');
    const a = pg();
    assert.equal(typeof a.Pool, 'function');
    assert.equal(pg(), a);
  });

  it('an unknown module fails on first call with the resolver error, not at definition', () => {
    const missing = lazyModule<unknown>('petrel-no-such-module');
    assert.throws(() => missing(), { code: 'MODULE_NOT_FOUND' });
  });
});
