/**
 * The pre-authentication gate (`client.connect` hook) for the banned list and flapping
 * detection, and the kick that follows a new ban.
 *
 * The hook is registered only while it has work: flapping detection is on, or the banned list
 * is not empty. A node without bans then costs a CONNECT nothing (connect.ts skips the gate
 * when the hook is inactive). Registration changes only when the list goes from empty to not
 * empty and back.
 *
 * A new ban disconnects every connected client it names, the way the REST kick of
 * /api/v5/clients/{clientid} does (v5: DISCONNECT 0x98, the session discarded) — EMQX kicks
 * only for client id bans; here usernames, addresses, patterns and networks kick too.
 */
import type { ClientInfo, ConnectVerdict, Hooks } from '../hooks.js';
import type { Logger } from '../log.js';
import { banMatcher, formatTime, type Ban, type BannedList } from './banned.js';
import type { FlappingDetector } from './flapping.js';

export interface GuardClients {
  connections(): Iterable<{ readonly info: ClientInfo }>;
  /** The REST API's kick: closes the connection and ends the session. */
  discard(clientId: string): boolean;
}

export interface GuardCounters { 'client.connect.banned': number; 'client.flapping': number }

const BANNED: ConnectVerdict = Object.freeze({ result: 'deny', reason: 'BANNED' });
/** Before authentication and any other connect check. */
const PRIORITY = 1000;

export class ConnectGuard {
  private readonly hooks: Hooks;
  private readonly banned: BannedList;
  private readonly flapping: FlappingDetector | null;
  private readonly clients: GuardClients;
  private readonly counters: GuardCounters;
  private readonly log: Logger;
  private remove: (() => void) | null = null;

  constructor(o: { hooks: Hooks; banned: BannedList; flapping: FlappingDetector | null; clients: GuardClients; counters: GuardCounters; log: Logger }) {
    this.hooks = o.hooks;
    this.banned = o.banned;
    this.flapping = o.flapping;
    this.clients = o.clients;
    this.counters = o.counters;
    this.log = o.log;
    this.banned.onChange = (ban) => { this.sync(); if (ban !== null) this.kick(ban); };
    this.sync();
  }

  /** Registers or removes the hook as the list and flapping detection need it. */
  private sync(): void {
    const want = this.flapping !== null || this.banned.size > 0;
    if (want && this.remove === null) this.remove = this.hooks.add('client.connect', this.gate, PRIORITY);
    else if (!want && this.remove !== null) { this.remove(); this.remove = null; }
  }

  private readonly gate = (client: ClientInfo): ConnectVerdict | undefined => {
    const now = Date.now();
    const ban = this.banned.check(client, Math.floor(now / 1000));
    if (ban !== null) {
      this.counters['client.connect.banned']++;
      this.log.debug({ clientid: client.clientId, username: client.username, peerhost: client.peerHost, as: ban.as, who: ban.who }, 'banned client refused');
      return BANNED;
    }
    if (this.flapping === null) return undefined;
    const flapped = this.flapping.detect(client, now);
    if (flapped === null) return undefined;
    this.counters['client.flapping']++;
    this.counters['client.connect.banned']++;
    this.log.warn({ clientid: client.clientId, peerhost: client.peerHost, banned_until: formatTime(flapped.until) }, 'flapping detected; client id banned');
    return BANNED;
  };

  /** Disconnects the connected clients a new ban names. */
  private kick(ban: Ban): void {
    const matches = banMatcher(ban);
    const ids: string[] = [];
    for (const c of this.clients.connections()) if (matches(c.info)) ids.push(c.info.clientId);
    for (const id of ids) this.clients.discard(id);
    if (ids.length > 0) this.log.info({ as: ban.as, who: ban.who, kicked: ids.length }, 'banned clients disconnected');
  }

  stop(): void {
    this.banned.onChange = null;
    if (this.remove !== null) { this.remove(); this.remove = null; }
  }
}
