/** Topics and messages: `topics` (every node's routes), `retained` (without payloads), `publish`. */
import { listCommand, need, printJson, type Command } from './command.js';
import { usageError } from './http.js';
import type { Column } from './table.js';

type Row = Record<string, unknown>;

const TOPIC_COLUMNS: ReadonlyArray<Column<Row>> = [{ head: 'TOPIC', get: (r) => r.topic }, { head: 'NODE', get: (r) => r.node }];

const RETAINED_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'TOPIC', get: (r) => r.topic }, { head: 'QOS', get: (r) => r.qos }, { head: 'FROM', get: (r) => r.from_clientid },
  { head: 'PUBLISHED_AT', get: (r) => r.publish_at }, { head: 'MSGID', get: (r) => r.msgid },
];

export const topicCommands: Command[] = [
  {
    names: ['topics'], usage: 'topics [--page N] [--limit N] [--all]', options: ['page', 'limit'], flags: ['all'],
    run: (ctx, a) => listCommand(ctx, a, '/api/v5/topics', {}, TOPIC_COLUMNS),
  },
  {
    names: ['retained'], usage: 'retained [--page N] [--limit N] [--all]', options: ['page', 'limit'], flags: ['all'],
    run: (ctx, a) => listCommand(ctx, a, '/api/v5/retainer/messages', {}, RETAINED_COLUMNS),
  },
  {
    // Prints the API's answer ({id} or, when nothing matched, {id, reason_code, message}) as JSON.
    names: ['publish'], usage: 'publish TOPIC PAYLOAD [QOS] [--retain]', flags: ['retain'],
    async run(ctx, a) {
      const topic = need(a, 1, 'TOPIC');
      const qos = a.pos[3] ?? '0';
      if (!['0', '1', '2'].includes(qos)) throw usageError(`QOS is 0, 1 or 2, not ${qos}`);
      const { body } = await ctx.api.request('POST', '/api/v5/publish', { topic, payload: a.pos[2] ?? '', qos: Number(qos), retain: a.flags.has('retain') });
      printJson(ctx, body);
      return 0;
    },
  },
];
