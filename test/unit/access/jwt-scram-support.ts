/**
 * Shared by the access unit tests: an AccessContext over an in-memory store with a logger
 * whose lines the test can read, and a client as the broker would describe it.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
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

/**
 * The client side of SCRAM (RFC 5802), written apart from the broker's server side so the
 * two check each other: client-first, then client-final for a server-first, and the server
 * signature the client expects back.
 */
export function scramClient(user: string, password: string, alg: 'sha256' | 'sha512', nonce = randomBytes(18).toString('base64')) {
  const bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${nonce}`;
  let expected = '';
  return {
    first: `n,,${bare}`,
    final(serverFirst: string): string {
      const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
      if (!attrs.r!.startsWith(nonce)) throw new Error('server nonce does not extend ours');
      const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), alg === 'sha256' ? 32 : 64, alg);
      const clientKey = createHmac(alg, salted).update('Client Key').digest();
      const storedKey = createHash(alg).update(clientKey).digest();
      const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${attrs.r}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const sig = createHmac(alg, storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
      const serverKey = createHmac(alg, salted).update('Server Key').digest();
      expected = `v=${createHmac(alg, serverKey).update(authMessage).digest('base64')}`;
      return `${withoutProof},p=${proof.toString('base64')}`;
    },
    get expectedServerFinal(): string { return expected; },
  };
}
