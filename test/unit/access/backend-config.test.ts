/**
 * Config of the external backends: EMQX's entries parse as they are; every mistake is one error
 * naming the key (and the authenticator or source it belongs to).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisAuthnKind, redisAuthzKind, postgresqlAuthnKind, postgresqlAuthzKind, mysqlAuthnKind, mysqlAuthzKind, httpAuthnKind, httpAuthzKind } from '../../../broker/src/access/backends/index.js';
import type { Parsed } from '../../../broker/src/access/types.js';

const err = (r: Parsed<unknown>): string => { assert.equal(r.ok, false, 'expected an error'); return (r as { error: string }).error; };
const val = <T>(r: Parsed<T>): T => { if (!r.ok) throw new Error(r.error); return r.value; };

test('EMQX documentation examples parse unchanged', () => {
  const redis = val(redisAuthnKind.parse({
    mechanism: 'password_based', backend: 'redis', enable: true, redis_type: 'single', server: '127.0.0.1:6379', database: 0,
    password: 'public', auto_reconnect: true, cmd: 'HMGET mqtt_user:${username} password_hash salt is_superuser',
    password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' },
  }));
  assert.deepEqual(redis.fields, ['password_hash', 'salt', 'is_superuser']);
  assert.equal(redis.conn.poolSize, 8, "EMQX's default pool_size");
  val(redisAuthzKind.parse({ type: 'redis', enable: true, redis_type: 'single', server: '127.0.0.1:6379', cmd: 'HGETALL mqtt_acl:${username}' }));
  const pg = val(postgresqlAuthnKind.parse({
    mechanism: 'password_based', backend: 'postgresql', server: '127.0.0.1:5432', database: 'mqtt', username: 'postgres', password: 'public',
    pool_size: 8, ssl: { enable: false }, query: 'SELECT password_hash, salt FROM mqtt_user where username = ${username} LIMIT 1',
    password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' },
  }));
  assert.equal(pg.query.text, 'SELECT password_hash, salt FROM mqtt_user where username = $1 LIMIT 1');
  val(mysqlAuthzKind.parse({ type: 'mysql', server: '127.0.0.1:3306', database: 'mqtt', username: 'root', password: 'public',
    query: 'SELECT action, permission, topic FROM mqtt_acl where username = ${username}' }));
  const my = val(mysqlAuthnKind.parse({ mechanism: 'password_based', backend: 'mysql', server: '127.0.0.1', database: 'mqtt', query_timeout: '3s',
    query: 'SELECT password_hash FROM mqtt_user where username = ${username} LIMIT 1' }));
  assert.equal(my.conn.server.port, 3306);
  assert.equal(my.conn.requestTimeoutMs, 3000, "EMQX's query_timeout is read as request_timeout");
  const http = val(httpAuthnKind.parse({
    mechanism: 'password_based', backend: 'http', method: 'post', url: 'http://127.0.0.1:8080/auth', headers: { 'X-Request-Source': 'EMQX' },
    body: { username: '${username}', password: '${password}' }, connect_timeout: '15s', request_timeout: '5s', pool_size: 8, enable_pipelining: 100,
  }));
  assert.equal(http.contentType, 'json', 'POST defaults to a JSON body');
  val(httpAuthzKind.parse({ type: 'http', method: 'get', url: 'http://127.0.0.1:8080/acl?topic=${topic}', body: { username: '${username}', action: '${action}' } }));
  val(postgresqlAuthzKind.parse({ type: 'postgresql', server: 'db', database: 'mqtt', query: 'SELECT permission, action, topic FROM mqtt_acl WHERE username = ${username}' }));
});

test('mistakes name the key', () => {
  const base = { server: '127.0.0.1:6379', cmd: 'HMGET mqtt_user:${username} password_hash salt' };
  assert.match(err(redisAuthnKind.parse({ ...base, redis_type: 'cluster' })), /password_based:redis\.redis_type: 'cluster' is not supported/);
  assert.match(err(redisAuthnKind.parse({ ...base, server: 'a:b:c' })), /\.server: expected "host" or "host:port"/);
  assert.match(err(redisAuthnKind.parse({ ...base, cmd: 'GET mqtt_user:${username}' })), /\.cmd: command GET not supported here; use HGET or HMGET/);
  assert.match(err(redisAuthnKind.parse({ ...base, cmd: 'HMGET u:${username} salt' })), /\.cmd: needs the field password_hash/);
  assert.match(err(redisAuthnKind.parse({ ...base, cmd: 'HMGET u:${username} password_hash clientid_override' })), /unknown field clientid_override/);
  assert.match(err(redisAuthnKind.parse({ ...base, cmd: 'HMGET u:${user} password_hash' })), /\.cmd: unknown placeholder \$\{user\}/);
  assert.match(err(redisAuthnKind.parse({ ...base, pool_size: 0 })), /\.pool_size: expected an integer from 1/);
  assert.match(err(redisAuthnKind.parse({ ...base, password_hash_algorithm: { name: 'rot13' } })), /\.password_hash_algorithm: /);
  assert.match(err(redisAuthnKind.parse({ ...base, pool_sise: 4 })), /password_based:redis: unknown key pool_sise/);
  assert.match(err(redisAuthzKind.parse({ server: 'h', cmd: 'HMGET mqtt_acl:${username} a' })), /authorization\.sources\.redis\.cmd: command HMGET not supported here; use HGETALL/);
  assert.match(err(postgresqlAuthnKind.parse({ server: 'h', query: 'SELECT 1 WHERE ${username}' })), /password_based:postgresql\.database: required/);
  assert.match(err(mysqlAuthnKind.parse({ server: 'h', database: 'd', query: 'SELECT 1 FROM t WHERE u = ${topic}' })), /\.query: unknown placeholder \$\{topic\}/);
  assert.match(err(postgresqlAuthzKind.parse({ server: 'h', database: 'd', query: 'SELECT * FROM acl', ssl: { enable: true, verifyy: 'x' } })), /\.ssl: unknown key verifyy|\.query: the query has no placeholder/);
  assert.match(err(mysqlAuthnKind.parse({ server: 'h', database: 'd', query: 'SELECT 1 FROM t WHERE u = ${username}', request_timeout: '5' })), /\.request_timeout: /);
  assert.match(err(httpAuthnKind.parse({ url: 'ftp://x/' })), /password_based:http\.url: expected an http:\/\/ or https:\/\/ URL/);
  assert.match(err(httpAuthnKind.parse({ url: 'http://${username}.example/' })), /\.url: placeholders in the host are not supported/);
  assert.match(err(httpAuthnKind.parse({ url: 'https://auth.example/' })), /\.ssl: an https:\/\/ url needs ssl\.enable: true/);
  assert.match(err(httpAuthnKind.parse({ url: 'http://h/', method: 'get', headers: { 'content-type': 'application/json' } })), /\.headers: a GET request has no body/);
  assert.match(err(httpAuthnKind.parse({ url: 'http://h/', headers: { 'content-type': 'text/plain' } })), /content-type text\/plain not supported/);
  assert.match(err(httpAuthzKind.parse({ url: 'http://h/', method: 'put' })), /authorization\.sources\.http\.method: expected one of post, get/);
  assert.match(err(httpAuthzKind.parse({ url: 'http://h/', method: 'get', body: { a: { b: '${topic}' } } })), /\.body: nested maps need a JSON body/);
});
