/**
 * Auto-subscribe, as EMQX 5's `auto_subscribe.topics = [{topic, qos, rh, rap, nl}]`: when a
 * client connects, the broker subscribes it to each topic, with `${clientid}`, `${username}`,
 * `${host}` and `${port}` (the client's address) filled in. The client receives as if it had sent
 * the SUBSCRIBE itself (retained messages per `rh`), without a SUBACK.
 *
 * EMQX's semantics: no authorization check (EMQX checks internal subscriptions only under a
 * hardened security profile); a topic naming `${username}` is skipped for a client without one;
 * `$share/group/…` works. A resumed session that already holds the subscription keeps it, and
 * its options are refreshed.
 */
import type { Broker } from '../broker.js';
import type { ClientInfo } from '../hooks.js';
import type { QoS, Subscription } from '../types.js';
import { parseFilter, validTopicFilter } from '../router/index.js';

export interface AutoSubscribeTopic {
  readonly topic: string;
  readonly qos: QoS;
  readonly rh: 0 | 1 | 2;
  readonly rap: 0 | 1;
  readonly nl: 0 | 1;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const FIELDS = ['topic', 'qos', 'rh', 'rap', 'nl'];
const PLACEHOLDER = /\$\{([^}]*)\}/g;
const KNOWN = ['clientid', 'username', 'host', 'port'];

function intIn(v: unknown, max: number): v is number { return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max; }

/** The config schema's check of `auto_subscribe.topics`; every problem names the entry. */
export function parseAutoSubscribe(v: unknown): Parsed<AutoSubscribeTopic[]> {
  if (v === undefined || v === null) return { ok: true, value: [] };
  if (!Array.isArray(v)) return { ok: false, error: 'expected a list of {topic, qos, rh, rap, nl}' };
  const out: AutoSubscribeTopic[] = [];
  for (let i = 0; i < v.length; i++) {
    const at = `auto_subscribe.topics[${i}]`;
    const t = v[i] as Record<string, unknown>;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) return { ok: false, error: `${at}: expected {topic, qos, rh, rap, nl}` };
    for (const k of Object.keys(t)) if (!FIELDS.includes(k)) return { ok: false, error: `${at}: unknown key '${k}' (known: ${FIELDS.join(', ')})` };
    if (typeof t.topic !== 'string' || t.topic === '') return { ok: false, error: `${at}.topic: required, a non-empty string` };
    for (const [, name] of t.topic.matchAll(PLACEHOLDER)) {
      if (!KNOWN.includes(name!)) return { ok: false, error: `${at}.topic: unknown placeholder '\${${name}}' (known: ${KNOWN.map((k) => `\${${k}}`).join(', ')})` };
    }
    const sample = t.topic.replace(PLACEHOLDER, 'x');
    const pf = parseFilter(sample);
    if (pf.kind === 'invalid' || !validTopicFilter(pf.topicFilter, Infinity)) return { ok: false, error: `${at}.topic: '${t.topic}' is not a valid topic filter` };
    const qos = t.qos ?? 0, rh = t.rh ?? 0, rap = t.rap ?? 0, nl = t.nl ?? 0;
    if (!intIn(qos, 2)) return { ok: false, error: `${at}.qos: ${JSON.stringify(qos)} is not 0, 1 or 2` };
    if (!intIn(rh, 2)) return { ok: false, error: `${at}.rh: ${JSON.stringify(rh)} is not 0, 1 or 2` };
    if (!intIn(rap, 1)) return { ok: false, error: `${at}.rap: ${JSON.stringify(rap)} is not 0 or 1` };
    if (!intIn(nl, 1)) return { ok: false, error: `${at}.nl: ${JSON.stringify(nl)} is not 0 or 1` };
    out.push({ topic: t.topic, qos: qos as QoS, rh: rh as 0 | 1 | 2, rap: rap as 0 | 1, nl: nl as 0 | 1 });
  }
  return { ok: true, value: out };
}

/** The topic for one client, or null when it names a value the client lacks (no username). */
export function fillTopic(topic: string, c: ClientInfo): string | null {
  let missing = false;
  const out = topic.replace(PLACEHOLDER, (_m, name: string) => {
    switch (name) {
      case 'clientid': return c.clientId;
      case 'username': if (c.username === null || c.username === '') missing = true; return c.username ?? '';
      case 'host': return c.peerHost;
      default: return String(c.peerPort);
    }
  });
  return missing ? null : out;
}

/** Subscribes every connecting client to the topics; returns the remover. */
export function installAutoSubscribe(topics: readonly AutoSubscribeTopic[], broker: Broker, maxTopicLevels: number,
  log: { warn(o: object, m?: string): void }): () => void {
  if (topics.length === 0) return () => {};
  return broker.hooks.add('client.connected', (client) => {
    const session = broker.sessions.get(client.clientId);
    if (session === undefined) return;
    let changed = false;
    for (const t of topics) {
      const raw = fillTopic(t.topic, client);
      if (raw === null) continue;
      const pf = parseFilter(raw);
      // A client id or username can hold '+', '#' or too many levels.
      if (pf.kind === 'invalid' || !validTopicFilter(pf.topicFilter, maxTopicLevels) || (pf.group !== null && t.nl === 1)) {
        log.warn({ clientid: client.clientId, topic: raw }, 'auto_subscribe: not a valid topic filter for this client; skipped');
        continue;
      }
      const sub: Subscription = {
        clientId: client.clientId, filter: raw, topicFilter: pf.topicFilter, group: pf.group, exclusive: pf.exclusive,
        options: { qos: t.qos, noLocal: t.nl === 1, retainAsPublished: t.rap === 1, retainHandling: t.rh, subscriptionId: 0 },
      };
      const r = broker.subscribe(session, sub);
      if (r.code >= 0x80) { log.warn({ clientid: client.clientId, topic: raw, reason_code: r.code }, 'auto_subscribe: subscription refused'); continue; }
      changed = true;
      broker.deliverRetained(session, sub, r.isNew);
    }
    if (changed && session.persistent) broker.sessions.save(session);
  });
}
