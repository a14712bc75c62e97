/** Secrets shown as ****** by the REST API and kept when a config comes back with ******, as EMQX does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deobfuscate, redact, REDACTED } from '../../../broker/src/access/authn/redact.js';

const cfg = {
  mechanism: 'password_based', backend: 'redis', password: 'hunter2', database: 0,
  headers: { Authorization: 'Bearer abc', 'content-type': 'application/json' },
  ssl: { enable: true, password: '' }, servers: [{ secret: 's' }],
};

test('redact: sensitive keys at any depth, Authorization headers; empty values left as they are', () => {
  assert.deepEqual(redact(cfg), {
    mechanism: 'password_based', backend: 'redis', password: REDACTED, database: 0,
    headers: { Authorization: REDACTED, 'content-type': 'application/json' },
    ssl: { enable: true, password: '' }, servers: [{ secret: REDACTED }],
  });
  assert.equal(cfg.password, 'hunter2', 'the original is not touched');
});

test('deobfuscate: ****** takes the old value back; a new value replaces it', () => {
  const back = deobfuscate({ ...(redact(cfg) as object), database: 2 }, cfg) as typeof cfg;
  assert.equal(back.password, 'hunter2');
  assert.equal(back.headers.Authorization, 'Bearer abc');
  assert.equal(back.database, 2);
  assert.equal((deobfuscate({ password: 'new' }, cfg) as typeof cfg).password, 'new');
  assert.equal((deobfuscate({ password: REDACTED }, {}) as typeof cfg).password, REDACTED, 'nothing to take back: left as sent (the kind then judges it)');
});
