/**
 * The node and the cluster: `status`, `stats`, `metrics`, `cluster` (alias `nodes`), `listeners`,
 * `listener start|stop|restart ID`, `drain`.
 */
import { need, printJson, type Command } from './command.js';
import { seg, usageError } from './http.js';
import { countersTable, fieldsTable, formatUptime, nodesTable, rowsTable, type Column } from './table.js';

type Row = Record<string, unknown>;

const LISTENER_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'ID', get: (r) => r.id }, { head: 'TRANSPORT', get: (r) => r.transport }, { head: 'BIND', get: (r) => r.bind },
  { head: 'PORT', get: (r) => r.port }, { head: 'RUNNING', get: (r) => (r.running ? 'yes' : 'no') },
  { head: 'CONNECTIONS', get: (r) => r.currentConnections }, { head: 'MAX', get: (r) => r.maxConnections },
  { head: 'ACCEPTED', get: (r) => r.accepted }, { head: 'REJECTED', get: (r) => r.rejected },
];

const ACTIONS = ['start', 'stop', 'restart'];

/** Gauges or counters: this node's object as NAME VALUE lines. */
const counters = (path: string): Command['run'] => async (ctx) => {
  const body = await ctx.api.get(path);
  if (ctx.json) printJson(ctx, body);
  else ctx.out(countersTable(body as Row));
  return 0;
};

export const nodeCommands: Command[] = [
  {
    // 503 while the node drains: the answer is shown and the exit code is 1, so scripts can wait on it.
    names: ['status'], usage: 'status',
    async run(ctx) {
      const { status, body } = await ctx.api.request('GET', '/api/v5/status', undefined, [503]);
      const row = body as Row;
      if (ctx.json) printJson(ctx, row);
      else ctx.out(fieldsTable({ ...row, uptime: typeof row.uptime === 'number' ? formatUptime(row.uptime) : row.uptime }));
      return status === 200 ? 0 : 1;
    },
  },
  { names: ['stats'], usage: 'stats', run: counters('/api/v5/stats') },
  { names: ['metrics'], usage: 'metrics', run: counters('/api/v5/metrics') },
  {
    names: ['cluster', 'nodes'], usage: 'cluster (alias nodes)',
    async run(ctx) {
      const body = await ctx.api.get('/api/v5/nodes');
      if (ctx.json) printJson(ctx, body);
      else ctx.out(nodesTable(Array.isArray(body) ? body : []));
      return 0;
    },
  },
  {
    names: ['listeners'], usage: 'listeners',
    async run(ctx) {
      const body = await ctx.api.get('/api/v5/listeners');
      if (ctx.json) printJson(ctx, body);
      else ctx.out(rowsTable(LISTENER_COLUMNS, body as Row[]));
      return 0;
    },
  },
  {
    names: ['listener'], usage: 'listener start|stop|restart ID',
    async run(ctx, a) {
      const action = need(a, 1, 'start|stop|restart');
      if (!ACTIONS.includes(action)) throw usageError(`listener ${action}: expected start, stop or restart`);
      const id = need(a, 2, 'listener ID (type:name, e.g. tcp:default)');
      await ctx.api.request('PUT', `/api/v5/listeners/${seg(id)}/${action}`);
      if (ctx.json) printJson(ctx, { [action === 'stop' ? 'stopped' : action === 'start' ? 'started' : 'restarted']: id });
      else ctx.out(`listener ${id} ${action === 'stop' ? 'stopped' : action === 'start' ? 'started' : 'restarted'}`);
      return 0;
    },
  },
  {
    names: ['drain'], usage: 'drain',
    async run(ctx) {
      printJson(ctx, (await ctx.api.request('POST', '/api/v5/node/drain', {})).body);
      return 0;
    },
  },
];
