/**
 * Connection.pause()/resume() on every transport (raw tcp handles, net.Socket, tls, ws, wss):
 * between pause() and resume() no data() is delivered — also for bytes already read, such as
 * the other WebSocket frames of the chunk that carried the one the handler paused on — the
 * transport stops reading (the client's writes back up), and after resume() everything
 * arrives, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { Listeners, type Connection, type ConnectionHandler } from '../../../broker/src/transport/index.js';
import { listenersCfg, log, serverSsl, tlsRead, waitFor } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records data; pauses its connection on a chunk that contains `marker`; counts deliveries while paused. */
class PausingHandler implements ConnectionHandler {
  readonly chunks: Buffer[] = [];
  paused = false;
  deliveredWhilePaused = 0;
  closes = 0;
  constructor(readonly conn: Connection, private readonly marker: number) {}
  data(buf: Buffer): void {
    if (this.paused) this.deliveredWhilePaused++;
    this.chunks.push(buf);
    if (buf.includes(this.marker)) this.pause();
  }
  drain(): void {}
  close(): void { this.closes++; }
  pause(): void { this.paused = true; this.conn.pause(); }
  resume(): void { this.paused = false; this.conn.resume(); }
  get bytes(): Buffer { return Buffer.concat(this.chunks); }
}

/** The client end: send a batch (WebSocket: one frame each, all in one TCP write), and what is still queued. */
interface Client {
  send(bufs: Buffer[]): void;
  readonly queued: number;
  close(): void;
}

function streamClient(s: Socket): Client {
  return {
    send: (bufs) => { s.write(Buffer.concat(bufs)); },
    get queued() { return s.writableLength; },
    close: () => s.destroy(),
  };
}

function wsClient(ws: WebSocket): Client {
  const sock = (ws as unknown as { _socket: Socket })._socket;
  return {
    send: (bufs) => {
      sock.cork();
      for (const b of bufs) ws.send(b, { binary: true });
      process.nextTick(() => sock.uncork());
    },
    get queued() { return ws.bufferedAmount; },
    close: () => ws.terminate(),
  };
}

interface Case {
  name: string;
  type: 'tcp' | 'ssl' | 'ws' | 'wss';
  entry: object;
  dial(port: number): Promise<Client>;
}

const ca = () => tlsRead('ca.crt');
async function dialTcp(port: number): Promise<Client> {
  const s = netConnect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return streamClient(s);
}
async function dialWs(url: string, opts: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, 'mqtt', opts);
  await once(ws, 'open');
  return wsClient(ws);
}

const cases: Case[] = [
  { name: 'tcp (raw handles)', type: 'tcp', entry: { raw_sockets: true }, dial: dialTcp },
  { name: 'tcp (net.Socket)', type: 'tcp', entry: { raw_sockets: false }, dial: dialTcp },
  {
    name: 'ssl', type: 'ssl', entry: { enable: true, ssl_options: serverSsl() },
    dial: async (port) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca() });
      await once(s, 'secureConnect');
      return streamClient(s);
    },
  },
  { name: 'ws', type: 'ws', entry: { enable: true }, dial: (port) => dialWs(`ws://127.0.0.1:${port}/mqtt`) },
  { name: 'wss', type: 'wss', entry: { enable: true, ssl_options: serverSsl() }, dial: (port) => dialWs(`wss://localhost:${port}/mqtt`, { ca: ca() }) },
];

const P = 0x50; // 'P': the chunk that carries it makes the handler pause
const b = (s: string) => Buffer.from(s);

for (const c of cases) {
  test(`${c.name}: a paused connection delivers no data until resumed, and stops reading`, async () => {
    const handlers: PausingHandler[] = [];
    const cfg = listenersCfg({ [c.type]: { default: { bind: '127.0.0.1:0', ...c.entry } } });
    const ls = new Listeners(cfg, (conn) => {
      const h = new PausingHandler(conn, P);
      handlers.push(h);
      conn.setHandler(h);
      h.pause(); // paused from the start: what the client sends first waits for resume()
    }, log);
    await ls.start();
    let client: Client | null = null;
    try {
      client = await c.dial(ls.boundPort(`${c.type}:default`));
      await waitFor(() => handlers.length === 1, 'connection');
      const h = handlers[0]!;

      // 1. Paused before anything arrived.
      client.send([b('early')]);
      await sleep(200);
      assert.equal(h.chunks.length, 0, 'nothing delivered while paused');
      h.resume();
      await waitFor(() => h.bytes.toString() === 'early', 'early data after resume()');

      // 2. Paused from inside data(): the rest of the batch (one TCP write; several WebSocket frames) waits.
      client.send([b('xP'), b('q'), b('r')]);
      await waitFor(() => h.paused, 'handler paused on the marker');
      await sleep(200);
      assert.equal(h.deliveredWhilePaused, 0, 'no data() between pause() and resume()');
      const before = h.bytes.length;

      // 3. While paused the transport does not read: a large burst backs up at the client.
      const big = Buffer.alloc(1024 * 1024, 0x61);
      client.send(Array.from({ length: 32 }, () => big));
      await sleep(300);
      assert.equal(h.bytes.length, before, 'still nothing delivered');
      assert.ok(client.queued > 0, `the client's writes back up (queued ${client.queued})`);

      // 4. resume(): everything, in order.
      h.resume();
      const total = 'early'.length + 4 + 32 * big.length;
      await waitFor(() => h.bytes.length === total, `all ${total} bytes after resume()`, 10_000);
      const all = h.bytes;
      assert.equal(all.subarray(0, 9).toString(), 'earlyxPqr');
      assert.equal(all.indexOf(0x62), -1);
      assert.equal(all.subarray(9).every((x) => x === 0x61), true);
      assert.equal(h.deliveredWhilePaused, 0);
      assert.equal(h.closes, 0);
    } finally {
      client?.close();
      for (const h of handlers) h.conn.destroy();
      await ls.stop();
    }
  });

  test(`${c.name}: data read before setHandler() respects a pause() made before it`, async () => {
    const conns: Connection[] = [];
    const cfg = listenersCfg({ [c.type]: { default: { bind: '127.0.0.1:0', ...c.entry } } });
    const ls = new Listeners(cfg, (conn) => { conns.push(conn); }, log);
    await ls.start();
    let client: Client | null = null;
    try {
      client = await c.dial(ls.boundPort(`${c.type}:default`));
      await waitFor(() => conns.length === 1, 'connection');
      client.send([b('one'), b('two')]);
      await sleep(150);
      const conn = conns[0]!;
      conn.pause();
      const h = new PausingHandler(conn, P);
      h.paused = true;
      conn.setHandler(h);
      await sleep(150);
      assert.equal(h.chunks.length, 0, 'held data not delivered while paused');
      h.resume();
      await waitFor(() => h.bytes.toString() === 'onetwo', 'held data after resume()');
      assert.equal(h.deliveredWhilePaused, 0);
    } finally {
      client?.close();
      for (const conn of conns) conn.destroy();
      await ls.stop();
    }
  });
}
