/**
 * 41 — authentication as EMQX users configure it: the built-in database with bootstrap files
 * (CSV and JSON, plain and hash), per-listener chains, `enable: false`, and the REST API
 * (/api/v5/authentication…) changing users and the chain without a restart. Seen from the
 * wire with raw packets, MQTT.js and mosquitto_pub.
 *
 * v3 vs v5: a wrong password is CONNACK 4 (v3) / 0x86 (v5); an unknown user or no credentials
 * (every authenticator ignored) is CONNACK 5 / 0x87 — EMQX's not_authorized and its v3 mapping.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startBroker, client, end, requireBinary, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { api, getJson } from '../support/api.js';

const PUB = '/usr/bin/mosquitto_pub';
const ID = 'password_based:built_in_database';
const ID_PATH = `/api/v5/authentication/${encodeURIComponent(ID)}`;

let dir: string;
let b: TestBroker;

/** CONNACK code for these credentials: v3/v4 returnCode or v5 reasonCode. */
async function connack(port: number, v: 4 | 5, username?: string, password?: string, clientId = `c${Math.random().toString(16).slice(2)}`): Promise<number> {
  const r = await rawClient(port, v);
  try {
    // Sent by hand for a generous CONNACK wait: bcrypt at cost 12 (EMQX's example) takes seconds on a loaded machine.
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clean: true, keepalive: 60, clientId,
      ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password: Buffer.from(password) } : {}) });
    const p = await r.next('connack', 30_000);
    return v === 5 ? p.reasonCode : p.returnCode;
  } finally { r.destroy(); }
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function mosquittoPub(port: number, args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((ok) => {
    const p = spawn(PUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 't/x', '-m', 'hi', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('close', (code) => { clearTimeout(timer); ok({ code, err }); });
  });
}

const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

before(async () => {
  requireBinary(PUB, 'mosquitto-clients');
  dir = mkdtempSync(join(tmpdir(), 'petrel-authn-'));
  const users = file('users.csv', 'user_id,password,is_superuser\nalice,alice-pw,true\nbob,bob-pw,false\n');
  b = await startBroker({
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
    listeners: { tcp: { open: { bind: '127.0.0.1:0', authentication: [] } } },
  });
  // Stand-in for authorization: `secret/#` is denied to everyone who is not a superuser.
  b.node.hooks.add('client.authorize', (r) => (r.topic.startsWith('secret/') ? 'deny' : undefined));
});
after(async () => { await b?.stop(); rmSync(dir, { recursive: true, force: true }); });

describe('41 built-in database from a bootstrap CSV', () => {
  for (const v of [4, 5] as const) {
    it(`v${v === 5 ? 5 : 3}: right password 0; wrong password ${v === 5 ? '0x86' : '4'}; unknown user or none ${v === 5 ? '0x87' : '5'}`, async () => {
      assert.equal(await connack(b.port, v, 'alice', 'alice-pw'), 0);
      assert.equal(await connack(b.port, v, 'alice', 'wrong'), v === 5 ? 0x86 : 4);
      assert.equal(await connack(b.port, v, 'mallory', 'alice-pw'), v === 5 ? 0x87 : 5);
      assert.equal(await connack(b.port, v), v === 5 ? 0x87 : 5);
      assert.equal(await connack(b.port, v, 'bob'), v === 5 ? 0x87 : 5, 'no password: ignored by the database, then refused');
    });
  }

  it('mosquitto_pub: accepted with -u/-P, refused with a wrong password', async () => {
    const good = await mosquittoPub(b.port, ['-u', 'bob', '-P', 'bob-pw', '-q', '1']);
    assert.equal(good.code, 0, good.err);
    const bad = await mosquittoPub(b.port, ['-u', 'bob', '-P', 'nope', '-V', 'mqttv5']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /bad user name or password/i);
  });

  it('the superuser flag reaches authorization: alice may subscribe where bob is refused', async () => {
    const alice = await client(b, { username: 'alice', password: 'alice-pw', protocolVersion: 5 });
    const bob = await client(b, { username: 'bob', password: 'bob-pw', protocolVersion: 5 });
    const ga = await alice.subscribeAsync('secret/plans', { qos: 1 });
    assert.equal(ga[0].qos, 1);
    await assert.rejects(bob.subscribeAsync('secret/plans', { qos: 1 }), (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] === 0x87);
    await end(alice, bob);
  });

  it('a listener with its own (empty) chain lets anyone in; the others keep the global one', async () => {
    const open = b.node.port('tcp:open');
    assert.equal(await connack(open, 5), 0);
    assert.equal(await connack(open, 4, 'whoever', 'x'), 0);
    assert.equal(await connack(b.port, 5, 'whoever', 'x'), 0x87);
  });
});

describe('41 REST: users and the chain change without a restart', () => {
  it('lists the chain and one authenticator; status counts', async () => {
    const chain = await getJson<Array<Record<string, unknown>>>(b, '/api/v5/authentication');
    assert.equal(chain.length, 1);
    assert.equal(chain[0].id, ID);
    assert.equal(chain[0].enable, true);
    assert.equal(chain[0].user_id_type, 'username');
    const one = await getJson<Record<string, unknown>>(b, ID_PATH);
    assert.equal(one.backend, 'built_in_database');
    const st = await getJson<{ metrics: Record<string, number>; status: string }>(b, `${ID_PATH}/status`);
    assert.equal(st.status, 'connected');
    assert.ok(st.metrics.total >= 8 && st.metrics.success >= 2 && st.metrics.failed >= 2 && st.metrics.nomatch >= 4, JSON.stringify(st.metrics));
    assert.equal(st.metrics.total, st.metrics.success + st.metrics.failed + st.metrics.nomatch);
    const prom = await (await api(b, '/metrics')).text();
    const line = new RegExp(`^petrel_authn_failed\\{node="[^"]+",id="password_based:built_in_database"\\} (\\d+)$`, 'm').exec(prom);
    assert.ok(line, 'Prometheus has the per-authenticator counters');
    assert.equal(Number(line[1]), st.metrics.failed);
    assert.equal((await api(b, '/api/v5/authentication/jwt')).status, 404);
  });

  it('a user added by REST connects at once; a changed password replaces the old; a deleted user is refused', async () => {
    assert.equal(await connack(b.port, 5, 'carol', 'carol-pw'), 0x87);
    const add = await api(b, `${ID_PATH}/users`, json('POST', { user_id: 'carol', password: 'carol-pw' }));
    assert.equal(add.status, 201);
    assert.deepEqual(await add.json(), { user_id: 'carol', is_superuser: false });
    assert.equal(await connack(b.port, 5, 'carol', 'carol-pw'), 0);
    const dup = await api(b, `${ID_PATH}/users`, json('POST', { user_id: 'carol', password: 'x' }));
    assert.equal(dup.status, 409);
    assert.equal((await dup.json() as { code: string }).code, 'ALREADY_EXISTS');
    const put = await api(b, `${ID_PATH}/users/carol`, json('PUT', { password: 'new-pw', is_superuser: true }));
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { user_id: 'carol', is_superuser: true });
    assert.equal(await connack(b.port, 5, 'carol', 'carol-pw'), 0x86);
    assert.equal(await connack(b.port, 4, 'carol', 'new-pw'), 0);
    assert.deepEqual(await getJson(b, `${ID_PATH}/users/carol`), { user_id: 'carol', is_superuser: true });
    assert.equal((await api(b, `${ID_PATH}/users/carol`, { method: 'DELETE' })).status, 204);
    assert.equal(await connack(b.port, 5, 'carol', 'new-pw'), 0x87);
    assert.equal((await api(b, `${ID_PATH}/users/carol`, { method: 'DELETE' })).status, 404);
    assert.equal((await api(b, `${ID_PATH}/users/carol`)).status, 404);
    const bad = await api(b, `${ID_PATH}/users`, json('POST', { user_id: 'dave' }));
    assert.equal(bad.status, 400);
    assert.match((await bad.json() as { message: string }).message, /body\.password is required/);
  });

  it('imports CSV, JSON and multipart files; lists users paged and filtered', async () => {
    const csv = await api(b, `${ID_PATH}/import_users?type=plain`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'user_id,password,is_superuser\nimp1,p1,false\nimp2,p2,true\nbob,bob-pw2,false\n' });
    assert.equal(csv.status, 200, await csv.clone().text());
    assert.deepEqual(await csv.json(), { total: 3, success: 2, override: 1, skipped: 0, failed: 0 });
    assert.equal(await connack(b.port, 5, 'bob', 'bob-pw2'), 0, 'the import replaced bob');
    // A hash import: sha256 of salt + password (the default algorithm, prefix salt), as another system would store it.
    const { createHash } = await import('node:crypto');
    const row = [{ user_id: 'imp3', password_hash: createHash('sha256').update('salty' + 'pw3').digest('hex'), salt: 'salty', is_superuser: false }];
    const j = await api(b, `${ID_PATH}/import_users?type=hash`, json('POST', row));
    assert.equal(j.status, 200);
    assert.deepEqual(await j.json(), { total: 1, success: 1, override: 0, skipped: 0, failed: 0 });
    assert.equal(await connack(b.port, 5, 'imp3', 'pw3'), 0);
    const again = await api(b, `${ID_PATH}/import_users?type=hash`, json('POST', row));
    assert.deepEqual(await again.json(), { total: 1, success: 0, override: 0, skipped: 1, failed: 0 }, 'an identical row is skipped');
    const form = new FormData();
    form.append('filename', new Blob(['[{"user_id":"imp4","password":"p4"}]'], { type: 'application/json' }), 'users.json');
    const mp = await api(b, `${ID_PATH}/import_users?type=plain`, { method: 'POST', body: form });
    assert.equal(mp.status, 200, await mp.clone().text());
    assert.deepEqual(await mp.json(), { total: 1, success: 1, override: 0, skipped: 0, failed: 0 });
    assert.equal(await connack(b.port, 4, 'imp4', 'p4'), 0);
    const broken = await api(b, `${ID_PATH}/import_users?type=plain`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'user_id,password\nimp5,p5\nimp6\n' });
    assert.equal(broken.status, 400);
    assert.match((await broken.json() as { message: string }).message, /:3: 1 fields where the header has 2/);
    assert.equal((await api(b, `${ID_PATH}/users/imp5`)).status, 404, 'nothing imported from a bad file');
    assert.equal((await api(b, `${ID_PATH}/import_users`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'user_id,password\n' })).status, 400, 'type is required');

    const page1 = await getJson<{ data: Array<{ user_id: string }>; meta: Record<string, unknown> }>(b, `${ID_PATH}/users?like_user_id=imp&limit=3`);
    assert.deepEqual(page1.data.map((u) => u.user_id), ['imp1', 'imp2', 'imp3']);
    assert.deepEqual(page1.meta, { page: 1, limit: 3, count: 4, hasnext: true });
    const page2 = await getJson<{ data: Array<{ user_id: string }>; meta: Record<string, unknown> }>(b, `${ID_PATH}/users?like_user_id=imp&limit=3&page=2`);
    assert.deepEqual(page2.data.map((u) => u.user_id), ['imp4']);
    assert.equal(page2.meta.hasnext, false);
    const supers = await getJson<{ data: Array<{ user_id: string }> }>(b, `${ID_PATH}/users?is_superuser=true`);
    assert.deepEqual(supers.data.map((u) => u.user_id), ['alice', 'imp2']);
  });

  it('disable, re-enable, delete and re-create the authenticator: applied at once', async () => {
    // A config read back (with its id) is a valid body for PUT, as with EMQX.
    const body = await getJson<Record<string, unknown>>(b, ID_PATH);
    assert.equal(body.id, ID);
    assert.equal((await api(b, ID_PATH, json('PUT', { ...body, enable: false }))).status, 204);
    assert.equal(await connack(b.port, 5, 'nobody', 'x'), 0, 'no enabled authenticator: anonymous');
    assert.equal((await api(b, ID_PATH, json('PUT', { ...body, enable: true }))).status, 204);
    assert.equal(await connack(b.port, 5, 'nobody', 'x'), 0x87);
    assert.equal(await connack(b.port, 5, 'alice', 'alice-pw'), 0, 'users kept across the change');
    const wrong = await api(b, ID_PATH, json('PUT', { ...body, user_id_type: 'email' }));
    assert.equal(wrong.status, 400);
    assert.match((await wrong.json() as { message: string }).message, /user_id_type/);
    const other = await api(b, ID_PATH, json('PUT', { ...body, id: 'jwt' }));
    assert.equal(other.status, 400);
    assert.match((await other.json() as { message: string }).message, /id: "jwt" does not match/);
    assert.equal((await api(b, `${ID_PATH}/position/front`, { method: 'PUT' })).status, 204);
    assert.equal((await api(b, `${ID_PATH}/position/sideways`, { method: 'PUT' })).status, 400);
    assert.equal((await api(b, ID_PATH, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await getJson(b, '/api/v5/authentication'), []);
    assert.equal(await connack(b.port, 5, 'nobody', 'x'), 0);
    const re = await api(b, '/api/v5/authentication', json('POST', { mechanism: 'password_based', backend: 'built_in_database' }));
    assert.equal(re.status, 200);
    assert.equal((await re.json() as { id: string }).id, ID);
    assert.equal(await connack(b.port, 5, 'alice', 'alice-pw'), 0, "the database's users outlive its authenticator");
    assert.equal(await connack(b.port, 5, 'nobody', 'x'), 0x87);
    assert.equal((await api(b, '/api/v5/authentication', json('POST', { mechanism: 'password_based', backend: 'built_in_database' }))).status, 409);
  });
});

