// Examples quoted from EMQX's "Built-in SQL Functions" page (String Operation Functions).
// SQL literals such as '\t  hello  \n' are written here with the characters they stand for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails } from './fn-helpers.js';

test("ascii('a') = 97, ascii('abc') = 97", () => {
  assert.equal(call('ascii', 'a'), 97);
  assert.equal(call('ascii', 'abc'), 97);
  fails('ascii', [''], 1);
  fails('ascii', [97], 1);
});

test("concat('Name:', 'John') = 'Name:John'; other values are converted", () => {
  assert.equal(call('concat', 'Name:', 'John'), 'Name:John');
  assert.equal(call('concat', 'n=', 1.5), 'n=1.5');
  assert.equal(call('concat', ['a', 1, true]), 'a1true');
  fails('concat', [Symbol('x'), 'a'], 1);
});

test("find('..., Value: 1.2', 'Value:') = 'Value: 1.2', not found = ''; leading and trailing", () => {
  assert.equal(call('find', '..., Value: 1.2', 'Value:'), 'Value: 1.2');
  assert.equal(call('find', '..., Value: 1.2', 'Data'), '');
  assert.equal(call('find', 'Front, Middle, End', ', ', 'leading'), ', Middle, End');
  assert.equal(call('find', 'Front, Middle, End', ', ', 'trailing'), ', End');
  fails('find', ['a', 'b', 'middle'], 3);
  fails('find', [undefined, 'b'], 1);
});

test("join_to_string(', ', ['a', 'b', 'c']) = 'a, b, c'", () => {
  assert.equal(call('join_to_string', ', ', ['a', 'b', 'c']), 'a, b, c');
  assert.equal(call('join_to_string', ['a', 1]), 'a, 1');
  fails('join_to_string', [', ', 'abc'], 2);
});

test("lower('Hello') = 'hello'", () => {
  assert.equal(call('lower', 'Hello'), 'hello');
  assert.equal(call('lower', Buffer.from('AbC')), 'abc');
  fails('lower', [undefined], 1);
  fails('lower', [null], 1);
  fails('lower', [1], 1);
});

test("upper('hello') = 'HELLO' (the page prints 'Hello', a typo)", () => {
  assert.equal(call('upper', 'hello'), 'HELLO');
  fails('upper', [{}], 1);
});

test("ltrim('\\t  hello  \\n') = 'hello  \\n'", () => {
  assert.equal(call('ltrim', '\t  hello  \n'), 'hello  \n');
  assert.equal(call('ltrim', '\t  hello \r\n'), 'hello \r\n');
  fails('ltrim', [1], 1);
});

test("rtrim('\\t  hello  \\n') = '\\t  hello'; rtrim(S, Chars)", () => {
  assert.equal(call('rtrim', '\t  hello  \n'), '\t  hello');
  assert.equal(call('rtrim', '\t  hello \r\n'), '\t  hello');
  assert.equal(call('rtrim', 'a/b//', '/'), 'a/b');
  fails('rtrim', [[], ' '], 1);
});

test("trim('\\t  hello  \\n') = 'hello', trim('\\t  hello \\r\\n') = 'hello'", () => {
  assert.equal(call('trim', '\t  hello  \n'), 'hello');
  assert.equal(call('trim', '\t  hello \r\n'), 'hello');
  fails('trim', [1], 1);
});

test("pad('hello', 8) = 'hello   ' and the directions and pad characters", () => {
  assert.equal(call('pad', 'hello', 8), 'hello   ');
  assert.equal(call('pad', 'hello', 8, 'leading'), '   hello');
  assert.equal(call('pad', 'hello', 8, 'trailing'), 'hello   ');
  assert.equal(call('pad', 'hello', 8, 'both'), ' hello  ');
  assert.equal(call('pad', 'hello', 8, 'trailing', '!'), 'hello!!!');
  assert.equal(call('pad', 'hello', 8, 'trailing', '\r\n'), 'hello\r\n\r\n\r\n');
  assert.equal(call('pad', 'hello', 8, 'trailing', 'abc'), 'helloabcabcabc');
  assert.equal(call('pad', 'hello', 3), 'hello');
  fails('pad', ['hello', '8'], 2);
  fails('pad', ['hello', 8, 'middle'], 3);
});

