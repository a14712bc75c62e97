import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { jwtVerify } from 'jose';
import { aclConf, BENCH_TOPIC } from '../../bench/access/acl-conf.js';
import { accessSetups, pairUser, PROBE_USER } from '../../bench/access/setups.js';
import { summarizeSetups, setupOrder, setupTargetLines } from '../../bench/report-setups.js';
import { renderText, renderMarkdown, type BenchReport, type RunRecord } from '../../bench/report.js';
import type { MetricDef, RunOptions } from '../../bench/scenarios/common.js';
import { parseAclConf } from '../../broker/src/access/authz/acl-conf.js';
import { compileRules, matchCompiled } from '../../broker/src/access/authz/acl-match.js';
import { parseUserFile } from '../../broker/src/access/authn/bootstrap.js';
import { checkPassword, parseHashAlgorithm } from '../../broker/src/access/authn/password-hash.js';
import type { AuthzRequest } from '../../broker/src/hooks.js';

const client = (username: string) => ({
  clientId: `c-${username}`, username, peerHost: '127.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 4, isSuperuser: false,
});
const req = (username: string, action: 'publish' | 'subscribe', topic: string): AuthzRequest => ({ client: client(username), action, topic, qos: 1, retain: false });

test('the generated acl.conf: the broker reads 1,000 rules; only the rule before the last grants the bench its topics', () => {
  const rules = parseAclConf(aclConf(1000), 'bench-acl.conf');
  assert.equal(rules.length, 1000);
  const all = compileRules(rules);
  const bench = pairUser(3);
  for (const action of ['publish', 'subscribe'] as const) {
    assert.equal(matchCompiled(all, req(bench, action, BENCH_TOPIC(bench))), 'allow', action);
    // Nothing before the last two rules decides for the bench clients: the whole list is walked.
    assert.equal(matchCompiled(all.slice(0, 998), req(bench, action, BENCH_TOPIC(bench))), 'nomatch', action);
  }
  assert.equal(matchCompiled(all, req(pairUser(4), 'publish', BENCH_TOPIC(bench))), 'deny', "another user's topic");
  assert.equal(matchCompiled(all, req(PROBE_USER, 'subscribe', '$SYS/#')), 'deny');
  assert.equal(matchCompiled(all, req(PROBE_USER, 'subscribe', BENCH_TOPIC(`${PROBE_USER}-other`))), 'deny');
  // The tenants' rules are live rules, not filler: a fleet user gets its own topics.
  assert.equal(matchCompiled(all, req('fleet7-a', 'publish', 'fleet/7/fleet7-a/telemetry')), 'allow');
  assert.throws(() => aclConf(3), /at least 6 rules/);
});

const OPTS = { pairs: 2, accessConnections: 3, bcryptConnections: 1, aclRules: 50 } as RunOptions;

test('setups: the users files and tokens hold what the clients send, and the wrong credentials are wrong', async () => {
  const plan = await accessSetups(OPTS);
  try {
    assert.deepEqual(plan.setups.map((s) => s.name), ['open', 'sha256', 'bcrypt', 'jwt', 'acl']);
    for (const s of plan.setups.filter((x) => x.name === 'sha256' || x.name === 'bcrypt')) {
      const a = (s.petrel.authentication as Record<string, unknown>[])[0];
      const alg = parseHashAlgorithm(a.password_hash_algorithm);
      assert.ok(alg.ok);
      const file = String(a.bootstrap_file);
      const users = parseUserFile('csv', readFileSync(file, 'utf8'), 'hash', file);
      assert.ok(users.ok);
      // probe + 2 pairs + the connect phase (bcrypt: 1)
      assert.equal(users.value.length, s.name === 'bcrypt' ? 4 : 6, s.name);
      const row = users.value.find((u) => u.user_id === pairUser(1));
      assert.ok(row && 'password_hash' in row);
      assert.equal(await checkPassword(alg.value, s.credentials(pairUser(1)).password ?? '', row.password_hash, row.salt), true, s.name);
      const probeRow = users.value.find((u) => u.user_id === PROBE_USER);
      assert.ok(probeRow && 'password_hash' in probeRow);
      assert.equal(await checkPassword(alg.value, s.mustRefuse[0].password ?? '', probeRow.password_hash, probeRow.salt), false, s.name);
      assert.throws(() => s.credentials('nobody'), /no user nobody/);
    }
    const jwt = plan.setups.find((s) => s.name === 'jwt');
    assert.ok(jwt);
    const key = new TextEncoder().encode(String((jwt.petrel.authentication as Record<string, unknown>[])[0].secret));
    const { payload } = await jwtVerify(jwt.credentials(pairUser(0)).password ?? '', key);
    assert.equal(payload.sub, pairUser(0));
    await assert.rejects(jwtVerify(jwt.mustRefuse[0].password ?? '', key));
    assert.equal((await jwtVerify(jwt.mustRefuse[1].password ?? '', key)).payload.sub, pairUser(0), 'a valid token of another user');
    assert.deepEqual(plan.targets[0], { metric: 'msgs', setups: ['sha256', 'jwt', 'acl'], minRatio: 0.9 });
  } finally {
    plan.dispose();
  }
  const some = await accessSetups(OPTS, ['jwt']);
  some.dispose();
  assert.deepEqual(some.setups.map((s) => s.name), ['open', 'jwt']);
  assert.deepEqual(some.targets.map((t) => t.setups), [['jwt'], ['jwt']]);
});

