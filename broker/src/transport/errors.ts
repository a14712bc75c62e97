/**
 * Listener errors: the message names the listener and its address so an operator can act on
 * it without reading code, e.g.
 * "listener tcp:default cannot bind 0.0.0.0:1883: address already in use".
 */

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
};

export type ListenerErrorCode = 'EADDRINUSE' | 'EACCES' | 'EADDRNOTAVAIL' | 'TLS_CONFIG' | 'UNKNOWN_LISTENER' | string;

export class ListenerError extends Error {
  readonly listener: string;
  readonly address: string;
  readonly code: ListenerErrorCode;
  constructor(listener: string, address: string, code: ListenerErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ListenerError';
    this.listener = listener;
    this.address = address;
    this.code = code;
  }

  static cannotBind(listener: string, address: string, err: NodeJS.ErrnoException): ListenerError {
    const code = err.code ?? 'UNKNOWN';
    const reason = REASONS[code] ?? err.message;
    return new ListenerError(listener, address, code, `listener ${listener} cannot bind ${address}: ${reason}`, err);
  }

  static cannotLoad(listener: string, address: string, what: string, err: NodeJS.ErrnoException): ListenerError {
    const reason = (err.code && REASONS[err.code]) ?? err.message;
    return new ListenerError(listener, address, 'TLS_CONFIG', `listener ${listener} cannot load ${what}: ${reason}`, err);
  }
}
