/**
 * The banned list over a real store (memory and SQLite): EMQX's six kinds matched and
 * normalized, defaults and refusals of parseBan, expiry and purge, persistence across a
 * reopen, EMQX's bootstrap CSV (its own test files' shapes, bad lines skipped with file:line),
 * and the flapping detector's count per client id within its window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BannedList, banMatcher, formatBan, formatTime, parseBan, parseWho, type Ban, type BanSubject } from '../../../broker/src/access/banned.js';
import { parseBannedCsv } from '../../../broker/src/access/banned-csv.js';
import { FlappingDetector } from '../../../broker/src/access/flapping.js';
import { memoryStore, openStore } from '../../../broker/src/store/index.js';

const NOW = 1_800_000_000;
const who = (clientId: string, username: string | null = null, peerHost = '127.0.0.1'): BanSubject => ({ clientId, username, peerHost });

function ban(raw: Record<string, unknown>, now = NOW): Ban {
  const b = parseBan(raw, now);
  assert.ok(b.ok, b.ok ? '' : b.error);
  return b.value;
}

test('each kind bans what it names and nothing else', () => {
  const l = new BannedList(memoryStore());
  for (const raw of [
    { as: 'clientid', who: 'c1' }, { as: 'username', who: 'u1' }, { as: 'peerhost', who: '10.1.1.1' },
    { as: 'clientid_re', who: '^dev-' }, { as: 'username_re', who: 'bot' }, { as: 'peerhost_net', who: '192.168.0.0/16' },
  ]) assert.ok(l.create(ban(raw), NOW).ok);
  const banned = (s: BanSubject) => l.check(s, NOW)?.as ?? null;
  assert.equal(banned(who('c1')), 'clientid');
  assert.equal(banned(who('c2', 'u1')), 'username');
  assert.equal(banned(who('c2', null, '10.1.1.1')), 'peerhost');
  assert.equal(banned(who('dev-7')), 'clientid_re');
  assert.equal(banned(who('x-dev-7')), null, 'an anchored pattern');
  assert.equal(banned(who('c3', 'a-bot-b')), 'username_re', 'patterns search, as re:run does');
  assert.equal(banned(who('c3', null, '192.168.44.2')), 'peerhost_net');
  assert.equal(banned(who('c3', 'u2', '192.169.0.1')), null);
  assert.equal(banned(who('c3', null, '::1')), null, 'an IPv6 peer against an IPv4 network');
});

test('who is checked and normalized per kind', () => {
  assert.deepEqual(parseWho('peerhost', '::FFFF:10.0.0.1'), { ok: true, value: '10.0.0.1' });
  assert.deepEqual(parseWho('peerhost', '2001:DB8:0:0::1'), { ok: true, value: '2001:db8::1' });
  assert.deepEqual(parseWho('peerhost_net', '10.1.2.3/8'), { ok: true, value: '10.0.0.0/8' });
  assert.deepEqual(parseWho('peerhost_net', 'fd00::/8'), { ok: true, value: 'fd00::/8' });
  assert.match((parseWho('peerhost', 'not-an-ip') as { error: string }).error, /not an IP address/);
  assert.match((parseWho('peerhost_net', '10.0.0.0/33') as { error: string }).error, /out of range/);
  assert.match((parseWho('peerhost_net', '10.0.0.0') as { error: string }).error, /not a CIDR block/);
  assert.match((parseWho('clientid_re', '(') as { error: string }).error, /not a regular expression/);
  assert.match((parseWho('clientid', '') as { error: string }).error, /must not be empty/);
});

test('parseBan: EMQX defaults, times in RFC 3339 or seconds, expired and unknown kinds refused', () => {
  const b = ban({ as: 'clientid', who: 'c' });
  assert.deepEqual({ ...b }, { as: 'clientid', who: 'c', by: 'mgmt_api', reason: '', at: NOW, until: Infinity });
  assert.equal(ban({ as: 'clientid', who: 'c', until: '2030-01-01T08:00:00+08:00' }).until, Date.UTC(2030, 0, 1) / 1000);
  assert.equal(ban({ as: 'clientid', who: 'c', until: NOW + 5 }).until, NOW + 5);
  const refused = (raw: Record<string, unknown>, want: RegExp) => {
    const r = parseBan(raw, NOW);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, want);
  };
  refused({ as: 'clientid', who: 'c', until: NOW }, /already passed/);
  refused({ as: 'ip', who: 'c' }, /as: expected one of clientid, username/);
  refused({ as: 'clientid', who: 7 }, /who: expected a string/);
  refused({ as: 'clientid', who: 'c', at: 'yesterday' }, /at: expected an RFC 3339 time/);
  refused({ as: 'clientid', who: 'c', reason: 5 }, /reason: expected a string/);
  // Found by the OpenAPI fuzzer: an epoch no Date can hold was a 500 when the ban was rendered.
  refused({ as: 'clientid', who: 'c', until: -5332334984040182678110076928 }, /until: epoch seconds must be from 0 to 8640000000000/);
  refused({ as: 'clientid', who: 'c', until: '99999999999999' }, /until: epoch seconds must be/);
  refused({ as: 'clientid', who: 'c', at: -1 }, /at: epoch seconds must be/);
  assert.equal(formatBan(ban({ as: 'clientid', who: 'c', until: 8_640_000_000_000 })).until, '+275760-09-13T00:00:00+00:00');
  assert.deepEqual(formatBan(ban({ as: 'username', who: 'u', at: 0, until: 'infinity' })), { as: 'username', who: 'u', by: 'mgmt_api', reason: '', at: '1970-01-01T00:00:00+00:00', until: 'infinity' });
});

test('an active ban is not overwritten; an expired one is, and is ignored and purged', () => {
  const l = new BannedList(memoryStore());
  assert.ok(l.create(ban({ as: 'clientid', who: 'c', until: NOW + 10 }), NOW).ok);
  const again = l.create(ban({ as: 'clientid', who: 'c', reason: 'again' }), NOW);
  assert.equal(again.ok, false);
  assert.equal(l.check(who('c'), NOW + 9)?.who, 'c');
  assert.equal(l.check(who('c'), NOW + 10), null, 'expired at until');
  assert.ok(l.create(ban({ as: 'clientid', who: 'c', reason: 'new' }, NOW + 10), NOW + 10).ok);
  assert.equal(l.check(who('c'), NOW + 100)?.reason, 'new');
  l.ensure(ban({ as: 'clientid_re', who: 'x', until: NOW + 1 }));
  assert.equal(l.list(NOW + 5).length, 1, 'list() purges the expired rule');
  assert.equal(l.check(who('x'), NOW), null, 'the purged rule no longer matches');
});

test('delete and clear, and the matcher used to kick connected clients', () => {
  const l = new BannedList(memoryStore());
  const net = ban({ as: 'peerhost_net', who: '10.0.0.0/8' });
  l.ensure(net);
  l.ensure(ban({ as: 'username', who: 'u' }));
  assert.ok(banMatcher(net)(who('a', null, '10.9.9.9')));
  assert.equal(banMatcher(net)(who('a', null, '11.0.0.1')), false);
  assert.equal(l.delete('peerhost_net', '10.0.0.0/8'), true);
  assert.equal(l.delete('peerhost_net', '10.0.0.0/8'), false);
  assert.equal(l.check(who('a', null, '10.9.9.9'), NOW), null);
  l.clear();
  assert.equal(l.size, 0);
  assert.equal(l.check(who('a', 'u'), NOW), null);
});

test('bans survive a reopen of the store; expired ones are dropped on load; clear() is durable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-banned-'));
  try {
    const now = Math.floor(Date.now() / 1000);
    let store = await openStore({ dir });
    const l = new BannedList(store);
    l.ensure(ban({ as: 'username_re', who: '^ops', reason: 'r', by: 'me' }, now));
    l.ensure(ban({ as: 'clientid', who: 'short', until: now + 1 }, now));
    await store.close();
    store = await openStore({ dir });
    const again = new BannedList(store);
    assert.equal(again.load(now + 2), 1);
    assert.deepEqual(again.list(now + 2).map(formatBan), [{ as: 'username_re', who: '^ops', by: 'me', reason: 'r', at: formatTime(now), until: 'infinity' }]);
    assert.equal(again.check(who('c', 'ops-1'), now + 2)?.as, 'username_re');
    again.clear();
    await store.close();
    store = await openStore({ dir });
    assert.equal(new BannedList(store).load(now + 2), 0, 'a cleared list stays cleared');
    await store.close();
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("bootstrap CSV: EMQX's full, optional and omitted forms", () => {
  const full = parseBannedCsv('as,who,reason,at,until,by\nclientid,c1,reason 1,2021-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,boot\nusername,u1,reason 2,2021-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,boot\n', 'full.csv', NOW);
  assert.deepEqual(full.errors, []);
  assert.deepEqual(full.bans.map(formatBan)[0], { as: 'clientid', who: 'c1', by: 'boot', reason: 'reason 1', at: '2021-10-25T13:53:47+00:00', until: '2125-10-25T13:53:47+00:00' });
  const optional = parseBannedCsv('as,who\r\nclientid,c1\r\nusername,u1\r\n', 'optional.csv', NOW);
  assert.deepEqual(optional.bans.map((b) => [b.as, b.who, b.by, b.until]), [['clientid', 'c1', 'mgmt_api', Infinity], ['username', 'u1', 'mgmt_api', Infinity]]);
  const omitted = parseBannedCsv('as,who,reason,at,until,by\nclientid,c1,,2021-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,\n', 'omitted.csv', NOW);
  assert.deepEqual(omitted.bans.map((b) => [b.who, b.reason, b.by]), [['c1', '', 'mgmt_api']]);
  const quoted = parseBannedCsv('as,who,reason\npeerhost_net,10.0.0.0/8,"lab, ""old"" net"\n', 'q.csv', NOW);
  assert.equal(quoted.bans[0]?.reason, 'lab, "old" net');
});

test('bootstrap CSV: bad lines are skipped with file:line and why; the rest load', () => {
  // EMQX's error.csv, plus an unclosed quote and an expired ban.
  const text = 'as,who,reason,at,until,by\nclientid,c1,right,2021-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,boot\nusername,u1,reason 1,abc,2125-10-25T21:53:47+08:00,boot\nusernamx,u2,reason 2,2121-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,boot\nclientid,"c3\nclientid,c4,,,2001-01-01T00:00:00Z\n';
  const r = parseBannedCsv(text, 'error.csv', NOW);
  assert.deepEqual(r.bans.map((b) => b.who), ['c1']);
  assert.equal(r.errors.length, 4);
  assert.match(r.errors[0]!, /^error\.csv:3: at: expected an RFC 3339 time/);
  assert.match(r.errors[1]!, /^error\.csv:4: as: expected one of/);
  assert.match(r.errors[2]!, /^error\.csv:5: unclosed quote/);
  assert.match(r.errors[3]!, /^error\.csv:6: until: .* has already passed/);
  assert.match(parseBannedCsv('clientid,c1\n', 'nohead.csv', NOW).errors[0]!, /nohead\.csv:1: the first line must be a header/);
  assert.match(parseBannedCsv('', 'empty.csv', NOW).errors[0]!, /empty\.csv: empty/);
});

test('flapping: max_count CONNECTs of one client id within the window ban it for ban_time', () => {
  const l = new BannedList(memoryStore());
  const f = new FlappingDetector({ windowMs: 10_000, maxCount: 3, banMs: 60_000 }, l);
  const t0 = NOW * 1000;
  assert.equal(f.detect(who('c'), t0), null);
  assert.equal(f.detect(who('other'), t0 + 1), null);
  assert.equal(f.detect(who('c'), t0 + 2), null);
  const b = f.detect(who('c'), t0 + 3);
  assert.ok(b);
  assert.deepEqual({ as: b.as, who: b.who, by: b.by, reason: b.reason, until: b.until - b.at }, { as: 'clientid', who: 'c', by: 'flapping detector', reason: 'flapping is detected', until: 60 });
  assert.equal(l.check(who('c'), NOW)?.by, 'flapping detector');
  assert.equal(l.check(who('other'), NOW), null);
  assert.equal(f.detected, 1);
});

test('flapping: CONNECTs spread wider than the window are not flapping; old counts are swept', () => {
  const l = new BannedList(memoryStore());
  const f = new FlappingDetector({ windowMs: 1000, maxCount: 3, banMs: 60_000 }, l);
  const t0 = NOW * 1000;
  f.detect(who('c'), t0);
  f.detect(who('c'), t0 + 600);
  assert.equal(f.detect(who('c'), t0 + 1200), null, 'third one too late: the count starts over');
  assert.equal(l.size, 0);
  f.detect(who('d'), t0);
  f.sweep(t0 + 999);
  assert.equal(f.tracked, 1);
  f.sweep(t0 + 1000);
  assert.equal(f.tracked, 0);
  f.stop();
});
