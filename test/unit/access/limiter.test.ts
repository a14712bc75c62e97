/**
 * Rates as EMQX 5 writes them ("1000/s", "1MB/10s", "infinity"), the token bucket with its
 * burst pool, and the per-client limiter's admit() that the channel asks before each PUBLISH.
 * Time is passed in, so nothing here sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientLimiter, TokenBucket, formatRate, parseRate, type Rate } from '../../../broker/src/access/limiter.js';

const rate = (s: string, bytes = false): Rate => {
  const r = parseRate(s, { bytes });
  assert.ok(r.ok && r.value !== null, `${s} parses`);
  return r.value;
};

test('rates: EMQX syntax', () => {
  assert.deepEqual(rate('1000/s'), { capacity: 1000, intervalMs: 1000 });
  assert.deepEqual(rate('100/10s'), { capacity: 100, intervalMs: 10_000 });
  assert.deepEqual(rate('100'), { capacity: 100, intervalMs: 1000 });
  assert.deepEqual(rate('5/m'), { capacity: 5, intervalMs: 60_000 });
  assert.deepEqual(rate('10000/60m'), { capacity: 10_000, intervalMs: 3_600_000 });
  assert.deepEqual(rate('1MB/s', true), { capacity: 1024 * 1024, intervalMs: 1000 });
  assert.deepEqual(rate('500kb/2s', true), { capacity: 500 * 1024, intervalMs: 2000 });
  assert.deepEqual(parseRate(' Infinity '), { ok: true, value: null });
  assert.deepEqual(parseRate(250), { ok: true, value: { capacity: 250, intervalMs: 1000 } });
  assert.deepEqual(parseRate('0', { zeroIsNone: true }), { ok: true, value: null });
});

test('rates: bad values name what is wrong', () => {
  const bad = (v: unknown, want: RegExp, bytes = false): void => {
    const r = parseRate(v, { bytes });
    assert.equal(r.ok, false, `${String(v)} is refused`);
    assert.match((r as { error: string }).error, want);
  };
  bad('fast', /"fast" is not a rate/);
  bad('1MB/s', /size units \(MB\) only apply to bytes_rate/);
  bad('0/s', /a rate of 0 would refuse everything/);
  bad('10/0s', /interval must not be 0/);
  bad('10/w', /is not a rate/);
  bad(-1, /expected a rate/);
  bad({ rate: 1 }, /expected a rate/);
});

test('rates: formatted back as written', () => {
  assert.equal(formatRate(rate('1000/s')), '1000/s');
  assert.equal(formatRate(rate('100/10s')), '100/10s');
  assert.equal(formatRate(rate('1MB/s', true), true), '1MB/s');
  assert.equal(formatRate(null), 'infinity');
});

test('bucket: starts full, refills at the rate, never above capacity', () => {
  const b = new TokenBucket(rate('10/s'), null, 0);
  for (let i = 0; i < 10; i++) assert.ok(b.tryTake(1, 0));
  assert.equal(b.tryTake(1, 0), false);
  assert.equal(b.waitMs(1, 0), 100);
  assert.equal(b.tryTake(1, 99), false);
  assert.ok(b.tryTake(1, 100));
  // A long idle time refills to capacity, not beyond.
  for (let i = 0; i < 10; i++) assert.ok(b.tryTake(1, 60_000));
  assert.equal(b.tryTake(1, 60_000), false);
});

test('bucket: take() goes into debt and says how long to wait', () => {
  const b = new TokenBucket(rate('1KB/s', true), null, 0);
  assert.equal(b.take(512, 0), 0);
  assert.equal(b.take(1536, 0), 1000); // 1024 short: one second of refill
  assert.equal(b.waitMs(1, 500), 501);
  assert.equal(b.waitMs(1, 1001), 0);
});

test('burst: extra tokens once per burst interval, used only when the bucket is empty', () => {
  const b = new TokenBucket(rate('2/s'), rate('3/m'), 0);
  for (let i = 0; i < 5; i++) assert.ok(b.tryTake(1, 0), `token ${i}`);
  assert.equal(b.tryTake(1, 0), false);
  assert.ok(b.tryTake(1, 500)); // refilled one
  assert.equal(b.tryTake(1, 500), false);
  // The burst pool comes back after its interval, not before.
  for (let i = 0; i < 2; i++) assert.ok(b.tryTake(1, 59_000));
  assert.equal(b.tryTake(1, 59_000), false);
  for (let i = 0; i < 5; i++) assert.ok(b.tryTake(1, 60_000));
  assert.equal(b.tryTake(1, 60_000), false);
});

test('client limiter: messages_rate admits the capacity, then asks to wait', () => {
  const l = new ClientLimiter({ messages: rate('4/s'), messagesBurst: null, bytes: null, bytesBurst: null }, 0);
  for (let i = 0; i < 4; i++) assert.equal(l.admit(100, 0), 0);
  assert.equal(l.admit(100, 0), 250);
  assert.equal(l.admit(100, 250), 0);
});

test('client limiter: bytes_rate lets a PUBLISH larger than the bucket through once it is full, then waits off the debt', () => {
  const l = new ClientLimiter({ messages: null, messagesBurst: null, bytes: rate('1000B/s', true), bytesBurst: null }, 0);
  assert.equal(l.admit(600, 0), 0);
  assert.equal(l.admit(600, 0), 200); // 400 left: waits for 600
  assert.equal(l.admit(5000, 200), 400); // a 5000-byte PUBLISH waits for a full bucket (600 there)…
  assert.equal(l.admit(5000, 600), 0); // …then passes, 4000 in debt
  assert.equal(l.admit(1, 600), 4001);
  assert.equal(l.admit(1, 4601), 0);
});

test('client limiter: both limits; a refused PUBLISH takes no tokens', () => {
  const l = new ClientLimiter({ messages: rate('2/s'), messagesBurst: null, bytes: rate('100B/s', true), bytesBurst: null }, 0);
  assert.equal(l.admit(80, 0), 0);
  assert.ok(l.admit(80, 0) > 0); // bytes short
  assert.equal(l.admit(10, 0), 0); // messages still had one: bytes fit
  assert.ok(l.admit(1, 0) > 0); // messages exhausted
  l.cancel();
});

test('config: the listener keys load as rates; a bad one is an error naming the key', async () => {
  const { loadConfig } = await import('../../../broker/src/config/index.js');
  const cfg = loadConfig({ overrides: { listeners: { tcp: { default: { max_conn_rate: '1000/10s', messages_rate: 100, bytes_rate: '1MB/s', bytes_burst: '10MB/m' } } } } });
  const l = cfg.listeners.tcp.default!;
  assert.deepEqual([l.max_conn_rate, l.max_conn_burst, l.messages_rate, l.bytes_rate, l.bytes_burst], [
    { capacity: 1000, intervalMs: 10_000 }, null, { capacity: 100, intervalMs: 1000 }, { capacity: 1024 ** 2, intervalMs: 1000 }, { capacity: 10 * 1024 ** 2, intervalMs: 60_000 },
  ]);
  assert.equal(cfg.listeners.ws.default!.messages_rate, null, 'default: no limit');
  assert.throws(() => loadConfig({ overrides: { listeners: { ws: { default: { messages_rate: '10MB/s' } } } } }),
    /listeners\.ws\.default\.messages_rate: "10MB\/s": size units \(MB\) only apply to bytes_rate/);
  assert.throws(() => loadConfig({ overrides: { flapping_detect: { max_count: 0 } } }), /flapping_detect\.max_count/);
});
