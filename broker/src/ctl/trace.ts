/**
 * Log traces (/api/v5/trace): `trace` lists them; `trace start NAME --clientid C | --topic T |
 * --ip A [--start T] [--end T] [--payload-encode text|hex|hidden] [--formatter text|json]`,
 * `trace stop NAME`, `trace delete NAME`; `trace log NAME [--node N] [--position P] [--bytes B]`
 * prints a page of a node's file (and where the next page starts, on stderr); `trace download NAME
 * --output FILE [--node N]` saves the ZIP of every node's file (or one node's).
 */
import { writeFileSync } from 'node:fs';
import { intOpt, need, printJson, type Args, type Command, type Ctx } from './command.js';
import { CtlError, seg, usageError } from './http.js';
import { rowsTable, type Column } from './table.js';

type Row = Record<string, unknown>;

const KINDS = { clientid: 'clientid', topic: 'topic', ip: 'ip_address' } as const;

const sizeOf = (r: Row): number => Object.values((r.log_size ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);

const TRACE_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'NAME', get: (r) => r.name }, { head: 'TYPE', get: (r) => r.type },
  { head: 'FILTER', get: (r) => r[String(r.type)] }, { head: 'STATUS', get: (r) => r.status },
  { head: 'START', get: (r) => r.start_at }, { head: 'END', get: (r) => r.end_at },
  { head: 'BYTES', get: (r) => sizeOf(r) },
];

async function start(ctx: Ctx, a: Args): Promise<number> {
  const name = need(a, 2, 'NAME');
  const given = (Object.keys(KINDS) as Array<keyof typeof KINDS>).filter((k) => a.opts.has(k));
  if (given.length !== 1) throw usageError('trace start needs exactly one of --clientid C, --topic T, --ip A');
  const type = KINDS[given[0]!];
  const body: Row = { name, type, [type]: a.opts.get(given[0]!) };
  if (a.opts.has('start')) body.start_at = a.opts.get('start');
  if (a.opts.has('end')) body.end_at = a.opts.get('end');
  if (a.opts.has('payload-encode')) body.payload_encode = a.opts.get('payload-encode');
  if (a.opts.has('formatter')) body.formatter = a.opts.get('formatter');
  const got = (await ctx.api.request('POST', '/api/v5/trace', body)).body as Row;
  if (ctx.json) printJson(ctx, got);
  else ctx.out(rowsTable(TRACE_COLUMNS, [got]));
  return 0;
}

async function log(ctx: Ctx, a: Args): Promise<number> {
  const name = need(a, 2, 'NAME');
  const q = new URLSearchParams();
  const position = intOpt(a, 'position', 0);
  const bytes = intOpt(a, 'bytes');
  if (position !== undefined) q.set('position', String(position));
  if (bytes !== undefined) q.set('bytes', String(bytes));
  if (a.opts.has('node')) q.set('node', a.opts.get('node')!);
  const s = q.toString();
  const got = await ctx.api.get(`/api/v5/trace/${seg(name)}/log${s ? '?' + s : ''}`) as { items: string; meta: { position: number; bytes: number; hint?: string } };
  if (ctx.json) { printJson(ctx, got); return 0; }
  if (got.items !== '') ctx.out(got.items.replace(/\n$/, ''));
  ctx.note(got.meta.hint === 'eof' ? `end of the file at byte ${got.meta.position}` : `more from --position ${got.meta.position}`);
  return 0;
}

async function download(ctx: Ctx, a: Args): Promise<number> {
  const name = need(a, 2, 'NAME');
  const file = a.opts.get('output');
  if (file === undefined || file === '') throw usageError('trace download needs --output FILE');
  const q = a.opts.has('node') ? `?node=${encodeURIComponent(a.opts.get('node')!)}` : '';
  const zip = await ctx.api.bytes(`/api/v5/trace/${seg(name)}/download${q}`);
  try {
    writeFileSync(file, zip);
  } catch (err) {
    throw new CtlError(`cannot write ${file}: ${(err as Error).message}`, 1);
  }
  if (ctx.json) printJson(ctx, { file, bytes: zip.length });
  else ctx.out(`saved ${zip.length} bytes to ${file}`);
  return 0;
}

export const traceCommands: Command[] = [{
  names: ['trace'],
  usage: 'trace [start NAME --clientid C|--topic T|--ip A [--start T] [--end T] [--payload-encode text|hex|hidden] [--formatter text|json] | stop NAME | delete NAME | log NAME [--node N] [--position P] [--bytes B] | download NAME --output FILE [--node N]]',
  options: ['clientid', 'topic', 'ip', 'start', 'end', 'payload-encode', 'formatter', 'node', 'position', 'bytes', 'output'],
  async run(ctx, a) {
    const sub = a.pos[1];
    switch (sub) {
      case undefined: {
        const rows = (await ctx.api.get('/api/v5/trace')) as Row[];
        if (ctx.json) printJson(ctx, rows);
        else ctx.out(rowsTable(TRACE_COLUMNS, rows));
        return 0;
      }
      case 'start': return start(ctx, a);
      case 'stop': case 'delete': {
        const name = need(a, 2, 'NAME');
        const got = sub === 'stop'
          ? (await ctx.api.request('PUT', `/api/v5/trace/${seg(name)}/stop`, {})).body
          : (await ctx.api.request('DELETE', `/api/v5/trace/${seg(name)}`)).body;
        if (ctx.json) printJson(ctx, got ?? { deleted: name });
        else ctx.out(`${sub === 'stop' ? 'stopped' : 'deleted'} trace ${name}`);
        return 0;
      }
      case 'log': return log(ctx, a);
      case 'download': return download(ctx, a);
      default: throw usageError(`unknown trace command ${sub}`);
    }
  },
}];
