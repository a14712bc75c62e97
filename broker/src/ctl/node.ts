/**
 * The node and the cluster: `status`, `stats`, `metrics`, `cluster` (alias `nodes`), `listeners`,
 * `listener start|stop|restart ID`, `drain`.
 */
import { need, printJson, type Args, type Command, type Ctx } from './command.js';
import { seg, usageError } from './http.js';
import { countersTable, fieldsTable, formatUptime, nodesTable, rowsTable, type Column } from './table.js';

type Row = Record<string, unknown>;

const LISTENER_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'ID', get: (r) => r.id }, { head: 'TRANSPORT', get: (r) => r.transport }, { head: 'BIND', get: (r) => r.bind },
  { head: 'PORT', get: (r) => (r.port === 0 ? null : r.port) }, { head: 'RUNNING', get: (r) => (r.running ? 'yes' : 'no') },
  { head: 'CONNECTIONS', get: (r) => r.currentConnections }, { head: 'MAX', get: (r) => r.maxConnections },
  { head: 'ACCEPTED', get: (r) => r.accepted }, { head: 'REJECTED', get: (r) => r.rejected },
];

const ACTIONS = ['start', 'stop', 'restart'];

/** `listener update ID --…`: PUT /api/v5/listeners/{id} with the options given (config names and units). */
async function update(ctx: Ctx, a: Args): Promise<number> {
  const id = need(a, 2, 'listener ID (type:name, e.g. tcp:default)');
  const body: Row = {};
  if (a.opts.has('bind')) body.bind = a.opts.get('bind');
  const max = a.opts.get('max-connections');
  if (max !== undefined) {
    if (max !== 'infinity' && !/^\d+$/.test(max)) throw usageError(`--max-connections is a whole number or infinity, not ${max}`);
    body.max_connections = max === 'infinity' ? max : Number(max);
  }
  if (a.opts.has('max-conn-rate')) body.max_conn_rate = a.opts.get('max-conn-rate');
  if (Object.keys(body).length === 0) throw usageError('listener update needs --bind, --max-connections or --max-conn-rate');
  const row = (await ctx.api.request('PUT', `/api/v5/listeners/${seg(id)}`, body)).body as Row;
  if (ctx.json) printJson(ctx, row);
  else ctx.out(rowsTable(LISTENER_COLUMNS, [row]));
  return 0;
}

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
      const { status, body } = await ctx.api.request('GET', '/api/v5/status', undefined, { accept: [503] });
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
    names: ['listener'], usage: 'listener start|stop|restart ID | listener update ID [--bind B] [--max-connections N|infinity] [--max-conn-rate R]',
    options: ['bind', 'max-connections', 'max-conn-rate'],
    async run(ctx, a) {
      const action = need(a, 1, 'start|stop|restart|update');
      if (action === 'update') return update(ctx, a);
      if (!ACTIONS.includes(action)) throw usageError(`listener ${action}: expected start, stop, restart or update`);
      if (a.opts.size > (a.opts.has('api') ? 1 : 0)) throw usageError(`listener ${action} takes no options`);
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
      // As long as the node takes to send its clients away.
      printJson(ctx, (await ctx.api.request('POST', '/api/v5/node/drain', {}, { timeoutMs: null })).body);
      return 0;
    },
  },
];