describe('41 other configurations', () => {
  it('no authenticator configured: everyone allowed', async () => {
    const plain = await startBroker();
    try {
      assert.equal(await connack(plain.port, 5, 'anyone', 'anything'), 0);
      assert.equal(await connack(plain.port, 4), 0);
      assert.deepEqual(await getJson(plain, '/api/v5/authentication'), []);
    } finally { await plain.stop(); }
  });

  it('enable: false is skipped (here: the only one, so everyone is allowed)', async () => {
    const users = file('off.csv', 'user_id,password\nu,p\n');
    const off = await startBroker({ authentication: [{ mechanism: 'password_based', backend: 'built_in_database', enable: false, bootstrap_file: users }] });
    try {
      assert.equal(await connack(off.port, 5, 'u', 'wrong'), 0);
      assert.equal((await getJson<Array<{ enable: boolean }>>(off, '/api/v5/authentication'))[0].enable, false);
    } finally { await off.stop(); }
  });

  it("bootstrap JSON with EMQX's bcrypt example hash (type hash), by client id", async () => {
    const users = file('users.json', JSON.stringify([
      { user_id: 'dev-1', password_hash: '$2b$12$wtY3h20mUjjmeaClpqZVveDWGlHzCGsvuThMlneGHA7wVeFYyns2u', salt: '$2b$12$wtY3h20mUjjmeaClpqZVve', is_superuser: false },
    ]));
    const bb = await startBroker({ authentication: { mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'clientid', password_hash_algorithm: { name: 'bcrypt' }, bootstrap_file: users, bootstrap_type: 'hash' } });
    try {
      assert.equal(await connack(bb.port, 5, 'any-name', 'bcrypt', 'dev-1'), 0);
      assert.equal(await connack(bb.port, 5, 'any-name', 'bcrypT', 'dev-1'), 0x86);
      assert.equal(await connack(bb.port, 4, 'any-name', 'bcrypt', 'dev-2'), 5);
    } finally { await bb.stop(); }
  });

  it('a bad bootstrap file stops the start with the file and line; a missing one with its name', async () => {
    const bad = file('bad.csv', 'user_id,password,is_superuser\nok,pw,false\nbroken,pw\n');
    await assert.rejects(startBroker({ authentication: [{ mechanism: 'password_based', backend: 'built_in_database', bootstrap_file: bad }] }),
      (err: Error) => err.message.includes(`${bad}:3: 2 fields where the header has 3`));
    const missing = join(dir, 'nope.json');
    await assert.rejects(startBroker({ authentication: [{ mechanism: 'password_based', backend: 'built_in_database', bootstrap_file: missing }] }),
      (err: Error) => err.message.includes(`bootstrap_file ${missing}: no such file`));
  });

  it('users persist across a restart; the bootstrap file does not overwrite a password changed by REST', async () => {
    const data = mkdtempSync(join(tmpdir(), 'petrel-authn-data-'));
    const users = file('restart.csv', 'user_id,password\nerin,first\n');
    const cfg = { authentication: [{ mechanism: 'password_based', backend: 'built_in_database', bootstrap_file: users }] };
    try {
      const one = await startBroker(cfg, { dataDir: data, keepData: true });
      assert.equal((await api(one, `${ID_PATH}/users/erin`, json('PUT', { password: 'second' }))).status, 200);
      assert.equal((await api(one, `${ID_PATH}/users`, json('POST', { user_id: 'frank', password: 'f' }))).status, 201);
      await one.stop();
      const two = await startBroker(cfg, { dataDir: data, keepData: true });
      try {
        assert.equal(await connack(two.port, 5, 'erin', 'second'), 0);
        assert.equal(await connack(two.port, 5, 'erin', 'first'), 0x86);
        assert.equal(await connack(two.port, 5, 'frank', 'f'), 0);
      } finally { await two.stop(); }
    } finally { rmSync(data, { recursive: true, force: true }); }
  });

  it('a chain built through REST outlives a restart; a chain set in the file wins over it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'petrel-authn-data-'));
    try {
      const one = await startBroker({}, { dataDir: data, keepData: true });
      assert.equal((await api(one, '/api/v5/authentication', json('POST', { mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'clientid' }))).status, 200);
      assert.equal((await api(one, `${ID_PATH}/users`, json('POST', { user_id: 'gate', password: 'g' }))).status, 201);
      await one.stop();
      const two = await startBroker({}, { dataDir: data, keepData: true });
      try {
        assert.equal(await connack(two.port, 5, 'x', 'g', 'gate'), 0);
        assert.equal(await connack(two.port, 5, 'x', 'g', 'stranger'), 0x87, 'still closed after the restart');
        assert.equal((await getJson<Array<{ user_id_type: string }>>(two, '/api/v5/authentication'))[0].user_id_type, 'clientid');
      } finally { await two.stop(); }
      const three = await startBroker({ authentication: [] }, { dataDir: data, keepData: true });
      try {
        assert.equal(await connack(three.port, 5, 'x', 'y', 'stranger'), 0, "the file's empty chain wins");
      } finally { await three.stop(); }
      const four = await startBroker({}, { dataDir: data, keepData: true });
      try {
        assert.equal(await connack(four.port, 5, 'x', 'y', 'stranger'), 0, 'the REST chain was discarded, not kept for later');
      } finally { await four.stop(); }
    } finally { rmSync(data, { recursive: true, force: true }); }
  });
});