test("regex_match('123', '^\\d+$') = true, regex_match('a23', '^\\d+$') = false", () => {
  assert.equal(call('regex_match', '123', '^\\d+$'), true);
  assert.equal(call('regex_match', 'a23', '^\\d+$'), false);
  assert.equal(call('regex_match', 'x123', '\\d'), true); // anywhere, as re:run
  fails('regex_match', ['a', '(unclosed'], 2);
  fails('regex_match', [undefined, 'a'], 1);
});

test("regex_replace('hello 123', '\\d+', 'world') = 'hello world'; 'a;b; c' → 'a,b,c'", () => {
  assert.equal(call('regex_replace', 'hello 123', '\\d+', 'world'), 'hello world');
  assert.equal(call('regex_replace', 'a;b; c', ';\\s*', ','), 'a,b,c');
  // Erlang replacement syntax: & is the match, \1 a group
  assert.equal(call('regex_replace', 'ab12', '(\\d)', '<&\\1>'), 'ab<11><22>');
  fails('regex_replace', ['a', '[', 'b'], 2);
  fails('regex_replace', ['a', 'a', 1], 3);
});

test("regex_extract('Number: 12345', '(\\d+)') = ['12345'] and the other documented cases", () => {
  assert.deepEqual(call('regex_extract', 'Number: 12345', '(\\d+)'), ['12345']);
  assert.deepEqual(call('regex_extract', 'Hello, world!', '(\\w+).*\\s(\\w+)'), ['Hello', 'world']);
  assert.deepEqual(call('regex_extract', 'No numbers here!', '(\\d+)'), []);
  assert.deepEqual(call('regex_extract', 'Date: 2021-05-20', '(\\d{4})-(\\d{2})-(\\d{2})'), ['2021', '05', '20']);
  fails('regex_extract', [1, '(a)'], 1);
});

test("replace('ab..cd..ef', '..', '**') = 'ab**cd**ef' and all/leading/trailing", () => {
  assert.equal(call('replace', 'ab..cd..ef', '..', '**'), 'ab**cd**ef');
  assert.equal(call('replace', 'ab..cd..ef', '..', ''), 'abcdef');
  assert.equal(call('replace', 'ab..cd..ef', '..', '**', 'all'), 'ab**cd**ef');
  assert.equal(call('replace', 'ab..cd..ef', '..', '**', 'leading'), 'ab**cd..ef');
  assert.equal(call('replace', 'ab..cd..ef', '..', '**', 'trailing'), 'ab..cd**ef');
  fails('replace', ['a', 'a', 'b', 'first'], 4);
  fails('replace', ['a', 1, 'b'], 2);
});

test("reverse('hello') = 'olleh', by grapheme", () => {
  assert.equal(call('reverse', 'hello'), 'olleh');
  assert.equal(call('reverse', 'ae\u0301'), 'e\u0301a');
  fails('reverse', [1], 1);
});

test("rm_prefix('foo/bar', 'foo/') = 'bar', rm_prefix('foo/bar', 'xxx/') = 'foo/bar'", () => {
  assert.equal(call('rm_prefix', 'foo/bar', 'foo/'), 'bar');
  assert.equal(call('rm_prefix', 'foo/bar', 'xxx/'), 'foo/bar');
  fails('rm_prefix', [undefined, 'a'], 1);
});

test("split('a;b;c', ';') = ['a', 'b', 'c'] and the other documented cases", () => {
  assert.deepEqual(call('split', 'a;', ';'), ['a']);
  assert.deepEqual(call('split', 'a;b;c', ';'), ['a', 'b', 'c']);
  assert.deepEqual(call('split', 'a;;b;;c', ';'), ['a', 'b', 'c']);
  assert.deepEqual(call('split', 'Sienna Blake; Howell Wise', ';'), ['Sienna Blake', ' Howell Wise']);
  assert.deepEqual(call('split', 'Sienna Blake; Howell Wise', '; '), ['Sienna Blake', 'Howell Wise']);
  assert.deepEqual(call('split', 'a;;b;;c', ';', 'notrim'), ['a', '', 'b', '', 'c']);
  assert.deepEqual(call('split', 'a;b;c', ';', 'leading'), ['a', 'b;c']);
  assert.deepEqual(call('split', 'a;b;c', ';', 'trailing'), ['a;b', 'c']);
  assert.deepEqual(call('split', ';a;b;c', ';', 'leading_notrim'), ['', 'a;b;c']);
  assert.deepEqual(call('split', 'a;b;c;', ';', 'trailing_notrim'), ['a;b;c', '']);
  // 4.x page: split('a/b/ c', '/') = ['a', 'b', ' c']
  assert.deepEqual(call('split', 'a/b/ c', '/'), ['a', 'b', ' c']);
  fails('split', ['a', ';', 'both'], 3);
  fails('split', [1, ';'], 1);
});

