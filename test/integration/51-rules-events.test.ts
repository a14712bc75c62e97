/**
 * 51 — the rule engine's remaining EMQX events: $events/message_dropped (no subscriber, a resent
 * QoS 2 copy),
 * $events/client_connack (accepted and refused), $events/client_check_authn_complete and
 * $events/client_check_authz_complete (result, action, topic, authz_source: the file source,
 * 'cache', 'default'). Each rule republishes its columns; a superuser watcher collects them.
 *
 * v3 vs v5: a refused v3.1.1 CONNACK (return code 4) is reported with the same EMQX reason name
 * a v5 client's 0x86 has.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker, type Received } from '../support/broker.js';
import { getJson } from '../support/api.js';
import { rawClient } from '../support/raw-client.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-rules-events-'));
const users = join(dir, 'users.csv');
writeFileSync(users, 'user_id,password,is_superuser\nwatch,watch-pw,true\ndev,dev-pw,false\n');

const republish = (topic: string, payload: string) => [{ function: 'republish', args: { topic, qos: 1, payload } }];

let b: TestBroker;
let watcher: MqttClient;
let got: Received[];
before(async () => {
  b = await startBroker({
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
    authorization: {
      no_match: 'allow',
      sources: [{ type: 'file', enable: true, rules: '{deny, all, publish, ["deny/#"]}.\n{allow, all, publish, ["ok/#"]}.\n' }],
    },
    rule_engine: {
      rules: {
        dropped: {
          sql: 'SELECT * FROM "$events/message_dropped" WHERE topic =~ \'nobody/#\'',
          actions: republish('out/dropped', '${reason}|${topic}|${clientid}|${username}|${payload}|${qos}'),
        },
        connack: {
          sql: 'SELECT * FROM "$events/client_connack" WHERE clientid =~ \'c/#\'',
          actions: republish('out/connack', '${clientid}|${reason_code}|${proto_ver}|${clean_start}'),
        },
        authn: {
          sql: 'SELECT * FROM "$events/client_check_authn_complete" WHERE clientid =~ \'c/#\'',
          actions: republish('out/authn', '${clientid}|${reason_code}|${is_superuser}|${is_anonymous}'),
        },
        authz: {
          sql: 'SELECT * FROM "$events/client_check_authz_complete" WHERE clientid =~ \'c/#\'',
          actions: republish('out/authz', '${clientid}|${action}|${topic}|${result}|${authz_source}'),
        },
      },
    },
  });
  watcher = await client(b, { clientId: 'watcher', username: 'watch', password: 'watch-pw' });
  await watcher.subscribeAsync('out/#', { qos: 1 });
  got = collect(watcher);
});
after(async () => { await end(watcher); await b.stop(); rmSync(dir, { recursive: true, force: true }); });

const on = (topic: string) => got.filter((m) => m.topic === topic).map((m) => m.payload);

async function refused(opts: Record<string, unknown>): Promise<void> {
  await assert.rejects(client(b, { reconnectPeriod: 0, ...opts }));
}

describe('51 $events/client_connack and client_check_authn_complete', () => {
  it('an accepted client: success in both, not anonymous, not superuser', async () => {
    const c = await client(b, { clientId: 'c/ok', username: 'dev', password: 'dev-pw', protocolVersion: 5 });
    await until(() => on('out/connack').includes('c/ok|success|5|true') && on('out/authn').length >= 1, 3000, 'connack and authn events');
    assert.deepEqual(on('out/authn'), ['c/ok|success|false|false']);
    await end(c);
  });

  for (const v of [4, 5] as const) {
    it(`a wrong password (MQTT ${v === 5 ? '5' : '3.1.1'}): both report EMQX's reason name`, async () => {
      const id = `c/bad${v}`;
      await refused({ clientId: id, username: 'dev', password: 'nope', protocolVersion: v });
      await until(() => on('out/connack').some((p) => p.startsWith(`${id}|`)) && on('out/authn').some((p) => p.startsWith(`${id}|`)), 3000, 'refusal events');
      const connack = on('out/connack').find((p) => p.startsWith(`${id}|`))!;
      const authn = on('out/authn').find((p) => p.startsWith(`${id}|`))!;
      const reason = connack.split('|')[1];
      assert.ok(reason === 'bad_username_or_password' || reason === 'not_authorized', connack);
      assert.equal(connack, `${id}|${reason}|${v}|true`);
      assert.equal(authn, `${id}|${reason}|false|false`);
    });
  }
});

describe('51 $events/client_check_authz_complete', () => {
  it('reports result, action, topic and the deciding source: file, cache, default', async () => {
    const c = await client(b, { clientId: 'c/pub', username: 'dev', password: 'dev-pw', protocolVersion: 5 });
    await c.publishAsync('ok/1', 'a', { qos: 1 });
    await c.publishAsync('ok/1', 'b', { qos: 1 }); // the same answer again: from the cache
    await assert.rejects(c.publishAsync('deny/1', 'c', { qos: 1 }), /Not authorized/);
    await c.publishAsync('other/1', 'd', { qos: 1 }); // no rule matches: authorization.no_match
    await c.subscribeAsync('ok/sub', { qos: 0 });
    await until(() => on('out/authz').length >= 5, 3000, 'five authz events');
    assert.deepEqual(on('out/authz'), [
      'c/pub|publish|ok/1|allow|file',
      'c/pub|publish|ok/1|allow|cache',
      'c/pub|publish|deny/1|deny|file',
      'c/pub|publish|other/1|allow|default',
      'c/pub|subscribe|ok/sub|allow|default',
    ]);
    await end(c);
  });
});

describe('51 $events/message_dropped', () => {
  it('a message nobody subscribes to is reported with reason no_subscribers and its publisher', async () => {
    const c = await client(b, { clientId: 'c/drop', username: 'dev', password: 'dev-pw' });
    await c.publishAsync('nobody/here', 'lost', { qos: 1 });
    await until(() => on('out/dropped').length >= 1, 3000, 'dropped event');
    assert.deepEqual(on('out/dropped'), ['no_subscribers|nobody/here|c/drop|dev|lost|1']);
    // A message someone takes is not dropped.
    const s = await client(b, { clientId: 'x/sub', username: 'dev', password: 'dev-pw' });
    await s.subscribeAsync('nobody/#');
    await c.publishAsync('nobody/here', 'taken', { qos: 1 });
    await sleep(200);
    assert.equal(on('out/dropped').length, 1);
    const m = await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/rules/dropped/metrics');
    assert.equal(m.metrics.passed, 1);
    await end(c, s);
  });

  it('a resent QoS 2 PUBLISH whose first copy is held is reported as packet_identifier_inuse', async () => {
    const r = await rawClient(b.port, 5);
    try {
      await r.connect({ clientId: 'c/qos2', username: 'dev', password: Buffer.from('dev-pw') });
      const pub = { cmd: 'publish', topic: 'nobody/q2', payload: Buffer.from('twice'), qos: 2, messageId: 7, retain: false, dup: false };
      r.send(pub);
      await r.next('pubrec');
      r.send({ ...pub, dup: true });
      await r.next('pubrec', 3000, r.packets.findIndex((p) => p.cmd === 'pubrec') + 1);
      await until(() => on('out/dropped').length >= 3, 3000, 'two dropped events');
      assert.deepEqual(on('out/dropped').slice(1), ['no_subscribers|nobody/q2|c/qos2|dev|twice|2', 'packet_identifier_inuse|nobody/q2|c/qos2|dev|twice|2']);
    } finally { r.destroy(); }
  });
});
