import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../broker/src/log.js';

function sink(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, dest: { isTTY, write(s: string) { lines.push(s); } } };
}

test('JSON lines when not a terminal, level names, level filter', () => {
  const s = sink(false);
  const log = createLogger({ level: 'info', format: 'auto' }, s.dest);
  log.debug('hidden');
  log.info({ clientid: 'c1' }, 'client connected');
  assert.equal(s.lines.length, 1);
  const rec = JSON.parse(s.lines[0]!);
  assert.equal(rec.level, 'info');
  assert.equal(rec.msg, 'client connected');
  assert.equal(rec.clientid, 'c1');
  assert.match(rec.time, /^\d{4}-\d\d-\d\dT/);
});

test('pretty on a terminal (auto) and when format=pretty, synchronously', () => {
  for (const [tty, format] of [[true, 'auto'], [false, 'pretty']] as const) {
    const s = sink(tty);
    const log = createLogger({ level: 'debug', format }, s.dest);
    log.debug({ port: 1883 }, 'listener started');
    assert.equal(s.lines.length, 1, 'written before the call returns');
    assert.match(s.lines[0]!, /DEBUG/);
    assert.match(s.lines[0]!, /listener started/);
    assert.throws(() => JSON.parse(s.lines[0]!));
  }
  const s = sink(true);
  createLogger({ level: 'info', format: 'json' }, s.dest).info('x');
  assert.equal(JSON.parse(s.lines[0]!).msg, 'x');
});
