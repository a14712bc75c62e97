/**
 * The `$events/…` sources a rule can select from, fed by the broker's notification hooks through
 * `addAsync` (a bounded queue: the broker only enqueues the hook's arguments; the columns are
 * built and the rules run on a later turn).
 *
 * Every EMQX 5 event is fed: client_connected, client_disconnected, client_connack (accepted and
 * refused), client_check_authn_complete, client_check_authz_complete, session_subscribed,
 * session_unsubscribed, message_delivered, message_acked, message_dropped and delivery_dropped.
 * Petrel's `message.dropped` hook reports both drops: with a client id, a message dropped on its
 * way to that subscriber (EMQX's delivery.dropped); without, a message no subscriber took
 * (EMQX's message.dropped, reason 'no_subscribers').
 */
import type { ClientInfo, HookSignatures, Hooks, NotificationHook } from '../hooks.js';
import type { ClientConnection } from '../clients/client-manager.js';
import { clientColumns, deliveryColumns, messageFields, type EventName } from './sql/index.js';

export type EventColumnsOut = Record<string, unknown>;

export interface EventDeps {
  node: string;
  /** The live connection of a client id (its connect details), if any. */
  connection(clientId: string): ClientConnection | undefined;
}

/** Which hook feeds which event, and how its arguments become the event's columns. */
interface Feed<N extends NotificationHook> {
  hook: N;
  build(deps: EventDeps, ...args: Parameters<HookSignatures[N]>): EventColumnsOut | null;
}

const protoName = (c: ClientInfo): string => (c.protocol === 'mqtt' ? (c.protocolVersion === 3 ? 'MQIsdp' : 'MQTT') : c.protocol);

function connection(c: ClientInfo): Record<string, unknown> {
  return { sockname: '', proto_name: protoName(c), proto_ver: c.protocolVersion, client_attrs: {} };
}