test('setups report: ratios to open per repetition, the ≤ 10 % verdicts, bcrypt reported only', () => {
  const metrics: MetricDef[] = [
    { key: 'connRate', label: 'connect rate /s', unit: '/s', better: 'higher', digits: 0 },
    { key: 'msgs', label: 'QoS 1 msg/s', unit: 'msg/s', better: 'higher', digits: 0 },
    { key: 'genCpu', label: 'gen CPU %', unit: '%', better: 'none', digits: 0 },
  ];
  const v = (connRate: number, msgs: number) => ({ connRate, msgs, genCpu: 50 });
  const runs: RunRecord[] = [
    { rep: 1, broker: 'petrel', setup: 'open', ok: true, values: v(1000, 100), seconds: 1 },
    { rep: 1, broker: 'petrel', setup: 'jwt', ok: true, values: v(900, 95), seconds: 1 },
    { rep: 1, broker: 'petrel', setup: 'acl', ok: true, values: v(1000, 80), seconds: 1 },
    { rep: 1, broker: 'petrel', setup: 'bcrypt', ok: true, values: v(5, 100), seconds: 1 },
    // Rep 2 is slower for all: the ratios stay those of the same repetition.
    { rep: 2, broker: 'petrel', setup: 'open', ok: true, values: v(500, 50), seconds: 1 },
    { rep: 2, broker: 'petrel', setup: 'jwt', ok: true, values: v(500, 44), seconds: 1 },
    { rep: 2, broker: 'petrel', setup: 'acl', ok: false, error: 'acl: bench-probe was granted $SYS/#', seconds: 1 },
    { rep: 2, broker: 'petrel', setup: 'bcrypt', ok: true, values: v(4, 50), seconds: 1 },
  ];
  const plan = {
    setups: [{ name: 'open' }, { name: 'jwt' }, { name: 'acl' }, { name: 'bcrypt' }],
    reference: 'open',
    targets: [
      { metric: 'msgs', setups: ['jwt', 'acl'], minRatio: 0.9 },
      { metric: 'connRate', setups: ['bcrypt'], why: 'reported, not targeted', show: ['connRate'] },
    ],
  };
  const sc = summarizeSetups('access', 'access control', metrics, runs, plan);
  assert.deepEqual(sc.ratios.msgs.jwt, { median: 0.915, min: 0.88, max: 0.95, n: 2 });
  assert.deepEqual(sc.ratios.msgs.acl, { median: 0.8, min: 0.8, max: 0.8, n: 1 });
  const b = sc.ratios.connRate.bcrypt;
  assert.ok(b && Math.abs(b.median - 0.0065) < 1e-12 && b.min === 0.005 && b.max === 0.008, JSON.stringify(b));
  assert.equal(sc.ratios.genCpu, undefined);
  assert.deepEqual(sc.summary.msgs.open, { median: 75, min: 50, max: 100, n: 2 });
  const lines = setupTargetLines(sc);
  assert.match(lines[0], /QoS 1 msg\/s: jwt\/open 0\.92× \[0\.88–0\.95\] \(cost 8\.5 %\); target: cost ≤ 10 %: met$/);
  assert.match(lines[1], /acl\/open 0\.80× \(cost 20\.0 %\); target: cost ≤ 10 %: MISSED$/);
  assert.match(lines[2], /connect rate \/s: bcrypt\/open 0\.0065× \[0\.0050–0\.0080\] \(cost 99\.4 %\); connect rate \/s 5 vs 750: reported, not targeted$/);

  const report: BenchReport = {
    date: '2026-01-01T00:00:00.000Z', commit: 'abc', brokers: ['petrel'], scenarios: [sc],
    options: { reps: 2, durationMs: 5000, warmupMs: 1000, workers: 2 },
    machine: { cores: 2, cpuModel: 'x', memoryGiB: 1, platform: 'linux', node: 'v20', versions: {} },
  };
  const text = renderText(report);
  assert.match(text, /^scenario +metric +petrel open +petrel jwt +petrel acl +petrel bcrypt +jwt\/open +acl\/open +bcrypt\/open$/m);
  assert.match(text, /access petrel\/acl rep 2: FAILED/);
  const md = renderMarkdown(report);
  assert.match(md, /\|  \| QoS 1 msg\/s \| 75 \[50–100\] \| 70 \[44–95\] \| 80 \(1 failed\) \| 75 \[50–100\] \| 0\.92× \[0\.88–0\.95\] \| 0\.80× \| 1\.00× \|/);
  assert.match(md, /- access: QoS 1 msg\/s: acl\/open 0\.80×.*MISSED/);
});

test('setups run in order on odd repetitions, reversed on even ones, the order turning every two', () => {
  const s = ['open', 'sha256', 'acl'];
  assert.deepEqual(setupOrder(s, 1), ['open', 'sha256', 'acl']);
  assert.deepEqual(setupOrder(s, 2), ['acl', 'sha256', 'open']);
  assert.deepEqual(setupOrder(s, 3), ['sha256', 'acl', 'open']);
  assert.deepEqual(setupOrder(s, 4), ['open', 'acl', 'sha256']);
  // Over six repetitions every setup holds every place twice.
  for (const name of s) {
    const places = [1, 2, 3, 4, 5, 6].map((r) => setupOrder(s, r).indexOf(name)).sort();
    assert.deepEqual(places, [0, 0, 1, 1, 2, 2], name);
  }
});
