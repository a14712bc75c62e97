/**
 * Micro benchmark of rule SQL evaluation (not a test): what one compiled rule costs per message,
 * over columns built once per message, and what building those columns costs.
 *
 *   node --import tsx bench/micro/rule-sql.ts        (about 5 s; BENCH_MS per case, default 500)
 *
 * Figures are nanoseconds of this process's CPU time (user + system) per operation, which other
 * work on a shared machine disturbs less than wall time. They go to docs/rules-sql.md.
 */
import { performance } from 'node:perf_hooks';
import { compileRule, messageColumns, type Columns } from '../../broker/src/rules/sql/index.js';
import type { ClientInfo } from '../../broker/src/hooks.js';
import type { Message } from '../../broker/src/types.js';

const BUDGET_MS = Number(process.env.BENCH_MS ?? 500);

function measure(label: string, op: (i: number) => unknown): void {
  let ops = 0;
  let sink = 0;
  for (let i = 0; i < 20_000; i++) if (op(i)) sink++; // warm up: let V8 optimise the closures
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < BUDGET_MS) {
    for (let k = 0; k < 2000; k++) if (op(k)) sink++;
    ops += 2000;
  }
  const cpu = process.cpuUsage(c0);
  const ns = ((cpu.user + cpu.system) * 1000) / ops;
  console.log(`${label.padEnd(78)} ${ns.toFixed(0).padStart(6)} ns/op  (${sink > 0 ? 'some passed' : 'none passed'})`);
}

const client: ClientInfo = {
  clientId: 'dev-0001', username: 'u1', peerHost: '10.0.0.7', peerPort: 51234, listener: 'tcp:default',
  protocol: 'mqtt', protocolVersion: 5, isSuperuser: false,
};
const msg = (i: number, payload: string): Message => ({
  id: i, topic: `sensors/${i % 100}/temp`, payload: Buffer.from(payload), qos: (i % 2) as 0 | 1, retain: false,
  properties: null, from: client.clientId, timestamp: 1700000000000 + i, expiresAt: 0,
});

const small = msg(1, '{"temp": 31.5, "hum": 40, "id": "dev-0001"}');
const cols: Columns[] = [0, 1].map((q) => messageColumns({ ...small, qos: q as 0 | 1 }, client, 'petrel@127.0.0.1'));

measure('messageColumns(msg, client, node)  (once per message, shared by all rules)', (i) => messageColumns(small, client, 'n', i).qos);

const cases: [string, string][] = [
  ['WHERE qos = 1, false half the time', 'SELECT clientid FROM "sensors/#" WHERE qos = 1 and username = \'u2\''],
  ['WHERE qos = 1 (always false)', 'SELECT * FROM "sensors/#" WHERE qos = 5'],
  ["WHERE topic =~ 'sensors/+/temp' and username = 'u1' (true), SELECT clientid, qos", "SELECT clientid, qos FROM \"sensors/#\" WHERE topic =~ 'sensors/+/temp' and username = 'u1'"],
  ['SELECT * WHERE qos = 1 (true half the time: copies the columns)', 'SELECT * FROM "sensors/#" WHERE qos = 1'],
  ['WHERE payload.temp > 30 (decodes the JSON payload)', 'SELECT payload.temp as t, clientid FROM "sensors/#" WHERE payload.temp > 30'],
  ["CASE + arithmetic + concat, no WHERE", "SELECT CASE WHEN qos = 1 THEN 'one' ELSE 'zero' END AS q, qos * 10 + 1 AS n, clientid + '/' + username AS who FROM \"sensors/#\""],
];
for (const [label, sql] of cases) {
  const rule = compileRule(sql, {});
  measure(`run: ${label}`, (i) => rule.run(cols[i & 1]!).status === 'passed');
}

const rule = compileRule('SELECT * FROM "sensors/+/temp", "alerts/#", "exact/topic"', {});
measure("matches(topic) with 3 FROM filters", (i) => rule.matches(i & 1 ? 'sensors/12/temp' : 'other/12/temp'));
