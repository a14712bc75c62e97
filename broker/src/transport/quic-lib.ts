/**
 * Everything of a QUIC listener that needs @matrixai/quic (Cloudflare quiche through napi) at
 * run time, loaded by quic.ts when the first QUIC listener starts. Imported at start-up, the
 * library and its native part cost ≈ 20 MB of resident memory on every node, with or without a
 * QUIC listener (docs/performance.md, "Memory").
 */
import QuicLogger, { Handler as QuicLogHandler, LogLevel } from '@matrixai/logger';
import type { Logger } from 'pino';

export { QUICServer, events, errors } from '@matrixai/quic';
export { QuicConnection, QUIC_APP_ERROR } from './quic-connection.js';
export { certOf, quicTlsMaterial, retryTokenCrypto } from './quic-tls.js';

/**
 * The library logs every connection's life (and each peer close at ERROR); to us those are
 * routine, so they go to pino at debug.
 */
class PinoHandler extends QuicLogHandler {
  constructor(private readonly log: Logger) { super(); }
  emit(output: string): void { this.log.debug({ quic: output }, 'quic'); }
}

export function quicLogger(log: Logger): QuicLogger {
  return new QuicLogger('quic', log.isLevelEnabled('debug') ? LogLevel.INFO : LogLevel.ERROR, [new PinoHandler(log)]);
}
