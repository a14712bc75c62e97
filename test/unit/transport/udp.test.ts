/**
 * UdpEndpoint: one datagram socket, peers demultiplexed by address:port, idle expiry by one
 * sweep timer, a max_peers bound, counters, and nothing thrown whatever arrives or fails to
 * leave. Clients are node:dgram sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import {
  DatagramPeer, ListenerError, UdpEndpoint, type DatagramCloseReason, type DatagramHandler, type UdpEndpointOptions,
} from '../../../broker/src/transport/index.js';
import { MAX_HELD } from '../../../broker/src/transport/udp.js';
import { log, waitFor } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class PeerRecorder implements DatagramHandler {
  readonly got: string[] = [];
  readonly closes: DatagramCloseReason[] = [];
  constructor(readonly peer: DatagramPeer, private readonly echo = false) {}
  datagram(buf: Buffer): void {
    this.got.push(buf.toString());
    if (this.echo) this.peer.send(Buffer.from(`echo:${buf.toString()}`));
  }
  close(reason: DatagramCloseReason): void { this.closes.push(reason); }
}

interface Harness {
  ep: UdpEndpoint;
  recs: PeerRecorder[];
  port: number;
  stop(): Promise<void>;
}

async function endpoint(opts: Partial<UdpEndpointOptions> = {}, echo = false, onPeer?: (p: DatagramPeer, recs: PeerRecorder[]) => void): Promise<Harness> {
  const recs: PeerRecorder[] = [];
  const ep = new UdpEndpoint({ id: 'udp:test', protocol: 'coap', bind: '127.0.0.1:0', ...opts }, (peer) => {
    if (onPeer) { onPeer(peer, recs); return; }
    const r = new PeerRecorder(peer, echo);
    recs.push(r);
    peer.setHandler(r);
  }, log);
  await ep.start();
  return { ep, recs, port: ep.port, stop: () => ep.stop() };
}

class Client {
  readonly got: string[] = [];
  private constructor(readonly sock: Socket, readonly port: number) {
    sock.on('message', (m) => this.got.push(m.toString()));
  }
  static async open(): Promise<Client> {
    const sock = createSocket('udp4');
    sock.bind(0, '127.0.0.1');
    await once(sock, 'listening');
    return new Client(sock, sock.address().port);
  }
  send(to: number, text: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(typeof text === 'string' ? Buffer.from(text) : text, to, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }
  close(): void { this.sock.close(); }
}

test('udp: two clients become two peers; each handler gets its own datagrams, in order; connection info', async () => {
  const h = await endpoint();
  const [a, b] = [await Client.open(), await Client.open()];
  try {
    await a.send(h.port, 'a1');
    await b.send(h.port, 'b1');
    await a.send(h.port, 'a2');
    await b.send(h.port, 'b2');
    await a.send(h.port, 'a3');
    await waitFor(() => h.recs.length === 2 && h.recs[0]!.got.length + h.recs[1]!.got.length === 5, '5 datagrams on 2 peers');
    const byPort = new Map(h.recs.map((r) => [r.peer.info.remotePort, r]));
    assert.deepEqual(byPort.get(a.port)!.got, ['a1', 'a2', 'a3']);
    assert.deepEqual(byPort.get(b.port)!.got, ['b1', 'b2']);
    const info = byPort.get(a.port)!.peer.info;
    assert.equal(info.transport, 'udp');
    assert.equal(info.listener, 'udp:test');
    assert.equal(info.remoteAddress, '127.0.0.1');
    assert.equal(info.localPort, h.port);
    const st = h.ep.status();
    assert.equal(st.transport, 'udp');
    assert.equal(st.protocol, 'coap');
    assert.equal(st.peers, 2);
    assert.equal(st.peersCreated, 2);
    assert.equal(st.datagramsIn, 5);
    assert.equal(st.bytesIn, 10);
  } finally {
    a.close(); b.close();
    await h.stop();
  }
});

test('udp: send() goes back to the right peer only; datagrams and bytes out are counted', async () => {
  const h = await endpoint({}, true);
  const [a, b] = [await Client.open(), await Client.open()];
  try {
    await a.send(h.port, 'from-a');
    await waitFor(() => a.got.length === 1, 'echo to a');
    await b.send(h.port, 'from-b');
    await b.send(h.port, 'again-b');
    await waitFor(() => b.got.length === 2, 'echoes to b');
    await sleep(50);
    assert.deepEqual(a.got, ['echo:from-a']);
    assert.deepEqual(b.got, ['echo:from-b', 'echo:again-b']);
    await waitFor(() => h.ep.status().datagramsOut === 3, 'sends counted');
    assert.equal(h.ep.status().bytesOut, 'echo:from-a'.length + 'echo:from-b'.length + 'echo:again-b'.length);
  } finally {
    a.close(); b.close();
    await h.stop();
  }
});

test('udp: a peer silent for idle_timeout closes with "idle" (one sweep timer); a talking one stays; it comes back as a new peer', async () => {
  // The timers alive before and after 20 peers appeared: at most the endpoint's one sweep timer more
  // (counting timer creation instead would also count whatever else the process does meanwhile).
  const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  let h: Harness;
  const clients = await Promise.all(Array.from({ length: 20 }, () => Client.open()));
  const [quiet, chatty] = clients;
  const before = activeTimers();
  h = await endpoint({ idleTimeoutMs: 150, sweepIntervalMs: 25 });
  for (const c of clients) await c.send(h.port, 'hello');
  await waitFor(() => h.recs.length === 20, '20 peers');
  const timers = activeTimers() - before;
  assert.ok(timers <= 1, `one sweep timer for the endpoint, none per peer (${timers} more timers)`);
  try {
    const started = Date.now();
    const quietRec = h.recs.find((r) => r.peer.info.remotePort === quiet!.port)!;
    const chattyRec = h.recs.find((r) => r.peer.info.remotePort === chatty!.port)!;
    while (quietRec.closes.length === 0) {
      await chatty!.send(h.port, 'still here');
      await sleep(30);
      assert.ok(Date.now() - started < 3000, 'quiet peer never expired');
    }
    assert.ok(Date.now() - started >= 100, `expired after ${Date.now() - started} ms, not before idle_timeout`);
    assert.deepEqual(quietRec.closes, ['idle']);
    assert.equal(quietRec.peer.closed, true);
    assert.equal(quietRec.peer.send(Buffer.from('x')), false, 'send on an expired peer: false, no throw');
    assert.deepEqual(chattyRec.closes, [], 'a peer that keeps sending stays');
    // The other 18 silent peers sent their 'hello' a little later than the quiet one: they expire in turn.
    while (h.ep.status().peersExpired < 19) {
      await chatty!.send(h.port, 'still here');
      await sleep(30);
      assert.ok(Date.now() - started < 5000, 'silent peers never expired');
    }
    assert.equal(h.ep.status().peers, 1);
    assert.deepEqual(chattyRec.closes, [], 'the talking peer still stays');
    await quiet!.send(h.port, 'back');
    await waitFor(() => h.recs.length === 21, 'a new peer for the same address:port');
    assert.notEqual(h.recs[20]!.peer, quietRec.peer);
    assert.deepEqual(h.recs[20]!.got, ['back']);
  } finally {
    for (const c of clients) c.close();
    await h.stop();
  }
});

test('udp: beyond max_peers a datagram from a new address:port is dropped and counted; known peers go on', async () => {
  const h = await endpoint({ maxPeers: 2 }, true);
  const [a, b, c] = [await Client.open(), await Client.open(), await Client.open()];
  try {
    await a.send(h.port, 'a');
    await b.send(h.port, 'b');
    await waitFor(() => h.recs.length === 2, '2 peers');
    await c.send(h.port, 'c1');
    await c.send(h.port, 'c2');
    await waitFor(() => h.ep.status().dropped === 2, 'dropped counted');
    assert.equal(h.recs.length, 2);
    assert.deepEqual(c.got, []);
    await a.send(h.port, 'a2');
    await waitFor(() => a.got.length === 2, 'known peer still served');
    assert.equal(h.ep.status().datagramsIn, 5, 'dropped datagrams are still counted as received');
    h.recs[1]!.peer.close();
    await c.send(h.port, 'c3');
    await waitFor(() => c.got.length === 1, 'room again after a peer closed');
    assert.deepEqual(c.got, ['echo:c3']);
  } finally {
    a.close(); b.close(); c.close();
    await h.stop();
  }
});

test('udp: peer.close() reports "closed" once, send() then returns false; the next datagram makes a new peer', async () => {
  const h = await endpoint();
  const a = await Client.open();
  try {
    await a.send(h.port, 'one');
    await waitFor(() => h.recs.length === 1, 'peer');
    const r = h.recs[0]!;
    r.peer.close();
    r.peer.close();
    assert.deepEqual(r.closes, ['closed']);
    assert.equal(r.peer.send(Buffer.from('x')), false);
    assert.equal(h.ep.status().peers, 0);
    await a.send(h.port, 'two');
    await waitFor(() => h.recs.length === 2, 'new peer');
    assert.deepEqual(h.recs[1]!.got, ['two']);
    assert.deepEqual(r.got, ['one']);
  } finally {
    a.close();
    await h.stop();
  }
});

test('udp: stop() closes every peer with "stopped" and the socket; start() again binds the same port', async () => {
  const h = await endpoint({}, true);
  const [a, b] = [await Client.open(), await Client.open()];
  try {
    await a.send(h.port, 'a');
    await b.send(h.port, 'b');
    await waitFor(() => h.recs.length === 2, '2 peers');
    const port = h.port;
    await h.ep.stop();
    assert.equal(h.ep.running, false);
    assert.equal(h.ep.port, 0);
    for (const r of h.recs) assert.deepEqual(r.closes, ['stopped']);
    assert.equal(h.recs[0]!.peer.send(Buffer.from('x')), false);
    await h.ep.stop(); // twice is fine
    await h.ep.start();
    assert.equal(h.ep.port, port, 'a port-0 endpoint keeps its port across stop/start');
    await a.send(port, 'again');
    await waitFor(() => a.got.includes('echo:again'), 'served after restart');
    assert.equal(h.recs.length, 3);
  } finally {
    a.close(); b.close();
    await h.stop();
  }
});

test('udp: never throws: a throwing handler closes its peer ("error"), a throwing onPeer drops it, a failed send is counted', async () => {
  let throwInOnPeer = true;
  const h = await endpoint({}, false, (peer, recs) => {
    if (throwInOnPeer) { throwInOnPeer = false; throw new Error('onPeer boom'); }
    const r = new PeerRecorder(peer);
    recs.push(r);
    peer.setHandler({
      datagram(buf) { r.datagram(buf); if (buf.toString() === 'boom') throw new Error('handler boom'); },
      close(reason) { r.close(reason); },
    });
  });
  const a = await Client.open();
  try {
    await a.send(h.port, 'first');
    await waitFor(() => h.ep.status().errors === 1, 'onPeer error counted');
    assert.equal(h.ep.status().peers, 0);
    await a.send(h.port, 'ok');
    await a.send(h.port, 'boom');
    await waitFor(() => h.recs[0]?.closes.length === 1, 'peer closed');
    assert.deepEqual(h.recs[0]!.closes, ['error']);
    assert.equal(h.ep.status().errors, 2);
    // Larger than any UDP datagram: the kernel refuses it (EMSGSIZE), reported to the send callback.
    await a.send(h.port, 'next');
    await waitFor(() => h.recs.length === 2, 'new peer');
    assert.equal(h.recs[1]!.peer.send(Buffer.alloc(70_000)), true);
    await waitFor(() => h.ep.status().errors === 3, 'send error counted');
    // Empty datagrams are datagrams too.
    await a.send(h.port, Buffer.alloc(0));
    await waitFor(() => h.recs[1]!.got.length === 2, 'empty datagram delivered');
    assert.equal(h.recs[1]!.got[1], '');
    assert.equal(h.ep.running, true);
  } finally {
    a.close();
    await h.stop();
  }
});

test('udp: datagrams before setHandler() are held (at most MAX_HELD, the rest dropped and counted) and delivered in order', async () => {
  const peers: DatagramPeer[] = [];
  const h = await endpoint({}, false, (peer) => { peers.push(peer); });
  const a = await Client.open();
  try {
    for (let i = 0; i < MAX_HELD + 4; i++) await a.send(h.port, `m${i}`);
    await waitFor(() => h.ep.status().datagramsIn === MAX_HELD + 4, 'all received');
    assert.equal(h.ep.status().dropped, 4);
    const r = new PeerRecorder(peers[0]!);
    peers[0]!.setHandler(r);
    assert.deepEqual(r.got, Array.from({ length: MAX_HELD }, (_, i) => `m${i}`));
    await a.send(h.port, 'later');
    await waitFor(() => r.got.length === MAX_HELD + 1, 'later datagram');
    assert.equal(peers.length, 1);
  } finally {
    a.close();
    await h.stop();
  }
});

test('udp: bind errors are ListenerErrors naming the endpoint and address; bad options are refused', async () => {
  const h = await endpoint();
  try {
    const clash = new UdpEndpoint({ id: 'udp:clash', protocol: 'coap', bind: `127.0.0.1:${h.port}` }, () => {}, log);
    await assert.rejects(clash.start(), (err: unknown) => err instanceof ListenerError && err.code === 'EADDRINUSE' && /udp:clash cannot bind 127\.0\.0\.1:\d+: address already in use/.test(err.message));
    const bad = new UdpEndpoint({ id: 'udp:bad', protocol: 'coap', bind: 'nope:x' }, () => {}, log);
    await assert.rejects(bad.start(), ListenerError);
    assert.throws(() => new UdpEndpoint({ id: 'u', protocol: 'coap', bind: '0', maxPeers: 0 }, () => {}, log), RangeError);
    assert.throws(() => new UdpEndpoint({ id: 'u', protocol: 'coap', bind: '0', idleTimeoutMs: 0 }, () => {}, log), RangeError);
  } finally {
    await h.stop();
  }
});

test('udp: IPv6 loopback works the same', async (t) => {
  const ep = new UdpEndpoint({ id: 'udp:v6', protocol: 'mqttsn', bind: '[::1]:0' }, (peer) => {
    peer.setHandler({ datagram: (buf) => { peer.send(buf); }, close() {} });
  }, log);
  try {
    await ep.start();
  } catch (err) {
    t.skip(`no IPv6 loopback here: ${(err as Error).message}`);
    return;
  }
  const c = createSocket('udp6');
  try {
    c.bind(0, '::1');
    await once(c, 'listening');
    c.send(Buffer.from('v6'), ep.port, '::1');
    const [msg, rinfo] = await once(c, 'message');
    assert.equal(String(msg), 'v6');
    assert.equal(rinfo.port, ep.port);
  } finally {
    c.close();
    await ep.stop();
  }
});
