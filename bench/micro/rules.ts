/**
 * Micro-benchmark: broker CPU per published message with no rule, one rule whose FROM does not
 * match, a rule whose WHERE is false, and a matching WHERE + republish rule. Not part of the
 * test suite. Run: node --import tsx bench/micro/rules.ts (or node dist/bench/micro/rules.js).
 *
 * A node runs in this process (loopback, port 0, no subscribers, durability none); messages go
 * through node.publish in batches, and each batch's rule evaluation is let drain before the next,
 * so the figure is CPU time (user + system) for publish + hook + evaluation + actions, divided by
 * the messages. Best of BENCH_ROUNDS (3) rounds of BENCH_MESSAGES (200,000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../broker/src/config/index.js';
import { createLogger } from '../../broker/src/log.js';
import { startNode } from '../../broker/src/node.js';

const N = Number(process.env.BENCH_MESSAGES ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = 5_000;
const turn = () => new Promise<void>((r) => setImmediate(r));

const SCENARIOS: Record<string, Record<string, unknown>> = {
  'no rule': {},
  'one rule, FROM does not match': { r: { sql: 'SELECT * FROM "other/#" WHERE payload.temp > 30', actions: [{ function: 'republish', args: { topic: 'alerts/x' } }] } },
  'matching FROM, WHERE false (qos = 2)': { r: { sql: 'SELECT clientid FROM "sensors/#" WHERE qos = 2', actions: [{ function: 'republish', args: { topic: 'alerts/x' } }] } },
  'matching FROM, WHERE payload.temp > 100 (false)': { r: { sql: 'SELECT payload.temp as t FROM "sensors/#" WHERE payload.temp > 100', actions: [{ function: 'republish', args: { topic: 'alerts/x' } }] } },
  'matching FROM, WHERE payload.temp > 30 + republish': { r: { sql: 'SELECT payload.temp as t, topic FROM "sensors/#" WHERE payload.temp > 30', actions: [{ function: 'republish', args: { topic: 'alerts/${topic}', payload: '${t}', qos: 0 } }] } },
};

async function run(name: string, rules: Record<string, unknown>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-bench-rules-'));
  const cfg = loadConfig({ overrides: {
    node: { data_dir: dir }, durability: { mode: 'none' },
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } },
    dashboard: { listeners: { http: { enable: false } } }, log: { level: 'error' },
    rule_engine: { rules },
  } });
  const node = await startNode(cfg, createLogger(cfg.log, { write() {} } as never));
  const payload = Buffer.from(JSON.stringify({ temp: 31.5, hum: 40 }));
  let best = Infinity;
  for (let round = 0; round <= ROUNDS; round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i += BATCH) {
      for (let j = 0; j < BATCH; j++) node.publish('sensors/a/temp', payload);
      do await turn(); while (node.rules.pending > 0);
    }
    const c = process.cpuUsage(c0);
    const ns = ((c.user + c.system) * 1000) / N;
    if (round > 0) best = Math.min(best, ns); // round 0 warms up
  }
  const m = node.rules.metrics('r');
  console.log(`${name.padEnd(52)} ${best.toFixed(0).padStart(6)} ns/msg${m ? `  (matched ${m.matched}, passed ${m.passed}, republished ${m['actions.success']})` : ''}`);
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}

for (const [name, rules] of Object.entries(SCENARIOS)) await run(name, rules);
