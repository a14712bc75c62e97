// Examples quoted from EMQX's "Built-in SQL Functions" page (Date and Time Conversion). The page
// was written at UTC+8, and RFC 3339 output uses the local zone, so the zone is set here.
process.env.TZ = 'Asia/Shanghai';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails } from './fn-helpers.js';

test("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S%:z', '2024-02-23 15:00:00+08:00') = 1708671600", () => {
  assert.equal(call('date_to_unix_ts', 'second', '%Y-%m-%d %H:%M:%S%:z', '2024-02-23 15:00:00+08:00'), 1708671600);
  assert.equal(call('date_to_unix_ts', 'millisecond', '%Y-%m-%d %H:%M:%S.%3N', '2024-02-23 07:00:00.250'), 1708671600250);
  assert.equal(call('date_to_unix_ts', 'nanosecond', '%Y-%m-%d %H:%M:%S.%N', '2024-02-23 07:00:00.000000001'), 1708671600000000001n);
  // EMQX skips literals without comparing them (4.x compatibility).
  assert.equal(call('date_to_unix_ts', 'second', '%Y-%m-%d %H-%M-%S', '2022-05-26 10:40:12'), 1653561612);
  fails('date_to_unix_ts', ['hour', '%Y', '2024'], 1);
  fails('date_to_unix_ts', ['second', '%Y-%m-%d', '2024-02-23'], 3);
  fails('date_to_unix_ts', ['second', '%Y-%m-%d %H:%M:%S', '2024-02-30 00:00:00'], 3);
  fails('date_to_unix_ts', ['second', '%Y-%m-%d %H:%M:%S', '2024-0x-23 00:00:00'], 3);
});

test('date_to_unix_ts with an offset: +08:00, Z, and 14400 seconds', () => {
  assert.equal(call('date_to_unix_ts', 'second', '+08:00', '%Y-%m-%d %H:%M:%S%:z', '2024-02-23 15:00:00'), 1708671600);
  assert.equal(call('date_to_unix_ts', 'second', 'Z', '%Y-%m-%d %H:%M:%S%:z', '2024-02-23 07:00:00'), 1708671600);
  assert.equal(call('date_to_unix_ts', 'second', 14400, '%Y-%m-%d %H:%M:%S%:z', '2024-02-23 15:00:00'), 1708686000);
  fails('date_to_unix_ts', ['second', '+25:00', '%Y-%m-%d %H:%M:%S', '2024-02-23 15:00:00'], 2);
});

test("format_date('millisecond', '+08:00', '%Y-%m-%d %H:%M:%S.%6N%z', 1708933353472) = '2024-02-26 15:42:33.472000+0800' and the rest", () => {
  const t = 1708933353472;
  assert.equal(call('format_date', 'millisecond', '+08:00', '%Y-%m-%d %H:%M:%S.%6N%z', t), '2024-02-26 15:42:33.472000+0800');
  assert.equal(call('format_date', 'millisecond', '+08:00', '%Y-%m-%d %H:%M:%S.%6N%:z', t), '2024-02-26 15:42:33.472000+08:00');
  assert.equal(call('format_date', 'millisecond', '+08:20:30', '%Y-%m-%d %H:%M:%S.%3N%::z', t), '2024-02-26 16:03:03.472+08:20:30');
  // The page prints '+08:00' for 'Z', a typo: the zone of offset Z is +00:00.
  assert.equal(call('format_date', 'millisecond', 'Z', '%Y-%m-%d %H:%M:%S.%3N%:z', t), '2024-02-26 07:42:33.472+00:00');
  assert.equal(call('format_date', 'millisecond', 28800, '%Y-%m-%d %H:%M:%S.%3N%:z', t), '2024-02-26 15:42:33.472+08:00');
  assert.match(call('format_date', 'second', 'Z', '%Y') as string, /^\d{4}$/);
  fails('format_date', ['millisecond', 'Z', '%Y', '1708933353472'], 4);
  fails('format_date', ['millisecond', 'Z', 5, 1], 3);
  fails('format_date', ['millisecond', 'UTC', '%Y', 1], 2);
});

