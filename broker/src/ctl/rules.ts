/**
 * Rules: `rules` (each with its status and counters, one metrics call per rule on the page),
 * `rule ID` (the rule and its counters), `rule enable|disable ID` (PUT enable).
 */
import { listCommand, need, printJson, type Command, type Ctx } from './command.js';
import { seg } from './http.js';
import { countersTable, fieldsTable, type Column } from './table.js';

type Row = Record<string, unknown>;

const status = (r: Row): string => (r.enable === false ? 'disabled' : 'enabled');
const metric = (name: string) => (r: Row): unknown => (r.metrics as Record<string, unknown> | undefined)?.[name];

const RULE_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'ID', get: (r) => r.id }, { head: 'NAME', get: (r) => r.name }, { head: 'STATUS', get: status }, { head: 'FROM', get: (r) => r.from },
  { head: 'MATCHED', get: metric('matched') }, { head: 'PASSED', get: metric('passed') }, { head: 'FAILED', get: metric('failed') },
  { head: 'CREATED_AT', get: (r) => r.created_at },
];

const metricsOf = async (ctx: Ctx, id: string): Promise<Record<string, unknown>> =>
  ((await ctx.api.get(`/api/v5/rules/${seg(id)}/metrics`)) as { metrics: Record<string, unknown> }).metrics;

async function setEnable(ctx: Ctx, id: string, enable: boolean): Promise<number> {
  const { body } = await ctx.api.request('PUT', `/api/v5/rules/${seg(id)}`, { enable });
  if (ctx.json) printJson(ctx, body);
  else ctx.out(`rule ${id} ${enable ? 'enabled' : 'disabled'}`);
  return 0;
}

export const ruleCommands: Command[] = [
  {
    names: ['rules'], usage: 'rules [--page N] [--limit N] [--all]', options: ['page', 'limit'], flags: ['all'],
    // The table's MATCHED, PASSED and FAILED come from each listed rule's metrics; --json is the list as the API answers it.
    run: (ctx, a) => listCommand(ctx, a, '/api/v5/rules', {}, RULE_COLUMNS, async (rows) => {
      for (const r of rows) r.metrics = await metricsOf(ctx, String(r.id));
    }),
  },
  {
    names: ['rule'], usage: 'rule ID | rule enable ID | rule disable ID',
    async run(ctx, a) {
      const first = need(a, 1, 'rule ID (or enable|disable ID)');
      if ((first === 'enable' || first === 'disable') && a.pos[2] !== undefined) return setEnable(ctx, a.pos[2], first === 'enable');
      const rule = await ctx.api.get(`/api/v5/rules/${seg(first)}`) as Row;
      const metrics = await metricsOf(ctx, first);
      if (ctx.json) { printJson(ctx, { rule, metrics }); return 0; }
      ctx.out(fieldsTable({ ...rule, status: status(rule) }, ['id', 'name', 'status', 'sql', 'from', 'actions', 'description', 'created_at']) + '\n\n' + countersTable(metrics));
      return 0;
    },
  },
];
