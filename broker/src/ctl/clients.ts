/**
 * Clients and subscriptions: `clients` (EMQX's filters), `client ID` (the client or its offline
 * session, with its subscriptions), `kick ID`, `subscriptions`.
 */
import { listCommand, need, printJson, type Command } from './command.js';
import { seg, usageError } from './http.js';
import { fieldsTable, rowsTable, type Column } from './table.js';

type Row = Record<string, unknown>;

const address = (r: Row): string | null => (r.ip_address == null ? null : `${String(r.ip_address)}:${String(r.port ?? '')}`);
/** MQTT's protocol levels as people name the versions; other protocols (gateways) as they report them. */
const MQTT_VERSIONS: Readonly<Record<string, string>> = { 3: '3.1', 4: '3.1.1', 5: '5' };
const proto = (r: Row): string | null => {
  if (r.proto_name == null) return null;
  const v = String(r.proto_ver ?? '');
  return `${String(r.proto_name)} ${r.proto_name === 'MQTT' || r.proto_name === 'MQIsdp' ? MQTT_VERSIONS[v] ?? v : v}`.trim();
};

const CLIENT_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'CLIENTID', get: (r) => r.clientid }, { head: 'USERNAME', get: (r) => r.username }, { head: 'ADDRESS', get: address },
  { head: 'PROTO', get: proto }, { head: 'STATE', get: (r) => (r.connected ? 'connected' : 'disconnected') },
  { head: 'SUBS', get: (r) => r.subscriptions_cnt }, { head: 'INFLIGHT', get: (r) => r.inflight_cnt }, { head: 'MQUEUE', get: (r) => r.mqueue_len },
  { head: 'NODE', get: (r) => r.node }, { head: 'CONNECTED_AT', get: (r) => r.connected_at },
];

const SUB_COLUMNS: ReadonlyArray<Column<Row>> = [
  { head: 'CLIENTID', get: (r) => r.clientid }, { head: 'TOPIC', get: (r) => r.topic }, { head: 'QOS', get: (r) => r.qos },
  { head: 'NL', get: (r) => r.nl }, { head: 'RAP', get: (r) => r.rap }, { head: 'RH', get: (r) => r.rh }, { head: 'NODE', get: (r) => r.node },
];

const CONN_STATES = ['connected', 'disconnected'];

export const clientCommands: Command[] = [
  {
    names: ['clients'], usage: 'clients [--node N] [--username U] [--ip IP] [--like-clientid S] [--conn-state connected|disconnected] [--page N] [--limit N] [--all]',
    options: ['node', 'username', 'ip', 'like-clientid', 'conn-state', 'page', 'limit'], flags: ['all'],
    run(ctx, a) {
      const state = a.opts.get('conn-state');
      if (state !== undefined && !CONN_STATES.includes(state)) throw usageError(`--conn-state is connected or disconnected, not ${state}`);
      return listCommand(ctx, a, '/api/v5/clients', {
        node: a.opts.get('node'), username: a.opts.get('username'), ip_address: a.opts.get('ip'),
        like_clientid: a.opts.get('like-clientid'), conn_state: state,
      }, CLIENT_COLUMNS);
    },
  },
  {
    names: ['client'], usage: 'client CLIENTID',
    async run(ctx, a) {
      const id = need(a, 1, 'CLIENTID');
      const client = await ctx.api.get(`/api/v5/clients/${seg(id)}`) as Row;
      const subscriptions = await ctx.api.get(`/api/v5/clients/${seg(id)}/subscriptions`) as Row[];
      if (ctx.json) { printJson(ctx, { client, subscriptions }); return 0; }
      ctx.out(fieldsTable(client) + '\n\n' + rowsTable(SUB_COLUMNS.filter((c) => c.head !== 'CLIENTID' && c.head !== 'NODE'), subscriptions));
      return 0;
    },
  },
  {
    names: ['kick'], usage: 'kick CLIENTID',
    async run(ctx, a) {
      const id = need(a, 1, 'CLIENTID');
      await ctx.api.request('DELETE', `/api/v5/clients/${seg(id)}`);
      if (ctx.json) printJson(ctx, { kicked: id });
      else ctx.out(`kicked ${id}`);
      return 0;
    },
  },
  {
    names: ['subscriptions'], usage: 'subscriptions [--clientid C] [--topic T] [--qos Q] [--node N] [--page N] [--limit N] [--all]',
    options: ['clientid', 'topic', 'qos', 'node', 'page', 'limit'], flags: ['all'],
    run(ctx, a) {
      const qos = a.opts.get('qos');
      if (qos !== undefined && !['0', '1', '2'].includes(qos)) throw usageError(`--qos is 0, 1 or 2, not ${qos}`);
      return listCommand(ctx, a, '/api/v5/subscriptions', {
        clientid: a.opts.get('clientid'), topic: a.opts.get('topic'), qos, node: a.opts.get('node'),
      }, SUB_COLUMNS);
    },
  },
];
