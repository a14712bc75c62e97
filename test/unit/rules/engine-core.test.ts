/**
 * RuleEngine against the real Hooks: a small message's SQL runs inside the publish hook, its
 * actions (and a big message's SQL) on a later turn through bounded queues; a disabled
 * or absent rule leaves no callback behind, metrics follow EMQX, actions that throw are counted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hooks } from '../../../broker/src/hooks.js';
import { RuleEngine, INLINE_MAX } from '../../../broker/src/rules/engine.js';
import { parseRuleMap } from '../../../broker/src/rules/rule-config.js';
import type { Message, QoS } from '../../../broker/src/types.js';
import { createLogger } from '../../../broker/src/log.js';

const log = createLogger({ level: 'error', format: 'json' } as never, { write() {} } as never);
let ids = 0;
const mk = (topic: string, payload: string, qos: QoS = 0): Message => ({ id: ++ids, topic, payload: Buffer.from(payload), qos, retain: false, properties: null, from: '', timestamp: Date.now(), expiresAt: 0 });
const turn = () => new Promise<void>((r) => setImmediate(r));

function setup(rules: Record<string, unknown>) {
  const hooks = new Hooks();
  const published: Message[] = [];
  const engine = new RuleEngine({
    hooks, log, node: 'n1', connection: () => undefined,
    newMessage: (t, p, q, r, props) => ({ ...mk(t, ''), payload: p, qos: q, retain: r, properties: props }),
    publish: (m) => { published.push(m); hooks.transform(m); },
    validTopic: (t) => t !== '' && !/[+#]/.test(t),
    maxQueue: 4,
  });
  const parsed = parseRuleMap(rules);
  assert.ok(parsed.ok);
  engine.load(parsed.value);
  return { hooks, engine, published };
}

describe('RuleEngine', () => {
  it('no rule, or only disabled ones: no message.publish callback at all', () => {
    assert.equal(setup({}).hooks.active('message.publish'), false);
    assert.equal(setup({ r: { sql: 'SELECT * FROM "t"', enable: false } }).hooks.active('message.publish'), false);
    const { hooks, engine } = setup({ r: { sql: 'SELECT * FROM "t"' } });
    assert.equal(hooks.active('message.publish'), true);
    engine.update('r', { enable: false });
    assert.equal(hooks.active('message.publish'), false);
  });

  it('evaluates the SQL of a small message right after publish returns (same turn), runs its actions on a later turn', async () => {
    const { hooks, engine, published } = setup({ r: { sql: 'SELECT payload FROM "t/#"', actions: [{ function: 'republish', args: { topic: 'out', payload: '${payload}' } }] } });
    hooks.transform(mk('t/1', 'a'));
    assert.equal(engine.metrics('r')!.matched, 0, 'delivery never waits on SQL: nothing evaluated inside publish');
    await Promise.resolve();
    assert.equal(engine.metrics('r')!.matched, 1);
    assert.equal(engine.metrics('r')!['actions.total'], 0);
    assert.equal(published.length, 0);
    await turn();
    assert.equal(published[0]!.payload.toString(), 'a');
  });

  it(`a message over ${INLINE_MAX} bytes is evaluated on a later turn`, async () => {
    const { hooks, engine } = setup({ r: { sql: 'SELECT * FROM "t"' } });
    hooks.transform(mk('t', 'x'.repeat(INLINE_MAX + 1)));
    assert.equal(engine.metrics('r')!.matched, 0);
    assert.equal(engine.pending, 1);
    await turn();
    assert.equal(engine.metrics('r')!.matched, 1);
  });

  it('a full queue drops and counts; the publisher never waits', async () => {
    const { hooks, engine } = setup({ r: { sql: 'SELECT * FROM "t"', actions: ['console'] } });
    for (let i = 0; i < 10; i++) hooks.transform(mk('t', String(i)));
    await Promise.resolve();
    assert.equal(engine.metrics('r')!.passed, 10);
    assert.equal(engine.dropped, 6); // outputs waiting for their actions: 4 at most
    await turn();
    assert.equal(engine.metrics('r')!['actions.total'], 4);
    const big = setup({ r: { sql: 'SELECT * FROM "t"' } });
    for (let i = 0; i < 10; i++) big.hooks.transform(mk('t', 'y'.repeat(INLINE_MAX + 1)));
    assert.equal(big.engine.dropped, 6);
    await turn();
    assert.equal(big.engine.metrics('r')!.matched, 4);
  });

  it('counts failed.exception, failed.no_result and failed actions as EMQX does', async () => {
    const { hooks, engine } = setup({
      r: { sql: 'SELECT payload.n + 1 as m FROM "t" WHERE payload.n > 0', actions: [{ function: 'republish', args: { topic: 'bad/${m}/+' } }, 'console'] },
    });
    hooks.transform(mk('t', '{"n": 1}')); // passed; republish fails (wildcard in topic), console succeeds
    hooks.transform(mk('t', '{"n": 0}')); // no_result
    hooks.transform(mk('t', 'not json')); // exception
    await Promise.resolve(); // the SQL, right after publish
    await turn(); // the actions
    assert.deepEqual(engine.metrics('r'), {
      matched: 3, passed: 1, failed: 2, 'failed.exception': 1, 'failed.no_result': 1,
      'actions.total': 2, 'actions.success': 1, 'actions.failed': 1, 'actions.failed.out_of_service': 0, 'actions.failed.unknown': 1,
    });
  });

  it('a message republished by a rule does not trigger that rule\'s republish again, but other rules see it', async () => {
    const { hooks, engine, published } = setup({
      a: { sql: 'SELECT payload FROM "x/#"', actions: [{ function: 'republish', args: { topic: 'x/a', payload: '${payload}a' } }] },
      b: { sql: 'SELECT payload FROM "x/a"', actions: [{ function: 'republish', args: { topic: 'x/b', payload: '${payload}b' } }] },
    });
    hooks.transform(mk('x/start', '-'));
    for (let i = 0; i < 5; i++) await turn();
    // x/start → a → x/a; on x/a, a's own republish is refused while b's goes on (x/b); on x/b a
    // republishes again: only the same rule is stopped, as in EMQX (a two-rule cycle keeps going).
    assert.deepEqual(published.slice(0, 3).map((m) => [m.topic, m.payload.toString()]), [['x/a', '-a'], ['x/b', '-ab'], ['x/a', '-aba']]);
    assert.ok(engine.metrics('a')!['actions.failed'] >= 1);
    engine.stop();
  });
});
