/**
 * ListenerSpec: every listener hands its connections to onConnection with one spec object
 * (id, transport, protocol, high-water mark), shared by all of them and replaced only when a
 * restart brings a config that changes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { loadConfig } from '../../../broker/src/config/index.js';
import { Listeners, type Connection, type ListenerSpec } from '../../../broker/src/transport/index.js';
import { listenersCfg, log, waitFor } from './helpers.js';

test('onConnection gets one frozen spec per listener: id, transport, protocol mqtt, tcp_options.high_watermark', async () => {
  const got: [Connection, ListenerSpec][] = [];
  const cfg = listenersCfg({
    tcp: { default: { bind: '127.0.0.1:0', tcp_options: { high_watermark: '64KB' } }, other: { bind: '127.0.0.1:0' } },
    ws: { default: { enable: true, bind: '127.0.0.1:0', tcp_options: { high_watermark: '1MB' } } },
  });
  const ls = new Listeners(cfg, (c, spec) => { got.push([c, spec]); c.setHandler({ data() {}, drain() {}, close() {} }); }, log);
  await ls.start();
  try {
    const dial = async (id: string) => {
      const s = connect({ host: '127.0.0.1', port: ls.boundPort(id) });
      await once(s, 'connect');
      return s;
    };
    const socks = [await dial('tcp:default'), await dial('tcp:default'), await dial('tcp:other')];
    await waitFor(() => got.length === 3, '3 connections');
    const [a, b, c] = got.map(([, s]) => s);
    assert.deepEqual(a, { id: 'tcp:default', transport: 'tcp', protocol: 'mqtt', highWaterMark: 64 * 1024, clientLimits: null });
    assert.equal(a, b, 'the same object for every connection of a listener');
    assert.ok(Object.isFrozen(a));
    assert.deepEqual(c, { id: 'tcp:other', transport: 'tcp', protocol: 'mqtt', highWaterMark: 4 * 1024 * 1024, clientLimits: null });
    assert.equal(got[0]![0].info.listener, a!.id);
    const st = ls.list().find((l) => l.id === 'ws:default')!;
    assert.equal(st.protocol, 'mqtt');
    for (const s of socks) s.destroy();
  } finally {
    for (const [c] of got) c.destroy();
    await ls.stop();
  }
});

test('a restart with a new high_watermark gives later connections a new spec; an unchanged one keeps the object', async () => {
  const specs: ListenerSpec[] = [];
  const conns: Connection[] = [];
  const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0' } } }), (c, spec) => { specs.push(spec); conns.push(c); c.setHandler({ data() {}, drain() {}, close() {} }); }, log);
  await ls.start();
  try {
    const dial = async () => {
      const s = connect({ host: '127.0.0.1', port: ls.boundPort('tcp:default') });
      await once(s, 'connect');
      return s;
    };
    const s1 = await dial();
    await waitFor(() => specs.length === 1, 'first connection');
    await ls.restartOne('tcp:default');
    const s2 = await dial();
    await waitFor(() => specs.length === 2, 'second connection');
    assert.equal(specs[1], specs[0], 'restart without a config change keeps the spec');
    const next = loadConfig({ overrides: { listeners: { tcp: { default: { bind: '127.0.0.1:0', tcp_options: { high_watermark: '8KB' } } } } } }).listeners.tcp['default']!;
    await ls.restartOne('tcp:default', next);
    const s3 = await dial();
    await waitFor(() => specs.length === 3, 'third connection');
    assert.equal(specs[2]!.highWaterMark, 8 * 1024);
    assert.equal(specs[0]!.highWaterMark, 4 * 1024 * 1024, 'connections accepted before keep theirs');
    for (const s of [s1, s2, s3]) s.destroy();
  } finally {
    for (const c of conns) c.destroy();
    await ls.stop();
  }
});
