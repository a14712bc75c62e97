/**
 * The newer parts of the AdminApi over a running node (node-admin.ts has the first ones): a
 * session's queued and in-flight messages, delayed messages, and the configuration by root
 * with the roots that can change while the node runs (log level, authorization settings).
 */
import { isDeepStrictEqual } from 'node:util';
import type { MessageRow, MessagesKind, MessagesPage, MessagesQuery } from './api/routes/client-messages.js';
import { messagesPage } from './api/routes/client-messages.js';
import type { DelayedAdmin, DelayedRow } from './api/routes/delayed.js';
import { masked, type ConfigsAdmin } from './api/routes/configs.js';
import type { AuthzService } from './access/authz/index.js';
import type { Broker } from './broker.js';
import type { Config } from './config/index.js';
import type { Logger } from './log.js';
import type { Message } from './types.js';

export function clientMessages(b: Broker, id: string, kind: MessagesKind, q: MessagesQuery): MessagesPage | null {
  const s = b.sessions.get(id);
  if (s === undefined) return null;
  const all = s.pending();
  const ds = kind === 'inflight' ? all.slice(0, s.inflightCount) : all.slice(s.inflightCount);
  const rows = ds.map((d) => ({ id: d.msg.id, msg: d.msg, qos: d.qos, at: d.sentAt }));
  return messagesPage(rows, q, (r): MessageRow => {
    const row: MessageRow = {
      msgid: String(r.msg.id), topic: r.msg.topic, qos: r.qos, publish_at: r.msg.timestamp, from_clientid: r.msg.from,
      inserted_at: new Date(r.at > 0 ? r.at : r.msg.timestamp).toISOString(),
    };
    if (q.payload !== 'none') {
      const p = r.msg.payload.length > q.maxPayloadBytes ? r.msg.payload.subarray(0, q.maxPayloadBytes) : r.msg.payload;
      row.payload = q.payload === 'base64' ? p.toString('base64') : p.toString('utf8');
    }
    return row;
  });
}

export function delayedAdmin(b: Broker, cfg: Config): DelayedAdmin {
  const row = (due: number, msg: Message, withPayload: boolean): DelayedRow => {
    const r: DelayedRow = {
      msgid: String(msg.id), node: cfg.node.name, topic: msg.topic, qos: msg.qos, from_clientid: msg.from,
      publish_at: new Date(msg.timestamp).toISOString(),
      delayed_interval: Math.max(0, Math.round((due - msg.timestamp) / 1000)),
      delayed_remaining: Math.max(0, Math.ceil((due - Date.now()) / 1000)),
      expected_at: new Date(due).toISOString(),
    };
    if (withPayload) r.payload = msg.payload.toString('base64');
    return r;
  };
  const find = (msgid: string) => b.state.listDelayed().find((h) => String(h.msg.id) === msgid);
  return {
    settings: () => ({ enable: cfg.delayed.enable, max_delayed_messages: cfg.delayed.max_delayed_messages }),
    list: () => b.state.listDelayed().map((h) => row(h.due, h.msg, false)),
    get(msgid) { const h = find(msgid); return h === undefined ? null : row(h.due, h.msg, true); },
    delete: (msgid) => /^[0-9]{1,15}$/.test(msgid) && b.state.deleteDelayed(Number(msgid)),
  };
}

const bad = (message: string): Error => Object.assign(new Error(message), { code: 'BAD_REQUEST' });

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * What PUT /api/v5/configs/{root} can change. A body may carry the whole root as GET shows it:
 * fields that cannot change must come back unchanged.
 */
export function configsAdmin(cfg: Config, log: Logger, authz: AuthzService): ConfigsAdmin {
  const all = (): Record<string, unknown> => ({
    ...cfg,
    log: { ...cfg.log, level: log.level },
    authorization: { ...cfg.authorization, ...authz.getSettings(), sources: authz.listSources() },
  });
  const settable: Record<string, readonly string[]> = { log: ['level'], authorization: ['no_match', 'deny_action', 'cache'] };
  return {
    all,
    writable: {
      log: { type: 'object', properties: { level: { enum: LEVELS } } },
      authorization: { type: 'object', properties: { no_match: { enum: ['allow', 'deny'] }, deny_action: { enum: ['ignore', 'disconnect'] }, cache: { type: 'object' } } },
    },
    async put(root, body) {
      const now = masked(all()[root]) as Record<string, unknown>;
      for (const [k, v] of Object.entries(body)) {
        if (settable[root]!.includes(k)) continue;
        if (!Object.hasOwn(now, k)) throw bad(`${root}.${k} is not a known field`);
        if (!isDeepStrictEqual(v, now[k])) throw bad(`${root}.${k} cannot change while the node runs (writable: ${settable[root]!.join(', ')})`);
      }
      if (root === 'log') {
        if (body.level === undefined) return;
        if (!(LEVELS as readonly unknown[]).includes(body.level)) throw bad(`log.level must be one of ${LEVELS.join(', ')}`);
        log.level = body.level as string;
        return;
      }
      const s: Record<string, unknown> = {};
      for (const k of settable.authorization!) if (body[k] !== undefined) s[k] = body[k];
      if (s.cache !== undefined && (s.cache === null || typeof s.cache !== 'object' || Array.isArray(s.cache))) throw bad('authorization.cache must be an object');
      try { await authz.putSettings(s); } catch (err) {
        if ((err as { code?: unknown }).code === 'BAD_REQUEST') throw bad((err as Error).message);
        throw err;
      }
    },
  };
}