test("sprintf('hello, ~s!', 'steve') = 'hello, steve!', sprintf('count: ~p~n', 100) = 'count: 100\\n'", () => {
  assert.equal(call('sprintf', 'hello, ~s!', 'steve'), 'hello, steve!');
  assert.equal(call('sprintf', 'count: ~p~n', 100), 'count: 100\n');
  // EMQX's suite
  assert.equal(call('sprintf', 'Hello ~ts!', 'Shawn'), 'Hello Shawn!');
  assert.equal(call('sprintf', 'Name: ~ts, Count: ~p', 'ABC', 2), 'Name: ABC, Count: 2');
  assert.equal(call('sprintf', '~p', 'ab'), '<<"ab">>');
  assert.equal(call('sprintf', '~5.2f|~-4s|~.16B', 3.14159, 'x', 255), ' 3.14|x   |FF');
  assert.equal(call('sprintf_s', '~s-~s', ['a', 'b']), 'a-b');
  fails('sprintf', ['~s ~s', 'only one'], 1);
  fails('sprintf', ['~x', 1], 1);
  fails('sprintf', [1]);
});

test("strlen('hello') = 5, strlen('hello\\n') = 6; graphemes count once", () => {
  assert.equal(call('strlen', 'hello'), 5);
  assert.equal(call('strlen', 'hello\n'), 6);
  assert.equal(call('strlen', '你好'), 2);
  assert.equal(call('strlen', 'a\r\nb'), 3);
  fails('strlen', [5], 1);
});

test("substr('hello', 0) = 'hello', substr('hello world', 6) = 'world', substr('hello world!', 6, 5) = 'world'", () => {
  assert.equal(call('substr', 'hello', 0), 'hello');
  assert.equal(call('substr', 'hello world', 6), 'world');
  assert.equal(call('substr', 'hello world!', 6, 5), 'world');
  assert.equal(call('substr', 'abcdef', 2), 'cdef'); // 4.x page
  assert.equal(call('substr', 'abcdef', 2, 3), 'cde');
  fails('substr', ['abc', -1], 2);
  fails('substr', ['abc', 0, 'x'], 3);
});

test("tokens('a,b;c,d', ',;') = ['a', 'b', 'c', 'd'], tokens('a;;b', ';') = ['a', 'b'], with nocrlf", () => {
  assert.deepEqual(call('tokens', 'a,b;c,d', ',;'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(call('tokens', 'a;;b', ';'), ['a', 'b']);
  assert.deepEqual(call('tokens', 'a\rb\nc\r\nd', ';', 'nocrlf'), ['a', 'b', 'c', 'd']);
  fails('tokens', ['a', ';', 'crlf'], 3);
});

test("unescape turns '\\n' typed in SQL into a newline; split(payload, unescape('\\n'))", () => {
  const payload = '32A48702-1FA6-4E7C-97F7-8EA3EA48E8A3\n87.2\n12.3\nmy-device';
  assert.deepEqual(call('split', payload, '\\n'), [payload]);
  assert.deepEqual(call('split', payload, call('unescape', '\\n')),
    ['32A48702-1FA6-4E7C-97F7-8EA3EA48E8A3', '87.2', '12.3', 'my-device']);
  assert.equal(call('unescape', '\\t\\r\\b\\f\\v\\\'\\"\\\\\\?\\a'), '\t\r\b\f\v\'"\\?\x07');
  assert.equal(call('unescape', 'x\\x41\\x1F600'), 'xA\u{1F600}');
  fails('unescape', ['\\q'], 1);
  fails('unescape', ['\\xD800'], 1);
  fails('unescape', [undefined], 1);
});
