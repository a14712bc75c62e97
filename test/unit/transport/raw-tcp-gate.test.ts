/**
 * The raw TCP gate: raw libuv handles only on the Node majors a test run has covered
 * (RAW_TCP_TESTED_MAJORS); on any other major a tcp listener uses net.Socket even with
 * raw_sockets true, and Listeners says so once at start (warn), with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { pino, type Logger } from 'pino';
import {
  Listeners, RAW_TCP_TESTED_MAJORS, SocketConnection, rawTcpChoice, rawTcpVersionGate, type Connection,
} from '../../../broker/src/transport/index.js';
import { listenersCfg, waitFor } from './helpers.js';

test('RAW_TCP_TESTED_MAJORS is the one list of tested majors (20)', () => {
  assert.deepEqual([...RAW_TCP_TESTED_MAJORS], [20]);
});

test('rawTcpVersionGate: a pure function of the version string', () => {
  for (const v of ['v20.0.0', 'v20.20.2', '20.11.1', 'v20.5.0-nightly2023']) {
    const g = rawTcpVersionGate(v);
    assert.equal(g.raw, true, v);
    assert.match(g.reason, /tested major \(20\): raw TCP handles/);
  }
  for (const v of ['v18.19.0', 'v21.7.3', 'v22.1.0', 'v24.0.0', 'v200.0.0', 'v2.0.0', '', 'garbage', 'v.20.1']) {
    const g = rawTcpVersionGate(v);
    assert.equal(g.raw, false, v);
    assert.match(g.reason, /not a major raw TCP handles were tested on \(20\): net\.Socket/, v);
  }
  assert.equal(rawTcpVersionGate('v22.3.0', [20, 22]).raw, true, 'the list is a parameter');
  assert.deepEqual(rawTcpVersionGate('v22.3.0'), rawTcpVersionGate('v22.3.0'), 'same input, same answer');
});

test('rawTcpChoice: the version gate first, then the handle API check (only when the gate passes)', () => {
  let asked = 0;
  const available = (v: boolean) => () => { asked++; return v; };
  assert.equal(rawTcpChoice('v22.0.0', available(true)).raw, false);
  assert.equal(asked, 0, 'no handle check on an untested major');
  const missing = rawTcpChoice('v20.1.0', available(false));
  assert.equal(missing.raw, false);
  assert.match(missing.reason, /lacks part of the TCP handle API/);
  assert.equal(rawTcpChoice('v20.1.0', available(true)).raw, true);
});

function capture(): { log: Logger; lines: { level: number; msg: string; listeners?: string[] }[] } {
  const lines: { level: number; msg: string; listeners?: string[] }[] = [];
  const log: Logger = pino({ level: 'info' }, { write(s: string) { lines.push(JSON.parse(s)); } }) as unknown as Logger;
  return { log, lines };
}

const WARN = 40;
const INFO = 30;

test('on an untested major a raw_sockets listener serves on net.Socket and one warning says why', async () => {
  const { log, lines } = capture();
  const conns: Connection[] = [];
  const cfg = listenersCfg({ tcp: { default: { bind: '127.0.0.1:0' }, second: { bind: '127.0.0.1:0' }, plain: { bind: '127.0.0.1:0', raw_sockets: false } } });
  const ls = new Listeners(cfg, (c) => { conns.push(c); c.setHandler({ data: (b) => c.write(b), drain() {}, close() {} }); }, log, { nodeVersion: 'v22.4.0' });
  await ls.start();
  try {
    const s = connect({ host: '127.0.0.1', port: ls.boundPort('tcp:default') });
    await once(s, 'connect');
    s.write('ping');
    const [echo] = await once(s, 'data');
    assert.equal(String(echo), 'ping');
    await waitFor(() => conns.length === 1, 'connection');
    assert.ok(conns[0] instanceof SocketConnection, 'net.Socket, not a raw handle');
    for (const st of ls.list().filter((l) => l.transport === 'tcp')) assert.equal(st.rawSockets, false, st.id);
    const warns = lines.filter((l) => l.level === WARN && /raw_sockets/.test(l.msg));
    assert.equal(warns.length, 1);
    assert.match(warns[0]!.msg, /Node v22\.4\.0 is not a major raw TCP handles were tested on \(20\): net\.Socket/);
    assert.deepEqual(warns[0]!.listeners, ['tcp:default', 'tcp:second'], 'names the listeners that asked for raw sockets');
    await ls.restartOne('tcp:default');
    await ls.stop();
    await ls.start();
    assert.equal(lines.filter((l) => /raw_sockets/.test(l.msg)).length, 1, 'said once, not on every (re)start');
    s.destroy();
  } finally {
    for (const c of conns) c.destroy();
    await ls.stop();
  }
});

test(`on a tested major (this Node is ${process.version}) raw handles are used and an info line says so`, { skip: !rawTcpChoice().raw }, async () => {
  const { log, lines } = capture();
  const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0' } } }), (c) => c.destroy(), log);
  await ls.start();
  try {
    assert.equal(ls.list().find((l) => l.id === 'tcp:default')!.rawSockets, true);
    const said = lines.filter((l) => /raw_sockets/.test(l.msg));
    assert.equal(said.length, 1);
    assert.equal(said[0]!.level, INFO);
    assert.match(said[0]!.msg, /tested major \(20\): raw TCP handles/);
  } finally {
    await ls.stop();
  }
});

test('no raw_sockets listener enabled: nothing is said', async () => {
  const { log, lines } = capture();
  const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: false } } }), (c) => c.destroy(), log, { nodeVersion: 'v99.0.0' });
  await ls.start();
  await ls.stop();
  assert.equal(lines.filter((l) => /raw_sockets/.test(l.msg)).length, 0);
});
