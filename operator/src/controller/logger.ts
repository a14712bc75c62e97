/**
 * The operator's pino logger: JSON lines (level names, ISO times) for log collectors, pretty on a
 * terminal; LOG_LEVEL and LOG_FORMAT (json | pretty | auto) choose. The operator does not share
 * the broker's logging code: the two only meet through the broker's config contract.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger } from 'pino';

export function createOperatorLogger(level = 'info', format = 'auto', dest?: DestinationStream & { isTTY?: boolean }): Logger {
  const tty = dest ? dest.isTTY === true : process.stdout.isTTY === true;
  const out: DestinationStream = dest ?? pino.destination({ dest: 1, sync: true });
  const base = { name: 'petrel-operator' };
  if (format === 'json' || (format === 'auto' && !tty)) {
    return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, out);
  }
  const fmt = pinoPretty.prettyFactory({ colorize: tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' });
  return pino({ level, base }, { write: (line: string) => { out.write(fmt(line)); } });
}

export function silentOperatorLogger(): Logger {
  return pino({ level: 'silent' });
}