function receiver(deps: EventDeps, clientId: string): ClientInfo {
  return deps.connection(clientId)?.info ?? { clientId, username: null, peerHost: '', peerPort: 0, listener: '', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
}

export const FEEDS: { [E in EventName]?: Feed<NotificationHook> } = {
  client_connected: {
    hook: 'client.connected',
    build: (deps, ...[c]: Parameters<HookSignatures['client.connected']>) => {
      const conn = deps.connection(c.clientId);
      const now = Date.now();
      return {
        event: 'client.connected', ...clientColumns(c), ...connection(c), mountpoint: undefined,
        keepalive: conn?.keepalive ?? 0, clean_start: conn?.cleanStart ?? true, expiry_interval: 0, is_bridge: false,
        conn_props: {}, connected_at: conn?.connectedAt ?? now, timestamp: now, node: deps.node,
      };
    },
  } as Feed<'client.connected'> as Feed<NotificationHook>,
  client_disconnected: {
    hook: 'client.disconnected',
    build: (deps, ...[c, reason]: Parameters<HookSignatures['client.disconnected']>) => {
      const now = Date.now();
      const conn = deps.connection(c.clientId);
      return {
        event: 'client.disconnected', ...clientColumns(c), ...connection(c), reason, disconn_props: {},
        connected_at: conn?.info === c ? conn.connectedAt : now, disconnected_at: now, timestamp: now, node: deps.node,
      };
    },
  } as Feed<'client.disconnected'> as Feed<NotificationHook>,
  session_subscribed: {
    hook: 'session.subscribed',
    build: (deps, ...[clientId, sub]: Parameters<HookSignatures['session.subscribed']>) => ({
      event: 'session.subscribed', ...clientColumns(receiver(deps, clientId)), topic: sub.filter, qos: sub.options.qos,
      sub_props: sub.options.subscriptionId > 0 ? { 'Subscription-Identifier': sub.options.subscriptionId } : {},
      client_attrs: {}, timestamp: Date.now(), node: deps.node,
    }),
  } as Feed<'session.subscribed'> as Feed<NotificationHook>,
  session_unsubscribed: {
    hook: 'session.unsubscribed',
    build: (deps, ...[clientId, filter]: Parameters<HookSignatures['session.unsubscribed']>) => ({
      event: 'session.unsubscribed', ...clientColumns(receiver(deps, clientId)), topic: filter, qos: 0,
      unsub_props: {}, client_attrs: {}, timestamp: Date.now(), node: deps.node,
    }),
  } as Feed<'session.unsubscribed'> as Feed<NotificationHook>,
  message_delivered: {
    hook: 'message.delivered',
    build: (deps, ...[clientId, msg]: Parameters<HookSignatures['message.delivered']>) =>
      deliveryColumns('message.delivered', msg, receiver(deps, clientId), deps.node, { fromUsername: deps.connection(msg.from)?.info.username ?? undefined }),
  } as Feed<'message.delivered'> as Feed<NotificationHook>,
  message_acked: {
    hook: 'message.acked',
    build: (deps, ...[clientId, msg]: Parameters<HookSignatures['message.acked']>) =>
      deliveryColumns('message.acked', msg, receiver(deps, clientId), deps.node, { fromUsername: deps.connection(msg.from)?.info.username ?? undefined }),
  } as Feed<'message.acked'> as Feed<NotificationHook>,
  client_connack: {
    hook: 'client.connack',
    build: (deps, ...[c, reason, conn]: Parameters<HookSignatures['client.connack']>) => {
      const cols = clientColumns(c);
      return {
        event: 'client.connack', reason_code: reason, clientid: cols.clientid, username: cols.username, peername: cols.peername,
        ...connection(c), keepalive: conn.keepalive, clean_start: conn.cleanStart, expiry_interval: conn.expiryInterval,
        connected_at: conn.connectedAt === 0 ? undefined : conn.connectedAt, conn_props: {}, timestamp: Date.now(), node: deps.node,
      };
    },
  } as Feed<'client.connack'> as Feed<NotificationHook>,
  client_check_authn_complete: {
    hook: 'client.check_authn_complete',
    build: (deps, ...[c, o]: Parameters<HookSignatures['client.check_authn_complete']>) => {
      const cols = clientColumns(c);
      return {
        event: 'client.check_authn_complete', clientid: cols.clientid, username: cols.username, peername: cols.peername,
        reason_code: o.reasonCode, is_superuser: o.isSuperuser, is_anonymous: o.isAnonymous, client_attrs: {}, timestamp: Date.now(), node: deps.node,
      };
    },
  } as Feed<'client.check_authn_complete'> as Feed<NotificationHook>,
  client_check_authz_complete: {
    hook: 'client.check_authz_complete',
    build: (deps, ...[c, action, topic, result, source]: Parameters<HookSignatures['client.check_authz_complete']>) => ({
      event: 'client.check_authz_complete', ...clientColumns(c), topic, action, authz_source: source, result,
      client_attrs: {}, timestamp: Date.now(), node: deps.node,
    }),
  } as Feed<'client.check_authz_complete'> as Feed<NotificationHook>,
  message_dropped: {
    hook: 'message.dropped',
    build: (deps, ...[msg, clientId, reason]: Parameters<HookSignatures['message.dropped']>) => (clientId !== null ? null : {
      event: 'message.dropped', ...messageFields(msg), reason,
      ...clientColumns(msg.from === '' ? null : deps.connection(msg.from)?.info ?? null), clientid: msg.from,
      timestamp: Date.now(), node: deps.node,
    }),
  } as Feed<'message.dropped'> as Feed<NotificationHook>,
  delivery_dropped: {
    hook: 'message.dropped',
    build: (deps, ...[msg, clientId, reason]: Parameters<HookSignatures['message.dropped']>) => (clientId === null ? null
      : deliveryColumns('delivery.dropped', msg, receiver(deps, clientId), deps.node, { reason, fromUsername: deps.connection(msg.from)?.info.username ?? undefined })),
  } as Feed<'message.dropped'> as Feed<NotificationHook>,
};

/**
 * Subscribes `onEvent` to the hook behind each event in `events` (those with a feed). Returns
 * the dispatches (for their drop counters) and a function that removes every callback.
 */
export function feedEvents(hooks: Hooks, events: ReadonlySet<EventName>, deps: EventDeps, maxQueue: number,
  onEvent: (event: EventName, columns: EventColumnsOut) => void): { dropped: () => number; remove: () => void } {
  const parts: Array<ReturnType<Hooks['addAsync']>> = [];
  for (const e of events) {
    const feed = FEEDS[e];
    if (feed === undefined) continue;
    const cb = ((...args: unknown[]) => {
      const cols = (feed.build as (d: EventDeps, ...a: unknown[]) => EventColumnsOut | null)(deps, ...args);
      if (cols !== null) onEvent(e, cols);
    }) as HookSignatures[NotificationHook];
    parts.push(hooks.addAsync(feed.hook, cb, { maxQueue, priority: -1000 }));
  }
  return {
    dropped: () => parts.reduce((n, p) => n + p.dispatch.dropped, 0),
    remove: () => { for (const p of parts) p.remove(); },
  };
}
