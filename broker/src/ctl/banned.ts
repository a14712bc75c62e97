/**
 * The banned list: `banned` (paged), `ban --as KIND --who X [--until T] [--reason R]` (connected
 * clients it names are kicked by the node), `unban KIND WHO`. KIND is EMQX's `as`: clientid,
 * username, peerhost, clientid_re, username_re or peerhost_net (a CIDR block).
 */
import { listCommand, need, printJson, type Command } from './command.js';
import { seg, usageError } from './http.js';
import type { Column } from './table.js';

type Row = Record<string, unknown>;

const KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'];

const BAN_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'AS', get: (r) => r.as }, { head: 'WHO', get: (r) => r.who }, { head: 'BY', get: (r) => r.by },
  { head: 'AT', get: (r) => r.at }, { head: 'UNTIL', get: (r) => r.until }, { head: 'REASON', get: (r) => r.reason },
];

const kind = (as: string): string => {
  if (!KINDS.includes(as)) throw usageError(`--as is one of ${KINDS.join(', ')}, not ${as}`);
  return as;
};

export const bannedCommands: Command[] = [
  {
    names: ['banned'], usage: 'banned [--page N] [--limit N] [--all]', options: ['page', 'limit'], flags: ['all'],
    run: (ctx, a) => listCommand(ctx, a, '/api/v5/banned', {}, BAN_COLUMNS),
  },
  {
    names: ['ban'], usage: `ban --as ${KINDS.join('|')} --who X [--until RFC3339] [--reason R]`, options: ['as', 'who', 'until', 'reason'],
    async run(ctx, a) {
      const as = a.opts.get('as');
      const who = a.opts.get('who');
      if (as === undefined || who === undefined || who === '') throw usageError('ban needs --as KIND and --who X');
      const body: Row = { as: kind(as), who };
      if (a.opts.has('until')) body.until = a.opts.get('until');
      if (a.opts.has('reason')) body.reason = a.opts.get('reason');
      const got = (await ctx.api.request('POST', '/api/v5/banned', body)).body as Row;
      if (ctx.json) printJson(ctx, got);
      else ctx.out(`banned ${String(got.as)} ${String(got.who)} until ${String(got.until)}`);
      return 0;
    },
  },
  {
    names: ['unban'], usage: `unban ${KINDS.join('|')} WHO`,
    async run(ctx, a) {
      const as = kind(need(a, 1, 'KIND'));
      const who = need(a, 2, 'WHO');
      await ctx.api.request('DELETE', `/api/v5/banned/${seg(as)}/${seg(who)}`);
      if (ctx.json) printJson(ctx, { unbanned: { as, who } });
      else ctx.out(`unbanned ${as} ${who}`);
      return 0;
    },
  },
];