test("now_rfc3339() = '2024-02-23T10:26:20+08:00'-shaped; now_rfc3339('microsecond') has 6 decimals", () => {
  assert.match(call('now_rfc3339') as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  assert.match(call('now_rfc3339', 'microsecond') as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+08:00$/);
  const back = call('rfc3339_to_unix_ts', call('now_rfc3339', 'millisecond'), 'millisecond') as number;
  assert.ok(Math.abs(back - Date.now()) < 5000);
  fails('now_rfc3339', ['minute'], 1);
});

test('now_timestamp() is seconds; microsecond and nanosecond units', () => {
  const s = call('now_timestamp') as number;
  assert.ok(Math.abs(s - Date.now() / 1000) < 5);
  const us = call('now_timestamp', 'microsecond') as number;
  assert.ok(Math.abs(us / 1000 - Date.now()) < 5000);
  assert.equal(typeof call('now_timestamp', 'nanosecond'), 'bigint');
  fails('now_timestamp', [1], 1);
});

test("rfc3339_to_unix_ts('2024-02-23T15:56:30Z') = 1708703790 and the other documented cases", () => {
  assert.equal(call('rfc3339_to_unix_ts', '2024-02-23T15:56:30Z'), 1708703790);
  assert.equal(call('rfc3339_to_unix_ts', '2024-02-23T15:56:30+08:00'), 1708674990);
  assert.equal(call('rfc3339_to_unix_ts', '2024-02-23T15:56:30.87Z', 'second'), 1708703790);
  assert.equal(call('rfc3339_to_unix_ts', '2024-02-23T15:56:30.87Z', 'millisecond'), 1708703790870);
  assert.equal(call('rfc3339_to_unix_ts', '2024-02-23T15:56:30.87Z', 'microsecond'), 1708703790870000);
  assert.equal(call('rfc3339_to_unix_ts', '2024-02-23T15:56:30.535904509Z', 'nanosecond'), 1708703790535904509n);
  fails('rfc3339_to_unix_ts', ['2024-02-23 15:56'], 1);
  fails('rfc3339_to_unix_ts', [1708703790], 1);
  fails('rfc3339_to_unix_ts', ['2024-02-23T15:56:30Z', 'hours'], 2);
});

test("timezone_to_offset_seconds('Z') = 0, ('+08:00') = 28800, ('local') = 28800 here", () => {
  assert.equal(call('timezone_to_offset_seconds', 'Z'), 0);
  assert.equal(call('timezone_to_offset_seconds', '+08:00'), 28800);
  assert.equal(call('timezone_to_offset_seconds', 'local'), 28800);
  assert.equal(call('timezone_to_offset_seconds', '-0530'), -19800);
  assert.equal(call('timezone_to_offset_seconds', '+01:02:03'), 3723);
  assert.equal(call('timezone_to_second', '+08:00'), 28800);
  fails('timezone_to_offset_seconds', ['+8'], 1);
  fails('timezone_to_offset_seconds', ['+08:60'], 1);
  fails('timezone_to_offset_seconds', [[]], 1);
});

test("unix_ts_to_rfc3339(1708671600) = '2024-02-23T15:00:00+08:00', with 'millisecond' '…15:00:00.766+08:00'", () => {
  assert.equal(call('unix_ts_to_rfc3339', 1708671600), '2024-02-23T15:00:00+08:00');
  assert.equal(call('unix_ts_to_rfc3339', 1708671600766, 'millisecond'), '2024-02-23T15:00:00.766+08:00');
  assert.equal(call('unix_ts_to_rfc3339', 1708671600000000001n, 'nanosecond'), '2024-02-23T15:00:00.000000001+08:00');
  fails('unix_ts_to_rfc3339', [1.5], 1);
  fails('unix_ts_to_rfc3339', ['1708671600'], 1);
});
