/**
 * Logging: one pino logger per process, JSON lines by default (for collectors) and human
 * readable on a terminal. Pretty output runs pino-pretty's formatter synchronously in the
 * calling thread (no transport worker), so a crash cannot lose the last lines and tests
 * can capture output deterministically.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from './config/index.js';
import { lazyModule } from './util/lazy-module.js';

// Loaded only for pretty output (a terminal): JSON lines need none of it.
const pinoPretty = lazyModule<typeof import('pino-pretty')>('pino-pretty');

export type { Logger } from 'pino';

/** Where log lines go; process.stdout (a SonicBoom on fd 1) when omitted. */
export type LogDestination = DestinationStream & { isTTY?: boolean };

export function createLogger(cfg: Config['log'], dest?: LogDestination): Logger {
  const tty = dest ? dest.isTTY === true : process.stdout.isTTY === true;
  const pretty = cfg.format === 'pretty' || (cfg.format === 'auto' && tty);
  const opts: LoggerOptions = { level: cfg.level, base: { pid: process.pid } };
  const out: DestinationStream = dest ?? pino.destination({ dest: 1, sync: true });
  if (!pretty) {
    // Level names and ISO times read better in collectors than pino's numbers.
    return pino({ ...opts, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, out);
  }
  const format = pinoPretty().prettyFactory({
    colorize: tty,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: false,
  });
  const stream: DestinationStream = {
    write(line: string) {
      out.write(format(line));
    },
  };
  return pino(opts, stream);
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
