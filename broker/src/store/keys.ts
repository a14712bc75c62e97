/**
 * Every key the broker writes to the store, built in one place. A table (namespace) and the
 * shape of its keys are part of the on-disk format: a restart reads back what an earlier run
 * wrote, so a key format changes here or nowhere.
 *
 * | table     | key                                  | value                                  |
 * |-----------|--------------------------------------|----------------------------------------|
 * | retained  | topic                                | Message                                |
 * | session   | client id                            | SessionRecord (expiry, subscriptions)  |
 * | sessmsg   | client id NUL seq (base 36, 11 wide) | DeliveryRecord (queued or in flight)   |
 * | qos2in    | client id NUL packet id              | 1 (incoming QoS 2 awaiting PUBREL)     |
 * | will      | client id                            | StoredWill (a delayed will and its due)|
 * | delayed   | due (15 wide) ':' message id (15)    | Message                                |
 *
 * The NUL separator sorts a client's keys together and before any longer client id that
 * shares the prefix, so `delPrefix(clientPrefix(id))` removes exactly one client's records.
 */

export const T = {
  retained: 'retained',
  session: 'session',
  sessmsg: 'sessmsg',
  qos2in: 'qos2in',
  will: 'will',
  delayed: 'delayed',
} as const;

const SEP = '\u0000';

/** The prefix of every per-client key of one client (sessmsg, qos2in). */
export function clientPrefix(clientId: string): string { return clientId + SEP; }

/** A queued or in-flight delivery of a persistent session. */
export function deliveryKey(clientId: string, seq: number): string {
  return clientId + SEP + seq.toString(36).padStart(11, '0');
}

/** An incoming QoS 2 packet id awaiting PUBREL. */
export function qos2InKey(clientId: string, packetId: number): string {
  return clientId + SEP + packetId;
}

/** Splits a per-client key into client id and suffix (the part after the NUL). */
export function splitClientKey(key: string): { clientId: string; suffix: string } {
  const i = key.lastIndexOf(SEP);
  return { clientId: key.slice(0, i), suffix: key.slice(i + 1) };
}

/** The sequence number of a deliveryKey. */
export function deliverySeq(suffix: string): number { return parseInt(suffix, 36); }

/** A delayed message: ordered by due time, then message id. */
export function delayedKey(due: number, messageId: number): string {
  return due.toString().padStart(15, '0') + ':' + messageId.toString().padStart(15, '0');
}

/** The due time of a delayedKey. */
export function delayedDue(key: string): number { return Number(key.slice(0, key.indexOf(':'))); }
