/**
 * The operator's own API key on the brokers' HTTP API. The operator asks each region's brokers
 * GET /api/v5/nodes (is every broker a live cluster member?) and the API answers only loopback
 * clients unless keys are configured, so the operator provisions one for itself:
 *
 *   Secret <name>-operator-api-key, data key `api-keys`: a broker bootstrap file, one
 *   "key:secret" per line; the first line is the operator's (`petrel-operator:<random>`).
 *
 * Mounted read-only at /etc/petrel/operator-api-key in every broker pod (core and regions), and
 * the rendered config sets `api_key.bootstrap_file: /etc/petrel/operator-api-key/api-keys`.
 *
 * The key is random, so it cannot come from the spec: the controller reads the Secret back and
 * generates a key only when there is none (`generateApiKey`), then passes it to the pure builders.
 * Lines after the first are the user's own keys: they are kept as they are (edit the Secret to add
 * one), since the broker reads one bootstrap file and the operator owns `api_key.bootstrap_file`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ResolvedMqttCluster } from '../api/types.js';
import { meta, names } from './meta.js';

/** The key name the operator authenticates with. */
export const OPERATOR_API_KEY_NAME = 'petrel-operator';
/** Secret data key holding the bootstrap file. */
export const API_KEYS_FILE_KEY = 'api-keys';
export const API_KEY_DIR = '/etc/petrel/operator-api-key';
export const API_KEYS_PATH = `${API_KEY_DIR}/${API_KEYS_FILE_KEY}`;
export const API_KEY_VOLUME = 'operator-api-key';

export interface ApiKey {
  key: string;
  secret: string;
  /** The user's own "key:secret" lines kept after the operator's, as read back from the Secret. */
  extraLines?: string[];
}

/** A fresh random key (32 bytes, base64url): the only impure function here. */
export function generateApiKey(): ApiKey {
  return { key: OPERATOR_API_KEY_NAME, secret: randomBytes(32).toString('base64url') };
}

/** The bootstrap file: the operator's line, then the user's. */
export function apiKeysFile(k: ApiKey): string {
  return [`${k.key}:${k.secret}`, ...(k.extraLines ?? [])].join('\n') + '\n';
}

/** Short hash of the file (for the pod-template annotation; does not reveal the secret). */
export function apiKeyHash(k: ApiKey): string {
  return createHash('sha256').update(apiKeysFile(k)).digest('hex').slice(0, 16);
}

/**
 * Reads the key back from the live Secret; undefined when it is missing or its first line is not
 * a "petrel-operator:secret" pair (then a new key is generated and the Secret rewritten).
 */
export function parseApiKeySecret(secret: { data?: Record<string, string> | null } | undefined): ApiKey | undefined {
  const b64 = secret?.data?.[API_KEYS_FILE_KEY];
  if (typeof b64 !== 'string') return undefined;
  const lines = Buffer.from(b64, 'base64').toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const first = lines[0];
  const colon = first?.indexOf(':') ?? -1;
  if (!first || colon <= 0 || first.slice(0, colon) !== OPERATOR_API_KEY_NAME || colon === first.length - 1) return undefined;
  const k: ApiKey = { key: OPERATOR_API_KEY_NAME, secret: first.slice(colon + 1) };
  const extra = lines.slice(1).filter((l) => l.indexOf(':') > 0 && !l.startsWith(`${OPERATOR_API_KEY_NAME}:`));
  if (extra.length) k.extraLines = extra;
  return k;
}

/** The HTTP Basic Authorization header value for the key. */
export function basicAuth(k: ApiKey): string {
  return `Basic ${Buffer.from(`${k.key}:${k.secret}`).toString('base64')}`;
}

export function buildApiKeySecret(cr: ResolvedMqttCluster, k: ApiKey): Record<string, any> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(cr, names.apiKeySecret(cr), 'api-key'),
    type: 'Opaque',
    data: { [API_KEYS_FILE_KEY]: Buffer.from(apiKeysFile(k)).toString('base64') },
  };
}
