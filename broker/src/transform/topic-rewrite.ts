/**
 * Topic rewrite, as EMQX 5's `rewrite = [{action, source_topic, re, dest_topic}]`: a PUBLISH,
 * SUBSCRIBE or UNSUBSCRIBE topic matching a rule's `source_topic` filter is matched against its
 * regular expression `re`, and `dest_topic` — with `$1`… for the captures and `${clientid}`,
 * `${username}` for the client — becomes the topic.
 *
 * EMQX's semantics, kept on purpose because configurations move over unchanged:
 * - the rules are tried from the last one in the file to the first (EMQX reads the list in
 *   reverse); the first whose filter matches decides;
 * - when that rule's regular expression does not match, the topic stays as it is: no other rule
 *   is tried;
 * - authorization has already checked the topic the client sent (EMQX: "authorization checks
 *   are performed before the topic is rewritten");
 * - `$share/group/` and `$queue/` prefixes are kept, only the topic part is rewritten;
 * - a `${clientid}` or `${username}` the client does not have (no username) is left as written.
 *
 * Published messages are rewritten in the `message.publish` hook at high priority, so retained
 * storage, routing and the rule engine all see the new topic.
 */
import type { Hooks } from '../hooks.js';
import type { Message } from '../types.js';
import { topicMatches, validTopicFilter, validTopicName } from '../router/index.js';

export interface RewriteRule {
  readonly action: 'publish' | 'subscribe' | 'all';
  readonly source_topic: string;
  readonly re: string;
  readonly dest_topic: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ACTIONS = ['publish', 'subscribe', 'all'];
const FIELDS = ['action', 'source_topic', 're', 'dest_topic'];

/** The config schema's check of `rewrite`: every problem names the rule (`rewrite[2].re`). */
export function parseRewriteRules(v: unknown): Parsed<RewriteRule[]> {
  if (v === undefined || v === null) return { ok: true, value: [] };
  if (!Array.isArray(v)) return { ok: false, error: 'expected a list of {action, source_topic, re, dest_topic}' };
  const out: RewriteRule[] = [];
  for (let i = 0; i < v.length; i++) {
    const at = `rewrite[${i}]`;
    const r = v[i] as Record<string, unknown>;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return { ok: false, error: `${at}: expected {action, source_topic, re, dest_topic}` };
    for (const k of Object.keys(r)) if (!FIELDS.includes(k)) return { ok: false, error: `${at}: unknown key '${k}' (known: ${FIELDS.join(', ')})` };
    for (const k of FIELDS) if (typeof r[k] !== 'string' || r[k] === '') return { ok: false, error: `${at}.${k}: required, a non-empty string` };
    const rule = r as unknown as RewriteRule;
    if (!ACTIONS.includes(rule.action)) return { ok: false, error: `${at}.action: '${rule.action}' is not publish, subscribe or all` };
    if (!validTopicFilter(rule.source_topic, Infinity)) return { ok: false, error: `${at}.source_topic: '${rule.source_topic}' is not a valid topic filter` };
    try { new RegExp(rule.re); } catch (err) { return { ok: false, error: `${at}.re: ${(err as Error).message}` }; }
    // As EMQX's validator: a destination for publishes must be a topic name.
    if (rule.action !== 'subscribe' && /[+#]/.test(rule.dest_topic)) return { ok: false, error: `${at}.dest_topic: '${rule.dest_topic}' holds a wildcard; a publish cannot go to a filter` };
    out.push({ action: rule.action, source_topic: rule.source_topic, re: rule.re, dest_topic: rule.dest_topic });
  }
  return { ok: true, value: out };
}

interface Compiled { filter: string; re: RegExp; dest: string; usesClient: boolean }

/** One direction's rules (publish, or subscribe/unsubscribe), in the order they are tried. */
export class RewriteList {
  private readonly rules: Compiled[];
  constructor(rules: readonly RewriteRule[]) {
    // EMQX tries the last rule in the file first.
    this.rules = [...rules].reverse().map((r) => ({
      filter: r.source_topic, re: new RegExp(r.re), dest: r.dest_topic, usesClient: r.dest_topic.includes('${'),
    }));
  }

  get size(): number { return this.rules.length; }

  /** True when some rule's destination names the client (its username is then looked up). */
  get usesClient(): boolean { return this.rules.some((r) => r.usesClient); }

  /** The rewritten topic, or `topic` itself when no rule rewrites it. */
  rewrite(topic: string, clientId: string, username: string | null): string {
    for (const r of this.rules) {
      if (!topicMatches(r.filter, topic)) continue;
      const m = r.re.exec(topic);
      if (m === null) return topic;
      let out = r.dest;
      if (r.usesClient) {
        // EMQX leaves a placeholder the client has no value for as written.
        if (clientId !== '') out = out.split('${clientid}').join(clientId);
        if (username !== null && username !== '') out = out.split('${username}').join(username);
      }
      // $1 is replaced before $10, as EMQX does: keep captures under ten to avoid the surprise.
      for (let i = 1; i < m.length; i++) out = out.split('$' + i).join(m[i] ?? '');
      return out;
    }
    return topic;
  }
}

export interface RewriteDeps {
  hooks: Hooks;
  maxTopicLevels: number;
  /** The username of a connected client (publishes carry only the client id). */
  username(clientId: string): string | null;
  log: { warn(o: object, m?: string): void };
}

/**
 * Installs the publish rewrite (a `message.publish` callback) and returns the subscribe rewrite
 * for the broker's `rewriteFilter` (null when no rule rewrites subscriptions) and the remover.
 */
export function installTopicRewrite(rules: readonly RewriteRule[], deps: RewriteDeps): {
  rewriteFilter: ((topicFilter: string, client: { clientId: string; username: string | null }) => string) | null;
  remove: () => void;
} {
  const pub = new RewriteList(rules.filter((r) => r.action !== 'subscribe'));
  const sub = new RewriteList(rules.filter((r) => r.action !== 'publish'));
  let remove = (): void => {};
  if (pub.size > 0) {
    const needsUser = pub.usesClient;
    remove = deps.hooks.add('message.publish', (msg: Message) => {
      const t = pub.rewrite(msg.topic, msg.from, needsUser && msg.from !== '' ? deps.username(msg.from) : null);
      if (t === msg.topic) return undefined;
      // A client's username can hold '+' or '#': such a result is not a topic name, and the message keeps its own.
      if (!validTopicName(t, deps.maxTopicLevels)) {
        deps.log.warn({ topic: msg.topic, rewritten: t }, 'topic rewrite made an invalid topic name; message kept on its topic');
        return undefined;
      }
      // In place: the message keeps its identity (the rule engine tags republished messages by it).
      msg.topic = t;
      return undefined;
    }, 1000);
  }
  return {
    rewriteFilter: sub.size === 0 ? null : (topicFilter, client) => sub.rewrite(topicFilter, client.clientId, client.username),
    remove,
  };
}
