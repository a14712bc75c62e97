/**
 * Shared by the access unit tests: an AccessContext over an in-memory store with a logger
 * whose lines the test can read, and a client as the broker would describe it.
 */
import { pino } from 'pino';
import { memoryStore } from '../../../broker/src/store/index.js';
import type { AccessContext } from '../../../broker/src/access/types.js';
import type { AuthRequest, ClientInfo } from '../../../broker/src/hooks.js';

export interface LogLine { level: number; msg: string; [k: string]: unknown }

export function context(configDir = process.cwd()): AccessContext & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } });
  return { store: memoryStore(), log, configDir, clientAcl: new WeakMap(), lines };
}

export function clientInfo(clientId = 'c1', username: string | null = 'alice'): ClientInfo {
  return { clientId, username, peerHost: '127.0.0.1', peerPort: 5000, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
}

export function passwordRequest(password: string | null, client = clientInfo()): AuthRequest {
  return { client, password: password === null ? null : Buffer.from(password), method: null, data: null, phase: 'connect', state: {} };
}
