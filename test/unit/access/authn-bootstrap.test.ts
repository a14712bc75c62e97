/**
 * EMQX's user files (CSV and JSON, plain and hash), as read by bootstrap_file and import_users:
 * EMQX's own sample files, and bad files whose error names the file and line (or entry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatOfFile, parseUserFile, type FileUser } from '../../../broker/src/access/authn/bootstrap.js';

function ok(format: 'csv' | 'json', text: string, type: 'plain' | 'hash'): FileUser[] {
  const p = parseUserFile(format, text, type, 'users.' + format);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}
function err(format: 'csv' | 'json', text: string, type: 'plain' | 'hash'): string {
  const p = parseUserFile(format, text, type, 'users.' + format);
  assert.equal(p.ok, false, 'expected an error');
  return (p as { error: string }).error;
}

test("EMQX's sample files: hash CSV and JSON (apps/emqx_auth/data/user-credentials.*)", () => {
  const csv = 'user_id,password_hash,salt,is_superuser\n'
    + 'myuser3,b6c743545a7817ae8c8f624371d5f5f0373234bb0ff36b8ffbf19bce0e06ab75,de1024f462fb83910fd13151bd4bd235,true\n'
    + 'myuser4,ee68c985a69208b6eda8c6c9b4c7c2d2b15ee2352cdd64a903171710a99182e8,ad773b5be9dd0613fe6c2f4d8c403139,false\n';
  const u = ok('csv', csv, 'hash');
  assert.deepEqual(u.map((x) => [x.user_id, x.is_superuser]), [['myuser3', true], ['myuser4', false]]);
  assert.deepEqual(u[0], { user_id: 'myuser3', password_hash: 'b6c743545a7817ae8c8f624371d5f5f0373234bb0ff36b8ffbf19bce0e06ab75', salt: 'de1024f462fb83910fd13151bd4bd235', is_superuser: true, where: 'users.csv:2' });
  const json = JSON.stringify([
    { user_id: 'myuser1', password_hash: 'c5e46903df45e5dc096dc74657610dbee8deaacae656df88a1788f1847390242', salt: 'e378187547bf2d6f0545a3f441aa4d8a', is_superuser: true },
    { user_id: 'myuser2', password_hash: 'f4d17f300b11e522fd33f497c11b126ef1ea5149c74d2220f9a16dc876d4567b', salt: '6d3f9bd5b54d94b98adbcfe10b6d181f', is_superuser: false },
  ], null, 4);
  assert.deepEqual(ok('json', json, 'hash').map((x) => [x.user_id, x.is_superuser, 'salt' in x ? x.salt : null]),
    [['myuser1', true, 'e378187547bf2d6f0545a3f441aa4d8a'], ['myuser2', false, '6d3f9bd5b54d94b98adbcfe10b6d181f']]);
});

test('plain CSV and JSON; CRLF, blank lines, spaces around fields, the empty namespace column of EMQX 5.9', () => {
  const u = ok('csv', 'user_id,password,is_superuser\r\nmyuser3, password3 ,true\r\n\r\nmyuser4,password4,false\r\n', 'plain');
  assert.deepEqual(u.map((x) => ['password' in x ? x.password : null, x.is_superuser]), [['password3', true], ['password4', false]]);
  const ns = ok('csv', 'user_id,password,is_superuser,namespace\nalice,pw,,\n', 'plain');
  assert.deepEqual(ns.map((x) => [x.user_id, x.is_superuser]), [['alice', false]]);
  const j = ok('json', '[{"user_id":"myuser1","password":"password1","is_superuser":true},{"user_id":"myuser2","password":"password2"}]', 'plain');
  assert.deepEqual(j.map((x) => [x.user_id, 'password' in x ? x.password : null, x.is_superuser]), [['myuser1', 'password1', true], ['myuser2', 'password2', false]]);
  assert.deepEqual(ok('csv', '', 'plain'), []);
  assert.deepEqual(ok('csv', 'user_id,password,is_superuser,namespace\n', 'plain'), [], "EMQX's default bootstrap file: a header only");
  const h = ok('csv', 'user_id,password_hash\nbob,abc\n', 'hash');
  assert.deepEqual(h[0], { user_id: 'bob', password_hash: 'abc', salt: '', is_superuser: false, where: 'users.csv:2' }, 'salt defaults to empty');
});

test("bad CSV: EMQX's truncated sample and other faults name the line", () => {
  // EMQX's user-credentials-malformed.csv: the last line lost its salt and is_superuser.
  const truncated = 'user_id,password_hash,salt,is_superuser\n'
    + 'myuser3,b6c743545a7817ae8c8f624371d5f5f0373234bb0ff36b8ffbf19bce0e06ab75,de1024f462fb83910fd13151bd4bd235,true\n'
    + 'myuser4,ee68c985a69208b6eda8c6c9b4c7c2d2b15ee2352cdd64a903171710a9\n';
  assert.match(err('csv', truncated, 'hash'), /^users\.csv:3: 2 fields where the header has 4/);
  assert.match(err('csv', 'user_id,password,is_superuser\nalice,pw,true\n\nbob,pw,yes\n', 'plain'), /^users\.csv:4 \(user_id "bob"\): is_superuser must be true or false, got "yes"/);
  assert.match(err('csv', 'user_id,password,is_superuser\nalice,,true\n', 'plain'), /^users\.csv:2 \(user_id "alice"\): a plain import needs a password field/);
  assert.match(err('csv', 'user_id,password,is_superuser\nalice,pw,true\n', 'hash'), /users\.csv:2 .*hash import needs a password_hash/);
  assert.match(err('csv', 'userid,password\nalice,pw\n', 'plain'), /^users\.csv:1: unknown column "userid"/);
  assert.match(err('csv', 'password,is_superuser\npw,true\n', 'plain'), /^users\.csv:1: the header line must name a user_id column/);
  assert.match(err('csv', 'user_id,password\n,pw\n', 'plain'), /^users\.csv:2: user_id is missing/);
  assert.match(err('csv', 'user_id,password,namespace\nalice,pw,tenant1\n', 'plain'), /namespaces are not supported/);
});

test("bad JSON: EMQX's malformed samples name the entry or the line", () => {
  // user-credentials-malformed-0.json: "userid" instead of "user_id".
  assert.match(err('json', JSON.stringify([{ userid: 'myuser1', password_hash: 'x', salt: 's', is_superuser: true }]), 'hash'), /^users\.json: entry 0: unknown key "userid"/);
  // user-credentials-malformed-1.json: a missing closing brace.
  const broken = '[\n  {\n    "user_id":"myuser1",\n    "password_hash":"c5",\n    "is_superuser": true\n\n  ,\n  {\n    "user_id":"myuser2"\n  }\n]\n';
  assert.match(err('json', broken, 'hash'), /^users\.json:8: not valid JSON/);
  assert.match(err('json', '{"user_id":"a"}', 'plain'), /expected a JSON array of users, got object/);
  assert.match(err('json', '[{"user_id":"a","password":"p"},"b"]', 'plain'), /entry 1: expected an object/);
  assert.match(err('json', '[{"user_id":"a","password":"p","is_superuser":"maybe"}]', 'plain'), /entry 0 \(user_id "a"\): is_superuser must be true or false/);
});

test('format by file name, as EMQX picks it', () => {
  assert.equal(formatOfFile('/etc/petrel/users.CSV'), 'csv');
  assert.equal(formatOfFile('users.json'), 'json');
  assert.equal(formatOfFile('users.txt'), undefined);
});
